"""Fetching: download once, check, keep in the cache, unpack archives, return paths.

The order of checks for one file (see :func:`fetch` for the user's view):

1. A cached copy is hashed. If it matches the verified (or first-recorded) sha256 it is
   used and nothing is written. If it does not, it is moved aside to
   ``<file>.rejected`` (never deleted) and downloaded again; in a read-only shared cache
   the mismatch is reported with what to do.
2. A download goes to a hidden temporary file beside the target, within an overall
   deadline; it is refused (and the temporary file removed) when it is cut short, is an
   HTML page instead of a binary file, is a damaged or unsafe archive, or does not match
   its hash. Only then is it renamed into place.
3. Archives are unpacked; for unverified files the hash is recorded only after that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import pooch

from coursekit._files import open_temporary
from coursekit.datasets import zenodo
from coursekit.datasets.archives import ArchiveDamagedError, member_files, unpack
from coursekit.datasets.cache import (
    Context,
    check_file_slot,
    check_root,
    how_to_move,
    mirror_url,
    move_aside,
    prepare_folder,
    resolve_base_url,
    resolve_data_dir,
)
from coursekit.datasets.download import download, is_binary, looks_like_html, resolve_deadline
from coursekit.datasets.errors import DownloadError, HashMismatchError
from coursekit.datasets.registry import Dataset, FileEntry, as_registry
from coursekit.datasets.trust import (
    check_hash,
    hash_file,
    read_record,
    record_path_for,
    warn_tofu,
    write_record,
)

__all__ = ["fetch", "list_files"]


def fetch(
    name: str,
    *,
    files: str | Iterable[str] | None = None,
    registry=None,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: bool = True,
    deadline_s: float | None = None,
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
    deadline_s : float, optional
        Longest time in seconds one file's download may take, however the server
        behaves (a server sending one byte a second is stopped). Default
        ``$COURSEKIT_DOWNLOAD_DEADLINE``, else 10 minutes plus the file's size at 50 kB/s
        (1 hour when the size is unknown).

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
        For unknown ``files``, no ``files`` for a data set that needs a choice, or an
        archive with members that would land outside its folder.
    HashMismatchError
        When a download does not match its verified (or first-recorded) hash (it is not
        kept), or a cached file does not match in a read-only cache.
    DownloadError
        When a file is not in the cache and cannot be downloaded: no network, HTTP error,
        deadline, a response cut short, an HTML page (captive portal) instead of the file,
        a damaged archive. The message names the URL, the cache folder and where to put
        the file by hand.
    DataDirError
        When the cache folder is a file or cannot be written; the message names the folder
        and how to use another one.

    Warns
    -----
    UnverifiedHashWarning
        For every file without a verified hash (trust on first use).
    UserWarning
        When a cached file failed its check and was moved aside (``<file>.rejected``).

    Examples
    --------
    >>> paths = fetch("isl_condition_blue")  # doctest: +SKIP
    >>> len(paths), paths[0].suffix  # doctest: +SKIP
    (16, '.png')
    >>> fetch("allen_label_free", files="fibrillarin.tar.gz")  # doctest: +SKIP
    """
    reg = as_registry(registry)
    dataset = reg[name]
    ctx = _context(data_dir, base_url, progress, deadline_s)
    out: list[Path] = []
    with quiet_pooch():
        entries = _select(dataset, zenodo.list_entries(dataset, ctx, download_file), files)
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
    dataset = as_registry(registry)[name]
    ctx = _context(data_dir, base_url, False, None)
    with quiet_pooch():
        return zenodo.list_entries(dataset, ctx, download_file)


