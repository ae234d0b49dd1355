"""Faults in coursekit.datasets: a hostile network, a broken cache, odd archives and names.

A real HTTP server on 127.0.0.1 misbehaves on purpose (:class:`HostileServer`): it cuts
responses short with or without ``Content-Length``, serves an HTML page with status 200
(a captive portal), drips one byte at a time, or stalls. Permission cases run in a
subprocess as an unprivileged user when the tests run as root (root ignores chmod).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
import warnings
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from _shared import ServerThread

from coursekit import datasets as ds
from coursekit.datasets import (
    DataDirError,
    DownloadError,
    HashMismatchError,
    Registry,
    RegistryError,
    UnverifiedHashWarning,
)

REPO = Path(__file__).resolve().parent.parent


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------- a server that misbehaves


class Route:
    """How the server answers one path.

    ``send``: how many bytes of ``body`` to send before closing (default all);
    ``length``: the Content-Length header ("auto" = len(body), None = no header);
    ``drip_s``: pause after each byte; ``stall_s``: pause before the status line.
    """

    def __init__(self, body=b"", *, status=200, content_type="application/octet-stream",
                 length="auto", send=None, drip_s=0.0, stall_s=0.0, headers=None):  # fmt: skip
        self.body, self.status, self.content_type = body, status, content_type
        self.headers = headers or {}
        self.length = len(body) if length == "auto" else length
        self.send = len(body) if send is None else send
        self.drip_s, self.stall_s = drip_s, stall_s


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, *args, routes: dict, requests: list, **kwargs):
        self._routes, self._requests = routes, requests
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 - the http.server API
        path = unquote(self.path)
        self._requests.append(path)
        route = self._routes.get(path)
        if route is None:
            self.send_error(404)
            return
        if route.stall_s:
            time.sleep(route.stall_s)
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        if route.length is not None:
            self.send_header("Content-Length", str(route.length))
        for key, value in route.headers.items():
            self.send_header(key, value)
        self.end_headers()
        data = route.body[: route.send]
        try:
            if route.drip_s:
                for i in range(len(data)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(route.drip_s)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should
        self.close_connection = True

    def log_message(self, format, *args):  # noqa: A002
        pass


class HostileServer(ServerThread):
    """A server that answers each path as its :class:`Route` says (``routes[path] = ...``)."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        super().__init__(functools.partial(_Handler, routes=self.routes, requests=self.requests))


@pytest.fixture
def hostile():
    server = HostileServer()
    yield server
    server.stop()


def registry_for(server, files: dict, *, verified=False, sizes=None, unpack=None) -> Registry:
    """A one-data-set registry ``demo`` whose files ({name: bytes}) point at ``server``."""
    sizes = sizes or {}
    entries = []
    for fname, data in files.items():
        entries.append(
            {
                "file": fname,
                "url": f"{server.url}/src/{quote(fname, safe='')}",
                "verified": verified,
                "sha256": sha256(data) if verified else None,
                "size": sizes.get(fname, len(data) if verified else None),
                "unpack": (unpack or {}).get(fname)
                or (
                    "tar"
                    if fname.endswith(".tar.gz")
                    else "zip"
                    if fname.endswith(".zip")
                    else None
                ),
            }
        )
    return Registry.from_dict(
        {
            "schema": 1,
            "datasets": [
                {
                    "name": "demo",
                    "description": "test files",
                    "source": server.url,
                    "licence": "CC0-1.0",
                    "citation": "Test (2024)",
                    "files": entries,
                }
            ],
        },
        source="test registry",
    )


def serve(server, fname: str, route: Route) -> None:
    server.routes[f"/src/{fname}"] = route


def fetch(reg, cache, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedHashWarning)
        return ds.fetch("demo", registry=reg, data_dir=cache, progress=False, **kwargs)


def cache_names(cache: Path) -> list[str]:
    folder = cache / "demo"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


PAYLOAD = bytes(range(256)) * 40  # 10 kB of "binary" data
PORTAL = b"<!DOCTYPE html><html><body>Please log in to the campus Wi-Fi</body></html>"


# ----------------------------------------------------------------- trust on first use (item 2)


