"""Real public data sets: a checksummed downloader over a registry kept as data.

The registry is ``data/registry.json`` in the repository, shipped inside the package as
``coursekit._registry/registry.json``; it is the single source of truth for what can be
downloaded, from where, under which licence and with which hash. :func:`fetch` downloads
the files of a data set once (with a progress bar), checks them, unpacks archives and
returns local paths; later calls use the cached copies without touching the network.

Checks
    A *verified* file has a sha256 in the registry, computed from the exact file behind
    its URL. It is checked after every download and on every later use; a file that does
    not match is refused (:class:`HashMismatchError`), deleted, and downloaded again on
    the next call: it is never returned. An *unverified* file (no hash in the registry)
    is trusted on first use: the sha256 of its first download is recorded next to it
    (``<file>.tofu.json``), every later use is checked against that record, and every use
    warns with :class:`UnverifiedHashWarning` until a verified hash is put in the registry.

Cache folder
    :func:`data_dir`: the ``data_dir=`` argument, else the environment variable
    ``COURSEKIT_DATA_DIR``, else pooch's default cache (``pooch.os_cache("coursekit")``,
    e.g. ``~/.cache/coursekit`` on Linux). Files live in ``<cache>/<data set>/<file>``;
    archives are unpacked next to themselves, in ``<file>.untar`` or ``<file>.unzip``.
    A cache holding verified files can be shared read-only (e.g. on a JupyterHub).

Mirrors
    ``base_url=`` (or the environment variable ``COURSEKIT_DATA_BASE_URL``) replaces every
    URL by ``<base_url>/<data set>/<file>`` (file name percent-encoded): the same layout as
    the cache, so any web server that serves a copy of a filled cache folder is a mirror
    (a classroom server, a proxy-friendly host, or a test server). Hashes are checked
    exactly as for the original source.

Offline
    When a download fails, :class:`DownloadError` names the URL, the cache folder and the
    path where the file can be placed by hand.

Examples
--------
>>> from coursekit import datasets
>>> [d.name for d in datasets.list_datasets()][:2]
['isl_condition_blue', 'allen_label_free']
>>> datasets.dataset_info("isl_condition_blue").licence
'Apache-2.0'
>>> phase, targets = datasets.load_isl_sample()  # doctest: +SKIP
>>> phase.shape, sorted(targets)  # doctest: +SKIP
((13, 1024, 1024), ['DAPI', 'MAP2', 'NFH'])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import tarfile
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import quote

import numpy as np
import pooch

__all__ = [
    "fetch",
    "list_datasets",
    "dataset_info",
    "list_files",
    "data_dir",
    "load_registry",
    "load_isl_sample",
    "Registry",
    "Dataset",
    "FileEntry",
    "DatasetSummary",
    "RegistryError",
    "HashMismatchError",
    "DownloadError",
    "UnverifiedHashWarning",
    "DATA_DIR_ENV",
    "BASE_URL_ENV",
]

DATA_DIR_ENV = "COURSEKIT_DATA_DIR"
BASE_URL_ENV = "COURSEKIT_DATA_BASE_URL"

_SCHEMA = 1
_REGISTRY_PACKAGE = "coursekit._registry"
_REGISTRY_FILE = "registry.json"
_TOFU_SUFFIX = ".tofu.json"
_ZENODO_LISTING = "zenodo-record.json"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_UNPACKERS = ("tar", "zip")
_CHUNK = 1 << 16


# --------------------------------------------------------------------------- errors


class RegistryError(ValueError):
    """The registry file is malformed; the message lists every problem found."""


class HashMismatchError(ValueError):
    """A file's hash differs from the expected one; the file was refused and deleted.

    Attributes
    ----------
    name : str
        The registry entry (``"<data set>/<file>"``).
    expected, actual : str
        Hex digests.
    algorithm : str
        ``"sha256"`` or ``"md5"``.
    url : str
        Where the refused file came from.
    """

    def __init__(
        self, message: str, *, name: str, expected: str, actual: str, algorithm: str, url: str
    ):
        super().__init__(message)
        self.name = name
        self.expected = expected
        self.actual = actual
        self.algorithm = algorithm
        self.url = url


class DownloadError(ConnectionError):
    """A file could not be downloaded (no network, server down, HTTP error).

    The message names the URL, the cache folder, and where to place the file by hand.

    Attributes
    ----------
    name : str
        The registry entry (``"<data set>/<file>"``).
    url : str
        The URL that failed.
    path : pathlib.Path
        Where the file is expected in the cache.
    cache_dir : pathlib.Path
        The cache folder in force.
    """

    def __init__(self, message: str, *, name: str, url: str, path: Path, cache_dir: Path):
        super().__init__(message)
        self.name = name
        self.url = url
        self.path = path
        self.cache_dir = cache_dir


class UnverifiedHashWarning(UserWarning):
    """A file was used without a verified hash (trust on first use)."""


# --------------------------------------------------------------------------- registry


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
        path = Path(os.fspath(path))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
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


def _safe_file_name(name: str) -> bool:
    return (
        name not in (".", "..")
        and not any(c in name for c in '/\\:*?"<>|')
        and not any(ord(c) < 32 for c in name)
        and not name.endswith((".part", _TOFU_SUFFIX))
        and name != _ZENODO_LISTING
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
            if not _safe_file_name(fname):
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
        if verified and not (isinstance(sha, str) and _SHA256_RE.match(sha)):
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
        repo_file = Path(__file__).resolve().parent.parent / "data" / _REGISTRY_FILE
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


def _as_registry(registry) -> Registry:
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


# --------------------------------------------------------------------------- information


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
    reg = _as_registry(registry)
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
    return _as_registry(registry)[name]


def data_dir(path=None) -> Path:
    """The cache folder in force.

    Parameters
    ----------
    path : str or os.PathLike, optional
        An explicit folder (wins over everything).

    Returns
    -------
    pathlib.Path
        ``path``, else ``$COURSEKIT_DATA_DIR``, else ``pooch.os_cache("coursekit")``.
        The folder is not created.

    Examples
    --------
    >>> str(data_dir("/tmp/course-data"))
    '/tmp/course-data'
    """
    return _resolve_data_dir(path)


def _resolve_data_dir(path) -> Path:
    if path is None:
        path = os.environ.get(DATA_DIR_ENV) or None
    if path is None:
        return Path(pooch.os_cache("coursekit")).expanduser()
    return Path(os.fspath(path)).expanduser().absolute()


def _base_url(base_url) -> str | None:
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or None
    if base_url is None:
        return None
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ValueError(
            f"base_url (or ${BASE_URL_ENV}): expected an http:// or https:// URL, got {base_url!r}"
        )
    return base_url.rstrip("/")


def _mirror_url(base: str, dataset: str, file: str) -> str:
    return f"{base}/{quote(dataset, safe='')}/{quote(file, safe='')}"


# --------------------------------------------------------------------------- fetch


@dataclass(frozen=True)
class _Context:
    root: Path
    base: str | None
    progress: bool


def fetch(
    name: str,
    *,
    files: str | Iterable[str] | None = None,
    registry=None,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> list[Path]:
    """Download a data set (once), check it, unpack archives, and return local paths.

    Parameters
    ----------
    name : str
        A data set's name (see :func:`list_datasets`).
    files : str or list of str, optional
        Only these files of the data set (their ``file`` names, see :func:`list_files`).
        Required for data sets too large to fetch whole (``fetch_all`` false in the
        registry, e.g. ``"allen_label_free"``).
    registry : Registry or path, optional
        Another registry than the packaged one (e.g. entries pointing at a local server).
    data_dir : str or os.PathLike, optional
        The cache folder; default :func:`data_dir` (``$COURSEKIT_DATA_DIR`` or pooch's cache).
    base_url : str, optional
        A mirror replacing every URL by ``<base_url>/<data set>/<file>``; default
        ``$COURSEKIT_DATA_BASE_URL``, else the registry's URLs.
    progress : bool
        Show a tqdm progress bar per download (``tqdm.auto``: a widget in Jupyter).

    Returns
    -------
    list of pathlib.Path
        One path per file, in registry order; an archive is replaced by the paths of the
        files unpacked from it (sorted).

    Raises
    ------
    KeyError
        For an unknown data set.
    ValueError
        For unknown ``files``, or no ``files`` for a data set that needs a choice.
    HashMismatchError
        When a download does not match its verified (or first-recorded) hash; the bad
        file is deleted and the next call downloads it again.
    DownloadError
        When a file is not in the cache and cannot be downloaded; the message names the
        URL, the cache folder and where to put the file by hand.

    Warns
    -----
    UnverifiedHashWarning
        For every file without a verified hash (trust on first use).

    Examples
    --------
    >>> paths = fetch("isl_condition_blue")  # doctest: +SKIP
    >>> len(paths), paths[0].suffix  # doctest: +SKIP
    (16, '.png')
    >>> fetch("allen_label_free", files="fibrillarin.tar.gz")  # doctest: +SKIP
    """
    reg = _as_registry(registry)
    dataset = reg[name]
    ctx = _Context(root=_resolve_data_dir(data_dir), base=_base_url(base_url), progress=progress)
    entries = _select(dataset, _list_files(dataset, ctx), files)
    out: list[Path] = []
    with _quiet_pooch():
        for entry in entries:
            out.extend(_fetch_entry(entry, ctx))
    return out


def list_files(
    name: str,
    *,
    registry=None,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
) -> tuple[FileEntry, ...]:
    """The files of a data set, as :func:`fetch` would download them.

    For a Zenodo record whose files are not in the registry, the record's listing (names,
    sizes, md5) is downloaded from Zenodo's API once and kept in the cache
    (``<cache>/<data set>/zenodo-record.json``); this needs the network the first time.

    Parameters
    ----------
    name : str
        A data set's name.
    registry, data_dir, base_url
        As for :func:`fetch`.

    Returns
    -------
    tuple of FileEntry

    Examples
    --------
    >>> [f.file for f in list_files("allen_label_free")][:2]
    ['beta_actin.tar.gz', 'sec61_beta.tar.gz']
    """
    dataset = _as_registry(registry)[name]
    ctx = _Context(root=_resolve_data_dir(data_dir), base=_base_url(base_url), progress=False)
    with _quiet_pooch():
        return _list_files(dataset, ctx)


def _select(dataset: Dataset, entries: tuple[FileEntry, ...], files) -> tuple[FileEntry, ...]:
    names = [e.file for e in entries]
    if files is None:
        if not dataset.fetch_all:
            raise ValueError(
                f"data set {dataset.name!r} is too large to fetch whole; choose with "
                f"files=[...] among: {', '.join(names)}"
            )
        return entries
    wanted = [files] if isinstance(files, str) else list(files)
    unknown = [f for f in wanted if f not in names]
    if unknown or not wanted:
        raise ValueError(
            f"unknown file(s) {unknown or wanted!r} for data set {dataset.name!r}; "
            f"expected some of: {', '.join(names)}"
        )
    return tuple(e for e in entries if e.file in wanted)


@contextlib.contextmanager
def _quiet_pooch():
    """Silence pooch's INFO log lines ("Downloading ...") while coursekit talks instead."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _hash_file(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _url_for(entry: FileEntry, ctx: _Context) -> str:
    return _mirror_url(ctx.base, entry.dataset, entry.file) if ctx.base else entry.url


