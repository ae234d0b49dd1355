"""The registry of real data sets: parsing and validating ``registry.json``, the
:class:`Dataset` and :class:`FileEntry` records, and the information functions
(:func:`list_datasets`, :func:`dataset_info`, :func:`load_registry`).

Nothing here touches the network or the cache; fetching lives in
:mod:`coursekit.datasets.fetch`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from coursekit.datasets.errors import RegistryError

__all__ = [
    "Registry",
    "Dataset",
    "FileEntry",
    "DatasetSummary",
    "load_registry",
    "list_datasets",
    "dataset_info",
]

_SCHEMA = 1
_REGISTRY_PACKAGE = "coursekit._registry"
_REGISTRY_FILE = "registry.json"
#: Suffixes of coursekit's own files in the cache; a data file may not end with one.
TOFU_SUFFIX = ".tofu.json"
REJECTED_SUFFIX = ".rejected"
ZENODO_LISTING = "zenodo-record.json"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_UNPACKERS = ("tar", "zip")


@dataclass(frozen=True)
class FileEntry:
    """One downloadable file, with everything needed to fetch, check and credit it.

    Attributes
    ----------
    name : str
        Unique key ``"<data set>/<file>"``.
    dataset : str
        The data set's name.
    file : str
        The local file name (also the name on a mirror).
    url : str
        The original URL (percent-encoded).
    sha256 : str or None
        The verified sha256 (lower-case hex), ``None`` for unverified files.
    size : int or None
        Size in bytes, when known.
    verified : bool
        Whether ``sha256`` was computed from the exact file behind ``url``.
    description, licence, citation : str
        What the file holds; licence and citation inherited from the data set.
    unpack : {"tar", "zip"} or None
        Archives are unpacked after download.
    md5 : str or None
        For files listed by a Zenodo record: the md5 from Zenodo's listing.
    """

    name: str
    dataset: str
    file: str
    url: str
    sha256: str | None
    size: int | None
    verified: bool
    description: str
    licence: str
    citation: str
    unpack: str | None = None
    md5: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A data set of the registry: shared metadata and its files.

    ``files`` is ``None`` for a Zenodo record whose file list is not in the registry;
    :func:`list_files` and :func:`fetch` read it from Zenodo's API (``zenodo``).
    """

    name: str
    title: str
    description: str
    details: str
    source: str
    licence: str
    licence_note: str
    citation: str
    doi: str | None
    record_url: str | None
    hash_source: str | None
    fetch_all: bool
    files: tuple[FileEntry, ...] | None
    zenodo: Mapping[str, str] | None = field(default=None)

    @property
    def verified(self) -> bool:
        """True when every file is listed with a verified sha256."""
        return bool(self.files) and all(f.verified for f in self.files)

    @property
    def size(self) -> int | None:
        """Total size in bytes, or ``None`` when any file's size is unknown."""
        if not self.files or any(f.size is None for f in self.files):
            return None
        return sum(f.size for f in self.files)

    def __str__(self) -> str:
        if self.files is None:
            files = "file list read from Zenodo's API on first use"
        else:
            n_ok = sum(f.verified for f in self.files)
            files = f"{len(self.files)} files ({n_ok} verified), {_human_size(self.size)}"
        lines = [
            f"{self.name}: {self.title}",
            f"  {self.description}",
            f"  files:    {files}",
            f"  verified: {'yes' if self.verified else 'no (trust on first use)'}",
            f"  licence:  {self.licence}",
            f"  citation: {self.citation}",
            f"  source:   {self.source}",
        ]
        if self.doi:
            lines.append(f"  DOI:      {self.doi}")
        return "\n".join(lines)


class DatasetSummary(NamedTuple):
    """One line of :func:`list_datasets`."""

    name: str
    description: str
    verified: bool
    size: int | None
    licence: str


