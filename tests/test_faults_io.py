"""Faults in coursekit.io: nothing a failed, interrupted or killed write does may lose the
file that was there before, and odd inputs get a clear error or the right result.

Interruptions are real: a file-size limit (``resource.setrlimit``), a real SIGINT and a
real SIGKILL, each delivered to a subprocess in the middle of ``tifffile``'s write.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from coursekit.io import read_image, write_imagej_tiff, write_ome_tiff

REPO = Path(__file__).resolve().parent.parent
HAS_IMAGECODECS = importlib.util.find_spec("imagecodecs") is not None
WRITERS = {"ome": write_ome_tiff, "imagej": write_imagej_tiff}
GOOD = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)


def good_file(folder: Path, name: str = "cells.ome.tif") -> tuple[Path, bytes]:
    path = write_ome_tiff(folder / name, GOOD, axes="YX")
    return path, path.read_bytes()


def others(folder: Path, keep: Path) -> list[str]:
    """Every entry of ``folder`` except ``keep``: temporary files left behind."""
    return sorted(p.name for p in folder.iterdir() if p != keep)


def run_child(code: str, *, preamble: str = "") -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python with this checkout first on the path."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    script = textwrap.dedent(preamble) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )


# a child that patches tifffile so that, after the first pixel data are on disk, the
# process receives a real signal (SIGINT or SIGKILL) while the file is still being written
SIGNAL_MID_WRITE = """
import os, signal, sys, time
import numpy as np
import tifffile
from coursekit.io import write_ome_tiff, write_imagej_tiff

# SIGINT may be inherited as ignored (background jobs of a shell without job control)
signal.signal(signal.SIGINT, signal.default_int_handler)

original = tifffile.TiffWriter.write
def write_then_signal(self, *args, **kwargs):
    result = original(self, *args, **kwargs)
    self._fh.flush()
    print("mid-write", flush=True)
    os.kill(os.getpid(), getattr(signal, sys.argv[-1] if len(sys.argv) > 1 else "SIGINT"))
    time.sleep(5)  # the signal arrives here, before the file is complete
    return result
