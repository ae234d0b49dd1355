"""Writing files so that nothing is ever lost: a temporary file beside the target, then
``os.replace``.

A write that fails, is interrupted (Ctrl-C, a full disk, a file-size limit) or killed never
touches the file that was there before: the new content goes to a hidden temporary file
in the same folder (same file system, so the final ``os.replace`` is atomic), and only a
complete file replaces the target. On failure only the temporary file is removed. A hard
kill (SIGKILL, power loss) can leave that hidden temporary file behind, never a partial
target. Each writer gets its own temporary name, so concurrent writers do not collide.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_writable_target", "open_temporary", "temporary_name"]

_TMP_SUFFIX = ".tmp"


def temporary_name(path: Path, suffix: str = _TMP_SUFFIX) -> Path:
    """A hidden, unique name beside ``path``: ``.<name>.<random><suffix>``."""
    return path.with_name(f".{path.name[:120]}.{secrets.token_hex(6)}{suffix}")


def check_writable_target(path: Path) -> None:
    """Refuse to replace a read-only file, and name a folder that cannot be written.

    A file made read-only by its owner says "do not overwrite me"; ``os.replace`` would
    replace it anyway (only the folder's permissions count), so ask first.
    """
    if path.is_dir():
        raise IsADirectoryError(f"path {str(path)!r} is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(
            errno.EACCES,
            f"{str(path)!r} is read-only, so it was not overwritten; make it writable "
            f"(chmod u+w) or choose another file name",
        )


def _new_file_mode(path: Path) -> int:
    """The existing file's permissions, or what a plain ``open(path, "w")`` would give."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def open_temporary(path: Path, suffix: str = _TMP_SUFFIX) -> tuple[Path, int]:
    """Create a new, empty temporary file beside ``path``; return its path and descriptor."""
    for _ in range(100):
        tmp = temporary_name(path, suffix)
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except PermissionError as exc:
            raise PermissionError(
                exc.errno,
                f"the folder {str(path.parent)!r} is not writable, so {path.name!r} cannot be "
                "written there; choose a folder you can write to",
            ) from exc
    raise FileExistsError(f"could not find a free temporary name beside {str(path)!r}")


def _same_kind(exc: OSError, message: str) -> OSError:
    """An exception of ``exc``'s type (and errno) carrying ``message``."""
    try:
        return type(exc)(exc.errno, message) if exc.errno is not None else type(exc)(message)
    except TypeError:  # an OSError subclass with another constructor
        return OSError(exc.errno, message)


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The temporary file exists (empty) when the block starts; write to it by name. When
    ``path`` is a symbolic link, the file it points to is replaced (beside it), and the
    link stays. On any
    exception (``KeyboardInterrupt`` included) only the temporary file is removed and the
    exception propagates; an ``OSError`` while writing (disk full, file-size limit) is
    re-raised with the target's name and the note that the existing file is unchanged.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("complete")
    >>> target.read_text()
    'complete'
    """
    path = Path(path)
    if path.is_symlink():  # write the file the link points to; the link stays a link
        path = Path(os.path.realpath(path))
    check_writable_target(path)
    mode = _new_file_mode(path)
    tmp, fd = open_temporary(path)
    os.close(fd)
    try:
        try:
            yield tmp
            with open(tmp, "rb+") as fh:  # the data are on disk before the rename
                os.fsync(fh.fileno())
        except OSError as exc:
            before = "the existing file is unchanged" if path.exists() else "nothing was written"
            message = f"could not write {str(path)!r} ({exc.strerror or exc}); {before}"
            raise _same_kind(exc, message) from exc
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