def _fetch_entry(entry: FileEntry, ctx: _Context) -> list[Path]:
    path = ctx.root / entry.dataset / entry.file
    downloaded = _fetch_file(entry, path, ctx)
    if entry.unpack is None:
        return [path]
    return _unpack(entry, path, downloaded=downloaded)


def _fetch_file(entry: FileEntry, path: Path, ctx: _Context) -> bool:
    """Make ``path`` a checked copy of ``entry``; return True when it was downloaded now."""
    record_path = path.with_name(path.name + _TOFU_SUFFIX)
    record = None if entry.verified else _read_record(record_path)
    expected = entry.sha256 if entry.verified else (record or {}).get("sha256")
    corrupt = None
    if path.is_file():
        actual = _hash_file(path)
        if expected is None:  # unverified, no record yet: a file placed by hand
            _write_record(record_path, entry, actual, path, origin="found in the cache")
            _warn_tofu(entry, actual, record_path, first=True)
            return False
        if actual == expected:
            if not entry.verified:
                _warn_tofu(entry, actual, record_path, first=False, record=record)
            return False
        corrupt = actual
        path.unlink()
        warnings.warn(
            f"cached file {path} did not match its sha256 (expected {expected}, got {actual}); "
            "it was deleted and is downloaded again",
            UserWarning,
            stacklevel=4,
        )
    url = _url_for(entry, ctx)
    try:
        actual = _download(entry, url, path, ctx, expected=expected, record=record_path)
    except DownloadError as exc:
        if corrupt is None:
            raise
        note = (
            f"The cached copy {path} did not match its sha256 (expected {expected}, got "
            f"{corrupt}) and was deleted, so it cannot be used offline.\n"
        )
        raise DownloadError(
            note + str(exc), name=exc.name, url=exc.url, path=exc.path, cache_dir=exc.cache_dir
        ) from exc
    if not entry.verified:
        if expected is None:
            _write_record(record_path, entry, actual, path, origin=url)
        _warn_tofu(entry, actual, record_path, first=expected is None, record=record)
    return True