tifffile.TiffWriter.write = write_then_signal
"""


# ----------------------------------------------------------------- writes never lose the old file


@pytest.mark.skipif(HAS_IMAGECODECS, reason="imagecodecs installed: lzw works, no failure to test")
def test_missing_codec_leaves_the_existing_file_untouched(tmp_path):
    path, before = good_file(tmp_path)
    with pytest.raises(ValueError, match="imagecodecs"):
        write_ome_tiff(path, np.ones((32, 32), np.uint8), axes="YX", compression="lzw")
    assert path.read_bytes() == before, "the good file was changed by a failed write"
    assert others(tmp_path, path) == [], "a temporary file was left behind"


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_file_size_limit_mid_write_leaves_the_existing_file_untouched(tmp_path, writer):
    path, before = good_file(tmp_path, "cells.tif")
    code = f"""
    import resource, signal, sys
    import numpy as np
    from coursekit.io import write_ome_tiff, write_imagej_tiff
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    try:
        write_{writer}_tiff({str(path)!r}, np.ones((8, 256, 256), np.uint16), axes="ZYX")
    except OSError as exc:
        print("ERROR", type(exc).__name__, exc)
        sys.exit(3)
    """
    result = run_child(code)
    assert result.returncode == 3, f"expected a clean OSError: {result.stdout}{result.stderr}"
    assert "cells.tif" in result.stdout and "unchanged" in result.stdout, result.stdout
    assert path.read_bytes() == before, "the good file was changed by a write cut short"
    assert others(tmp_path, path) == [], "a temporary file was left behind"


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_real_sigint_mid_write_leaves_the_existing_file_untouched(tmp_path, writer):
    path, before = good_file(tmp_path, "cells.tif")
    code = f"""
    try:
        write_{writer}_tiff({str(path)!r}, np.ones((4, 128, 128), np.uint16), axes="ZYX")
    except KeyboardInterrupt:
        print("interrupted")
        sys.exit(4)
    """
    result = run_child(code, preamble=SIGNAL_MID_WRITE)
    assert "mid-write" in result.stdout, result.stderr
    assert result.returncode == 4 and "interrupted" in result.stdout, result.stderr
    assert path.read_bytes() == before, "Ctrl-C during a write changed the good file"
    assert others(tmp_path, path) == [], "a temporary file was left behind"


def test_hard_kill_mid_write_leaves_the_old_file_readable(tmp_path):
    path, before = good_file(tmp_path)
    code = f"""
    write_ome_tiff({str(path)!r}, np.ones((4, 128, 128), np.uint16), axes="ZYX")
    """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    script = textwrap.dedent(SIGNAL_MID_WRITE) + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script, "SIGKILL"], env=env, capture_output=True, timeout=120
    )
    assert result.returncode == -signal.SIGKILL and b"mid-write" in result.stdout
    assert path.read_bytes() == before, "a killed write left a partial file in place"
    np.testing.assert_array_equal(read_image(path).data, GOOD, err_msg="old file unreadable")
    # what a kill leaves behind is a hidden temporary file, never a partial target
    assert all(name.startswith(".cells.ome.tif.") for name in others(tmp_path, path))


def test_overwrite_replaces_the_file_and_keeps_its_permissions(tmp_path):
    path, _ = good_file(tmp_path)
    path.chmod(0o640)
    write_ome_tiff(path, GOOD[::-1].copy(), axes="YX")
    np.testing.assert_array_equal(read_image(path).data, GOOD[::-1], err_msg="not replaced")
    assert (path.stat().st_mode & 0o777) == 0o640, "overwriting changed the file's mode"
    assert others(tmp_path, path) == []
    new = write_ome_tiff(tmp_path / "new.ome.tif", GOOD, axes="YX")
    umask = os.umask(0)
    os.umask(umask)
    assert (new.stat().st_mode & 0o777) == 0o666 & ~umask, "a new file must get the usual mode"


def test_two_processes_writing_one_path_do_not_collide(tmp_path):
    path = tmp_path / "shared.ome.tif"
    code = f"""
    import sys
    import numpy as np
    from coursekit.io import write_ome_tiff
    value = int(sys.argv[-1])
    for _ in range(15):
        write_ome_tiff({str(path)!r}, np.full((4, 64, 64), value, np.uint16), axes="ZYX")
    """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(v)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in (1, 2)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    data = read_image(path).data
    assert np.unique(data).size == 1 and int(data.flat[0]) in (1, 2), "a mixed file"
    assert others(tmp_path, path) == []


# ----------------------------------------------------------------- odd inputs


@pytest.mark.parametrize("dtype", [">u2", ">f4", ">f8", "<u2"])
def test_non_native_byte_order_is_converted(tmp_path, dtype):
    data = (np.arange(12 * 10).reshape(12, 10) * 300).astype(dtype)
    out = write_ome_tiff(tmp_path / "be.ome.tif", data, axes="YX")
    back = read_image(out).data
    assert back.dtype.isnative, f"read back as {back.dtype}"
    np.testing.assert_array_equal(back, data.astype(data.dtype.newbyteorder("=")))


def test_big_endian_int32_hint_talks_about_values_not_uint8(tmp_path):
    data = np.full((4, 4), 70000, dtype=">i4")
    with pytest.raises(TypeError, match="float32"):
        write_ome_tiff(tmp_path / "x.ome.tif", data, axes="YX")


def test_path_that_is_a_folder_is_refused_and_nothing_written(tmp_path):
    folder = tmp_path / "looks_like.ome.tif"
    folder.mkdir()
    (folder / "inside.txt").write_text("keep me")
    for writer in WRITERS.values():
        with pytest.raises(IsADirectoryError, match="is a folder"):
            writer(folder, GOOD, axes="YX")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["looks_like.ome.tif"]
    assert (folder / "inside.txt").read_text() == "keep me"


def test_parent_that_is_a_file_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(NotADirectoryError, match=r"notes\.txt.*is a file"):
        write_ome_tiff(tmp_path / "notes.txt" / "x.ome.tif", GOOD, axes="YX")
    assert (tmp_path / "notes.txt").read_text() == "a file, not a folder"


@pytest.mark.parametrize(
    "name",
    ["célula ü 細胞.ome.tif", "lab-X,well-A4,z-0.ome.tif", "space and 'quote'.tif", "😀.tif"],
)
def test_unicode_comma_and_quote_paths_round_trip(tmp_path, name):
    folder = tmp_path / "Ordner mit Ümlaut, und Komma"
    out = write_ome_tiff(folder / name, GOOD, axes="YX", channel_names=["DNA ü"])
    img = read_image(out)
    np.testing.assert_array_equal(img.data, GOOD)
    assert img.channel_names == ["DNA ü"] and others(folder, out) == []


def _drop_privileges_preamble() -> str:
    # import what the child needs first: the interpreter's own files may be unreadable
    # for the unprivileged user (a Python installed under /root)
    return """
    import os, datetime, json, numpy, tifffile, coursekit.io, coursekit.datasets
    try:
        os.setgid(65534)
        os.setgroups([])
        os.setuid(65534)
    except PermissionError:
        raise SystemExit(99)  # no right to drop privileges here
    """


def _run_unprivileged(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` as a user for whom permissions bite (root ignores chmod)."""
    if os.geteuid() == 0:
        result = run_child(code, preamble=_drop_privileges_preamble())
        if result.returncode == 99:
            pytest.skip("running as root without the right to drop privileges: chmod cannot bite")
        return result
    return run_child(code)


