"""Reading TIFF (OME, ImageJ, plain) and PNG into an :class:`~coursekit.io.Image`; see
the notes of :mod:`coursekit.io` on how axes and pixel sizes are found."""

from __future__ import annotations

import contextlib
import difflib
import logging
import math
import os
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from coursekit.io.image import _NAMESPACE, AXES, Image, ImageFileError, _check_axes_letters

__all__ = ["read_image"]

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
    if path.exists() and not path.is_dir():
        raise ImageFileError(
            f"{str(path)!r} is not a regular file (a pipe, socket or device); save the image "
            "to a file first"
        )
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


class _TiffWarnings(logging.Handler):
    """Collect what tifffile logs while reading (it logs damage, then carries on)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tifffile_warnings():
    logger = logging.getLogger("tifffile")
    handler = _TiffWarnings()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _read_tiff(path: Path):
    with _tifffile_warnings() as messages:
        result = _read_tiff_quietly(path)
    # tifffile skips pages and tags that point past the end of the file and returns what is
    # left (e.g. one plane of a 4-plane stack): for a truncated file that is a wrong answer
    damage = [m for m in messages if "offset" in m.lower() or "truncat" in m.lower()]
    if damage:
        size = path.stat().st_size
        raise ImageFileError(
            f"{str(path)!r} is damaged, probably truncated ({size} bytes; an interrupted copy "
            f"or download?): tifffile reports {'; '.join(damage[:3])}. Copy or write the file "
            "again"
        )
    for message in messages:  # anything else tifffile says still reaches the user
        warnings.warn(f"{path.name}: tifffile: {message}", UserWarning, stacklevel=3)
    return result


def _read_tiff_quietly(path: Path):
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