def _download(
    entry: FileEntry, url: str, path: Path, ctx: _Context, *, expected: str | None, record: Path
) -> str:
    """Download ``url`` beside ``path``, check it, move it in place; return its sha256."""
    import requests

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name[:80]}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    bar = _progress_bar(entry) if ctx.progress else False
    downloader = pooch.HTTPDownloader(progressbar=bar, chunk_size=_CHUNK)
    try:
        try:
            downloader(url, str(tmp), None)
        except (requests.RequestException, OSError) as exc:
            raise DownloadError(
                _download_message(entry, url, path, ctx, exc),
                name=entry.name,
                url=url,
                path=path,
                cache_dir=ctx.root,
            ) from exc
        finally:
            if bar:
                bar.close()
        if entry.md5 is not None:
            _check_hash(entry, url, "md5", entry.md5, _hash_file(tmp, "md5"), "Zenodo's listing")
        actual = _hash_file(tmp)
        if expected is not None:
            origin = (
                "the coursekit registry, verified"
                if entry.verified
                else f"the hash recorded at this file's first download, in {record}"
            )
            _check_hash(entry, url, "sha256", expected, actual, origin, record=record)
        os.replace(tmp, path)
        return actual
    finally:
        tmp.unlink(missing_ok=True)


def _check_hash(entry, url, algorithm, expected, actual, origin, record=None) -> None:
    if actual == expected:
        return
    hint = ""
    if record is not None and not entry.verified:
        hint = f" If the source really changed the file, delete {record} to trust the new one."
    raise HashMismatchError(
        f"{algorithm} mismatch for {entry.name!r} ({entry.file}) downloaded from {url}:\n"
        f"  expected {expected} (from {origin})\n"
        f"  actual   {actual}\n"
        "The file was refused and deleted; the next call downloads it again. If this "
        "repeats, the server (or a proxy) delivers a different file." + hint,
        name=entry.name,
        expected=expected,
        actual=actual,
        algorithm=algorithm,
        url=url,
    )


