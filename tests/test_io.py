"""Tests for coursekit.io: OME-TIFF / ImageJ / plain TIFF / PNG reading and writing."""

from __future__ import annotations

import importlib.util
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from coursekit.io import (
    Image,
    ImageFileError,
    read_image,
    write_imagej_tiff,
    write_ome_tiff,
)

SIZES = {"T": 2, "C": 3, "Z": 4, "Y": 5, "X": 7}
from _shared import ISL_DIR as ISL_FOLDER  # noqa: E402

HAS_IMAGECODECS = importlib.util.find_spec("imagecodecs") is not None


def make_data(axes: str, dtype, seed: int = 0) -> np.ndarray:
    """Random data covering the dtype's full range, with the extremes included."""
    rng = np.random.default_rng(seed)
    shape = tuple(SIZES[a] for a in axes)
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        info = np.iinfo(dtype)
        data = rng.integers(0, int(info.max) + 1, size=shape, dtype=dtype)
        data.flat[0], data.flat[-1] = info.min, info.max
    else:
        data = (rng.standard_normal(shape) * 1e3).astype(dtype)
        data.flat[0], data.flat[-1] = np.finfo(dtype).tiny, -np.finfo(dtype).max
    return data


def assert_bit_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def assert_sizes(got: dict, want: dict, tol: float = 1e-9) -> None:
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=tol, abs=0)


