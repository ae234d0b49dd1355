"""Writing OME-TIFF and ImageJ hyperstacks, always through a temporary file beside the
target (see :mod:`coursekit._files`): a failed or interrupted write never touches the
file that was there before."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from coursekit._files import atomic_path, check_writable_target
from coursekit._validation import check_array, check_choice, check_positive, describe
from coursekit.io.image import _NAMESPACE, _SPATIAL, _check_axes

__all__ = ["write_ome_tiff", "write_imagej_tiff", "WRITE_DTYPES", "COMPRESSIONS"]

#: The dtypes that the writers store (float64 and float16 are converted to float32).
WRITE_DTYPES = ("uint8", "uint16", "float32")
#: Compression schemes for :func:`write_ome_tiff`; only ``"zlib"`` works without the
#: optional ``imagecodecs`` package.
COMPRESSIONS = (None, "zlib", "lzw", "zstd")


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
    >>> from coursekit.io import read_image
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