def _progress_bar(entry: FileEntry):
    from tqdm.auto import tqdm

    label = entry.file if len(entry.file) <= 40 else "..." + entry.file[-37:]
    # total=1, not 0: pooch only updates a bar that is truthy, and tqdm's truth is total > 0.
    return tqdm(
        total=entry.size or 1,
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=True,
        ascii=sys.platform == "win32",
    )


def _download_message(entry: FileEntry, url: str, path: Path, ctx: _Context, exc) -> str:
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        reason = f"the server answered HTTP {exc.response.status_code} {exc.response.reason}"
    elif isinstance(exc, requests.ConnectionError):
        reason = "no connection (no network, or the server is down)"
    elif isinstance(exc, requests.Timeout):
        reason = "the server did not answer in time"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    if entry.file == _ZENODO_LISTING:
        check = "it lists the record's files (names, sizes, md5)"
    elif entry.verified:
        check = f"it is checked against its sha256 {entry.sha256}"
    elif entry.md5:
        check = f"it is checked against Zenodo's md5 {entry.md5}, then its sha256 is recorded"
    else:
        check = "its sha256 is recorded on first use (no verified hash is known)"
    mirror = f" (mirror of {entry.url})" if url != entry.url else ""
    return (
        f"could not download {entry.name!r} from {url}{mirror}: {reason}.\n"
        f"The data cache folder is {ctx.root} (set {DATA_DIR_ENV} to use another folder).\n"
        f"To place the file by hand: download {entry.url} on a machine with internet "
        f"access (a browser or curl) and save it as\n  {path}\n"
        f"then call fetch again; {check}.\n"
        f"Or set {BASE_URL_ENV} to a mirror serving <base>/<data set>/<file>."
    )