def write_png(path: Path, arr: np.ndarray, color_type: int) -> None:
    """A minimal 16-bit PNG writer (Pillow cannot write 16-bit colour PNGs)."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------------------------------
# OME-TIFF round trips
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("axes", ["YX", "ZYX", "CYX", "CZYX", "TCZYX", "ZCYX", "TZCYX", "CTYX"])
def test_ome_round_trip(tmp_path, dtype, axes):
    data = make_data(axes, dtype)
    sizes = {"X": 0.123456789012345, "Y": 1 / 3}
    if "Z" in axes:
        sizes["Z"] = 2.5e-1
    names = [f"channel-{i} µ" for i in range(SIZES["C"])] if "C" in axes else None
    path = write_ome_tiff(
        tmp_path / f"img_{axes}.ome.tif",
        data,
        axes=axes,
        pixel_size_um=sizes,
        channel_names=names,
    )
    assert path == tmp_path / f"img_{axes}.ome.tif"
    img = read_image(path)
    assert_bit_equal(img.data, data)
    assert img.axes == axes
    assert_sizes(img.pixel_size_um, sizes)
    assert img.channel_names == names
    assert img.path == path


def test_ome_float32_special_values_bit_exact(tmp_path):
    data = np.array([[np.nan, np.inf, -np.inf], [-0.0, 1e-45, 3.4e38]], dtype=np.float32)
    img = read_image(write_ome_tiff(tmp_path / "special.ome.tif", data, axes="YX"))
    assert_bit_equal(img.data, data)


def test_ome_is_standard_and_readable_by_tifffile(tmp_path):
    data = make_data("CZYX", np.uint16)
    path = write_ome_tiff(
        tmp_path / "std.ome.tif",
        data,
        axes="CZYX",
        pixel_size_um=(1.0, 0.3, 0.3),
        channel_names=["a", "b", "c"],
    )
    xml = tifffile.tiffcomment(path)
    for text in (
        'PhysicalSizeX="0.3"',
        'PhysicalSizeXUnit="µm"',
        'PhysicalSizeZ="1.0"',
        'Name="b"',
    ):
        assert text in xml
    with tifffile.TiffFile(path) as tf:
        assert tf.is_ome
        assert tf.series[0].axes == "CZYX"
        np.testing.assert_array_equal(tf.series[0].asarray(), data)
        # resolution tags too (pixels per centimetre), for readers that ignore OME
        assert tf.pages[0].tags["ResolutionUnit"].value == 3


def test_ome_keeps_length_one_axes(tmp_path):
    data = np.arange(2 * 1 * 1 * 5 * 7, dtype=np.uint16).reshape(2, 1, 1, 5, 7)
    img = read_image(write_ome_tiff(tmp_path / "s.ome.tif", data, axes="TCZYX"))
    assert img.axes == "TCZYX"
    assert_bit_equal(img.data, data)
    one = np.zeros((1, 1, 7), np.uint8)  # even Y of length 1
    img = read_image(write_ome_tiff(tmp_path / "y.ome.tif", one, axes="CYX", channel_names=["n"]))
    assert (img.axes, img.shape, img.channel_names) == ("CYX", (1, 1, 7), ["n"])


def test_pixel_size_forms(tmp_path):
    data = make_data("CZYX", np.uint8)
    img = read_image(write_ome_tiff(tmp_path / "a.ome.tif", data, axes="CZYX", pixel_size_um=0.3))
    assert_sizes(img.pixel_size_um, {"X": 0.3, "Y": 0.3})
    path = write_ome_tiff(tmp_path / "b.ome.tif", data, axes="CZYX", pixel_size_um=(2.0, 0.2, 0.1))
    assert_sizes(read_image(path).pixel_size_um, {"Z": 2.0, "Y": 0.2, "X": 0.1})
    path = write_ome_tiff(tmp_path / "c.ome.tif", data[0, 0], axes="YX", pixel_size_um=[0.5, 0.4])
    assert_sizes(read_image(path).pixel_size_um, {"Y": 0.5, "X": 0.4})
    path = write_ome_tiff(tmp_path / "d.ome.tif", data, axes="CZYX", pixel_size_um={"z": 1.5})
    assert_sizes(read_image(path).pixel_size_um, {"Z": 1.5})
    assert read_image(write_ome_tiff(tmp_path / "e.ome.tif", data, axes="CZYX")).pixel_size_um == {}


@pytest.mark.parametrize(
    "pixel_size, match",
    [
        ((1.0, 0.3), r"2 value\(s\).*3 spatial axes \(Z, Y, X\)"),
        ({"W": 1.0}, "unknown key 'W'"),
        (-0.3, "positive"),
        ({"X": 0.0}, "positive"),
    ],
)
def test_pixel_size_errors(tmp_path, pixel_size, match):
    with pytest.raises(ValueError, match=match):
        write_ome_tiff(
            tmp_path / "x.ome.tif",
            np.zeros((2, 3, 4), np.uint8),
            axes="ZYX",
            pixel_size_um=pixel_size,
        )


def test_float64_is_cast_to_float32(tmp_path):
    data = np.linspace(-1, 1, 35).reshape(5, 7)
    img = read_image(write_ome_tiff(tmp_path / "f64.ome.tif", data, axes="YX"))
    assert img.dtype == np.float32
    np.testing.assert_array_equal(img.data, data.astype(np.float32))
    with pytest.raises(ValueError, match="float32 range"):
        write_ome_tiff(tmp_path / "big.ome.tif", np.full((2, 2), 1e300), axes="YX")


@pytest.mark.parametrize(
    "data, match",
    [
        (
            np.arange(12, dtype=np.int64).reshape(3, 4),
            r"uint8, uint16, float32.*astype\(np.uint8\)",
        ),
        (np.full((3, 4), 1000, dtype=np.int32), r"astype\(np.uint16\)"),
        (np.full((3, 4), -5, dtype=np.int16), r"astype\(np.float32\)"),
        (np.ones((3, 4), dtype=bool), r"mask.*astype\(np.uint8\)"),
    ],
)
def test_dtype_refused_with_hint(tmp_path, data, match):
    with pytest.raises(TypeError, match=match):
        write_ome_tiff(tmp_path / "x.ome.tif", data, axes="YX")
    assert not (tmp_path / "x.ome.tif").exists()


def test_creates_parent_folders_and_accepts_str(tmp_path):
    path = tmp_path / "a" / "b" / "c.ome.tif"
    out = write_ome_tiff(str(path), np.zeros((3, 4), np.uint8), axes="YX")
    assert out == path and path.is_file()


def test_zlib_compression_round_trip(tmp_path):
    data = np.zeros((4, 64, 64), np.uint16)
    data[:, 10:20, 10:30] = 4000
    plain = write_ome_tiff(tmp_path / "plain.ome.tif", data, axes="ZYX")
    packed = write_ome_tiff(tmp_path / "zlib.ome.tif", data, axes="ZYX", compression="zlib")
    assert packed.stat().st_size < plain.stat().st_size / 5
    assert_bit_equal(read_image(packed).data, data)


@pytest.mark.skipif(HAS_IMAGECODECS, reason="imagecodecs installed: lzw works")
def test_compression_needing_imagecodecs_says_so(tmp_path):
    with pytest.raises(ValueError, match="imagecodecs.*zlib"):
        write_ome_tiff(
            tmp_path / "x.ome.tif", np.zeros((3, 4), np.uint8), axes="YX", compression="lzw"
        )
    assert not (tmp_path / "x.ome.tif").exists()


def test_unknown_compression(tmp_path):
    with pytest.raises(ValueError, match="unknown compression 'jpeg'"):
        write_ome_tiff(
            tmp_path / "x.ome.tif", np.zeros((3, 4), np.uint8), axes="YX", compression="jpeg"
        )


# ---------------------------------------------------------------------------------------
# axes errors (writing)
# ---------------------------------------------------------------------------------------


def test_axes_wrong_length(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"axes 'YX' has 2 letter\(s\) but the array has 3 dimension\(s\), shape \(2, 3, 4\)",
    ):
        write_ome_tiff(tmp_path / "x.ome.tif", np.zeros((2, 3, 4), np.uint8), axes="YX")


@pytest.mark.parametrize("axes, match", [("QYX", "unknown axis letter.*'Q'"), ("SYX", "'S'")])
def test_axes_unknown_letters(tmp_path, axes, match):
    with pytest.raises(ValueError, match=match) as info:
        write_ome_tiff(tmp_path / "x.ome.tif", np.zeros((2, 3, 4), np.uint8), axes=axes)
    assert "T (time), C (channel), Z (depth), Y (rows), X (columns)" in str(info.value)


def test_axes_repeated_and_order(tmp_path):
    data = np.zeros((2, 3, 4), np.uint8)
    with pytest.raises(ValueError, match="repeats the letter"):
        write_ome_tiff(tmp_path / "x.ome.tif", data, axes="ZZX")
    with pytest.raises(ValueError, match=r"last two axes must be 'YX'.*transpose\(\(2, 0, 1\)\)"):
        write_ome_tiff(tmp_path / "x.ome.tif", data, axes="YXC")
    with pytest.raises(TypeError, match="expected a string"):
        write_ome_tiff(tmp_path / "x.ome.tif", data, axes=None)


def test_lower_case_axes_accepted(tmp_path):
    img = read_image(
        write_ome_tiff(tmp_path / "x.ome.tif", np.zeros((2, 3, 4), np.uint8), axes="zyx")
    )
    assert img.axes == "ZYX"


def test_channel_names_checked(tmp_path):
    with pytest.raises(ValueError, match=r"2 name\(s\).*the C axis has length 3"):
        write_ome_tiff(
            tmp_path / "x.ome.tif",
            np.zeros((3, 4, 5), np.uint8),
            axes="CYX",
            channel_names=["a", "b"],
        )
    img = read_image(
        write_ome_tiff(
            tmp_path / "one.ome.tif", np.zeros((4, 5), np.uint8), axes="YX", channel_names="DNA"
        )
    )
    assert img.channel_names == ["DNA"]


def test_wrong_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.ome\.tif.*'\.png'"):
        write_ome_tiff(tmp_path / "x.png", np.zeros((4, 5), np.uint8), axes="YX")


# ---------------------------------------------------------------------------------------
# other writers' files
# ---------------------------------------------------------------------------------------


def test_foreign_ome_tiff_squeezes_singletons_and_converts_units(tmp_path):
    data = make_data("ZYX", np.uint16)[:, None]  # (Z, 1, Y, X)
    path = tmp_path / "foreign.ome.tif"
    tifffile.imwrite(
        path,
        data,
        ome=True,
        photometric="minisblack",
        metadata={
            "axes": "ZCYX",
            "PhysicalSizeX": 250.0,
            "PhysicalSizeXUnit": "nm",
            "PhysicalSizeY": 250.0,
            "PhysicalSizeYUnit": "nm",
            "PhysicalSizeZ": 1.0,  # no unit: OME's default is µm
            "Channel": {"Name": ["DAPI"]},
        },
    )
    img = read_image(path)
    assert img.axes == "ZYX"
    assert_bit_equal(img.data, data[:, 0])
    assert_sizes(img.pixel_size_um, {"X": 0.25, "Y": 0.25, "Z": 1.0})
    assert img.channel_names == ["DAPI"]
    # the caller may ask for tifffile's full shape instead
    full = read_image(path, axes="TZCYX")  # tifffile reports OME files as TZCYX here
    assert full.shape == (1, 4, 1, 5, 7)


def test_imagej_hyperstack_from_tifffile(tmp_path):
    data = make_data("TZCYX", np.uint16)
    path = tmp_path / "hyper.tif"
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.3, 1 / 0.25),
        metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "micron"},
    )
    img = read_image(path)
    assert img.axes == "TZCYX"
    assert_bit_equal(img.data, data)
    assert_sizes(img.pixel_size_um, {"X": 0.3, "Y": 0.25, "Z": 1.5}, tol=1e-6)
    assert img.channel_names is None


def test_imagej_zstack_without_calibration(tmp_path):
    data = make_data("ZYX", np.float32)
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZYX"})
    img = read_image(path)
    assert (img.axes, img.pixel_size_um) == ("ZYX", {})
    assert_bit_equal(img.data, data)


def test_write_imagej_tiff_round_trip(tmp_path):
    data = make_data("CZYX", np.uint16)
    path = write_imagej_tiff(
        tmp_path / "ij" / "stack.tif", data, axes="CZYX", pixel_size_um=(1.0, 0.3, 0.2)
    )
    with tifffile.TiffFile(path) as tf:
        assert tf.is_imagej
    img = read_image(path)
    assert img.axes == "ZCYX"  # ImageJ's fixed order
    assert_bit_equal(img.data, data.transpose(1, 0, 2, 3))
    assert_sizes(img.pixel_size_um, {"Z": 1.0, "Y": 0.3, "X": 0.2}, tol=1e-6)
    assert_bit_equal(img.to_axes("CZYX").data, data)


def test_plain_tiff_without_metadata(tmp_path):
    data2 = make_data("YX", np.uint16)
    tifffile.imwrite(tmp_path / "one.tif", data2, metadata=None)
    img = read_image(tmp_path / "one.tif")
    assert (img.axes, img.pixel_size_um, img.channel_names) == ("YX", {}, None)
    assert_bit_equal(img.data, data2)

    pages = make_data("ZYX", np.uint8)
    tifffile.imwrite(tmp_path / "pages.tif", pages, photometric="minisblack", metadata=None)
    img = read_image(tmp_path / "pages.tif")
    assert img.axes == "ZYX"  # a stack of pages is taken as Z ...
    assert_bit_equal(img.data, pages)
    assert read_image(tmp_path / "pages.tif", axes="TYX").axes == "TYX"  # ... unless told
    with pytest.raises(ValueError, match=r"axes 'CZYX' has 4 letter\(s\).*shape \(4, 5, 7\)"):
        read_image(tmp_path / "pages.tif", axes="CZYX")
    with pytest.raises(ValueError, match="unknown axis letter"):
        read_image(tmp_path / "pages.tif", axes="IYX")


def test_plain_rgb_tiff_and_pillow_tiff(tmp_path):
    rgb = make_data("YX", np.uint8)[..., None].repeat(3, axis=-1)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb", metadata=None)
    img = read_image(tmp_path / "rgb.tif")
    assert img.axes == "YXC"
    assert_bit_equal(img.data, rgb)
    assert img.to_axes("CYX").shape == (3, 5, 7)

    grey = make_data("YX", np.uint16)
    PILImage.fromarray(grey).save(tmp_path / "pil.tif")
    img = read_image(tmp_path / "pil.tif")
    assert img.axes == "YX"
    assert_bit_equal(img.data, grey)


def test_plain_tiff_resolution_units(tmp_path):
    data = np.zeros((5, 7), np.uint8)
    tifffile.imwrite(
        tmp_path / "cm.tif",
        data,
        metadata=None,
        resolution=(1e4 / 0.65, 1e4 / 0.65),
        resolutionunit="CENTIMETER",
    )
    assert_sizes(read_image(tmp_path / "cm.tif").pixel_size_um, {"X": 0.65, "Y": 0.65}, tol=1e-6)
    tifffile.imwrite(
        tmp_path / "inch.tif", data, metadata=None, resolution=(72, 72), resolutionunit="INCH"
    )
    assert read_image(tmp_path / "inch.tif").pixel_size_um == {}


def test_tifffile_shaped_tiff_keeps_its_shape(tmp_path):
    data = np.arange(35, dtype=np.uint16).reshape(1, 5, 7)
    tifffile.imwrite(tmp_path / "shaped.tif", data)  # JSON shape in the description
    img = read_image(tmp_path / "shaped.tif")
    assert (img.axes, img.shape) == ("ZYX", (1, 5, 7))


# ---------------------------------------------------------------------------------------
# PNG
# ---------------------------------------------------------------------------------------


def test_png_16bit_keeps_values_above_255(tmp_path):
    data = (np.arange(35, dtype=np.uint16).reshape(5, 7) * 1900).astype(np.uint16)
    PILImage.fromarray(data).save(tmp_path / "g16.png")
    img = read_image(tmp_path / "g16.png")
    assert (img.axes, img.pixel_size_um, img.channel_names) == ("YX", {}, None)
    assert_bit_equal(img.data, data)
    assert img.data.max() > 255


def test_png_8bit_grey_and_rgb(tmp_path):
    grey = make_data("YX", np.uint8)
    PILImage.fromarray(grey).save(tmp_path / "g8.png")
    assert_bit_equal(read_image(tmp_path / "g8.png").data, grey)
    rgb = np.stack([grey, grey // 2, grey // 3], axis=-1)
    PILImage.fromarray(rgb).save(tmp_path / "rgb.png")
    img = read_image(tmp_path / "rgb.png")
    assert img.axes == "YXC"
    assert_bit_equal(img.data, rgb)


def test_png_16bit_colour_refused(tmp_path):
    write_png(tmp_path / "rgb16.png", np.full((4, 5, 3), 40000, np.uint16), color_type=2)
    with pytest.raises(ImageFileError, match="16-bit RGB PNG.*8 bits"):
        read_image(tmp_path / "rgb16.png")


def test_png_16bit_grey_handmade(tmp_path):
    data = np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000
    write_png(tmp_path / "g.png", data, color_type=0)
    assert_bit_equal(read_image(tmp_path / "g.png").data, data)


def test_real_isl_png():
    if not ISL_FOLDER.is_dir():
        pytest.skip(f"{ISL_FOLDER} not present")
    files = sorted(ISL_FOLDER.glob("*.png"))
    if not files:
        pytest.skip(f"no PNG files in {ISL_FOLDER}")
    img = read_image(files[0])
    assert img.shape == (1024, 1024)
    assert img.dtype == np.uint16
    assert img.axes == "YX"
    assert img.data.max() > 255


# ---------------------------------------------------------------------------------------
# reading errors
# ---------------------------------------------------------------------------------------


def test_missing_file_names_path_and_close_names(tmp_path):
    write_ome_tiff(tmp_path / "nuclei.ome.tif", np.zeros((3, 4), np.uint8), axes="YX")
    with pytest.raises(
        FileNotFoundError, match=r"nucleus\.ome\.tif.*did you mean 'nuclei\.ome\.tif'"
    ):
        read_image(tmp_path / "nucleus.ome.tif")
    with pytest.raises(FileNotFoundError, match=r"no such file.*zzz\.tif.*holds 1 entries"):
        read_image(tmp_path / "zzz.tif")
    with pytest.raises(FileNotFoundError, match=r"missing_folder.*does not exist either"):
        read_image(tmp_path / "missing_folder" / "x.tif")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        read_image(tmp_path)


def test_text_file_named_tif(tmp_path):
    (tmp_path / "x.tif").write_text("hello, this is not an image\n")
    with pytest.raises(
        ImageFileError, match=r"not a TIFF or PNG file: its first bytes are b'hello, this"
    ) as info:
        read_image(tmp_path / "x.tif")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", "git lfs pull"),
        (b"<!DOCTYPE html><html>Not found</html>", "HTML page"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
    ],
)
def test_other_files_are_named(tmp_path, content, match):
    (tmp_path / "x.tif").write_bytes(content)
    with pytest.raises(ImageFileError, match=match):
        read_image(tmp_path / "x.tif")


def test_truncated_tiff(tmp_path):
    (tmp_path / "bad.tif").write_bytes(b"II*\x00" + b"\xff" * 20)
    with pytest.raises(ImageFileError, match="starts like a TIFF but could not be read"):
        read_image(tmp_path / "bad.tif")


def test_unnameable_axes(tmp_path):
    tifffile.imwrite(tmp_path / "six.tif", np.zeros((2, 2, 2, 2, 5, 7), np.uint8))
    with pytest.raises(ImageFileError, match=r"'QQQQYX'.*more than 5 dimensions.*tifffile\.imread"):
        read_image(tmp_path / "six.tif")


# ---------------------------------------------------------------------------------------
# the Image container
# ---------------------------------------------------------------------------------------


def test_image_repr_scale_and_helpers(tmp_path):
    data = make_data("CZYX", np.uint16)
    path = write_ome_tiff(
        tmp_path / "cells.ome.tif",
        data,
        axes="CZYX",
        pixel_size_um={"X": 0.3, "Y": 0.3, "Z": 1.0},
        channel_names=["bf", "dna", "membrane"],
    )
    img = read_image(path)
    text = repr(img)
    assert text == (
        "Image(shape=(3, 4, 5, 7), dtype=uint16, axes='CZYX', "
        "pixel_size_um={Z: 1, Y: 0.3, X: 0.3}, channels=['bf', 'dna', 'membrane'], "
        "file='cells.ome.tif')"
    )
    assert len(text) < 200
    assert img.scale == (1.0, 0.3, 0.3)
    assert img.napari_kwargs() == {
        "scale": (1.0, 0.3, 0.3),
        "channel_axis": 0,
        "name": ["bf", "dna", "membrane"],
    }
    assert img.size_of("C") == 3 and img.size_of("T") == 1
    assert np.asarray(img).shape == data.shape
    moved = img.to_axes("ZCYX")
    assert_bit_equal(moved.data, data.transpose(1, 0, 2, 3))
    assert moved.to_axes("TCZYX").shape == (1, 3, 4, 5, 7)
    with pytest.raises(ValueError, match="axis C has length 3"):
        img.to_axes("ZYX")


def test_image_scale_unknown_sizes_and_time():
    img = Image(np.zeros((2, 3, 4, 5), np.float32), "TZYX", {"X": 0.5})
    assert img.scale == (1.0, 1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"axes 'YX' has 2 letter\(s\)"):
        Image(np.zeros((2, 3, 4)), "YX")


# ---------------------------------------------------------------------------------------
# property-based round trip
# ---------------------------------------------------------------------------------------

try:
    import hypothesis
    import hypothesis.extra.numpy as hnp
    import hypothesis.strategies as st
except ImportError:  # pragma: no cover - hypothesis is in the test extras
    hypothesis = None

if hypothesis is None:  # pragma: no cover

    def test_round_trip_property():
        pytest.skip("hypothesis is not installed")

else:

    @st.composite
    def images(draw):
        leading = draw(st.permutations("TCZ"))
        n_leading = draw(st.integers(0, 3))
        axes = "".join(leading[:n_leading]) + "YX"
        shape = tuple(draw(st.integers(1, 3 if a in "TCZ" else 6)) for a in axes)
        dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float32]))
        elements = st.floats(width=32, allow_nan=True) if dtype == np.float32 else None
        data = draw(hnp.arrays(dtype, shape, elements=elements))
        size = st.floats(1e-4, 1e3, allow_nan=False, allow_infinity=False)
        sizes = {a: draw(size) for a in "ZYX" if a in axes and draw(st.booleans())}
        return data, axes, sizes

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(images())
    def test_round_trip_property(tmp_path_factory, example):
        data, axes, sizes = example
        path = tmp_path_factory.mktemp("prop") / "x.ome.tif"
        img = read_image(write_ome_tiff(path, data, axes=axes, pixel_size_um=sizes or None))
        assert img.axes == axes
        assert_bit_equal(img.data, data)
        assert_sizes(img.pixel_size_um, sizes)
