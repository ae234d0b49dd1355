"""One HTTP download into a temporary file, with every check that needs no known hash.

- an overall deadline (``deadline_s=`` or ``$COURSEKIT_DOWNLOAD_DEADLINE``; by default
  10 minutes plus the time the file takes at 50 kB/s), so a server that drips one byte a
  second cannot keep a fetch going for ever;
- the size against the registry and against ``Content-Length`` (a response cut short is
  refused even when the server sent no ``Content-Length``, if the registry knows the size);
- no HTML page in place of a binary file (a captive portal, a login or error page served
  with status 200).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coursekit._validation import check_positive
from coursekit.datasets.cache import BASE_URL_ENV, DATA_DIR_ENV, Context
from coursekit.datasets.errors import DownloadError
from coursekit.datasets.registry import ZENODO_LISTING, FileEntry

__all__ = ["DEADLINE_ENV"]

DEADLINE_ENV = "COURSEKIT_DOWNLOAD_DEADLINE"
_CHUNK = 1 << 16
_CONNECT_TIMEOUT_S = 15.0
_READ_TIMEOUT_S = 30.0  # longest silence between two pieces of data
_DEFAULT_DEADLINE_BASE_S = 600.0  # every download may take this long ...
_DEFAULT_MIN_RATE_BPS = 50_000.0  # ... plus its size at this rate
_UNKNOWN_SIZE_DEADLINE_S = 3600.0
_TEXT_SUFFIXES = (".txt", ".json", ".csv", ".tsv", ".md", ".html", ".htm", ".xml", ".yaml", ".yml")
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head")


@dataclass(frozen=True)
class Downloaded:
    """What a finished download told us."""

    size: int
    size_note: str  # how the size was checked, for the trust record


def resolve_deadline(deadline_s) -> float | None:
    """``deadline_s``, else ``$COURSEKIT_DOWNLOAD_DEADLINE``, else None (automatic)."""
    if deadline_s is None:
        raw = os.environ.get(DEADLINE_ENV, "").strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"${DEADLINE_ENV}: expected a positive number of seconds, got {raw!r}")
        return value
    if isinstance(deadline_s, bool) or not isinstance(deadline_s, (int, float)):
        raise TypeError(
            f"deadline_s: expected a number of seconds (float) or None, got "
            f"{type(deadline_s).__name__} {deadline_s!r}"
        )
    return check_positive(deadline_s, "deadline_s")


def default_deadline(size: int | None) -> float:
    if size is None:
        return _UNKNOWN_SIZE_DEADLINE_S
    return _DEFAULT_DEADLINE_BASE_S + size / _DEFAULT_MIN_RATE_BPS


def is_binary(entry: FileEntry) -> bool:
    return not entry.file.lower().endswith(_TEXT_SUFFIXES)


def looks_like_html(content_type: str, head: bytes) -> bool:
    start = head.lstrip().lower()
    return "text/html" in content_type.lower() or start.startswith(_HTML_STARTS)


class _Refused(Exception):
    """A download that arrived but is not the file (reason in the message)."""


def download(
    entry: FileEntry, url: str, tmp: Path, path: Path, ctx: Context, *, first_use: bool
) -> Downloaded:
    """Stream ``url`` into ``tmp``; raise :class:`DownloadError` for anything wrong.

    ``first_use``: no hash is known yet (trust on first use), so the registry's size is
    the check; when a hash is known, it decides (``Content-Length`` is still checked).
    """
    import requests
    import urllib3

    start = time.monotonic()
    limit = ctx.deadline_s
    received, length = 0, None
    read_timeout = min(_READ_TIMEOUT_S, limit) if limit else _READ_TIMEOUT_S
    try:
        with requests.get(
            url, stream=True, timeout=(min(_CONNECT_TIMEOUT_S, read_timeout), read_timeout)
        ) as response:
            response.raise_for_status()
            encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
            header = response.headers.get("Content-Length")
            length = int(header) if header and header.isdigit() and not encoded else None
            content_type = response.headers.get("Content-Type", "")
            if limit is None:
                limit = default_deadline(entry.size or length)
            bar = _progress_bar(entry, entry.size or length) if ctx.progress else None
            head = b""
            read = getattr(response.raw, "read1", None) or response.raw.read
            try:
                with open(tmp, "wb") as fh:
                    while True:
                        if time.monotonic() - start > limit:
                            raise requests.Timeout("deadline")
                        chunk = read(_CHUNK, decode_content=True)
                        if not chunk:
                            break
                        fh.write(chunk)
                        received += len(chunk)
                        if len(head) < 512:
                            head += chunk[: 512 - len(head)]
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        if is_binary(entry) and looks_like_html(content_type, head):
            raise _Refused(
                f"the server answered with an HTML page ({content_type or 'no Content-Type'}, "
                f"starting {head[:60]!r}) instead of the file: a captive portal (hotel, campus "
                "or train Wi-Fi asking you to log in), a login or an error page. Open the URL "
                "in a browser, log in or accept the terms, then call fetch again"
            )
        if first_use and received == 0:
            raise _Refused("the server sent an empty file (0 bytes)")
        # a known hash says everything; before a first-use hash is recorded, the size is
        # the only check
        registry_size = entry.size if first_use else None
        expected, source = (
            (registry_size, "the registry") if registry_size else (length, "the server")
        )
        if expected is not None and received != expected:
            raise _Refused(
                f"the download was cut short: received {received} bytes but {source} "
                f"announced {expected} bytes (connection dropped, or the file changed)"
            )
        if length is not None and received != length:
            raise _Refused(
                f"the download was cut short: received {received} bytes but the server's "
                f"Content-Length is {length} bytes"
            )
    except _Refused as exc:
        raise DownloadError(
            _message(entry, url, path, ctx, str(exc)),
            name=entry.name,
            url=url,
            path=path,
            cache_dir=ctx.root,
        ) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        elapsed = time.monotonic() - start
        reason = _reason(exc, elapsed, limit, read_timeout, received, entry.size or length)
        raise DownloadError(
            _message(entry, url, path, ctx, reason),
            name=entry.name,
            url=url,
            path=path,
            cache_dir=ctx.root,
        ) from exc
    if entry.size and first_use:
        note = "checked against the registry"
    elif length is not None:
        note = "checked against Content-Length"
    else:
        note = "not checked (no size in the registry, no Content-Length)"
    return Downloaded(received, note)


def _reason(exc, elapsed: float, limit, silence: float, received: int, total) -> str:
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"the server answered HTTP {exc.response.status_code} {exc.response.reason}"
    timed_out = isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower()
    more_time = (
        f"Try again later, use a mirror, or allow more time with deadline_s=... or the "
        f"environment variable {DEADLINE_ENV}"
    )
    if timed_out and limit is not None and elapsed >= limit:
        of = f" of {total}" if total else ""
        rate = received / elapsed if elapsed > 0 else 0.0
        return (
            f"the download deadline ran out after {elapsed:.1f} s (deadline {limit:.1f} s; "
            f"received {received}{of} bytes, {rate:.0f} bytes/s): the server is too slow or "
            f"stalled. {more_time}"
        )
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not connect within {min(_CONNECT_TIMEOUT_S, silence):.0f} s. {more_time}"
    if timed_out:
        return (
            f"the server sent nothing for {silence:.0f} s (after {received} bytes, "
            f"{elapsed:.1f} s in all): it is down or stalled. {more_time}"
        )
    if isinstance(exc, requests.ConnectionError):
        return f"no connection, or it broke off (no network, or the server is down): {exc}"
    return f"{type(exc).__name__}: {exc}"


def _message(entry: FileEntry, url: str, path: Path, ctx: Context, reason: str) -> str:
    if entry.file == ZENODO_LISTING:
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
        f"Nothing was kept. The data cache folder is {ctx.root} (set {DATA_DIR_ENV} to use "
        f"another folder).\n"
        f"To place the file by hand: download {entry.url} on a machine with internet "
        f"access (a browser or curl) and save it as\n  {path}\n"
        f"then call fetch again; {check}.\n"
        f"Or set {BASE_URL_ENV} to a mirror serving <base>/<data set>/<file>."
    )


def _progress_bar(entry: FileEntry, total: int | None):
    from tqdm.auto import tqdm

    label = entry.file if len(entry.file) <= 40 else "..." + entry.file[-37:]
    return tqdm(
        total=total,
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=True,
        ascii=sys.platform == "win32",
    )