# --------------------------------------------------------------------------- trust on first use


def _read_record(record_path: Path) -> dict | None:
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if not _SHA256_RE.match(record["sha256"]):
            raise ValueError("bad sha256")
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryError(
            f"cannot read the trust-on-first-use record {record_path} ({exc}); delete it and "
            "the file next to it to download and trust the file again"
        ) from exc
    return record


def _write_record(record_path: Path, entry: FileEntry, sha256: str, path: Path, *, origin: str):
    record = {
        "name": entry.name,
        "file": entry.file,
        "sha256": sha256,
        "size": path.stat().st_size,
        "first_seen_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "origin": origin,
        "note": (
            "Trust on first use: this hash was recorded by coursekit at the first download, "
            "not verified against the source. Later uses are checked against it."
        ),
    }
    try:
        record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:  # a read-only shared cache
        warnings.warn(
            f"could not write {record_path} ({exc}); the hash of {entry.name!r} is not recorded",
            UnverifiedHashWarning,
            stacklevel=5,
        )


def _warn_tofu(entry: FileEntry, sha256: str, record_path: Path, *, first: bool, record=None):
    if first:
        message = (
            f"{entry.name!r} has no verified hash in the coursekit registry: trusting it on "
            f"first use. Its sha256 {sha256} is recorded in {record_path}; later uses are "
            "checked against it, but it was NOT checked against the source."
        )
    else:
        when = (record or {}).get("first_seen_utc", "its first download")
        message = (
            f"{entry.name!r} is unverified: it matches the sha256 recorded on {when} "
            f"({sha256[:12]}...), which was never checked against the source."
        )
    warnings.warn(message, UnverifiedHashWarning, stacklevel=5)


# --------------------------------------------------------------------------- Zenodo records


