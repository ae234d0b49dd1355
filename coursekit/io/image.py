"""The :class:`Image` container (array, axes, pixel sizes, channel names) and the
checks of axes strings shared by reading and writing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Image", "ImageFileError", "AXES"]

AXES = "TCZYX"
_SPATIAL = "ZYX"
_AXIS_NAMES = {"T": "time", "C": "channel", "Z": "depth", "Y": "rows", "X": "columns"}
_NAMESPACE = "coursekit.io"  # OME MapAnnotation namespace that records the written axes


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
