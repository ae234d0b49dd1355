"""The cache folder: where it is, whether it can be used, and moving a bad file aside.

The cache is ``<data_dir>/<data set>/<file>``. Nothing in it is ever deleted on a
mismatch: a file that fails its check is renamed to ``<file>.rejected`` (then
``<file>.rejected-2``, ...) so that a person can look at it, and only then replaced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pooch

from coursekit.datasets.errors import DataDirError
from coursekit.datasets.registry import REJECTED_SUFFIX

__all__ = ["data_dir", "DATA_DIR_ENV", "BASE_URL_ENV"]

DATA_DIR_ENV = "COURSEKIT_DATA_DIR"
BASE_URL_ENV = "COURSEKIT_DATA_BASE_URL"


@dataclass(frozen=True)
class Context:
    """What one call of ``fetch`` works with."""

    root: Path
    base: str | None
    progress: bool
    deadline_s: float | None = None


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
    return resolve_data_dir(path)


def resolve_data_dir(path) -> Path:
    if isinstance(path, str) and not path.strip():
        raise ValueError(
            "data_dir: got an empty string; give a folder, or None for the default "
            f"(${DATA_DIR_ENV}, else pooch.os_cache('coursekit'))"
        )
    if path is None:
        path = os.environ.get(DATA_DIR_ENV) or None
    if path is None:
        return Path(pooch.os_cache("coursekit")).expanduser()
    return Path(os.fspath(path)).expanduser().absolute()


def resolve_base_url(base_url) -> str | None:
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or None
    if base_url is None:
        return None
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ValueError(
            f"base_url (or ${BASE_URL_ENV}): expected an http:// or https:// URL, got {base_url!r}"
        )
    return base_url.rstrip("/")


def mirror_url(base: str, dataset: str, file: str) -> str:
    return f"{base}/{quote(dataset, safe='')}/{quote(file, safe='')}"


def how_to_move(root: Path) -> str:
    """The two ways to use another cache folder, for error messages."""
    return (
        f"The data cache folder in force is {root}. To use another folder, pass "
        f"data_dir='/a/folder/you/can/write' to fetch (or load_isl_sample), or set the "
        f"environment variable {DATA_DIR_ENV}=/a/folder/you/can/write before starting Python."
    )


def check_root(root: Path) -> None:
    """Refuse a cache folder that is a file (or lies below one), without writing anything."""
    for folder in (root, *root.parents):
        if folder.exists() and not folder.is_dir():
            what = "is" if folder == root else f"lies below {folder}, which is"
            raise DataDirError(
                f"the data cache folder {root} {what} a file, not a folder. " + how_to_move(root),
                path=folder,
            )


def prepare_folder(folder: Path, root: Path) -> None:
    """Create ``folder`` (inside the cache ``root``) and make sure files can be written."""
    check_root(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(
            f"the data cache folder {root} is not writable: {folder} could not be created "
            f"({exc.strerror or exc}). " + how_to_move(root),
            path=folder,
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataDirError(
            f"the data cache folder {folder} is not writable (a shared, read-only cache?), so "
            "nothing can be downloaded into it. " + how_to_move(root),
            path=folder,
        )


def check_file_slot(path: Path, root: Path) -> None:
    """Refuse a folder standing where a data file belongs (it is never removed)."""
    if path.is_dir():
        raise DataDirError(
            f"{path} is a folder (or a link to one), but coursekit keeps a downloaded file "
            "there; move or rename it (nothing in it was touched). " + how_to_move(root),
            path=path,
        )


def rejected_name(path: Path) -> Path:
    """``<file>.rejected``, or ``<file>.rejected-2``, ... when that exists already."""
    candidate = path.with_name(path.name + REJECTED_SUFFIX)
    n = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.name}{REJECTED_SUFFIX}-{n}")
        n += 1
    return candidate


def move_aside(path: Path) -> Path:
    """Rename ``path`` (a symlink itself, not its target) to a free ``.rejected`` name."""
    target = rejected_name(path)
    os.rename(path, target)
    return target
