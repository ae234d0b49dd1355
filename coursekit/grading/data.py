"""Checks of assignment 1 (data): OME-TIFF writing and reading with axes and pixel sizes,
percentile and z-score normalization, paired patch sampling with augmentation, and fetching
a data set with :mod:`coursekit.datasets` from a local HTTP server started here.

Every check draws its own arrays, pixel sizes and file names, so a function that only
works on the notebook's example fails.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from coursekit.grading._core import Check, call, describe, diagnose, fail

__all__ = [
    "check_save_stack",
    "check_load_stack",
    "check_percentile",
    "check_zscore",
    "check_patch_pair",
    "check_fetch_pair",
    "serve_folder",
    "CHECKS",
]


def _stack(rng, *, dtype=None):
    shape = (int(rng.integers(2, 6)), int(rng.integers(9, 40)), int(rng.integers(9, 40)))
    dtype = dtype or rng.choice(["uint16", "float32"])
    data = rng.integers(0, 4000, size=shape) if dtype == "uint16" else rng.random(shape) * 100
    return data.astype(dtype)


# --------------------------------------------------------------------------- OME-TIFF
def check_save_stack(save_stack) -> None:
    """Check ``save_stack(path, stack, *, z_step_um, pixel_size_um)``: it must write a
    ``(Z, Y, X)`` stack to an OME-TIFF that :func:`coursekit.io.read_image` reads back with
    the same pixels and dtype, axes ``"ZYX"`` and pixel sizes ``{"Z": z_step_um, "Y":
    pixel_size_um, "X": pixel_size_um}``."""
    from coursekit.io import read_image

    rng = np.random.default_rng()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(3):
            stack = _stack(rng)
            z, px = float(rng.uniform(0.3, 3.0)), float(rng.uniform(0.05, 0.5))
            path = Path(tmp) / f"stack_{k}_{int(rng.integers(1e6))}.ome.tif"
            called = (
                f"save_stack(path, stack, z_step_um={z:.3g}, pixel_size_um={px:.3g}) with "
                f"{describe(stack)}"
            )
            call(save_stack, called, path, stack, z_step_um=z, pixel_size_um=px)
            if not path.exists():
                raise fail(called, "no file at the path given", f"a file at {path.name}",
                           "write to the path argument, not to a fixed file name")  # fmt: skip
            img = read_image(path)
            expected = {"Z": z, "Y": px, "X": px}
            if img.axes != "ZYX" or img.shape != stack.shape:
                raise fail(called, f"a file read back as axes {img.axes!r}, shape {img.shape}",
                           f"axes 'ZYX', shape {stack.shape}",
                           "pass axes='ZYX' and the stack as it is (no transpose)")  # fmt: skip
            if img.dtype != stack.dtype:
                raise fail(called, f"pixels of dtype {img.dtype}", f"dtype {stack.dtype}",
                           "write the array as it is, without converting it")  # fmt: skip
            if not np.array_equal(img.data, stack):
                raise fail(called, "other pixel values", "the same pixels", None)
            sizes = img.pixel_size_um
            if set(sizes) != set(expected) or any(
                abs(sizes[a] - expected[a]) > 1e-6 * expected[a] for a in expected
            ):
                hint = None
                if not sizes:
                    hint = "the file states no pixel size: pass pixel_size_um= to write_ome_tiff"
                elif abs(sizes.get("Z", 0) - px) < 1e-6 and abs(sizes.get("X", 0) - z) < 1e-6:
                    hint = (
                        "Z and X are swapped: the z step belongs to 'Z', the pixel size to Y and X"
                    )
                raise fail(called, f"pixel sizes {sizes}", f"{expected} (micrometres)", hint)


def check_load_stack(load_stack) -> None:
    """Check ``load_stack(path)`` returning ``(data, z_step_um, pixel_size_um)`` for OME-TIFF
    files written here with random shapes, dtypes and pixel sizes (different in Y and X is
    refused by the task: the files here have square pixels)."""
    from coursekit.io import write_ome_tiff

    rng = np.random.default_rng()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(3):
            stack = _stack(rng)
            z, px = float(rng.uniform(0.3, 3.0)), float(rng.uniform(0.05, 0.5))
            path = Path(tmp) / f"in_{k}.ome.tif"
            write_ome_tiff(path, stack, axes="ZYX", pixel_size_um={"Z": z, "Y": px, "X": px})
            called = f"load_stack(path) for a file holding {describe(stack)}, z {z:.4g} µm, pixels {px:.4g} µm"
            out = call(load_stack, called, path)
            if not isinstance(out, tuple) or len(out) != 3:
                raise fail(called, out, "a tuple (data, z_step_um, pixel_size_um)",
                           "return the three values, e.g. `return img.data, img.pixel_size_um['Z'], img.pixel_size_um['X']`")  # fmt: skip
            data, z_got, px_got = out
            if not hasattr(data, "shape") or not np.array_equal(np.asarray(data), stack):
                raise fail(called, data, describe(stack) + " with the file's pixels",
                           "return the pixel array itself (img.data), not the Image or a path")  # fmt: skip
            for label, got, want, other in (
                ("z_step_um", z_got, z, px),
                ("pixel_size_um", px_got, px, z),
            ):
                try:
                    ok = abs(float(got) - want) <= 1e-6 * want
                except (TypeError, ValueError):
                    ok = False
                if not ok:
                    hint = None
                    try:
                        if abs(float(got) - other) <= 1e-6 * other:
                            hint = "Z and X/Y are swapped: 'Z' is the step between planes"
                    except (TypeError, ValueError):
                        hint = "return a number (float), e.g. img.pixel_size_um['Z']"
                    raise fail(f"{called}: {label}", describe(got), f"{want:.6g}", hint)


# --------------------------------------------------------------------------- normalization
def _reference_percentile(x, low, high):
    """coursekit.normalize.normalize with ``percentiles=(low, high)`` (or the older
    ``pmin=``/``pmax=`` spelling of the same thing)."""
    from coursekit.normalize import normalize

    if "percentiles" in inspect.signature(normalize).parameters:
        return normalize(x, "percentile", percentiles=(low, high))
    return normalize(x, "percentile", pmin=low, pmax=high)


def _images(rng):
    shapes = [tuple(int(n) for n in rng.integers(20, 70, size=2)) for _ in range(2)]
    shapes.append(tuple(int(n) for n in rng.integers(4, 20, size=3)))
    out = [rng.gamma(2.0, 50.0, size=s) + rng.uniform(0, 500) for s in shapes]
    hot = rng.gamma(2.0, 50.0, size=(31, 45))
    hot.flat[rng.integers(hot.size, size=5)] = 1e5  # hot pixels: percentiles ignore them
    out.append(hot)
    out.append(rng.integers(0, 4096, size=(33, 27)).astype(np.uint16))
    return out


def _check_constant(func, called_name, *args):
    const = np.full((17, 23), 42.0)
    called = f"{called_name}(image{''.join(', ' + repr(a) for a in args)}) for a constant image"
    out = np.asarray(call(func, called, const, *args), dtype=float)
    if out.shape != const.shape or not np.all(np.isfinite(out)):
        raise fail(called, out, "finite values (zeros) of the same shape",
                   "a constant image has spread 0: add a small eps to the denominator")  # fmt: skip


def check_percentile(normalize_percentile) -> None:
    """Check ``normalize_percentile(image, low=1.0, high=99.8)`` (maps the ``low`` and
    ``high`` percentiles to 0 and 1) against :func:`coursekit.normalize.normalize`, on
    images with an offset, with hot pixels, integer images, 3D stacks, other percentiles
    and a constant image (no NaN)."""
    rng = np.random.default_rng()
    for img in _images(rng):
        for low, high in ((1.0, 99.8), (float(rng.uniform(0, 5)), float(rng.uniform(90, 100)))):
            called = (
                f"normalize_percentile(image, low={low:.3g}, high={high:.3g}) for {describe(img)}"
            )
            got = np.asarray(call(normalize_percentile, called, img, low=low, high=high))
            ref = _reference_percentile(img, low, high)
            if got.shape != ref.shape:
                raise fail(
                    called, got, f"an array of shape {ref.shape}", "return one value per pixel"
                )
            if np.allclose(got, ref, rtol=1e-4, atol=1e-4):
                continue
            x = img.astype(float)
            lo, hi = np.percentile(x, [low, high])
            probe = x.flat[0]
            hint = diagnose(
                float(got.flat[0]),
                {
                    "you used the minimum and maximum; use np.percentile(image, [low, high])":
                        (probe - x.min()) / (x.max() - x.min()),
                    "subtract the low percentile before dividing": probe / (hi - lo),
                    "divide by (high - low), not by the high percentile": (probe - lo) / hi,
                    "low and high are percentiles (0 to 100), not quantiles (0 to 1)":
                        (probe - np.quantile(x, low / 100)) / (np.quantile(x, min(high / 100, 1)) - np.quantile(x, low / 100)),
                },
                rtol=1e-3,
            )  # fmt: skip
            if hint is None and len({float(v) for v in np.ravel(got)[:50]}) == 1:
                hint = "your result does not depend on the image: compute it from the input"
            raise fail(called, f"{describe(got)} with values like {np.ravel(got)[:3]}",
                       f"values like {np.ravel(ref)[:3]} (coursekit.normalize.normalize)", hint)  # fmt: skip
    _check_constant(normalize_percentile, "normalize_percentile")


def check_zscore(zscore) -> None:
    """Check ``zscore(image)`` (mean 0, standard deviation 1) against
    :func:`coursekit.normalize.normalize` (``"zscore"``), on offset, integer and 3D images
    and a constant image (no NaN)."""
    from coursekit.normalize import normalize

    rng = np.random.default_rng()
    for img in _images(rng):
        called = f"zscore(image) for {describe(img)}"
        got = np.asarray(call(zscore, called, img), dtype=float)
        ref = normalize(img, "zscore")
        if got.shape == ref.shape and np.allclose(got, ref, rtol=1e-2, atol=1e-3):
            continue
        x = img.astype(float)
        hint = None
        if got.shape != ref.shape:
            hint = "return one value per pixel (no reduction, no flattening)"
        elif abs(got.mean()) > 1e-2 * max(1.0, abs(x.mean()) / x.std()):
            hint = f"your result has mean {got.mean():.4g}: subtract the image's mean"
        elif abs(got.std() - 1) > 1e-2:
            hint = (f"your result has standard deviation {got.std():.4g}: divide by the "
                    "standard deviation (np.std), not the variance or the range")  # fmt: skip
        raise fail(called, f"{describe(got)} with mean {got.mean():.4g}, std {got.std():.4g}",
                   "mean 0 and standard deviation 1 (coursekit.normalize.normalize)", hint)  # fmt: skip
    _check_constant(zscore, "zscore")


# --------------------------------------------------------------------------- patches
_SYMMETRIES = [(k, f) for k in range(4) for f in (False, True)]


def _as_symmetry(patch, window):
    """Which of the 8 symmetries of the square maps ``window`` to ``patch`` (None: none)."""
    for k, flip in _SYMMETRIES:
        w = np.rot90(window, k)
        w = np.fliplr(w) if flip else w
        if w.shape == patch.shape and np.array_equal(w, patch):
            return (k, flip)
    return None


def check_patch_pair(random_patch_pair) -> None:
    """Check ``random_patch_pair(x, y, size, rng)``: a ``size x size`` patch cut at the same
    random place from ``x`` and ``y`` (2D arrays), with the same random flip/rotation applied
    to both; every position, the last one included, must be possible, and augmentation
    must actually happen.

    The target here is a pixel-wise function of the input, so any mismatch between the two
    patches (another place, another rotation) shows; every pixel value is unique, so the
    place and the rotation can be read back from the patch.
    """
    rng = np.random.default_rng()
    h, w = int(rng.integers(18, 26)), int(rng.integers(18, 26))
    size = int(rng.integers(12, 17))
    x = rng.permutation(h * w).reshape(h, w).astype(np.float64)
    y = 3.0 * x + 1.0
    where = {float(v): divmod(i, w) for i, v in enumerate(x.ravel())}
    starts, symmetries = set(), set()
    draws = 400
    called = f"random_patch_pair(x, y, size={size}, rng) for x, y of shape {(h, w)}"
    for _ in range(draws):
        out = call(random_patch_pair, called, x, y, size, rng)
        if not isinstance(out, tuple) or len(out) != 2:
            raise fail(called, out, "a tuple (x_patch, y_patch)", None)
        xp, yp = (np.asarray(a) for a in out)
        if xp.shape != (size, size) or yp.shape != (size, size):
            raise fail(called, f"patches of shapes {xp.shape} and {yp.shape}",
                       f"two patches of shape {(size, size)}",
                       "cut x[i:i + size, j:j + size] (the end of a slice is excluded)")  # fmt: skip
        if not np.array_equal(yp, 3.0 * xp + 1.0):
            raise fail(called, "a y patch that is not the partner of the x patch",
                       "y_patch = the same place and the same flip/rotation as x_patch",
                       "draw the position and the augmentation once and apply them to both "
                       "(drawing them separately for x and y breaks the pairing)")  # fmt: skip
        corners = [where.get(float(v)) for v in (xp.min(),)]
        i, j = corners[0]
        # the window that holds the patch's smallest value as one of its pixels
        found = None
        for i0 in range(max(0, i - size + 1), min(i, h - size) + 1):
            for j0 in range(max(0, j - size + 1), min(j, w - size) + 1):
                s = _as_symmetry(xp, x[i0 : i0 + size, j0 : j0 + size])
                if s is not None:
                    found = ((i0, j0), s)
                    break
            if found:
                break
        if found is None:
            raise fail(called, "an x patch that is not a (flipped or rotated) window of x",
                       f"a {size} x {size} window of x, possibly flipped or rotated", None)  # fmt: skip
        starts.add(found[0])
        symmetries.add(found[1])
    rows = {s[0] for s in starts}
    cols = {s[1] for s in starts}
    if max(rows) != h - size or max(cols) != w - size:
        raise fail(called, f"patches starting at rows {min(rows)}..{max(rows)}, columns "
                   f"{min(cols)}..{max(cols)} in {draws} draws",
                   f"rows 0..{h - size} and columns 0..{w - size}",
                   "off by one: rng.integers(0, n - size) never returns n - size; use "
                   "rng.integers(0, n - size + 1)")  # fmt: skip
    if min(rows) != 0 or min(cols) != 0:
        raise fail(called, f"patches starting at rows {min(rows)}.., columns {min(cols)}..",
                   "starts from 0", "the first position is 0")  # fmt: skip
    if len(symmetries) < 4:
        raise fail(called, f"only {len(symmetries)} orientation(s) of the patch in {draws} draws",
                   "all 8 flips and 90-degree rotations (at least 4)",
                   "augment: np.rot90(patch, k) with k drawn from rng, and a random np.fliplr")  # fmt: skip


# --------------------------------------------------------------------------- fetching
class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, log: list, **kwargs):
        self._log = log
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 - the http.server API
        self._log.append(self.path)
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass


class LocalServer:
    """An HTTP server for one folder on 127.0.0.1 (a free port), in a thread.

    Attributes: ``url``, ``root``, ``requests`` (paths asked for); ``stop()``; also a
    context manager.
    """

    def __init__(self, root):
        self.root = Path(root)
        self.requests: list[str] = []
        handler = functools.partial(_Handler, directory=str(self.root), log=self.requests)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def serve_folder(root) -> LocalServer:
    """Serve ``root`` over HTTP on 127.0.0.1 (never the network); ``.stop()`` when done."""
    return LocalServer(root)


def local_registry(server: LocalServer, name: str, files: dict[str, bytes]):
    """Write ``files`` under ``server.root`` and return a coursekit registry with one data
    set ``name`` whose (verified) entries point at the server."""
    from coursekit.datasets import Registry

    entries = []
    for fname, data in files.items():
        (server.root / fname).write_bytes(data)
        entries.append({"file": fname, "url": f"{server.url}/{fname}", "verified": True,
                        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})  # fmt: skip
    return Registry.from_dict(
        {"schema": 1, "datasets": [{"name": name, "description": "exercise data",
                                    "source": server.url, "licence": "CC0-1.0",
                                    "citation": "coursekit exercise", "files": entries}]},
        source="exercise registry",
    )  # fmt: skip


def _tiff_bytes(data, tmp: Path, name: str) -> bytes:
    from coursekit.io import write_ome_tiff

    path = tmp / name
    write_ome_tiff(path, data, axes="YX", pixel_size_um={"Y": 0.2, "X": 0.2})
    return path.read_bytes()


@contextlib.contextmanager
def _without_mirror():
    """The made-up data set exists only on the check's own server: a classroom mirror set
    in ``COURSEKIT_DATA_BASE_URL`` would redirect its download there and fail (HTTP 404)."""
    from coursekit.datasets.cache import BASE_URL_ENV

    mirror = os.environ.pop(BASE_URL_ENV, None)
    try:
        yield
    finally:
        if mirror is not None:
            os.environ[BASE_URL_ENV] = mirror


def check_fetch_pair(fetch_pair) -> None:
    """Check ``fetch_pair(name, *, registry, data_dir)``: fetch the data set ``name`` with
    :func:`coursekit.datasets.fetch` into ``data_dir`` and return ``(transmitted,
    fluorescence)`` arrays read from the files ending in ``_transmitted.ome.tif`` and
    ``_fluorescence.ome.tif``. The data set is made up here (random name, pixels and file
    order) and served from a local HTTP server on 127.0.0.1."""
    rng = np.random.default_rng()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        www, cache, scratch = tmp / "www", tmp / "cache", tmp / "scratch"
        for d in (www, cache, scratch):
            d.mkdir()
        name = f"cells_{int(rng.integers(1e6))}"
        shape = (int(rng.integers(16, 40)), int(rng.integers(16, 40)))
        tl = rng.integers(0, 4000, size=shape).astype(np.uint16)
        fl = rng.integers(0, 4000, size=shape).astype(np.uint16)
        stem = f"field{int(rng.integers(100))}"
        files = {f"{stem}_transmitted.ome.tif": _tiff_bytes(tl, scratch, "a.ome.tif"),
                 f"{stem}_fluorescence.ome.tif": _tiff_bytes(fl, scratch, "b.ome.tif"),
                 "README.txt": b"two images of one field"}  # fmt: skip
        order = list(files)
        rng.shuffle(order)
        with serve_folder(www) as server, _without_mirror():
            registry = local_registry(server, name, {k: files[k] for k in order})
            called = f"fetch_pair({name!r}, registry=registry, data_dir=<a new folder>)"
            out = call(fetch_pair, called, name, registry=registry, data_dir=cache)
            if not server.requests:
                raise fail(called, "nothing downloaded from the server",
                           "a download through coursekit.datasets.fetch",
                           "call fetch(name, registry=registry, data_dir=data_dir)")  # fmt: skip
        if not any(cache.rglob("*_transmitted.ome.tif")):
            raise fail(called, "no file in data_dir", "the data set cached in data_dir",
                       "pass data_dir=data_dir to fetch")  # fmt: skip
        if not isinstance(out, tuple) or len(out) != 2:
            raise fail(called, out, "a tuple (transmitted, fluorescence) of arrays", None)
        got_tl, got_fl = (np.asarray(getattr(a, "data", a)) for a in out)
        if got_tl.dtype.kind not in "uif":
            raise fail(called, out, "two pixel arrays",
                       "read each path with coursekit.io.read_image(path).data")  # fmt: skip
        if np.array_equal(got_tl, fl) and np.array_equal(got_fl, tl):
            raise fail(called, "(fluorescence, transmitted)", "(transmitted, fluorescence)",
                       "pick the files by their name ending, not by their position in the list")  # fmt: skip
        if not (np.array_equal(got_tl, tl) and np.array_equal(got_fl, fl)):
            raise fail(called, f"arrays of shapes {got_tl.shape} and {got_fl.shape}",
                       f"the data set's two images of shape {shape}",
                       "select the files by their name ending (_transmitted.ome.tif, "
                       "_fluorescence.ome.tif); the order of fetch's list is not fixed")  # fmt: skip


CHECKS = {
    "save_stack": Check(check_save_stack, 3, "write an OME-TIFF with axes and pixel sizes"),
    "load_stack": Check(check_load_stack, 2, "read an OME-TIFF with its pixel sizes"),
    "percentile": Check(check_percentile, 3, "percentile normalization"),
    "zscore": Check(check_zscore, 2, "z-score normalization"),
    "patch_pair": Check(check_patch_pair, 5, "paired patches with augmentation"),
    "fetch_pair": Check(check_fetch_pair, 3, "fetch a data set with coursekit.datasets"),
}