def test_response_cut_short_without_content_length_is_not_trusted(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, sizes={"a.bin": len(PAYLOAD)})
    serve(hostile, "a.bin", Route(PAYLOAD, length=None, send=len(PAYLOAD) // 2))
    with pytest.raises(DownloadError, match=rf"{len(PAYLOAD) // 2} bytes.*{len(PAYLOAD)}"):
        fetch(reg, tmp_path)
    assert cache_names(tmp_path) == [], "a half file or its record was kept"
    serve(hostile, "a.bin", Route(PAYLOAD, length=None))  # the server recovers
    (out,) = fetch(reg, tmp_path)
    assert out.read_bytes() == PAYLOAD
    record = json.loads(out.with_name("a.bin.tofu.json").read_text())
    assert record["sha256"] == sha256(PAYLOAD) and record["size"] == len(PAYLOAD)


def test_response_cut_short_below_its_content_length_is_not_trusted(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})  # no size in the registry
    serve(hostile, "a.bin", Route(PAYLOAD, send=1000))
    with pytest.raises(DownloadError, match="1000"):
        fetch(reg, tmp_path)
    assert cache_names(tmp_path) == []


def test_unknown_size_is_trusted_with_a_warning_that_says_so(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(PAYLOAD, length=None))
    with pytest.warns(UnverifiedHashWarning, match="size could not be checked"):
        ds.fetch("demo", registry=reg, data_dir=tmp_path, progress=False)


def test_truncated_tar_gz_is_refused_and_a_later_good_one_trusted(hostile, tmp_path):
    good = tar_gz({"stack/cell.tif": PAYLOAD * 5})
    reg = registry_for(hostile, {"cells.tar.gz": good})
    serve(hostile, "cells.tar.gz", Route(good[: len(good) // 2]))  # the server holds half
    with pytest.raises(DownloadError, match="damaged archive") as info:
        fetch(reg, tmp_path)
    assert "EOF" in str(info.value) or "truncated" in str(info.value)
    assert cache_names(tmp_path) == [], "a damaged archive was kept or trusted"
    serve(hostile, "cells.tar.gz", Route(good))
    paths = fetch(reg, tmp_path)
    assert [p.read_bytes() for p in paths] == [PAYLOAD * 5]
    assert "cells.tar.gz.tofu.json" in cache_names(tmp_path)


def test_damaged_archive_trusted_by_an_older_version_is_moved_aside(hostile, tmp_path):
    good = tar_gz({"cell.tif": PAYLOAD * 5})
    bad = good[: len(good) // 2]
    reg = registry_for(hostile, {"cells.tar.gz": good})
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "cells.tar.gz").write_bytes(bad)  # what the old TOFU recorded
    (folder / "cells.tar.gz.tofu.json").write_text(json.dumps({"sha256": sha256(bad)}))
    hostile.stop()
    with pytest.warns(UserWarning, match="rejected"), pytest.raises(DownloadError) as info:
        fetch(reg, tmp_path)
    msg = str(info.value)
    assert "damaged" in msg and ".rejected" in msg, msg
    assert (folder / "cells.tar.gz.rejected").read_bytes() == bad, "the old file was not kept"
    assert not (folder / "cells.tar.gz.tofu.json").exists()


def test_damaged_cached_archive_is_replaced_when_the_server_is_healthy(hostile, tmp_path):
    good = tar_gz({"cell.tif": PAYLOAD * 5})
    bad = good[: len(good) // 2]
    reg = registry_for(hostile, {"cells.tar.gz": good})
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "cells.tar.gz").write_bytes(bad)
    (folder / "cells.tar.gz.tofu.json").write_text(json.dumps({"sha256": sha256(bad)}))
    serve(hostile, "cells.tar.gz", Route(good))
    with pytest.warns(UserWarning, match="rejected"):
        paths = fetch(reg, tmp_path)
    assert [p.read_bytes() for p in paths] == [PAYLOAD * 5], "not a bare EOFError any more"


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
@pytest.mark.parametrize("verified", [False, True])
def test_captive_portal_html_page_is_refused(hostile, tmp_path, content_type, verified):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, verified=verified)
    serve(hostile, "a.bin", Route(PORTAL, content_type=content_type))
    with pytest.raises(DownloadError, match="HTML page") as info:
        fetch(reg, tmp_path)
    assert "captive portal" in str(info.value) and "browser" in str(info.value)
    assert cache_names(tmp_path) == []
    serve(hostile, "a.bin", Route(PAYLOAD))  # after logging in, the real file is accepted
    (out,) = fetch(reg, tmp_path)
    assert out.read_bytes() == PAYLOAD


def test_html_is_fine_for_a_text_file(hostile, tmp_path):
    reg = registry_for(hostile, {"index.html": PORTAL})
    serve(hostile, "index.html", Route(PORTAL, content_type="text/html"))
    (out,) = fetch(reg, tmp_path)
    assert out.read_bytes() == PORTAL


def test_edited_trust_record_keeps_the_good_file_and_says_how_to_re_trust(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(PAYLOAD))
    (out,) = fetch(reg, tmp_path)
    record = out.with_name("a.bin.tofu.json")
    data = json.loads(record.read_text())
    data["sha256"] = "0" * 64  # edited by hand (or by a bad tool)
    record.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="rejected"), pytest.raises(HashMismatchError) as info:
        fetch(reg, tmp_path)
    msg = str(info.value)
    assert str(record) in msg and "delete" in msg and ".rejected" in msg, msg
    assert out.with_name("a.bin.rejected").read_bytes() == PAYLOAD, "the good file was lost"
    record.unlink()  # following the message: trust the file again
    (again,) = fetch(reg, tmp_path)
    assert again.read_bytes() == PAYLOAD


def test_every_rejection_is_kept(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, verified=True)
    serve(hostile, "a.bin", Route(PAYLOAD))
    (out,) = fetch(reg, tmp_path)
    for version in (b"first edit", b"second edit"):
        out.write_bytes(version)
        with pytest.warns(UserWarning, match="rejected"):
            fetch(reg, tmp_path)
    kept = sorted(p.read_bytes() for p in out.parent.glob("a.bin.rejected*"))
    assert kept == [b"first edit", b"second edit"]
    assert out.read_bytes() == PAYLOAD


# ----------------------------------------------------------------- deadline (item 5)


def test_slow_drip_server_fails_within_the_deadline(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(PAYLOAD, drip_s=0.05))  # 20 bytes/s: 8 minutes for 10 kB
    start = time.monotonic()
    with pytest.raises(DownloadError, match="deadline") as info:
        fetch(reg, tmp_path, deadline_s=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 6, f"the deadline of 1 s took {elapsed:.1f} s to act"
    assert "deadline_s" in str(info.value) and ds.DEADLINE_ENV in str(info.value)
    assert cache_names(tmp_path) == []


def test_stalled_server_fails_within_the_deadline_from_the_environment(
    hostile, tmp_path, monkeypatch
):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(PAYLOAD, stall_s=10))  # no answer at all for 10 s
    monkeypatch.setenv(ds.DEADLINE_ENV, "1")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="deadline"):
        fetch(reg, tmp_path)
    assert time.monotonic() - start < 6


def test_silent_server_without_a_deadline_is_named(hostile, tmp_path, monkeypatch):
    from coursekit.datasets import download

    monkeypatch.delenv(ds.DEADLINE_ENV, raising=False)
    monkeypatch.setattr(download, "_READ_TIMEOUT_S", 0.5)  # the automatic deadline is long
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(PAYLOAD, stall_s=5))
    with pytest.raises(DownloadError, match="sent nothing for") as info:
        fetch(reg, tmp_path)
    assert ds.DEADLINE_ENV in str(info.value)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), ("1", TypeError)])
