"""Read and write microscopy images with their axes, pixel sizes and channel names.

Writing
-------
:func:`write_ome_tiff` writes an OME-TIFF that Fiji (Bio-Formats), napari, QuPath and
``tifffile`` open with the right axes and scale. :func:`write_imagej_tiff` writes an
ImageJ hyperstack for Fiji's plain *File > Open*.

Reading
-------
:func:`read_image` reads OME-TIFF (from this module or any other writer), ImageJ
hyperstacks, plain TIFF and PNG (8 and 16 bit) into an :class:`Image`: the array plus
its ``axes`` (letters from ``"TCZYX"``), ``pixel_size_um`` and ``channel_names``.

Axes
----
Axes are strings of the letters ``T`` (time), ``C`` (channel), ``Z`` (depth),
``Y`` (rows) and ``X`` (columns), each at most once, one letter per array dimension,
e.g. ``"YX"``, ``"ZYX"``, ``"CYX"``, ``"CZYX"``, ``"TCZYX"``. The files are written with
``Y`` and ``X`` as the last two axes (as OME-TIFF requires); the other letters can come in
any order (``"ZCYX"`` is fine).

How axes are found when reading (and what is squeezed)
------------------------------------------------------
- OME-TIFF from :func:`write_ome_tiff`: exactly the axes that were written, including
  length-1 axes (they are recorded in an OME ``MapAnnotation``), so ``(1, 64, 64)`` as
  ``"CYX"`` comes back as ``(1, 64, 64)`` and ``"CYX"``.
- Other OME-TIFF and ImageJ hyperstacks: ``tifffile`` reports every OME/ImageJ axis
  (``TCZYX`` or ``TZCYX``), most of them of length 1; length-1 axes are dropped, except
  ``Y`` and ``X``. Nothing else is squeezed.
- TIFF written by ``tifffile.imwrite`` without OME/ImageJ (a JSON ``shape`` in the
  description): the stored shape exactly.
- Plain TIFF without metadata: ``tifffile``'s guess. A stack of pages (``tifffile`` calls the
  axis ``I`` or ``Q``) becomes ``Z``; a second unknown axis becomes ``C``, a third ``T``
  (the unknown axis closest to ``YX`` is named first). Colour samples (``S``, RGB) become
  ``C`` and stay where they are, e.g. ``"YXC"`` for an RGB image. Pass ``axes=`` when you
  know better, e.g. ``read_image(path, axes="TYX")`` for a time-lapse.
- PNG: ``"YX"`` for grey, ``"YXC"`` for RGB(A) images.

Pixel sizes are in micrometres. They come from the OME ``PhysicalSizeX/Y/Z`` attributes,
from ImageJ's ``XResolution``/``YResolution`` tags with its ``unit`` and ``spacing`` (Z), or,
for plain TIFF, from the resolution tags when their unit is a length (centimetre,
millimetre, micrometre; the ubiquitous 72 dots-per-inch default is ignored). PNG files
give no pixel size.

Examples
--------
>>> import numpy as np
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> stack = np.zeros((2, 5, 64, 64), dtype=np.uint16)  # (C, Z, Y, X)
>>> path = write_ome_tiff(folder / "cells.ome.tif", stack, axes="CZYX",
...                       pixel_size_um={"X": 0.3, "Y": 0.3, "Z": 1.0},
...                       channel_names=["brightfield", "DNA"])
>>> img = read_image(path)
>>> img.axes, img.pixel_size_um["Z"], img.channel_names
('CZYX', 1.0, ['brightfield', 'DNA'])
"""

from __future__ import annotations

import difflib
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coursekit._files import atomic_path, check_writable_target
from coursekit._validation import check_array, check_choice, check_positive, describe

__all__ = [
    "Image",
    "ImageFileError",
    "read_image",
    "write_ome_tiff",
    "write_imagej_tiff",
    "AXES",
    "WRITE_DTYPES",
    "COMPRESSIONS",
]

#: The axis letters understood by this module: time, channel, depth, rows, columns.
AXES = "TCZYX"
#: The dtypes that the writers store (float64 and float16 are converted to float32).
WRITE_DTYPES = ("uint8", "uint16", "float32")
#: Compression schemes for :func:`write_ome_tiff`; only ``"zlib"`` works without the
#: optional ``imagecodecs`` package.
COMPRESSIONS = (None, "zlib", "lzw", "zstd")

_SPATIAL = "ZYX"
_AXIS_NAMES = {"T": "time", "C": "channel", "Z": "depth", "Y": "rows", "X": "columns"}
_NAMESPACE = "coursekit.io"  # OME MapAnnotation namespace that records the written axes

