"""coursekit.datasets: registry, checked downloads from a real local HTTP server, cache,
trust on first use, archives, mirrors, and the real in silico labeling sample."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import warnings
import zipfile
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pooch
import pytest

from coursekit import datasets as ds
from coursekit.datasets import (
    DownloadError,
    HashMismatchError,
    Registry,
    RegistryError,
    UnverifiedHashWarning,
)

REPO = Path(__file__).resolve().parent.parent
from _shared import ISL_DIR  # noqa: E402

COMMA_NAME = "lab-X,condition-Y,z_depth-0,channel-PHASE_CONTRAST,is_mask-false.png"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_registry(server, files, *, verified=True, name="demo", fetch_all=True) -> Registry:
    """Write ``files`` ({file name: bytes}) under ``server.root / "src"`` and return a
    registry whose entries point there. ``verified``: True (hashes of the bytes), False
    (trust on first use) or a dict {file name: sha256 to expect}."""
    src = server.root / "src"
    src.mkdir(exist_ok=True)
    entries = []
    for fname, data in files.items():
        (src / fname).write_bytes(data)
        entry = {
            "file": fname,
            "url": f"{server.url}/src/{quote(fname, safe='')}",
            "verified": verified is not False,
            "sha256": None,
            "size": len(data),
        }
        if isinstance(verified, dict):
            entry["sha256"] = verified[fname]
        elif verified:
            entry["sha256"] = sha256(data)
        if fname.endswith(".zip"):
            entry["unpack"] = "zip"
        elif fname.endswith(".tar.gz"):
            entry["unpack"] = "tar"
        entries.append(entry)
    return Registry.from_dict(
        {
            "schema": 1,
            "datasets": [
                {
                    "name": name,
                    "description": "test files",
                    "source": server.url,
                    "licence": "CC0-1.0",
                    "citation": "Test (2024)",
                    "fetch_all": fetch_all,
                    "files": entries,
                }
            ],
        },
        source="test registry",
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# ----------------------------------------------------------------- the packaged registry


def test_registry_loads_through_the_package():
    resource = resources.files("coursekit._registry").joinpath("registry.json")
    assert resource.is_file()
    reg = ds.load_registry()
    assert reg.source == "coursekit._registry/registry.json"  # not the source-tree fallback
    assert reg.names == Registry.from_json(Path(str(resource))).names
    # the package resource is the repository's data/registry.json, not a copy of it
    if (REPO / "data" / "registry.json").is_file():
        assert resource.read_bytes() == (REPO / "data" / "registry.json").read_bytes()


def test_every_registry_entry_is_complete():
    reg = ds.load_registry()
    names = [e.name for e in reg.entries()]
    assert len(names) == len(set(names))
    assert len(reg.names) == len(set(reg.names))
    for d in reg:
        assert d.licence.strip() and d.citation.strip() and d.source.strip()
        assert d.description.strip() and "\n" not in d.description
        if d.files is None:  # a Zenodo record: described, files listed by Zenodo's API
            assert d.doi.startswith("10.5281/zenodo.") and d.record_url.startswith("https://")
            assert "{file}" in d.zenodo["url_pattern"]
            assert not d.verified
            continue
        for e in d.files:
            assert e.name == f"{d.name}/{e.file}" and e.url.startswith("https://")
            assert e.licence == d.licence and e.citation == d.citation and e.description
            assert "," not in e.url and " " not in e.url
            if e.verified:
                assert re.fullmatch(r"[0-9a-f]{64}", e.sha256)
                assert isinstance(e.size, int) and e.size > 0
            else:
                assert e.sha256 is None


def test_registry_holds_the_real_data_sets():
    reg = ds.load_registry()
    isl = reg["isl_condition_blue"]
    assert isl.verified and len(isl.files) == 16 and isl.size == 28_683_164
    assert isl.licence == "Apache-2.0" and "Cell 173" in isl.citation
    dapi = [e for e in isl.files if "DAPI_CONFOCAL" in e.file]
    assert dapi[0].sha256 == "9c4a1871cc83ea3b5bbf5ca8586c901a03d16b1dbe64277f650dcbccbfa6407f"
    assert dapi[0].size == 934_106
    assert "%2C" in dapi[0].url and "," in dapi[0].file
    assert all("5db882bfab3a1409caca1c4a913c3aa7471c9a3a" in e.url for e in isl.files)

    allen = reg["allen_label_free"]
    assert len(allen.files) == 13 and not allen.fetch_all
    assert all(not e.verified and e.unpack == "tar" for e in allen.files)
    assert all(
        e.url == "https://s3-us-west-2.amazonaws.com/downloads.allencell.org/publication-data/"
        f"label-free-prediction/{e.file}"
        for e in allen.files
    )
    assert "commercial" in allen.licence_note and "Nat Methods" in allen.citation

    assert reg["zerocostdl4mic_fnet_hela"].doi == "10.5281/zenodo.3748967"
    assert reg["deepbacs_ecoli_membrane"].doi == "10.5281/zenodo.5551123"
    assert {d.name for d in ds.list_datasets() if d.verified} == {"isl_condition_blue"}


def test_registry_validation_lists_every_problem():
    good = {"file": "a.png", "url": "https://x.org/a.png", "sha256": "0" * 64, "verified": True}
    bad = {
        "schema": 1,
        "datasets": [
            {
                "name": "one",
                "description": "d",
                "source": "s",
                "licence": "",
                "citation": "c",
                "files": [good, dict(good)],
            },
            {
                "name": "one",
                "description": "d",
                "source": "s",
                "licence": "L",
                "citation": "",
                "files": [
                    {
                        "file": "../up.png",
                        "url": "https://x.org/a,b.png",
                        "sha256": "ABC",
                        "verified": True,
                    },
                    {
                        "file": "b.png",
                        "url": "ftp://x.org/b",
                        "sha256": "1" * 64,
                        "verified": False,
                    },
                ],
            },
        ],
    }
    with pytest.raises(RegistryError) as info:
        Registry.from_dict(bad)
    msg = str(info.value)
    for expected in [
        "'licence' must be a non-empty string",
        "'citation' must be a non-empty string",
        "file name is not unique",
        "name is not unique",
        "not a safe file name",
        "percent-encoded",
        "64-hex",
        "must be http(s)",
        "an unverified file must have 'sha256': null",
    ]:
        assert expected in msg, expected


def test_pyproject_lists_every_subpackage():
    tomllib = pytest.importorskip("tomllib")
    pyproject = REPO / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not running from a source checkout")
    config = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    assert config["package-dir"]["coursekit._registry"] == "data"
    assert "registry.json" in config["package-data"]["coursekit._registry"]
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "coursekit").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    missing = sorted(on_disk - set(config["packages"]))
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


# ----------------------------------------------------------------- fetch and the cache


def test_fetch_downloads_checks_and_then_works_offline(http_server, tmp_path):
    files = {COMMA_NAME: b"phase" * 1000, "b.txt": b"target"}
    reg = make_registry(http_server, files)
    cache = tmp_path / "cache"
    paths = ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    assert paths == [cache / "demo" / COMMA_NAME, cache / "demo" / "b.txt"]
    assert [p.read_bytes() for p in paths] == list(files.values())
    # the comma name travelled percent-encoded and was decoded by the server
    assert f"/src/{COMMA_NAME}" in http_server.requests
    n_requests = len(http_server.requests)

    assert ds.fetch("demo", registry=reg, data_dir=cache, progress=False) == paths
    assert len(http_server.requests) == n_requests  # a cache hit does not download
    http_server.stop()
    assert ds.fetch("demo", registry=reg, data_dir=cache, progress=False) == paths
    assert ds.fetch("demo", files=["b.txt"], registry=reg, data_dir=cache, progress=False) == [
        paths[1]
    ]


def test_registry_can_be_given_as_a_json_file(http_server, tmp_path):
    reg = make_registry(http_server, {"a.txt": b"a"})
    path = tmp_path / "reg.json"
    path.write_text(
        json.dumps(
            {
                "schema": 1,
                "datasets": [
                    {
                        "name": "demo",
                        "description": "d",
                        "source": "s",
                        "licence": "L",
                        "citation": "C",
                        "files": [
                            {
                                "file": "a.txt",
                                "url": reg["demo"].files[0].url,
                                "sha256": sha256(b"a"),
                                "verified": True,
                            }
                        ],
                    }
                ],
            }
        )
    )
    (out,) = ds.fetch("demo", registry=path, data_dir=tmp_path / "c", progress=False)
    assert out.read_bytes() == b"a"


def test_hash_mismatch_is_refused_then_downloaded_again(http_server, tmp_path):
    good = b"the real file"
    reg = make_registry(http_server, {"a.bin": b"tampered"}, verified={"a.bin": sha256(good)})
    cache = tmp_path / "cache"
    with pytest.raises(HashMismatchError) as info:
        ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    msg = str(info.value)
    assert "demo/a.bin" in msg and sha256(good) in msg and sha256(b"tampered") in msg
    assert info.value.expected == sha256(good) and info.value.actual == sha256(b"tampered")
    assert not (cache / "demo" / "a.bin").exists()
    assert leftovers(cache / "demo") == []

    (http_server.root / "src" / "a.bin").write_bytes(good)  # the source is repaired
    (out,) = ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    assert out.read_bytes() == good
    assert http_server.requests.count("/src/a.bin") == 2


def test_corrupt_cached_file_is_detected_and_downloaded_again(http_server, tmp_path):
    reg = make_registry(http_server, {"a.bin": b"original"})
    cache = tmp_path / "cache"
    (out,) = ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    out.write_bytes(b"changed on disk")
    with pytest.warns(UserWarning, match="did not match its sha256"):
        (again,) = ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    assert again == out and out.read_bytes() == b"original"
    assert http_server.requests.count("/src/a.bin") == 2


def test_corrupt_cached_file_offline_is_never_used(http_server, tmp_path):
    reg = make_registry(http_server, {"a.bin": b"original"})
    cache = tmp_path / "cache"
    (out,) = ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    out.write_bytes(b"changed on disk")
    http_server.stop()
    with pytest.warns(UserWarning), pytest.raises(DownloadError) as info:
        ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    msg = str(info.value)
    assert sha256(b"original") in msg and sha256(b"changed on disk") in msg
    assert reg["demo"].files[0].url in msg
    assert not out.exists()


def test_server_down_error_explains_how_to_place_the_file_by_hand(serve_directory, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    server = serve_directory(www)
    reg = make_registry(server, {COMMA_NAME: b"pixels"})
    server.stop()
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    err = info.value
    msg = str(err)
    url = reg["demo"].files[0].url
    assert url in msg and str(cache) in msg and "by hand" in msg and ds.DATA_DIR_ENV in msg
    assert str(cache / "demo" / COMMA_NAME) in msg and sha256(b"pixels") in msg
    assert err.url == url and err.path == cache / "demo" / COMMA_NAME and err.cache_dir == cache
    assert isinstance(err, ConnectionError)
    assert leftovers(cache / "demo") == []
    # following the instructions works, and the hand-placed file is checked
    err.path.write_bytes(b"pixels")
    assert ds.fetch("demo", registry=reg, data_dir=cache, progress=False) == [err.path]
    err.path.write_bytes(b"wrong pixels")
    with pytest.warns(UserWarning), pytest.raises(DownloadError, match=sha256(b"wrong pixels")):
        ds.fetch("demo", registry=reg, data_dir=cache, progress=False)


def test_http_error_is_a_download_error(http_server, tmp_path):
    reg = make_registry(http_server, {"a.bin": b"x"})
    (http_server.root / "src" / "a.bin").unlink()
    with pytest.raises(DownloadError, match="HTTP 404"):
        ds.fetch("demo", registry=reg, data_dir=tmp_path / "cache", progress=False)


def test_environment_variable_moves_the_cache(http_server, tmp_path, monkeypatch):
    monkeypatch.delenv(ds.DATA_DIR_ENV, raising=False)
    assert ds.data_dir() == Path(pooch.os_cache("coursekit"))
    monkeypatch.setenv(ds.DATA_DIR_ENV, str(tmp_path / "env-cache"))
    assert ds.data_dir() == tmp_path / "env-cache"
    assert ds.data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    reg = make_registry(http_server, {"a.bin": b"x"})
    (out,) = ds.fetch("demo", registry=reg, progress=False)
    assert out == tmp_path / "env-cache" / "demo" / "a.bin" and out.read_bytes() == b"x"


def test_mirror_replaces_the_url_prefix(serve_directory, tmp_path, monkeypatch):
    origin_root = tmp_path / "origin"
    origin_root.mkdir()
    origin = serve_directory(origin_root)
    reg = make_registry(origin, {COMMA_NAME: b"p", "b.txt": b"t"})
    origin.stop()  # the original source is unreachable
    mirror_root = tmp_path / "mirror"
    (mirror_root / "demo").mkdir(parents=True)
    for name, data in {COMMA_NAME: b"p", "b.txt": b"t"}.items():
        (mirror_root / "demo" / name).write_bytes(data)  # the layout of a cache folder
    mirror = serve_directory(mirror_root)

    paths = ds.fetch(
        "demo", registry=reg, data_dir=tmp_path / "c1", base_url=mirror.url + "/", progress=False
    )
    assert [p.read_bytes() for p in paths] == [b"p", b"t"]
    monkeypatch.setenv(ds.BASE_URL_ENV, mirror.url)
    paths = ds.fetch("demo", registry=reg, data_dir=tmp_path / "c2", progress=False)
    assert [p.read_bytes() for p in paths] == [b"p", b"t"]
    assert f"/demo/{COMMA_NAME}" in mirror.requests
    with pytest.raises(ValueError, match="http"):
        ds.fetch("demo", registry=reg, data_dir=tmp_path / "c3", base_url="ftp://mirror")


def test_mirror_error_names_the_mirror_and_the_source(serve_directory, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = serve_directory(root)
    reg = make_registry(server, {"a.bin": b"x"})
    server.stop()
    with pytest.raises(DownloadError) as info:
        ds.fetch("demo", registry=reg, data_dir=tmp_path / "c", base_url=server.url)
    assert f"{server.url}/demo/a.bin" in str(info.value)
    assert reg["demo"].files[0].url in str(info.value)


def test_progress_bar_is_shown_and_pooch_log_restored(http_server, tmp_path, capfd):
    reg = make_registry(http_server, {"a.bin": b"x" * 200_000})
    level = pooch.get_logger().level
    ds.fetch("demo", registry=reg, data_dir=tmp_path / "cache", progress=True)
    err = capfd.readouterr().err
    assert "a.bin" in err and "100%" in err and "Downloading" not in err
    assert pooch.get_logger().level == level
    ds.fetch("demo", registry=reg, data_dir=tmp_path / "other", progress=False)
    assert capfd.readouterr().err == ""


# ----------------------------------------------------------------- archives


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tar_gz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_archives_are_unpacked(http_server, tmp_path):
    members = {"signal/cell_01.tif": b"bright", "target/cell_01.tif": b"fluo"}
    files = {"pairs.zip": _zip_bytes(members), "stack.tar.gz": _tar_gz_bytes(members)}
    reg = make_registry(http_server, files)
    cache = tmp_path / "cache"
    paths = ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    expected = [
        cache / "demo" / "pairs.zip.unzip" / "signal" / "cell_01.tif",
        cache / "demo" / "pairs.zip.unzip" / "target" / "cell_01.tif",
        cache / "demo" / "stack.tar.gz.untar" / "signal" / "cell_01.tif",
        cache / "demo" / "stack.tar.gz.untar" / "target" / "cell_01.tif",
    ]
    assert paths == expected
    assert [p.read_bytes() for p in paths] == [b"bright", b"fluo"] * 2
    http_server.stop()
    paths[1].unlink()  # a lost member is unpacked again from the checked archive
    assert ds.fetch("demo", registry=reg, data_dir=cache, progress=False) == expected
    assert paths[1].read_bytes() == b"fluo"


def test_tar_members_outside_their_folder_are_refused(http_server, tmp_path):
    reg = make_registry(http_server, {"evil.tar.gz": _tar_gz_bytes({"../escaped.txt": b"x"})})
    with pytest.raises(ValueError, match="outside its folder"):
        ds.fetch("demo", registry=reg, data_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache" / "demo" / "escaped.txt").exists()


# ----------------------------------------------------------------- trust on first use


def test_trust_on_first_use_records_warns_and_catches_tampering(http_server, tmp_path):
    reg = make_registry(http_server, {"a.bin": b"first"}, verified=False)
    cache = tmp_path / "cache"
    with pytest.warns(UnverifiedHashWarning, match="trusting it on first use"):
        (out,) = ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    record = json.loads((cache / "demo" / "a.bin.tofu.json").read_text())
    assert record["sha256"] == sha256(b"first") and record["name"] == "demo/a.bin"

    with pytest.warns(UnverifiedHashWarning, match="unverified"):
        assert ds.fetch("demo", registry=reg, data_dir=cache, progress=False) == [out]

    out.write_bytes(b"tampered in the cache")  # caught, downloaded again from the source
    with pytest.warns(UnverifiedHashWarning), pytest.warns(UserWarning, match="did not match"):
        ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    assert out.read_bytes() == b"first"

    (http_server.root / "src" / "a.bin").write_bytes(b"changed at the source")
    out.unlink()
    with pytest.raises(HashMismatchError) as info:
        ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    assert sha256(b"first") in str(info.value) and "a.bin.tofu.json" in str(info.value)
    assert not out.exists() and leftovers(cache / "demo") == []


def test_trust_on_first_use_of_a_file_placed_by_hand(tmp_path):
    reg = Registry.from_dict(
        {
            "schema": 1,
            "datasets": [
                {
                    "name": "demo",
                    "description": "d",
                    "source": "s",
                    "licence": "L",
                    "citation": "C",
                    "files": [
                        {"file": "a.bin", "url": "http://127.0.0.1:9/a.bin", "verified": False}
                    ],
                }
            ],
        }
    )
    cache = tmp_path / "cache"
    (cache / "demo").mkdir(parents=True)
    (cache / "demo" / "a.bin").write_bytes(b"by hand")
    with pytest.warns(UnverifiedHashWarning, match="first use"):
        ds.fetch("demo", registry=reg, data_dir=cache, progress=False)
    (cache / "demo" / "a.bin").write_bytes(b"altered")
    with pytest.warns(UserWarning), pytest.raises(DownloadError, match=sha256(b"by hand")):
        ds.fetch("demo", registry=reg, data_dir=cache, progress=False)


# ----------------------------------------------------------------- Zenodo records


def _zenodo_registry(server) -> Registry:
    return Registry.from_dict(
        {
            "schema": 1,
            "datasets": [
                {
                    "name": "record",
                    "description": "a Zenodo-like record",
                    "source": f"{server.url}/records/42",
                    "licence": "CC-BY-4.0",
                    "citation": "Someone (2020)",
                    "doi": "10.5281/zenodo.42",
                    "record_url": f"{server.url}/records/42",
                    "zenodo": {
                        "listing_url": f"{server.url}/api/records/42",
                        "url_pattern": f"{server.url}/records/42/files/{{file}}?download=1",
                    },
                    "files": None,
                }
            ],
        }
    )


def test_zenodo_record_files_come_from_its_listing(http_server, tmp_path):
    data = {"train.zip": _zip_bytes({"x/signal.tif": b"s"}), "note, v2.txt": b"hello"}
    listing = {"id": 42, "files": []}
    for name, content in data.items():
        folder = http_server.root / "records" / "42" / "files"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        md5 = hashlib.md5(content).hexdigest()
        listing["files"].append({"key": name, "size": len(content), "checksum": f"md5:{md5}"})
    (http_server.root / "api" / "records").mkdir(parents=True)
    (http_server.root / "api" / "records" / "42").write_text(json.dumps(listing))
    reg = _zenodo_registry(http_server)
    cache = tmp_path / "cache"

    entries = ds.list_files("record", registry=reg, data_dir=cache)
    assert [e.file for e in entries] == ["train.zip", "note, v2.txt"]
    assert entries[1].md5 == hashlib.md5(b"hello").hexdigest() and not entries[1].verified
    assert "%2C%20v2.txt" in entries[1].url
    with pytest.warns(UnverifiedHashWarning):
        paths = ds.fetch("record", registry=reg, data_dir=cache, progress=False)
    assert [p.read_bytes() for p in paths] == [b"s", b"hello"]
    assert (cache / "record" / "zenodo-record.json").is_file()

    http_server.stop()  # the listing and the files are cached
    with pytest.warns(UnverifiedHashWarning):
        assert ds.fetch("record", registry=reg, data_dir=cache, progress=False) == paths


def test_zenodo_md5_mismatch_is_refused(http_server, tmp_path):
    folder = http_server.root / "records" / "42" / "files"
    folder.mkdir(parents=True)
    (folder / "a.tif").write_bytes(b"corrupted in transit")
    (http_server.root / "api" / "records").mkdir(parents=True)
    listing = {"files": [{"key": "a.tif", "checksum": "md5:" + hashlib.md5(b"ok").hexdigest()}]}
    (http_server.root / "api" / "records" / "42").write_text(json.dumps(listing))
    with pytest.raises(HashMismatchError) as info:
        ds.fetch(
            "record", registry=_zenodo_registry(http_server), data_dir=tmp_path, progress=False
        )
    assert info.value.algorithm == "md5" and "Zenodo" in str(info.value)
    assert not (tmp_path / "record" / "a.tif").exists()


# ----------------------------------------------------------------- information and choices


def test_list_datasets_and_dataset_info():
    summaries = ds.list_datasets()
    assert [s.name for s in summaries] == list(ds.load_registry().names)
    assert all(s.description and "\n" not in s.description for s in summaries)
    text = str(ds.dataset_info("isl_condition_blue"))
    assert "Apache-2.0" in text and "Christiansen" in text and "16 files (16 verified)" in text
    assert "Zenodo" in str(ds.dataset_info("zerocostdl4mic_fnet_hela"))
    with pytest.raises(KeyError, match="isl_condition_blue"):
        ds.dataset_info("no_such_data")


def test_large_data_sets_ask_which_files(tmp_path):
    with pytest.raises(ValueError, match="fibrillarin.tar.gz"):
        ds.fetch("allen_label_free", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown file"):
        ds.fetch("allen_label_free", files=["nope.tar.gz"], data_dir=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing was downloaded or created


def test_unverified_real_entry_offline_explains_itself(tmp_path):
    with pytest.raises(DownloadError) as info:
        ds.fetch(
            "allen_label_free",
            files="zo1.tar.gz",
            data_dir=tmp_path,
            base_url="http://127.0.0.1:9",  # nothing listens on the discard port
            progress=False,
        )
    msg = str(info.value)
    assert "label-free-prediction/zo1.tar.gz" in msg and "recorded on first use" in msg


# ----------------------------------------------------------------- the real ISL sample


@pytest.mark.skipif(not ISL_DIR.is_dir(), reason=f"no local copy of the ISL sample at {ISL_DIR}")
def test_real_isl_sample_through_a_local_mirror(serve_directory, tmp_path):
    assert ISL_DIR.name == "isl_condition_blue"  # mirror layout: <base>/<data set>/<file>
    server = serve_directory(ISL_DIR.parent)
    cache = tmp_path / "cache"
    paths = ds.fetch("isl_condition_blue", data_dir=cache, base_url=server.url, progress=False)
    entries = ds.dataset_info("isl_condition_blue").files
    assert [p.name for p in paths] == [e.file for e in entries]
    for path, entry in zip(paths, entries):
        assert path.stat().st_size == entry.size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
    server.stop()

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedHashWarning)  # verified: no TOFU warning
        phase, targets = ds.load_isl_sample(data_dir=cache, progress=False)
    assert phase.shape == (13, 1024, 1024) and phase.dtype == np.uint16
    assert list(targets) == ["DAPI", "MAP2", "NFH"]
    for image in targets.values():
        assert image.shape == (1024, 1024) and image.dtype == np.uint16
        assert image.max() > 255  # really 16-bit, not reduced to 8 bits
    assert not np.array_equal(phase[0], phase[12])  # distinct focal planes


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.skipif(not ISL_DIR.is_dir(), reason=f"no local copy of the ISL sample at {ISL_DIR}")
def test_real_isl_sample_offline_from_a_local_folder_writes_nothing():
    before = _snapshot(ISL_DIR.parent)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verified files: no warning of any kind
        phase, targets = ds.load_isl_sample(
            data_dir=ISL_DIR.parent, base_url="http://127.0.0.1:9", progress=False
        )
    assert phase.shape == (13, 1024, 1024) and phase.dtype == np.uint16
    assert [(k, v.shape, v.dtype) for k, v in targets.items()] == [
        (k, (1024, 1024), np.dtype(np.uint16)) for k in ("DAPI", "MAP2", "NFH")
    ]
    assert _snapshot(ISL_DIR.parent) == before, "loading from a shared folder wrote to it"
    phase[0, 0, 0] += 1  # new arrays each call: changing one does not change the next
    again, _ = ds.load_isl_sample(data_dir=ISL_DIR.parent, base_url="http://127.0.0.1:9")
    assert again[0, 0, 0] != phase[0, 0, 0]