class Registry:
    """The data sets that can be fetched, loaded from a JSON file and validated.

    Use :func:`load_registry` for the packaged registry; build your own with
    :meth:`from_json` or :meth:`from_dict` (e.g. to point entries at a local server)
    and pass it as ``registry=`` to :func:`fetch`.

    Examples
    --------
    >>> reg = Registry.from_dict({"schema": 1, "datasets": [{
    ...     "name": "demo", "title": "Demo", "description": "one file",
    ...     "source": "https://example.org", "licence": "CC0-1.0", "citation": "Nobody (2024)",
    ...     "files": [{"file": "a.txt", "url": "https://example.org/a.txt",
    ...                "sha256": None, "verified": False}]}]})
    >>> reg.names, reg["demo"].files[0].name
    (('demo',), 'demo/a.txt')
    """

    def __init__(self, datasets: Iterable[Dataset], *, source: str = "<dict>"):
        self._datasets = MappingProxyType({d.name: d for d in datasets})
        self.source = source

    @classmethod
    def from_json(cls, path) -> Registry:
        """Load and validate a registry file (raises :class:`RegistryError`)."""
        path = Path(os.fspath(path)).expanduser()
        if path.is_dir():
            raise IsADirectoryError(
                f"registry {path} is a folder; give the path to a registry JSON file (such as "
                "data/registry.json), a Registry, or None for the packaged registry"
            )
        if not path.is_file():
            raise FileNotFoundError(
                f"no registry file {path}; give the path to a registry JSON file (such as "
                "data/registry.json), a Registry, or None for the packaged registry"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise RegistryError(f"registry {path} is not UTF-8 text: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise RegistryError(f"registry {path} is not valid JSON: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping, *, source: str = "<dict>") -> Registry:
        """Build and validate a registry from its JSON structure (see ``data/README.md``)."""
        problems: list[str] = []
        datasets = _parse_registry(data, problems)
        if problems:
            listing = "\n  - ".join(problems)
            raise RegistryError(f"invalid registry {source}:\n  - {listing}")
        return cls(datasets, source=source)

    @property
    def names(self) -> tuple[str, ...]:
        """The data sets' names, in registry order."""
        return tuple(self._datasets)

    def entries(self) -> tuple[FileEntry, ...]:
        """Every file listed in the registry (Zenodo records' files are not listed)."""
        return tuple(f for d in self._datasets.values() for f in (d.files or ()))

    def __getitem__(self, name: str) -> Dataset:
        try:
            return self._datasets[name]
        except KeyError:
            raise KeyError(
                f"no data set {name!r} in the registry ({self.source}); "
                f"known: {', '.join(self._datasets)}"
            ) from None

    def __contains__(self, name) -> bool:
        return name in self._datasets

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self._datasets.values())

    def __len__(self) -> int:
        return len(self._datasets)

    def __repr__(self) -> str:
        return f"Registry({len(self)} data sets from {self.source})"


def _text(obj: Mapping, key: str, where: str, problems: list[str], *, optional=False) -> str | None:
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {key!r} must be a non-empty string, got {value!r}")
        return None
    return value


def safe_file_name(name: str) -> bool:
    return (
        name not in (".", "..")
        and not any(c in name for c in '/\\:*?"<>|')
        and not any(ord(c) < 32 for c in name)
        and not name.endswith((".part", ".tmp", TOFU_SUFFIX))
        and REJECTED_SUFFIX not in name
        and name != ZENODO_LISTING
    )