def _context(data_dir, base_url, progress, deadline_s) -> Context:
    root = resolve_data_dir(data_dir)
    check_root(root)
    return Context(root, resolve_base_url(base_url), bool(progress), resolve_deadline(deadline_s))


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
def quiet_pooch():
    """Silence pooch's INFO log lines ("Downloading ...") while coursekit talks instead."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _url_for(entry: FileEntry, ctx: Context) -> str:
    return mirror_url(ctx.base, entry.dataset, entry.file) if ctx.base else entry.url


# --------------------------------------------------------------------------- one file


def _fetch_entry(entry: FileEntry, ctx: Context) -> list[Path]:
    path = ctx.root / entry.dataset / entry.file
    downloaded, pending = _fetch_file(entry, path, ctx)
    if entry.unpack is None:
        _trust(entry, path, pending)
        return [path]
    try:
        files = unpack(path, entry.unpack, fresh=downloaded)
    except ArchiveDamagedError as exc:
        if downloaded or entry.verified:  # checked before it was kept / the source is broken
            raise
        # trusted by an older coursekit that did not test archives: set both aside, retry
        problem = f"matches its recorded hash but is a damaged archive ({exc})"
        kept = _set_aside(entry, path, ctx, problem, expected=None, actual=hash_file(path))
        record = record_path_for(path)
        with contextlib.suppress(FileNotFoundError):
            move_aside(record)
        try:
            downloaded, pending = _fetch_file(entry, path, ctx)
        except DownloadError as err:
            note = f"The cached archive {path} {problem}; it was moved aside to {kept}.\n"
            raise DownloadError(
                note + str(err), name=err.name, url=err.url, path=err.path, cache_dir=err.cache_dir
            ) from err
        files = unpack(path, entry.unpack, fresh=True)
    _trust(entry, path, pending)
    return files


def _trust(entry: FileEntry, path: Path, pending: dict | None) -> None:
    """Record the hash of an unverified file that passed every check (after unpacking)."""
    if pending is None:
        return
    record = record_path_for(path)
    write_record(record, entry, pending["sha256"], path, origin=pending["origin"],
                 size_note=pending["size_note"])  # fmt: skip
    warn_tofu(entry, pending["sha256"], record, first=True, size_note=pending["size_note"])


def _fetch_file(entry: FileEntry, path: Path, ctx: Context) -> tuple[bool, dict | None]:
    """Make ``path`` a checked copy of ``entry``.

    Returns (downloaded now, what to record once unpacked: None unless trusted now).
    """
    record_path = record_path_for(path)
    record = None if entry.verified else read_record(record_path)
    expected = entry.sha256 if entry.verified else (record or {}).get("sha256")
    problem = kept = None
    check_file_slot(path, ctx.root)
    if path.is_file():
        actual = hash_file(path)
        if expected is None:  # unverified, no record yet: placed by hand (or an old version)
            problem = _trust_problem(entry, path)
            if problem is None:
                note = (
                    "checked against the registry" if entry.size else "not checked (no size known)"
                )
                return False, {"sha256": actual, "origin": "found in the cache", "size_note": note}
        elif actual == expected:
            if not entry.verified:
                warn_tofu(entry, actual, record_path, first=False, record=record)
            return False, None
        else:
            problem = f"did not match its sha256 (expected {expected}, got {actual})"
        kept = _set_aside(entry, path, ctx, problem, expected=expected, actual=actual)
    url = _url_for(entry, ctx)
    try:
        actual, size_note = download_file(
            entry, url, path, ctx, expected=expected, record=record_path, kept=kept
        )
    except DownloadError as exc:
        if problem is None:
            raise
        note = (
            f"The cached copy {path} {problem}; it was moved aside to {kept}, so it cannot be "
            "used offline.\n"
        )
        raise DownloadError(
            note + str(exc), name=exc.name, url=exc.url, path=exc.path, cache_dir=exc.cache_dir
        ) from exc
    if entry.verified or expected is not None:
        if not entry.verified:
            warn_tofu(entry, actual, record_path, first=False, record=record)
        return True, None
    return True, {"sha256": actual, "origin": url, "size_note": size_note}


def _trust_problem(entry: FileEntry, path: Path) -> str | None:
    """Why a cached file without any hash must not be trusted, or None."""
    size = path.stat().st_size
    if entry.size and size != entry.size:
        return f"has {size} bytes but the registry says {entry.size} bytes (cut short?)"
    if is_binary(entry):
        with open(path, "rb") as fh:
            if looks_like_html("", fh.read(512)):
                return "is an HTML page, not the file (a captive portal or error page?)"
    if entry.unpack:
        try:
            member_files(path, entry.unpack)
        except ArchiveDamagedError as exc:
            return f"cannot be trusted: {exc}"
    return None


def _set_aside(entry: FileEntry, path: Path, ctx: Context, problem: str, *, expected, actual):
    """Move a cached file that failed its check to ``<file>.rejected``; never delete it."""
    try:
        kept = move_aside(path)
    except OSError as exc:  # a read-only shared cache (a classroom's JupyterHub)
        raise HashMismatchError(
            f"the cached file {path} ({entry.name!r}) {problem}. It was not used. Its folder "
            f"{path.parent} is read-only (a shared cache?: {exc.strerror or exc}), so the file "
            "could not be moved aside or downloaded again; it was left as it is. Ask whoever "
            "manages the shared cache to replace it (fetch it into a writable folder and copy "
            "it there), or use a cache of your own. " + how_to_move(ctx.root),
            name=entry.name,
            expected=expected or "",
            actual=actual,
            algorithm="sha256",
            url=entry.url,
        ) from exc
    warnings.warn(
        f"cached file {path} {problem}; it was moved aside to {kept} (kept, not deleted) and "
        "is downloaded again",
        UserWarning,
        stacklevel=5,
    )
    return kept


def download_file(
    entry: FileEntry,
    url: str,
    path: Path,
    ctx: Context,
    *,
    expected: str | None,
    record: Path,
    kept: Path | None = None,
) -> tuple[str, str]:
    """Download ``url`` beside ``path``, check it, move it in place.

    Returns its sha256 and how its size was checked.
    """
    prepare_folder(path.parent, ctx.root)
    check_file_slot(path, ctx.root)
    tmp, fd = open_temporary(path, ".part")
    os.close(fd)
    try:
        info = download(entry, url, tmp, path, ctx, first_use=expected is None)
        if entry.unpack is not None:
            try:
                member_files(tmp, entry.unpack, label=f"{entry.name!r} from {url}")
            except ArchiveDamagedError as exc:
                raise DownloadError(
                    f"could not download {entry.name!r} from {url}: the download is a damaged "
                    f"archive ({exc}). Nothing was kept. Try again later; if this repeats, the "
                    f"server holds a broken file. To place the file by hand, save it as {path}.",
                    name=entry.name,
                    url=url,
                    path=path,
                    cache_dir=ctx.root,
                ) from exc
        if entry.md5 is not None:
            check_hash(entry, url, "md5", entry.md5, hash_file(tmp, "md5"), "Zenodo's listing")
        actual = hash_file(tmp)
        if expected is not None:
            origin = (
                "the coursekit registry, verified"
                if entry.verified
                else f"the hash recorded at this file's first download, in {record}"
            )
            check_hash(entry, url, "sha256", expected, actual, origin, record=record, kept=kept)
        os.replace(tmp, path)
        return actual, info.size_note
    finally:
        tmp.unlink(missing_ok=True)
