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

from coursekit.io.image import AXES, Image, ImageFileError
from coursekit.io.reading import read_image
from coursekit.io.writing import COMPRESSIONS, WRITE_DTYPES, write_imagej_tiff, write_ome_tiff

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
