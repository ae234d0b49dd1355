"""Archives: check every member, read every byte, then unpack into place in one step.

A ``.tar(.gz)`` or ``.zip`` is refused when a member would land outside its folder
(absolute names, ``..``, links pointing out, devices and pipes), and it is read to the end
(every compressed byte, every CRC) before it is trusted, so a truncated download is found
at once, not as a bare ``EOFError`` later. Unpacking goes to a temporary folder beside
the archive that is renamed to ``<file>.untar`` / ``<file>.unzip`` when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

__all__: list[str] = []

#: the list of unpacked files, kept inside the unpacked folder (hidden)
_MANIFEST = ".coursekit-members.json"

#: what a damaged archive raises while being read
DAMAGE_ERRORS = (
    EOFError,
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    ValueError,  # incl. lzma/bz2 data errors
)


class ArchiveDamagedError(ValueError):
    """An archive cannot be read to its end (truncated or corrupt)."""


def extract_dir_for(path: Path, kind: str) -> Path:
    return Path(str(path) + (".untar" if kind == "tar" else ".unzip"))


def _unsafe(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _refuse(label: str, member: str, why: str) -> None:
    raise ValueError(f"refusing to unpack {label}: member {member!r} {why}")


def _tar_members(tar: tarfile.TarFile, label: str) -> list[str]:
    files = []
    for member in tar.getmembers():
        if _unsafe(member.name):
            _refuse(label, member.name, "would be written outside its folder")
        if member.issym() or member.islnk():
            link = member.linkname
            target = PurePosixPath(member.name).parent / link if member.issym() else link
            if PurePosixPath(link).is_absolute() or _unsafe(str(target)) or ".." in link:
                _refuse(label, member.name, f"links to {link!r}, outside its folder")
        if member.isdev() or not (member.isfile() or member.isdir() or member.issym()):
            if not member.islnk():
                _refuse(label, member.name, "is a device or pipe, not a file (outside its folder)")
        if member.isfile():
            files.append(member.name)
    return files


def _zip_members(zf: zipfile.ZipFile, label: str) -> list[str]:
    files = []
    for info in zf.infolist():
        if _unsafe(info.filename):
            _refuse(label, info.filename, "would be written outside its folder")
        if not info.is_dir():
            files.append(info.filename)
    return files


def member_files(path: Path, kind: str, *, label: str | None = None) -> list[str]:
    """Check every member's name and read every byte; return the names of the files.

    Raises ``ValueError`` ("refusing to unpack ...") for unsafe members and
    :class:`ArchiveDamagedError` for an archive that cannot be read to its end.
    """
    label = label or str(path)
    try:
        if kind == "tar":
            with tarfile.open(path) as tar:
                names = _tar_members(tar, label)
                for member in tar:
                    if member.isfile():
                        with tar.extractfile(member) as fh:
                            while fh.read(1 << 20):
                                pass
        else:
            with zipfile.ZipFile(path) as zf:
                names = _zip_members(zf, label)
                bad = zf.testzip()
                if bad is not None:
                    raise zipfile.BadZipFile(f"member {bad!r} fails its CRC check")
    except DAMAGE_ERRORS as exc:
        if isinstance(exc, ValueError) and str(exc).startswith("refusing to unpack"):
            raise
        raise ArchiveDamagedError(
            f"{label} is a damaged archive (truncated or corrupt): {type(exc).__name__}: {exc}"
        ) from exc
    return names


def unpack(path: Path, kind: str, *, fresh: bool) -> list[Path]:
    """Unpack ``path`` beside itself unless an up-to-date copy is there; return its files.

    ``fresh``: the archive was just downloaded, so unpack again over an older copy.
    """
    extract_dir = extract_dir_for(path, kind)
    stale = extract_dir.is_dir() and extract_dir.stat().st_mtime < path.stat().st_mtime
    if not fresh and not stale:
        names = _read_manifest(extract_dir)
        if names is not None:
            files = sorted(extract_dir / name for name in names)
            if all(f.is_file() for f in files):
                return files  # unpacked completely before; nothing is read again
    names = member_files(path, kind)
    files = sorted(extract_dir / name for name in names)
    if not fresh and not stale and all(f.is_file() for f in files):
        return files  # unpacked by an older version (no list kept): nothing to write
    tmp = Path(tempfile.mkdtemp(prefix=f".{extract_dir.name[:80]}.", dir=path.parent))
    old = None
    try:
        if kind == "tar":
            with tarfile.open(path) as tar:
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp, **extra)  # members checked above
        else:
            with zipfile.ZipFile(path) as zf:
                zf.extractall(tmp)  # zipfile never creates symlinks
        (tmp / _MANIFEST).write_text(json.dumps(sorted(names)), encoding="utf-8")
        os.chmod(tmp, 0o777 & ~_umask())
        if extract_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{extract_dir.name[:80]}.old.", dir=path.parent))
            os.rename(extract_dir, old / "copy")
        os.rename(tmp, extract_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return files


def _read_manifest(extract_dir: Path) -> list[str] | None:
    try:
        names = json.loads((extract_dir / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) and not _unsafe(n) for n in names):
        return None
    return names


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
