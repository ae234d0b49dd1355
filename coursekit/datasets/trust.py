"""Hashes and trust on first use (TOFU).

A *verified* file is checked against the sha256 in the registry. An *unverified* file
is trusted on first use: after it passed every check that does not need a known hash
(size against the registry or ``Content-Length``, no HTML page in place of a binary
file, archives that open and unpack), its sha256 is recorded beside it in
``<file>.tofu.json`` and every later use is checked against that record.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pooch

from coursekit._files import atomic_path
from coursekit.datasets.errors import HashMismatchError, RegistryError, UnverifiedHashWarning
from coursekit.datasets.registry import SHA256_RE, TOFU_SUFFIX, FileEntry

__all__: list[str] = []


def hash_file(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (pooch's chunked hashing)."""
    return pooch.file_hash(str(path), alg=algorithm)


def record_path_for(path: Path) -> Path:
    return path.with_name(path.name + TOFU_SUFFIX)


def read_record(record_path: Path) -> dict | None:
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if not SHA256_RE.match(record["sha256"]):
            raise ValueError(f"'sha256' is {record['sha256']!r}, not 64 lower-case hex digits")
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryError(
            f"cannot read the trust-on-first-use record {record_path} ({exc}). It holds the "
            "hash recorded at the first download; repair it, or delete it to trust the file "
            "now in the cache (check that file first), then call fetch again"
        ) from exc
    return record


def write_record(
    record_path: Path, entry: FileEntry, sha256: str, path: Path, *, origin: str, size_note: str
) -> None:
    record = {
        "name": entry.name,
        "file": entry.file,
        "sha256": sha256,
        "size": path.stat().st_size,
        "size_checked": size_note,
        "first_seen_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "origin": origin,
        "note": (
            "Trust on first use: this hash was recorded by coursekit at the first download, "
            "not verified against the source. Later uses are checked against it."
        ),
    }
    try:
        with atomic_path(record_path) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:  # a read-only shared cache
        warnings.warn(
            f"could not write {record_path} ({exc}); the hash of {entry.name!r} is not recorded",
            UnverifiedHashWarning,
            stacklevel=5,
        )


def warn_tofu(
    entry: FileEntry,
    sha256: str,
    record_path: Path,
    *,
    first: bool,
    record: dict | None = None,
    size_note: str = "",
) -> None:
    if first:
        message = (
            f"{entry.name!r} has no verified hash in the coursekit registry: trusting it on "
            f"first use. Its sha256 {sha256} is recorded in {record_path}; later uses are "
            "checked against it, but it was NOT checked against the source."
        )
        if size_note.startswith("no"):
            message += (
                " Its size could not be checked either (the registry gives none and the "
                "server sent no Content-Length)."
            )
    else:
        when = (record or {}).get("first_seen_utc", "its first download")
        message = (
            f"{entry.name!r} is unverified: it matches the sha256 recorded on {when} "
            f"({sha256[:12]}...), which was never checked against the source."
        )
    warnings.warn(message, UnverifiedHashWarning, stacklevel=5)


def check_hash(
    entry: FileEntry,
    url: str,
    algorithm: str,
    expected: str,
    actual: str,
    origin: str,
    *,
    record: Path | None = None,
    kept: Path | None = None,
) -> None:
    """Raise :class:`HashMismatchError` for a download that does not match."""
    if actual == expected:
        return
    lines = [
        f"{algorithm} mismatch for {entry.name!r} ({entry.file}) downloaded from {url}:",
        f"  expected {expected} (from {origin})",
        f"  actual   {actual}",
        "The download was refused (not kept). If this repeats, the server (or a proxy) "
        "delivers a different file.",
    ]
    if kept is not None:
        lines.append(f"Your previous copy, which did not match either, is kept as {kept}.")
    if record is not None and not entry.verified:
        lines.append(
            f"To trust the file the server sends now (the source changed it on purpose, or "
            f"the record was edited): delete {record} and call fetch again. If your previous "
            "copy is the right one, move it back to its name instead and delete the record."
        )
    raise HashMismatchError(
        "\n".join(lines),
        name=entry.name,
        expected=expected,
        actual=actual,
        algorithm=algorithm,
        url=url,
    )