def _list_files(dataset: Dataset, ctx: _Context) -> tuple[FileEntry, ...]:
    if dataset.files is not None:
        return dataset.files
    listing = ctx.root / dataset.name / _ZENODO_LISTING
    if not listing.is_file():
        url = (
            _mirror_url(ctx.base, dataset.name, _ZENODO_LISTING)
            if ctx.base
            else dataset.zenodo["listing_url"]
        )
        pseudo = FileEntry(
            name=f"{dataset.name}/{_ZENODO_LISTING}",
            dataset=dataset.name,
            file=_ZENODO_LISTING,
            url=dataset.zenodo["listing_url"],
            sha256=None,
            size=None,
            verified=False,
            description="Zenodo's listing of the record's files",
            licence=dataset.licence,
            citation=dataset.citation,
        )
        _download(
            pseudo, url, listing, _Context(ctx.root, ctx.base, False), expected=None, record=listing
        )
    try:
        return _parse_zenodo_listing(dataset, json.loads(listing.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        listing.unlink(missing_ok=True)
        raise RegistryError(
            f"the Zenodo listing of {dataset.name!r} ({dataset.zenodo['listing_url']}) could not "
            f"be read ({exc}); it was deleted and is downloaded again on the next call"
        ) from exc


def _parse_zenodo_listing(dataset: Dataset, data: Mapping) -> tuple[FileEntry, ...]:
    raw = data["files"]
    if isinstance(raw, Mapping):  # /api/records/<id>/files answers {"entries": [...]}
        raw = raw["entries"]
        raw = list(raw.values()) if isinstance(raw, Mapping) else raw
    entries = []
    for item in raw:
        fname = item.get("key") or item.get("filename")
        if not isinstance(fname, str) or not _safe_file_name(fname):
            raise ValueError(f"unusable file name {fname!r}")
        checksum = str(item.get("checksum") or "")
        md5 = checksum.split(":", 1)[1] if checksum.startswith("md5:") else checksum
        size = item.get("size", item.get("filesize"))
        entries.append(
            FileEntry(
                name=f"{dataset.name}/{fname}",
                dataset=dataset.name,
                file=fname,
                url=dataset.zenodo["url_pattern"].format(file=quote(fname, safe="")),
                sha256=None,
                size=int(size) if size else None,
                verified=False,
                description=f"{fname} from Zenodo record {dataset.doi}",
                licence=dataset.licence,
                citation=dataset.citation,
                unpack="zip" if fname.lower().endswith(".zip") else None,
                md5=md5.lower() if _MD5_RE.match(md5.lower()) else None,
            )
        )
    if not entries:
        raise ValueError("the record lists no files")
    return tuple(entries)


# --------------------------------------------------------------------------- archives


def _unpack(entry: FileEntry, path: Path, *, downloaded: bool) -> list[Path]:
    suffix = ".untar" if entry.unpack == "tar" else ".unzip"
    extract_dir = Path(str(path) + suffix)
    if entry.unpack == "tar":
        _check_tar_members(path)
        processor = pooch.Untar()
    else:
        processor = pooch.Unzip()
    # "download" makes pooch unpack again (over the old copy): after a new download, or
    # when the archive is newer than its unpacked copy (placed by hand). With "fetch",
    # pooch unpacks only when the folder or one of the members is missing.
    stale = extract_dir.exists() and extract_dir.stat().st_mtime < path.stat().st_mtime
    fresh = downloaded or stale
    members = processor(str(path), "download" if fresh else "fetch", None)
    return sorted(Path(m) for m in members)


def _check_tar_members(path: Path) -> None:
    """Refuse archives whose members would land outside their folder (pooch only
    filters them on Python >= 3.12)."""
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            bad = member.name.startswith(("/", "\\")) or ".." in parts
            if member.issym() or member.islnk():
                link = PurePosixPath(member.linkname)
                bad = bad or link.is_absolute() or ".." in link.parts
            if bad or member.isdev():
                raise ValueError(
                    f"refusing to unpack {path}: member {member.name!r} would be written "
                    "outside its folder"
                )


# --------------------------------------------------------------------------- loaders


def _human_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def load_isl_sample(
    *,
    registry=None,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The in silico labeling sample as arrays: a phase-contrast z-stack and its targets.

    Fetches ``"isl_condition_blue"`` (28.7 MB, verified sha256) on first use.

    Parameters
    ----------
    registry, data_dir, base_url, progress
        As for :func:`fetch`.

    Returns
    -------
    phase : numpy.ndarray
        ``(13, 1024, 1024)`` uint16, phase contrast, z-slices 0 to 12 in order.
    targets : dict of str to numpy.ndarray
        ``{"DAPI": nuclei, "MAP2": dendrites, "NFH": axons}``, each ``(1024, 1024)`` uint16,
        confocal maximum projections registered to ``phase``. Pixel size not stated by
        the source.

    Examples
    --------
    >>> phase, targets = load_isl_sample()  # doctest: +SKIP
    >>> phase.shape, phase.dtype, targets["DAPI"].shape  # doctest: +SKIP
    ((13, 1024, 1024), dtype('uint16'), (1024, 1024))
    """
    from coursekit.io import read_image

    paths = fetch(
        "isl_condition_blue",
        registry=registry,
        data_dir=data_dir,
        base_url=base_url,
        progress=progress,
    )
    slices: dict[int, np.ndarray] = {}
    targets: dict[str, np.ndarray] = {}
    for path in paths:
        z = re.search(r"z_depth-(\d+),channel-PHASE_CONTRAST", path.name)
        target = re.search(r"channel-([A-Z0-9]+)_CONFOCAL", path.name)
        if z:
            slices[int(z.group(1))] = read_image(path).data
        elif target:
            targets[target.group(1)] = read_image(path).data
    if sorted(slices) != list(range(13)) or sorted(targets) != ["DAPI", "MAP2", "NFH"]:
        raise RuntimeError(
            f"the isl_condition_blue files are incomplete: z-slices {sorted(slices)}, "
            f"targets {sorted(targets)}"
        )
    phase = np.stack([slices[z] for z in range(13)])
    for what, arr in [("phase", phase), *targets.items()]:
        if arr.dtype != np.uint16:
            raise RuntimeError(f"{what}: expected 16-bit images, got {arr.dtype}")
    return phase, {k: targets[k] for k in ("DAPI", "MAP2", "NFH")}