def test_deadline_is_checked(tmp_path, bad, error):
    with pytest.raises(error, match="deadline_s"):
        ds.fetch("isl_condition_blue", data_dir=tmp_path, deadline_s=bad)


def test_bad_deadline_in_the_environment_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(ds.DEADLINE_ENV, "soon")
    with pytest.raises(ValueError, match=ds.DEADLINE_ENV):
        ds.fetch("isl_condition_blue", data_dir=tmp_path)


# ----------------------------------------------------------------- the cache folder (item 8)


def test_data_dir_that_is_a_file(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(PAYLOAD))
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("my notes")
    for data_dir in (not_a_folder, not_a_folder / "below"):
        with pytest.raises(DataDirError) as info:
            fetch(reg, data_dir)
        msg = str(info.value)
        assert str(not_a_folder) in msg and "data_dir=" in msg and ds.DATA_DIR_ENV in msg, msg
        assert isinstance(info.value, OSError)
    assert not_a_folder.read_text() == "my notes"


def _unprivileged(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` as an unprivileged user when we are root (root ignores chmod)."""
    pre = ""
    if os.geteuid() == 0:
        pre = """
        import os, datetime, json, numpy, warnings, coursekit.datasets, requests, urllib3
        import http.client, email.parser, encodings.idna, hashlib, tarfile, zipfile, tqdm
        try:
            os.setgid(65534); os.setgroups([]); os.setuid(65534)
        except PermissionError:
            raise SystemExit(99)  # no right to drop privileges here
        """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(pre) + textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if pre and result.returncode == 99:
        pytest.skip("running as root without the right to drop privileges: chmod cannot bite")
    return result


@pytest.fixture
def shared_folder(tmp_path):
    """A folder others may read but not write (a classroom's shared cache)."""
    folder = Path("/tmp") / f"ck-shared-{os.getpid()}-{tmp_path.name}"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    yield folder
    subprocess.run(["chmod", "-R", "u+w", str(folder)], check=False)
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def _lock(folder: Path) -> None:
    """Make ``folder`` read-only for the unprivileged child."""
    if os.geteuid() != 0:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)


def _registry_json(reg: Registry, folder: Path) -> Path:
    path = folder / "registry.json"
    e = reg["demo"].files[0]
    file = {"file": e.file, "url": e.url, "verified": e.verified, "sha256": e.sha256,
            "size": e.size}  # fmt: skip
    path.write_text(json.dumps({"schema": 1, "datasets": [{
        "name": "demo", "description": "d", "source": "s", "licence": "L", "citation": "C",
        "files": [file]}]}))  # fmt: skip
    return path


def test_unwritable_cache_names_the_folder_and_both_ways_to_move_it(hostile, shared_folder):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, verified=True)
    serve(hostile, "a.bin", Route(PAYLOAD))
    reg_path = _registry_json(reg, shared_folder)
    cache = shared_folder / "cache"
    cache.mkdir()
    _lock(shared_folder)
    result = _unprivileged(f"""
    from coursekit import datasets as ds
    try:
        ds.fetch("demo", registry={str(reg_path)!r}, data_dir={str(cache)!r}, progress=False)
    except ds.DataDirError as exc:
        print("REFUSED", exc)
    """)
    out = result.stdout
    assert "REFUSED" in out, out + result.stderr
    assert str(cache) in out and "data_dir=" in out and ds.DATA_DIR_ENV in out, out
    assert "not writable" in out


def test_corrupt_file_in_a_read_only_shared_cache_reports_the_mismatch(hostile, shared_folder):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, verified=True)
    serve(hostile, "a.bin", Route(PAYLOAD))
    reg_path = _registry_json(reg, shared_folder)
    cache = shared_folder / "cache"
    (cache / "demo").mkdir(parents=True)
    (cache / "demo" / "a.bin").write_bytes(b"damaged on the shared disk")
    _lock(shared_folder)
    result = _unprivileged(f"""
    from coursekit import datasets as ds
    try:
        ds.fetch("demo", registry={str(reg_path)!r}, data_dir={str(cache)!r}, progress=False)
    except ds.HashMismatchError as exc:
        print("MISMATCH", exc)
    """)
    out = result.stdout
    assert "MISMATCH" in out, out + result.stderr
    assert sha256(PAYLOAD) in out and "read-only" in out, out
    assert "data_dir=" in out and ds.DATA_DIR_ENV in out, out
    assert (cache / "demo" / "a.bin").read_bytes() == b"damaged on the shared disk"
    assert hostile.requests == [], "nothing can be written there: do not download"


def test_good_files_in_a_read_only_shared_cache_are_used(hostile, shared_folder):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, verified=True)
    reg_path = _registry_json(reg, shared_folder)
    cache = shared_folder / "cache"
    (cache / "demo").mkdir(parents=True)
    (cache / "demo" / "a.bin").write_bytes(PAYLOAD)
    _lock(shared_folder)
    result = _unprivileged(f"""
    from coursekit import datasets as ds
    print("GOT", ds.fetch("demo", registry={str(reg_path)!r}, data_dir={str(cache)!r}))
    """)
    assert "GOT" in result.stdout and "a.bin" in result.stdout, result.stdout + result.stderr
    assert sorted(p.name for p in (cache / "demo").iterdir()) == ["a.bin"]


# ----------------------------------------------------------------- a hostile pass of our own


def test_zip_members_outside_their_folder_are_refused(hostile, tmp_path):
    evil = zip_bytes({"../../escaped.txt": b"x", "ok.txt": b"y"})
    reg = registry_for(hostile, {"evil.zip": evil})
    serve(hostile, "evil.zip", Route(evil))
    with pytest.raises(ValueError, match="outside its folder"):
        fetch(reg, tmp_path)
    assert not list(tmp_path.rglob("escaped.txt"))


def test_zip_symlink_member_is_unpacked_as_a_plain_file(hostile, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16  # a symlink entry pointing at /etc/passwd
        z.writestr(info, "/etc/passwd")
        z.writestr("data.txt", b"d")
    reg = registry_for(hostile, {"links.zip": buf.getvalue()})
    serve(hostile, "links.zip", Route(buf.getvalue()))
    paths = fetch(reg, tmp_path)
    assert not any(p.is_symlink() for p in paths), "a symlink from an archive was created"
    assert sorted(p.name for p in paths) == ["data.txt", "link"]


@pytest.mark.parametrize(
    "kind", ["absolute symlink", "symlink up", "hard link up", "fifo", "absolute name"]
)
def test_unsafe_tar_members_are_refused(hostile, tmp_path, kind):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo("/etc/evil" if kind == "absolute name" else "member")
        if kind == "absolute symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "symlink up":
            info.type, info.linkname = tarfile.SYMTYPE, "../../outside"
        elif kind == "hard link up":
            info.type, info.linkname = tarfile.LNKTYPE, "../outside"
        elif kind == "fifo":
            info.type = tarfile.FIFOTYPE
        t.addfile(info, io.BytesIO(b"") if info.isreg() else None)
    reg = registry_for(hostile, {"evil.tar.gz": buf.getvalue()})
    serve(hostile, "evil.tar.gz", Route(buf.getvalue()))
    with pytest.raises(ValueError, match="refusing to unpack"):
        fetch(reg, tmp_path)
    assert not (tmp_path / "demo" / "evil.tar.gz.tofu.json").exists(), "a refused archive trusted"


@pytest.mark.parametrize(
    "fname", ["célula ü 細胞.tif", "lab-A,well-B4,z-0 (copy).png", "😀'q'.bin"]
)
def test_unicode_comma_and_quote_file_names(hostile, tmp_path, fname):
    reg = registry_for(hostile, {fname: PAYLOAD}, verified=True)
    serve(hostile, fname, Route(PAYLOAD))
    (out,) = fetch(reg, tmp_path)
    assert out.name == fname and out.read_bytes() == PAYLOAD


def test_symlinked_cache_file_is_used_and_a_bad_target_left_alone(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, verified=True)
    serve(hostile, "a.bin", Route(PAYLOAD))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "good.bin").write_bytes(PAYLOAD)
    (elsewhere / "bad.bin").write_bytes(b"not it")
    folder = tmp_path / "cache" / "demo"
    folder.mkdir(parents=True)
    (folder / "a.bin").symlink_to(elsewhere / "good.bin")
    assert fetch(reg, tmp_path / "cache") == [folder / "a.bin"]
    assert hostile.requests == [], "a good symlinked file was downloaded again"
    (folder / "a.bin").unlink()
    (folder / "a.bin").symlink_to(elsewhere / "bad.bin")
    with pytest.warns(UserWarning, match="rejected"):
        (out,) = fetch(reg, tmp_path / "cache")
    assert out.read_bytes() == PAYLOAD and not out.is_symlink()
    assert (elsewhere / "bad.bin").read_bytes() == b"not it", "the link's target was changed"
    assert (folder / "a.bin.rejected").is_symlink()


@pytest.mark.parametrize(
    "sha, match",
    [
        ("A" * 64, "lower-case"),
        ("sha256:" + "a" * 64, "64-hex"),
        ("a" * 32, "64-hex"),
        (None, "64-hex"),
    ],
)
def test_registry_with_a_bad_hash_format(sha, match):
    entry = {"file": "a.bin", "url": "https://x.org/a.bin", "sha256": sha, "verified": True}
    with pytest.raises(RegistryError, match=match):
        Registry.from_dict({"schema": 1, "datasets": [{
            "name": "d", "description": "d", "source": "s", "licence": "L", "citation": "C",
            "files": [entry]}]})  # fmt: skip


@pytest.mark.parametrize("fname", ["a.bin.rejected", ".a.bin.1f2e3d4c5b6a.part", "a.bin.tofu.json"])
def test_registry_refuses_names_of_coursekits_own_cache_files(fname):
    entry = {"file": fname, "url": "https://x.org/a.bin", "sha256": None, "verified": False}
    with pytest.raises(RegistryError, match="safe file name"):
        Registry.from_dict({"schema": 1, "datasets": [{
            "name": "d", "description": "d", "source": "s", "licence": "L", "citation": "C",
            "files": [entry]}]})  # fmt: skip


def test_unreadable_trust_record_names_it_and_keeps_the_data(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "a.bin").write_bytes(PAYLOAD)
    (folder / "a.bin.tofu.json").write_text('{"sha256": "not a hash"}')
    with pytest.raises(RegistryError) as info:
        fetch(reg, tmp_path)
    msg = str(info.value)
    assert "a.bin.tofu.json" in msg and "the file next to it" not in msg, msg
    assert (folder / "a.bin").read_bytes() == PAYLOAD


def test_cache_path_that_is_a_folder_where_a_file_belongs(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, verified=True)
    serve(hostile, "a.bin", Route(PAYLOAD))
    (tmp_path / "demo" / "a.bin").mkdir(parents=True)
    (tmp_path / "demo" / "a.bin" / "mine.txt").write_text("keep")
    with pytest.raises(DataDirError, match="is a folder"):
        fetch(reg, tmp_path)
    assert (tmp_path / "demo" / "a.bin" / "mine.txt").read_text() == "keep"


def test_empty_response_is_not_trusted(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(b""))
    with pytest.raises(DownloadError, match="empty file"):
        fetch(reg, tmp_path)
    assert cache_names(tmp_path) == []


def test_redirect_loop_is_a_download_error(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(b"", status=302, headers={"Location": "/src/a.bin"}))
    with pytest.raises(DownloadError, match="redirect"):
        fetch(reg, tmp_path)
    assert cache_names(tmp_path) == []


def test_symlink_to_a_folder_where_a_file_belongs_is_left_alone(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD}, verified=True)
    serve(hostile, "a.bin", Route(PAYLOAD))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cache" / "demo").mkdir(parents=True)
    (tmp_path / "cache" / "demo" / "a.bin").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DataDirError, match="is a folder"):
        fetch(reg, tmp_path / "cache")
    assert (tmp_path / "cache" / "demo" / "a.bin").is_symlink()


def test_odd_characters_in_the_cache_folder(hostile, tmp_path):
    reg = registry_for(hostile, {"a,b c.tif": PAYLOAD}, verified=True)
    serve(hostile, "a,b c.tif", Route(PAYLOAD))
    cache = tmp_path / "Données, ü 細胞 (cours)"
    (out,) = fetch(reg, cache)
    assert out == cache / "demo" / "a,b c.tif" and out.read_bytes() == PAYLOAD


def test_zenodo_listing_with_unsafe_file_names_is_refused_and_kept(hostile, tmp_path):
    listing = {"files": [{"key": "../../evil.sh", "size": 3, "checksum": "md5:" + "0" * 32}]}
    hostile.routes["/api/records/42"] = Route(json.dumps(listing).encode(),
                                              content_type="application/json")  # fmt: skip
    reg = Registry.from_dict({"schema": 1, "datasets": [{
        "name": "record", "description": "d", "source": "s", "licence": "L", "citation": "C",
        "doi": "10.5281/zenodo.42", "record_url": f"{hostile.url}/records/42",
        "zenodo": {"listing_url": f"{hostile.url}/api/records/42",
                   "url_pattern": f"{hostile.url}/records/42/files/{{file}}"},
        "files": None}]})  # fmt: skip
    with pytest.raises(RegistryError, match="unusable file name"):
        ds.fetch("record", registry=reg, data_dir=tmp_path, progress=False)
    assert (tmp_path / "record" / "zenodo-record.json.rejected").is_file()
    assert not list(tmp_path.rglob("evil.sh"))


FETCH_IN_CHILD = """
import signal, sys, warnings
# a shell without job control starts background jobs with SIGINT ignored, and children
# inherit that: restore what a person pressing Ctrl-C in a terminal or notebook gets
signal.signal(signal.SIGINT, signal.default_int_handler)
from coursekit import datasets as ds
warnings.simplefilter("ignore")
reg = ds.Registry.from_json(sys.argv[1])
print("started", flush=True)
try:
    ds.fetch("demo", registry=reg, data_dir=sys.argv[2], progress=False)
    print("done", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(4)
"""


def _child(reg_path: Path, cache: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-c", FETCH_IN_CHILD, str(reg_path), str(cache)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for_request(server, path: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while path not in server.requests:
        assert time.monotonic() < end, "the child never asked the server"
        time.sleep(0.05)
    time.sleep(0.3)  # some bytes are on their way


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_real_signal_mid_download_keeps_nothing_half_done(hostile, tmp_path, sig):
    import signal

    reg = registry_for(hostile, {"a.bin": PAYLOAD})
    serve(hostile, "a.bin", Route(PAYLOAD, drip_s=0.01))  # about 100 s for the whole file
    reg_path = _registry_json(reg, tmp_path)
    cache = tmp_path / "cache"
    child = _child(reg_path, cache)
    _wait_for_request(hostile, "/src/a.bin")
    child.send_signal(getattr(signal, sig))
    out, err = child.communicate(timeout=60)
    names = cache_names(cache)
    assert "a.bin" not in names and "a.bin.tofu.json" not in names, names
    if sig == "SIGINT":
        assert child.returncode == 4 and "interrupted" in out, err
        assert names == [], f"the temporary file was not removed: {names}"
    else:  # a hard kill can leave only a hidden temporary file
        assert all(n.startswith(".a.bin.") and n.endswith(".part") for n in names), names
    serve(hostile, "a.bin", Route(PAYLOAD))  # the next fetch is not disturbed by it
    (again,) = fetch(reg, cache)
    assert again.read_bytes() == PAYLOAD


def test_two_processes_fetching_one_file_at_once(hostile, tmp_path):
    reg = registry_for(hostile, {"a.bin": PAYLOAD * 50})
    serve(hostile, "a.bin", Route(PAYLOAD * 50))
    reg_path = _registry_json(reg, tmp_path)
    cache = tmp_path / "cache"
    children = [_child(reg_path, cache) for _ in range(2)]
    results = [c.communicate(timeout=120) for c in children]
    assert [c.returncode for c in children] == [0, 0], results
    assert cache_names(cache) == ["a.bin", "a.bin.tofu.json"]
    assert (cache / "demo" / "a.bin").read_bytes() == PAYLOAD * 50


def test_registry_path_that_is_missing_a_folder_or_not_text(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no registry file .*nope\.json.*Registry"):
        ds.fetch("demo", registry=tmp_path / "nope.json")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        ds.fetch("demo", registry=tmp_path)
    (tmp_path / "reg.json").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(RegistryError, match="not UTF-8"):
        ds.load_registry(tmp_path / "reg.json")


def test_empty_data_dir_is_refused_not_the_current_folder(tmp_path):
    with pytest.raises(ValueError, match="data_dir: got an empty string"):
        ds.fetch("isl_condition_blue", data_dir="")