def _world_readable_tmp(tmp_path: Path) -> Path:
    # pytest's tmp folders are private to their owner; an unprivileged child needs a way in
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"ck-perm-{os.getpid()}-{tmp_path.name}"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    return folder


def test_read_only_file_is_not_overwritten(tmp_path):
    folder = _world_readable_tmp(tmp_path)
    try:
        path, before = good_file(folder)
        path.chmod(0o444)
        folder.chmod(0o777)  # the folder is writable: only the file says "do not touch"
        code = f"""
        import numpy as np
        from coursekit.io import write_ome_tiff
        try:
            write_ome_tiff({str(path)!r}, np.ones((8, 8), np.uint8), axes="YX")
        except PermissionError as exc:
            print("REFUSED", exc)
        """
        result = _run_unprivileged(code)
        assert "REFUSED" in result.stdout and "read-only" in result.stdout, (
            result.stdout + result.stderr
        )
        assert path.read_bytes() == before, "a read-only file was replaced"
        assert others(folder, path) == []
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_unwritable_folder_names_the_folder(tmp_path):
    folder = _world_readable_tmp(tmp_path)
    try:
        target = folder / "out.ome.tif"
        code = f"""
        import numpy as np
        from coursekit.io import write_ome_tiff
        try:
            write_ome_tiff({str(target)!r}, np.ones((8, 8), np.uint8), axes="YX")
        except PermissionError as exc:
            print("REFUSED", exc)
        """
        if os.geteuid() != 0:
            folder.chmod(0o555)
        result = _run_unprivileged(code)
        assert "REFUSED" in result.stdout, result.stdout + result.stderr
        assert str(folder) in result.stdout and "not writable" in result.stdout, result.stdout
        assert not target.exists()
    finally:
        folder.chmod(0o755)
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_writing_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    real, _ = good_file(tmp_path, "real.ome.tif")
    link = tmp_path / "link.ome.tif"
    link.symlink_to(real)
    write_ome_tiff(link, GOOD[::-1].copy(), axes="YX")
    assert link.is_symlink(), "the link was replaced by a file"
    np.testing.assert_array_equal(read_image(real).data, GOOD[::-1], err_msg="target not updated")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.ome.tif", "real.ome.tif"]


def test_reading_a_pipe_is_refused_clearly(tmp_path):
    from coursekit.io import ImageFileError

    fifo = tmp_path / "stream.tif"
    os.mkfifo(fifo)
    with pytest.raises(ImageFileError, match="not a regular file"):
        read_image(fifo)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.9])
def test_truncated_stack_is_an_error_not_one_plane(tmp_path, fraction):
    from coursekit.io import ImageFileError

    full = write_ome_tiff(tmp_path / "stack.ome.tif", np.ones((4, 128, 128), np.uint16), axes="ZYX")
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * fraction)])
    with pytest.raises(ImageFileError, match="damaged|could not be read"):
        read_image(cut)


@pytest.mark.parametrize("fraction", [0.3, 0.999])
def test_truncated_png_is_an_error(tmp_path, fraction):
    from PIL import Image as PILImage

    from coursekit.io import ImageFileError

    full = tmp_path / "dna.png"
    noise = np.random.default_rng(0).integers(0, 65535, (128, 128)).astype(np.uint16)
    PILImage.fromarray(noise).save(full)
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * fraction)])
    with pytest.raises(ImageFileError, match="truncated"):
        read_image(cut)