# length units seen in OME-XML and ImageJ metadata, in micrometres
_UNIT_TO_UM = {
    "µm": 1.0,  # micro sign U+00B5
    "\u03bcm": 1.0,  # Greek small letter mu
    "um": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "micrometre": 1.0,
    "\\u00b5m": 1.0,  # ImageJ sometimes writes the escape sequence literally
    "nm": 1e-3,
    "nanometer": 1e-3,
    "pm": 1e-6,
    "å": 1e-4,
    "angstrom": 1e-4,
    "mm": 1e3,
    "millimeter": 1e3,
    "cm": 1e4,
    "centimeter": 1e4,
    "m": 1e6,
    "meter": 1e6,
    "inch": 25400.0,
    "in": 25400.0,
}
# TIFF ResolutionUnit -> micrometres per unit (INCH is deliberately absent, see docs)
_RESUNIT_TO_UM = {3: 1e4, 4: 1e3, 5: 1.0}

_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# (signature, what it is) for friendlier messages when a file is not a TIFF/PNG
_OTHER_MAGICS = (
    (b"version https://git-lfs", "a Git LFS pointer (run `git lfs pull` to get the real file)"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"ZISRAWFILE", "a Zeiss CZI file (open it with Fiji/Bio-Formats and save as OME-TIFF)"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x93NUMPY", "a NumPy .npy file (use numpy.load)"),
    (b"PK\x03\x04", "a ZIP archive (unzip it first)"),
    (b"\x1f\x8b", "a gzip archive (decompress it first)"),
    (b"<!doctype", "an HTML page (a failed download?)"),
    (b"<html", "an HTML page (a failed download?)"),
)


class ImageFileError(ValueError):
    """A file exists but cannot be read as an image (not a TIFF/PNG, corrupt, unsupported)."""


# ---------------------------------------------------------------------------------------
# the Image container
# ---------------------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class Image:
    """An image array with its axes, pixel sizes and channel names.

    Attributes
    ----------
    data : numpy.ndarray
        The pixels, one dimension per letter of ``axes``, dtype as stored in the file.
    axes : str
        One letter per dimension from ``"TCZYX"``, e.g. ``"CZYX"``.
    pixel_size_um : dict of str to float
        Pixel size in micrometres for the keys among ``"X"``, ``"Y"``, ``"Z"`` that the
        file states; unknown sizes are absent (never guessed).
    channel_names : list of str or None
        One name per channel (per index along ``C``; a single name when there is no ``C``
        axis), or ``None`` when the file holds none.
    path : pathlib.Path or None
        The file the image was read from.

    Examples
    --------
    >>> import numpy as np
    >>> img = Image(np.zeros((3, 64, 64), np.uint16), "ZYX", {"Z": 1.0, "Y": 0.3, "X": 0.3})
    >>> img.scale
    (1.0, 0.3, 0.3)
    >>> img
    Image(shape=(3, 64, 64), dtype=uint16, axes='ZYX', pixel_size_um={Z: 1, Y: 0.3, X: 0.3})
    """

    data: np.ndarray
    axes: str
    pixel_size_um: dict[str, float] = field(default_factory=dict)
    channel_names: list[str] | None = None
    path: Path | None = None

    def __post_init__(self):
        self.data = np.asarray(self.data)
        self.axes = _check_axes(self.axes, self.data.shape, require_yx_last=False)

    # -- array-like conveniences ---------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data``."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """dtype of ``data``."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions of ``data``."""
        return self.data.ndim

    def __array__(self, dtype=None, copy=None):
        a = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return a.copy() if copy else a

    def size_of(self, axis: str) -> int:
        """Length of ``axis`` (a letter from ``"TCZYX"``), 1 when the image has no such axis."""
        axis = axis.upper()
        if axis not in AXES or len(axis) != 1:
            raise ValueError(f"unknown axis {axis!r}; expected one of {', '.join(AXES)}")
        return self.data.shape[self.axes.index(axis)] if axis in self.axes else 1

    # -- scale ------------------------------------------------------------------------------
    @property
    def scale(self) -> tuple[float, ...]:
        """Pixel sizes (µm) for napari: one value per axis of ``data`` except ``C``.

        ``T`` and spatial axes whose size the file does not state get ``1.0``. Use it with
        napari's ``channel_axis`` so that channels become layers, or call
        :meth:`napari_kwargs`.
        """
        return tuple(
            1.0 if a == "T" else float(self.pixel_size_um.get(a, 1.0))
            for a in self.axes
            if a != "C"
        )

    def napari_kwargs(self) -> dict:
        """Keyword arguments for ``napari.Viewer.add_image(img.data, **img.napari_kwargs())``.

        Returns
        -------
        dict
            ``scale`` (see :attr:`scale`), plus ``channel_axis`` and ``name`` (the channel
            names) when the image has a ``C`` axis.
        """
        kwargs: dict = {"scale": self.scale}
        if "C" in self.axes:
            kwargs["channel_axis"] = self.axes.index("C")
            if self.channel_names is not None and len(self.channel_names) == self.size_of("C"):
                kwargs["name"] = list(self.channel_names)
        elif self.channel_names:
            kwargs["name"] = self.channel_names[0]
        return kwargs

    # -- reordering ---------------------------------------------------------------------------
    def to_axes(self, axes: str) -> Image:
        """Return the image with its dimensions reordered to ``axes``.

        Letters of ``axes`` that the image lacks are added with length 1; letters the image
        has but ``axes`` omits are dropped, which is only allowed for length-1 axes.

        Parameters
        ----------
        axes : str
            Target axes, letters from ``"TCZYX"``, e.g. ``"CYX"`` or ``"CZYX"``.

        Returns
        -------
        Image
            A new ``Image`` whose ``data`` is a view of this one's where possible.

        Examples
        --------
        >>> import numpy as np
        >>> rgb = Image(np.zeros((64, 48, 3), np.uint8), "YXC")
        >>> rgb.to_axes("CYX").shape
        (3, 64, 48)
        >>> Image(np.zeros((64, 48), np.uint8), "YX").to_axes("CZYX").shape
        (1, 1, 64, 48)
        """
        target = _check_axes_letters(axes)
        for a, n in zip(self.axes, self.data.shape):
            if a not in target and n != 1:
                raise ValueError(
                    f"cannot convert axes {self.axes!r} (shape {self.data.shape}) to {target!r}: "
                    f"axis {a} has length {n}; select one index first, e.g. with "
                    f"img.data.take(0, axis={self.axes.index(a)})"
                )
        kept = [a for a in self.axes if a in target]
        data = self.data.reshape([n for a, n in zip(self.axes, self.data.shape) if a in target])
        data = np.transpose(data, [kept.index(a) for a in target if a in kept])
        present = [a for a in target if a in kept]
        full_shape = [data.shape[present.index(a)] if a in present else 1 for a in target]
        data = data.reshape(full_shape)
        return Image(data, target, dict(self.pixel_size_um), self.channel_names, self.path)

    def __repr__(self) -> str:
        parts = [f"shape={self.data.shape}", f"dtype={self.data.dtype}", f"axes={self.axes!r}"]
        if self.pixel_size_um:
            sizes = ", ".join(
                f"{a}: {self.pixel_size_um[a]:g}" for a in _SPATIAL if a in self.pixel_size_um
            )
            parts.append(f"pixel_size_um={{{sizes}}}")
        if self.channel_names:
            names = self.channel_names
            shown = repr(names) if len(names) <= 4 else f"[{names[0]!r}, ..., {names[-1]!r}]"
            parts.append(f"channels={shown}")
        if self.path is not None:
            parts.append(f"file={Path(self.path).name!r}")
        return f"Image({', '.join(parts)})"


# ---------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------


def _check_axes_letters(axes) -> str:
    """Validate letters only (TCZYX, each once); return the upper-case string."""
    if not isinstance(axes, str):
        raise TypeError(f"axes: expected a string such as 'ZYX' or 'CYX', got {axes!r}")
    up = axes.upper()
    if not up:
        raise ValueError("axes: expected a string such as 'ZYX' or 'CYX', got an empty string")
    unknown = sorted({a for a in up if a not in AXES}, key=up.index)
    if unknown:
        letters = ", ".join(repr(a) for a in unknown)
        known = ", ".join(f"{a} ({_AXIS_NAMES[a]})" for a in AXES)
        raise ValueError(
            f"unknown axis letter(s) {letters} in axes {axes!r}; use letters from {known}"
        )
    repeated = sorted({a for a in up if up.count(a) > 1}, key=up.index)
    if repeated:
        raise ValueError(
            f"axes {axes!r} repeats the letter(s) {', '.join(map(repr, repeated))}; "
            "each axis may appear at most once"
        )
    return up


def _check_axes(axes, shape: tuple[int, ...], *, require_yx_last: bool) -> str:
    """Validate an axes string against an array shape; return it in upper case."""
    up = _check_axes_letters(axes)
    if len(up) != len(shape):
        raise ValueError(
            f"axes {axes!r} has {len(up)} letter(s) but the array has {len(shape)} "
            f"dimension(s), shape {tuple(shape)}; give one letter per dimension"
        )
    if require_yx_last and not up.endswith("YX"):
        hint = ""
        if "Y" in up and "X" in up:
            order = "".join(a for a in up if a not in "YX") + "YX"
            src = [up.index(a) for a in order]
            hint = (
                f"; reorder the array first, e.g. data.transpose({tuple(src)}) "
                f"gives axes {order!r} (or Image.to_axes({order!r}))"
            )
        raise ValueError(
            f"axes {axes!r}: TIFF files store images as rows and columns, so the last two axes "
            f"must be 'YX'{hint}"
        )
    return up


def _check_write_data(data) -> np.ndarray:
    """Return ``data`` as uint8, uint16 or float32, or raise a TypeError saying what to do."""
    arr = check_array(data, "data", floating=False, finite=False)
    if not arr.dtype.isnative:  # e.g. '>u2' from a raw or FITS file: same values, native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype in (np.uint8, np.uint16, np.float32):
        return arr
    if arr.dtype in (np.float64, np.float16):
        finite = arr[np.isfinite(arr)]
        if finite.size and np.abs(finite).max() > np.finfo(np.float32).max:
            raise ValueError(
                f"data: {describe(arr)} holds values beyond the float32 range "
                f"(max |value| {np.abs(finite).max():g}); rescale it before writing"
            )
        return arr.astype(np.float32)
    allowed = ", ".join(WRITE_DTYPES)
    if arr.dtype == bool:
        hint = "convert a mask with data.astype(np.uint8)"
    elif np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi <= 255:
            hint = "its values fit in uint8: use data.astype(np.uint8)"
        elif lo >= 0 and hi <= 65535:
            hint = "its values fit in uint16: use data.astype(np.uint16)"
        else:
            hint = f"its values ({lo} to {hi}) do not fit in uint16: use data.astype(np.float32)"
    else:
        hint = "convert it with data.astype(np.float32)"
    raise TypeError(
        f"data: TIFF files written by coursekit hold {allowed} (float64 is converted to "
        f"float32), got {describe(arr)}; {hint}"
    )


def _parse_pixel_size(pixel_size_um, axes: str) -> dict[str, float]:
    """Turn a float, a dict or a tuple into ``{"X": ..., "Y": ..., "Z": ...}`` (µm)."""
    if pixel_size_um is None:
        return {}
    if isinstance(pixel_size_um, Mapping):
        sizes = {}
        for key, value in pixel_size_um.items():
            k = str(key).upper()
            if k not in _SPATIAL:
                raise ValueError(
                    f"pixel_size_um: unknown key {key!r}; expected keys among 'X', 'Y', 'Z'"
                )
            sizes[k] = check_positive(value, f"pixel_size_um[{key!r}]")
        return sizes
    if isinstance(pixel_size_um, (Sequence, np.ndarray)) and not isinstance(pixel_size_um, str):
        spatial = [a for a in _SPATIAL if a in axes]
        values = list(np.asarray(pixel_size_um, dtype=object).ravel())
        if len(values) != len(spatial):
            raise ValueError(
                f"pixel_size_um: got {len(values)} value(s) {tuple(pixel_size_um)} but axes "
                f"{axes!r} has {len(spatial)} spatial axes ({', '.join(spatial)}); give one size "
                f"per spatial axis in Z, Y, X order, a single float for X and Y, or a dict"
            )
        return {a: check_positive(v, f"pixel_size_um[{a}]") for a, v in zip(spatial, values)}
    size = check_positive(pixel_size_um, "pixel_size_um")
    return {"Y": size, "X": size}


def _check_channel_names(channel_names, axes: str, shape: tuple[int, ...]) -> list[str] | None:
    if channel_names is None:
        return None
    if isinstance(channel_names, str):
        channel_names = [channel_names]
    names = [str(n) for n in channel_names]
    n_channels = shape[axes.index("C")] if "C" in axes else 1
    if len(names) != n_channels:
        where = f"the C axis has length {n_channels}" if "C" in axes else "axes has no C axis"
        raise ValueError(
            f"channel_names: got {len(names)} name(s) {names} but {where} (shape {tuple(shape)}, "
            f"axes {axes!r}); give one name per channel"
        )
    return names


def _prepare_path(path, suffixes=(".tif", ".tiff")) -> Path:
    path = Path(os.fspath(path)).expanduser()
    if path.suffix.lower() not in suffixes:
        raise ValueError(
            f"path {str(path)!r}: expected a name ending in .ome.tif (or .tif, .tiff), "
            f"got suffix {path.suffix!r}"
        )
    check_writable_target(path)
    for folder in (path.parent, *path.parent.parents):
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(
                f"cannot write {str(path)!r}: {str(folder)!r} is a file, not a folder; "
                "choose another folder or file name"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _resolution(sizes: dict[str, float], um_per_unit: float):
    """TIFF (XResolution, YResolution) in pixels per unit, or None."""
    if "X" in sizes and "Y" in sizes:
        return (um_per_unit / sizes["X"], um_per_unit / sizes["Y"])
    return None


def _imwrite(path: Path, data: np.ndarray, **kwargs) -> None:
    import tifffile

    if data.nbytes > 2**32 - 2**25:
        kwargs["bigtiff"] = True
    try:
        # a temporary file beside ``path`` replaces it only when complete: a failed,
        # interrupted or killed write never touches the file that was there before
        with atomic_path(path) as tmp:
            tifffile.imwrite(tmp, data, **kwargs)
    except Exception as exc:
        if "imagecodecs" in str(exc):
            raise ValueError(
                f"compression={kwargs.get('compression')!r} needs the optional 'imagecodecs' "
                "package (pip install imagecodecs); compression='zlib' works without it"
            ) from exc
        raise


# ---------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------


def write_ome_tiff(
    path,
    data,
    *,
    axes: str,
    pixel_size_um=None,
    channel_names=None,
    compression: str | None = None,
) -> Path:
    """Write an array to an OME-TIFF file with its axes, pixel sizes and channel names.

    Parameters
    ----------
    path : str or os.PathLike
        Output file, ending in ``.ome.tif`` by convention (``.tif``/``.tiff`` accepted).
        Missing parent folders are created; an existing file is replaced only once the
        new one is complete (written to a hidden temporary file beside it, then renamed),
        so a failed or interrupted write leaves it untouched. A read-only file is not
        overwritten (``PermissionError``).
    data : array_like
        The image, one dimension per letter of ``axes``, e.g. ``(C, Z, Y, X)``. dtype
        uint8, uint16 or float32; float64 (and float16) arrays are converted to float32,
        other dtypes (int32, int64, bool, ...) are refused with a hint. NaN is allowed.
        Big-endian arrays (``'>u2'``, ``'>f4'``, e.g. from a raw or FITS file) are
        converted to native byte order (same values). Torch tensors are accepted.
    axes : str
        One letter per dimension from ``"TCZYX"`` (time, channel, depth, rows, columns),
        each at most once, ending in ``"YX"``: ``"YX"``, ``"ZYX"``, ``"CYX"``, ``"CZYX"``,
        ``"TCZYX"``, ``"ZCYX"``, ...
    pixel_size_um : float, dict or tuple, optional
        Pixel size in micrometres: a float for X and Y (Z unknown); a dict such as
        ``{"X": 0.3, "Y": 0.3, "Z": 1.0}``; or a tuple with one size per spatial axis present
        in ``axes``, in Z, Y, X order (``(1.0, 0.3, 0.3)`` for ``"CZYX"``, ``(0.3, 0.3)`` for
        ``"CYX"``). Stored as OME ``PhysicalSizeX/Y/Z`` in µm, and X/Y also in the TIFF
        resolution tags for readers that ignore OME.
    channel_names : sequence of str, optional
        One name per index along ``C`` (or a single name when there is no ``C`` axis),
        stored as OME ``Channel`` names.
    compression : {None, "zlib", "lzw", "zstd"}
        Lossless compression. ``"zlib"`` needs nothing extra; ``"lzw"`` and ``"zstd"``
        need the optional ``imagecodecs`` package.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        For an axes string that does not match ``data`` (wrong length, unknown or repeated
        letters, ``Y``/``X`` not last), bad pixel sizes or channel names.
    TypeError
        For a dtype other than uint8, uint16, float32 (float64).
    PermissionError
        When the folder is not writable or the existing file is read-only.
    OSError
        When the disk fills up (or a file-size limit is hit) while writing; the message
        names the file and says that the existing file is unchanged.

    Notes
    -----
    The written axes are also recorded in an OME ``MapAnnotation`` (namespace
    ``"coursekit.io"``), so that :func:`read_image` gives back length-1 axes too.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "sub" / "nuclei.ome.tif"
    >>> stack = np.zeros((10, 256, 256), dtype=np.float32)  # (Z, Y, X)
    >>> write_ome_tiff(out, stack, axes="ZYX", pixel_size_um=(1.0, 0.3, 0.3)).name
    'nuclei.ome.tif'
    """
    arr = _check_write_data(data)
    axes = _check_axes(axes, arr.shape, require_yx_last=True)
    sizes = _parse_pixel_size(pixel_size_um, axes)
    names = _check_channel_names(channel_names, axes, arr.shape)
    check_choice(compression, "compression", COMPRESSIONS)
    path = _prepare_path(path)

    metadata: dict = {"axes": axes}
    for a in "XYZ":
        if a in sizes:
            metadata[f"PhysicalSize{a}"] = sizes[a]
            metadata[f"PhysicalSize{a}Unit"] = "µm"
    if names is not None:
        metadata["Channel"] = {"Name": names}
    metadata["MapAnnotation"] = {"Namespace": _NAMESPACE, "axes": axes}
    kwargs: dict = {"ome": True, "photometric": "minisblack", "metadata": metadata}
    resolution = _resolution(sizes, 1e4)
    if resolution is not None:
        kwargs["resolution"] = resolution
        kwargs["resolutionunit"] = "CENTIMETER"
    if compression is not None:
        kwargs["compression"] = compression
    _imwrite(path, arr, **kwargs)
    return path


def write_imagej_tiff(path, data, *, axes: str, pixel_size_um=None) -> Path:
    """Write an ImageJ hyperstack TIFF (Fiji's *File > Open* reads axes and scale).

    ImageJ stores dimensions in the fixed order T, Z, C, Y, X, so the array is transposed
    to that order (``"CZYX"`` is written, and read back, as ``"ZCYX"``). ImageJ has no
    channel names; prefer :func:`write_ome_tiff` unless a colleague needs plain ImageJ.

    Parameters
    ----------
    path : str or os.PathLike
        Output file ending in ``.tif``/``.tiff``; parent folders are created.
    data : array_like
        uint8, uint16 or float32 (float64 converted to float32), one dimension per letter
        of ``axes``.
    axes : str
        Letters from ``"TCZYX"``, each once, ending in ``"YX"``.
    pixel_size_um : float, dict or tuple, optional
        As in :func:`write_ome_tiff`. ImageJ has a single unit and stores X/Y as
        resolution (a rational number, precise to about 1e-7 relative) and Z as ``spacing``.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "stack.tif"
    >>> data = np.zeros((2, 5, 32, 32), dtype=np.uint16)  # (C, Z, Y, X)
    >>> read_image(write_imagej_tiff(out, data, axes="CZYX", pixel_size_um=(1.0, 0.3, 0.3))).axes
    'ZCYX'
    """
    arr = _check_write_data(data)
    axes = _check_axes(axes, arr.shape, require_yx_last=True)
    sizes = _parse_pixel_size(pixel_size_um, axes)
    path = _prepare_path(path)
    order = "".join(a for a in "TZCYX" if a in axes)
    arr = np.transpose(arr, [axes.index(a) for a in order])
    metadata: dict = {"axes": order}
    kwargs: dict = {"imagej": True, "photometric": "minisblack"}
    if sizes:
        metadata["unit"] = "um"
        if "Z" in sizes:
            metadata["spacing"] = sizes["Z"]
        resolution = _resolution(sizes, 1.0)
        if resolution is None and ("X" in sizes or "Y" in sizes):
            raise ValueError(
                f"pixel_size_um: ImageJ needs both X and Y sizes, got {sizes}; "
                "give a float for both"
            )
        if resolution is not None:
            kwargs["resolution"] = resolution
    kwargs["metadata"] = metadata
    _imwrite(path, arr, **kwargs)
    return path


# ---------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------


def read_image(path, *, axes: str | None = None) -> Image:
    """Read a TIFF (OME, ImageJ, plain) or PNG file into an :class:`Image`.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Its format is recognized from its first bytes, not from its name.
    axes : str, optional
        Names for the dimensions, overriding what the file says or what is guessed
        (letters from ``"TCZYX"``, one per dimension), e.g. ``"TYX"`` for a plain
        multi-page TIFF that holds a time-lapse (read as ``"ZYX"`` by default). The data
        are not reordered, only named. The length must match the shape described in the
        module notes (length-1 axes dropped), or tifffile's full shape with its length-1
        axes (e.g. 5 letters ``"TZCYX"`` for an OME-TIFF whose T and C have length 1).

    Returns
    -------
    Image
        ``data`` (dtype as stored: uint8, uint16, float32, ...), ``axes``,
        ``pixel_size_um`` (µm, only the sizes the file states), ``channel_names``, ``path``.
        For the first image series of a multi-series file, at full resolution.

    Raises
    ------
    FileNotFoundError
        When the file does not exist (the message lists similar names in the folder).
    ImageFileError
        When the file is not a TIFF or PNG, is damaged, or is a 16-bit colour PNG
        (which Pillow would silently reduce to 8 bits).
    ValueError
        When ``axes`` has unknown or repeated letters or the wrong length.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from PIL import Image as PILImage
    >>> png = pathlib.Path(tempfile.mkdtemp()) / "dna.png"
    >>> PILImage.fromarray(np.full((8, 8), 40000, dtype=np.uint16)).save(png)
    >>> img = read_image(png)
    >>> img.axes, img.dtype, int(img.data.max())
    ('YX', dtype('uint16'), 40000)
    """
    if axes is not None:
        _check_axes_letters(axes)
    path = _check_exists(path)
    with open(path, "rb") as fh:
        head = fh.read(32)
    if head.startswith(_TIFF_MAGICS):
        data, file_axes, full, sizes, names = _read_tiff(path)
    elif head.startswith(_PNG_MAGIC):
        data, file_axes, sizes, names = _read_png(path, head)
        full = None
    else:
        raise ImageFileError(_not_an_image_message(path, head))

    if axes is not None:
        up = axes.upper()
        if len(up) != data.ndim and full is not None and len(up) == len(full[1]):
            data = data.reshape(full[1])
        if len(up) != data.ndim:
            extra = ""
            if full is not None and len(full[1]) != data.ndim:
                extra = f" (or {len(full[1])} letters for tifffile's full shape {full[1]})"
            raise ValueError(
                f"axes {axes!r} has {len(up)} letter(s) but the image in {path.name!r} has "
                f"{data.ndim} dimension(s), shape {data.shape}{extra}; give one letter per dimension"
            )
        file_axes = up
    elif file_axes is None:
        raise ImageFileError(full[2])  # message explaining why axes could not be named
    return Image(data, file_axes, sizes, names, path)


def _check_exists(path) -> Path:
    path = Path(os.fspath(path)).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        n = sum(1 for p in path.iterdir() if p.suffix.lower() in (".tif", ".tiff", ".png"))
        raise IsADirectoryError(
            f"{str(path)!r} is a folder (holding {n} TIFF/PNG files), not an image file"
        )
    folder = path.parent
    msg = f"no such file: {str(path)!r}"
    if folder.is_dir():
        names = sorted(p.name for p in folder.iterdir())
        close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
        if close:
            msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        else:
            msg += f" (the folder {str(folder)!r} exists and holds {len(names)} entries)"
    else:
        msg += (
            f" (the folder {str(folder)!r} does not exist either; relative paths start from "
            f"the current folder {os.getcwd()!r})"
        )
    raise FileNotFoundError(msg)


def _not_an_image_message(path: Path, head: bytes) -> str:
    if not head:
        return f"{str(path)!r} is empty (0 bytes), not a TIFF or PNG image"
    what = ""
    lowered = head.lstrip().lower()
    for magic, name in _OTHER_MAGICS:
        if head.startswith(magic) or lowered.startswith(magic.lower()):
            what = f"; it looks like {name}"
            break
    return (
        f"{str(path)!r} is not a TIFF or PNG file: its first bytes are {head[:16]!r} "
        f"(a TIFF starts with b'II*\\x00' or b'MM\\x00*', a PNG with b'\\x89PNG'){what}"
    )


def _to_um(value, unit) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    factor = 1.0 if unit is None else _UNIT_TO_UM.get(str(unit).strip().lower())
    if factor is None or not math.isfinite(v) or v <= 0:
        return None
    return v * factor


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ome_metadata(xml: str | None):
    """Pixel sizes, channel names and coursekit axes from the first OME Image."""
    if not xml:
        return {}, None, None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}, None, None
    image = next((e for e in root.iter() if _local(e.tag) == "Image"), None)
    if image is None:
        return {}, None, None
    pixels = next((e for e in image if _local(e.tag) == "Pixels"), None)
    sizes: dict[str, float] = {}
    names = None
    if pixels is not None:
        for a in "XYZ":
            if f"PhysicalSize{a}" in pixels.attrib:
                size = _to_um(
                    pixels.attrib[f"PhysicalSize{a}"], pixels.attrib.get(f"PhysicalSize{a}Unit")
                )
                if size is not None:
                    sizes[a] = size
        channels = [e for e in pixels if _local(e.tag) == "Channel"]
        if channels and any("Name" in c.attrib for c in channels):
            names = [c.attrib.get("Name", f"channel {i}") for i, c in enumerate(channels)]
    refs = {e.attrib.get("ID") for e in image if _local(e.tag) == "AnnotationRef"}
    written_axes = None
    for annot in root.iter():
        if (
            _local(annot.tag) == "MapAnnotation"
            and annot.attrib.get("Namespace") == _NAMESPACE
            and annot.attrib.get("ID") in refs
        ):
            for m in annot.iter():
                if _local(m.tag) == "M" and m.attrib.get("K") == "axes":
                    written_axes = (m.text or "").strip().upper()
    return sizes, names, written_axes


def _imagej_metadata(tf, page) -> dict[str, float]:
    meta = tf.imagej_metadata or {}
    unit = meta.get("unit")
    if unit is None:
        return {}
    sizes: dict[str, float] = {}
    for a, tag in (("X", "XResolution"), ("Y", "YResolution")):
        size = _size_from_resolution(page, tag)
        if size is not None:
            size = _to_um(size, unit)
            if size is not None:
                sizes[a] = size
    if "spacing" in meta:
        size = _to_um(meta["spacing"], unit)
        if size is not None:
            sizes["Z"] = size
    return sizes


def _size_from_resolution(page, tag: str) -> float | None:
    """Pixel size in the file's unit from a resolution tag (pixels per unit)."""
    t = page.tags.get(tag)
    if t is None:
        return None
    value = t.value
    try:
        num, den = value if isinstance(value, tuple) else (value, 1)
        num, den = float(num), float(den)
    except (TypeError, ValueError):
        return None
    if num <= 0 or den <= 0:
        return None
    return den / num


def _tag_pixel_size(page) -> dict[str, float]:
    unit_tag = page.tags.get("ResolutionUnit")
    factor = _RESUNIT_TO_UM.get(int(unit_tag.value)) if unit_tag is not None else None
    if factor is None:
        return {}
    sizes = {}
    for a, tag in (("X", "XResolution"), ("Y", "YResolution")):
        size = _size_from_resolution(page, tag)
        if size is not None:
            sizes[a] = size * factor
    return sizes


def _name_axes(tiff_axes: str) -> tuple[str | None, str]:
    """Map tifffile's axis letters to TCZYX. Returns (axes or None, reason when None)."""
    mapped = ["C" if a == "S" else a for a in tiff_axes]
    unknown = [i for i, a in enumerate(mapped) if a not in AXES]
    free = [a for a in "ZCT" if a not in mapped]
    if len(unknown) > len(free):
        return None, (
            f"tifffile reports axes {tiff_axes!r}, which cannot all be named with "
            f"letters from {AXES!r}"
        )
    for i, letter in zip(reversed(unknown), free):
        mapped[i] = letter
    result = "".join(mapped)
    if len(set(result)) != len(result):
        return None, f"tifffile reports axes {tiff_axes!r} (both samples and channels)"
    return result, ""


def _read_tiff(path: Path):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            series = tf.series[0]
            kind = str(getattr(series, "kind", "")).lower()
            full_axes = series.get_axes(False)
            full_shape = tuple(series.get_shape(False))
            data = np.asarray(series.asarray()).reshape(full_shape)
            page = series.keyframe
            written_axes = None
            names = None
            if kind == "ome":
                sizes, names, written_axes = _ome_metadata(tf.ome_metadata)
            elif kind == "imagej":
                sizes = _imagej_metadata(tf, page)
            else:
                sizes = _tag_pixel_size(page)
    except (tifffile.TiffFileError, OSError, ValueError, KeyError, IndexError) as exc:
        hint = " (install the optional 'imagecodecs' package)" if "imagecodecs" in str(exc) else ""
        raise ImageFileError(
            f"{str(path)!r} starts like a TIFF but could not be read{hint}: {exc}"
        ) from exc

    # which of tifffile's axes to keep (see module docstring)
    keep = None
    if written_axes:
        kept = [a for a in full_axes if a in written_axes]
        dropped_ok = all(n == 1 for a, n in zip(full_axes, full_shape) if a not in written_axes)
        if "".join(kept) == written_axes and dropped_ok:
            keep = [a in written_axes for a in full_axes]
    if keep is None and kind == "shaped":
        keep = [True] * len(full_axes)
    if keep is None:
        keep = [n != 1 or a in "YX" for a, n in zip(full_axes, full_shape)]
    tiff_axes = "".join(a for a, k in zip(full_axes, keep) if k)
    data = data.reshape([n for n, k in zip(full_shape, keep) if k])
    axes, reason = _name_axes(tiff_axes)
    if axes is None and data.ndim > len(AXES):
        reason += (
            f"; shape {data.shape} has more than {len(AXES)} dimensions: read it with "
            "tifffile.imread(path) and select the dimensions you need"
        )
    elif axes is None:
        reason += f"; shape {data.shape}. Pass axes=... to read_image to name them"
    if names is not None:
        n_channels = data.shape[axes.index("C")] if axes and "C" in axes else 1
        if len(names) != n_channels:
            names = None
    # for an axes= override: tifffile's full shape without its length-1 sample axis (S)
    full_kept = [n != 1 or a in AXES for a, n in zip(full_axes, full_shape)]
    override_shape = tuple(n for n, k in zip(full_shape, full_kept) if k)
    return data, axes, (full_axes, override_shape, reason), sizes, names


def _png_header(head: bytes) -> tuple[int, int]:
    """(bit depth, colour type) from the PNG IHDR chunk."""
    return head[24], head[25]


def _read_png(path: Path, head: bytes):
    from PIL import Image as PILImage

    bit_depth, color_type = _png_header(head)
    if bit_depth == 16 and color_type != 0:
        kind = {2: "RGB", 3: "palette", 4: "grey + alpha", 6: "RGBA"}.get(color_type, "colour")
        raise ImageFileError(
            f"{str(path)!r} is a 16-bit {kind} PNG; Pillow would silently reduce it to 8 bits. "
            "Convert it to a 16-bit TIFF (e.g. in Fiji) or save one grey channel per file"
        )
    try:
        with PILImage.open(path) as im:
            im.load()
            mode = im.mode
            data = np.array(im)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for broken files
        raise ImageFileError(
            f"{str(path)!r} starts like a PNG but could not be read: {exc}"
        ) from exc
    if data.dtype == bool:
        data = data.astype(np.uint8)
    elif mode in ("I", "I;16", "I;16B", "I;16L") and bit_depth == 16:
        data = data.astype(np.uint16)  # older Pillow gives int32 ("I"); keep native uint16
    axes = "YX" if data.ndim == 2 else "YXC"
    return data, axes, {}, None