def _parse_registry(data, problems: list[str]) -> list[Dataset]:
    if not isinstance(data, Mapping):
        problems.append(f"expected a JSON object at the top, got {type(data).__name__}")
        return []
    if data.get("schema") != _SCHEMA:
        problems.append(f"'schema' must be {_SCHEMA}, got {data.get('schema')!r}")
    raw = data.get("datasets")
    if not isinstance(raw, list) or not raw:
        problems.append("'datasets' must be a non-empty list")
        return []
    datasets, seen = [], set()
    for i, d in enumerate(raw):
        where = f"datasets[{i}]"
        if not isinstance(d, Mapping):
            problems.append(f"{where}: expected an object, got {type(d).__name__}")
            continue
        name = _text(d, "name", where, problems)
        if name is not None:
            where = f"data set {name!r}"
            if not _NAME_RE.match(name):
                problems.append(f"{where}: name must be lower-case letters, digits and '_'")
            if name in seen:
                problems.append(f"{where}: name is not unique")
            seen.add(name)
        fields = {
            key: _text(d, key, where, problems)
            for key in ("description", "source", "licence", "citation")
        }
        if fields["description"] and "\n" in fields["description"]:
            problems.append(f"{where}: 'description' must be one line")
        optional = {
            key: _text(d, key, where, problems, optional=True)
            for key in ("title", "details", "licence_note", "doi", "record_url", "hash_source")
        }
        fetch_all = d.get("fetch_all", True)
        if not isinstance(fetch_all, bool):
            problems.append(f"{where}: 'fetch_all' must be true or false")
        zenodo = d.get("zenodo")
        files_raw = d.get("files")
        files: tuple[FileEntry, ...] | None = None
        if zenodo is not None:
            zenodo = _parse_zenodo(zenodo, d, where, problems)
            if files_raw is not None:
                problems.append(f"{where}: a Zenodo record lists no 'files' (use null)")
        elif not isinstance(files_raw, list) or not files_raw:
            problems.append(f"{where}: 'files' must be a non-empty list (or give 'zenodo')")
        else:
            files = _parse_files(files_raw, name or "?", fields, where, problems)
        if name is None or any(v is None for v in fields.values()):
            continue
        datasets.append(
            Dataset(
                name=name,
                title=optional["title"] or name,
                description=fields["description"],
                details=optional["details"] or fields["description"],
                source=fields["source"],
                licence=fields["licence"],
                licence_note=optional["licence_note"] or "",
                citation=fields["citation"],
                doi=optional["doi"],
                record_url=optional["record_url"],
                hash_source=optional["hash_source"],
                fetch_all=bool(fetch_all),
                files=files,
                zenodo=MappingProxyType(dict(zenodo)) if zenodo else None,
            )
        )
    return datasets


def _parse_zenodo(zenodo, d: Mapping, where: str, problems: list[str]) -> dict | None:
    if not isinstance(zenodo, Mapping):
        problems.append(f"{where}: 'zenodo' must be an object")
        return None
    out = {}
    for key in ("listing_url", "url_pattern"):
        value = _text(zenodo, key, f"{where} zenodo", problems)
        if value and not value.startswith(("https://", "http://")):
            problems.append(f"{where}: zenodo {key!r} must be an http(s) URL, got {value!r}")
        out[key] = value
    if out.get("url_pattern") and "{file}" not in out["url_pattern"]:
        problems.append(f"{where}: zenodo 'url_pattern' must contain '{{file}}'")
    for key in ("doi", "record_url"):
        if not d.get(key):
            problems.append(f"{where}: a Zenodo record needs {key!r}")
    return out


def _parse_files(raw: list, dataset: str, fields: dict, where: str, problems: list[str]):
    files, seen = [], set()
    for j, f in enumerate(raw):
        fwhere = f"{where} files[{j}]"
        if not isinstance(f, Mapping):
            problems.append(f"{fwhere}: expected an object")
            continue
        fname = _text(f, "file", fwhere, problems)
        if fname is not None:
            fwhere = f"{where} file {fname!r}"
            if not safe_file_name(fname):
                problems.append(f"{fwhere}: not a safe file name (no folders or reserved names)")
            if fname in seen:
                problems.append(f"{fwhere}: file name is not unique in its data set")
            seen.add(fname)
        url = _text(f, "url", fwhere, problems)
        if url is not None:
            if not url.startswith(("https://", "http://")):
                problems.append(f"{fwhere}: url must be http(s), got {url!r}")
            if any(c in url for c in ", \t"):
                problems.append(f"{fwhere}: url must be percent-encoded (no commas or spaces)")
        if "verified" not in f or not isinstance(f["verified"], bool):
            problems.append(f"{fwhere}: 'verified' must be true or false")
        verified = f.get("verified") is True
        sha = f.get("sha256")
        if verified and not (isinstance(sha, str) and SHA256_RE.match(sha)):
            problems.append(
                f"{fwhere}: a verified file needs a 64-hex lower-case 'sha256', got {sha!r}"
            )
        if not verified and sha is not None:
            problems.append(
                f"{fwhere}: an unverified file must have 'sha256': null (its hash is recorded "
                "on first use); set 'verified': true only for a hash computed from the source"
            )
        size = f.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
            problems.append(f"{fwhere}: 'size' must be a positive integer (bytes) or null")
        unpack = f.get("unpack")
        if unpack is not None and unpack not in _UNPACKERS:
            problems.append(f"{fwhere}: 'unpack' must be one of {_UNPACKERS} or null")
        description = f.get("description") or fields.get("description")
        if fname is None or url is None or not description:
            continue
        files.append(
            FileEntry(
                name=f"{dataset}/{fname}",
                dataset=dataset,
                file=fname,
                url=url,
                sha256=sha if verified else None,
                size=size,
                verified=verified,
                description=description,
                licence=f.get("licence") or fields.get("licence") or "",
                citation=f.get("citation") or fields.get("citation") or "",
                unpack=unpack,
            )
        )
    return tuple(files)


@lru_cache(maxsize=1)
def _packaged_registry() -> Registry:
    from importlib import resources

    try:
        resource = resources.files(_REGISTRY_PACKAGE).joinpath(_REGISTRY_FILE)
        text = resource.read_text(encoding="utf-8")
        source = f"{_REGISTRY_PACKAGE}/{_REGISTRY_FILE}"
    except ModuleNotFoundError:
        # An editable install made before data/ was mapped to coursekit._registry:
        # read the same file from the source tree, and say how to repair the install.
        repo_file = Path(__file__).resolve().parents[2] / "data" / _REGISTRY_FILE
        if not repo_file.is_file():
            raise RegistryError(
                f"the data registry is missing: package {_REGISTRY_PACKAGE!r} is not installed "
                "(reinstall coursekit, e.g. `pip install -e .` in the repository)"
            ) from None
        text, source = repo_file.read_text(encoding="utf-8"), str(repo_file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"registry {source} is not valid JSON: {exc}") from exc
    return Registry.from_dict(data, source=source)


def load_registry(path=None) -> Registry:
    """Load the registry shipped with coursekit, or another registry file.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A registry JSON file; by default the packaged ``coursekit._registry/registry.json``
        (``data/registry.json`` in the repository).

    Returns
    -------
    Registry

    Raises
    ------
    RegistryError
        When the file is malformed (the message lists every problem).

    Examples
    --------
    >>> reg = load_registry()
    >>> "isl_condition_blue" in reg
    True
    """
    if path is None:
        return _packaged_registry()
    return Registry.from_json(path)


def as_registry(registry) -> Registry:
    if registry is None:
        return _packaged_registry()
    if isinstance(registry, Registry):
        return registry
    if isinstance(registry, (str, os.PathLike)):
        return Registry.from_json(registry)
    raise TypeError(
        f"registry: expected None, a Registry or a path to a registry JSON file, "
        f"got {type(registry).__name__}"
    )


def list_datasets(*, registry=None) -> list[DatasetSummary]:
    """The data sets that can be fetched, with one-line descriptions.

    Parameters
    ----------
    registry : Registry or path, optional
        Another registry than the packaged one.

    Returns
    -------
    list of DatasetSummary
        ``(name, description, verified, size, licence)`` per data set; ``verified`` is
        True when every file has a verified sha256, ``size`` in bytes (None if unknown).

    Examples
    --------
    >>> for d in list_datasets():  # doctest: +SKIP
    ...     print(f"{d.name:28s} {'verified' if d.verified else 'UNVERIFIED':10s} {d.description}")
    """
    reg = as_registry(registry)
    return [DatasetSummary(d.name, d.description, d.verified, d.size, d.licence) for d in reg]


def dataset_info(name: str, *, registry=None) -> Dataset:
    """Everything the registry says about one data set.

    Parameters
    ----------
    name : str
        A data set's name (see :func:`list_datasets`).
    registry : Registry or path, optional
        Another registry than the packaged one.

    Returns
    -------
    Dataset
        Title, description, details, source, licence (and note), citation, DOI, files;
        ``print()`` it for a summary.

    Examples
    --------
    >>> info = dataset_info("isl_condition_blue")
    >>> len(info.files), info.verified, info.size
    (16, True, 28683164)
    """
    return as_registry(registry)[name]


def _human_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"  # pragma: no cover
