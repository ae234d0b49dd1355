"""Preparing one real image for training: a stated, reproducible spatial split (the sibling
of :func:`~coursekit.models.split_by_field` when there is only one field) and binning.

The in silico labeling sample, for instance, is one field: train on the left three quarters,
score on the right quarter (``split_spatial(shape, 0.25, side="right")``), after binning
2 x 2 (``bin_image(x, 2)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coursekit._validation import check_array, check_choice, check_int

__all__ = ["split_spatial", "SpatialSplit", "bin_image", "SIDES"]

SIDES = ("right", "left", "bottom", "top")


@dataclass(frozen=True)
class SpatialSplit:
    """Where a spatial split puts each pixel.

    Attributes
    ----------
    train, test : tuple of slice
        Index an array's last two axes (``image[..., *split.train]``; for ``(C, Y, X)`` or
        ``(C, Z, Y, X)`` arrays use ``image[(..., *split.train)]``).
    train_mask, test_mask : numpy.ndarray of bool
        ``(Y, X)``, disjoint, together every pixel.
    description : str
        One sentence stating the split, for a report.
    """

    train: tuple
    test: tuple
    train_mask: np.ndarray
    test_mask: np.ndarray
    description: str

    def take(self, image, part: str = "train") -> np.ndarray:
        """The ``"train"`` or ``"test"`` region of ``image`` (``(..., Y, X)``), as a view."""
        check_choice(part, "part", ("train", "test"))
        sl = self.train if part == "train" else self.test
        return np.asarray(image)[(Ellipsis, *sl)]


def split_spatial(image_shape, fraction: float = 0.25, *, side: str = "right") -> SpatialSplit:
    """Split one image into a training and a held-out (test) region along one side.

    Parameters
    ----------
    image_shape : tuple of int
        The image's shape; its last two axes are ``(Y, X)``.
    fraction : float
        Share of the columns (``side`` left/right) or rows (top/bottom) held out, in
        (0, 1); rounded to whole pixels, at least one on each side.
    side : {"right", "left", "bottom", "top"}
        Where the held-out strip is.

    Returns
    -------
    SpatialSplit
        Slices and masks of both regions, and a sentence stating the split.

    Examples
    --------
    >>> split = split_spatial((13, 100, 80), 0.25, side="right")
    >>> split.train, split.test
    ((slice(0, 100, None), slice(0, 60, None)), (slice(0, 100, None), slice(60, 80, None)))
    >>> split.take(np.zeros((13, 100, 80)), "test").shape
    (13, 100, 20)
    >>> split.description
    'held out: the right 20 of 80 columns (25.0 %); trained on the other 60'
    """
    shape = tuple(check_int(s, "image_shape", minimum=1) for s in image_shape)
    if len(shape) < 2:
        raise ValueError(f"image_shape: expected at least (Y, X), got {image_shape!r}")
    check_choice(side, "side", SIDES)
    fraction = float(fraction)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction: expected a number in (0, 1), got {fraction!r}")
    ny, nx = shape[-2:]
    along_x = side in ("right", "left")
    n = nx if along_x else ny
    if n < 2:
        raise ValueError(f"cannot split {n} {'column' if along_x else 'row'} in two")
    n_test = min(max(int(round(fraction * n)), 1), n - 1)
    if side in ("right", "bottom"):
        train_1d, test_1d = slice(0, n - n_test), slice(n - n_test, n)
    else:
        train_1d, test_1d = slice(n_test, n), slice(0, n_test)
    full = slice(0, ny if along_x else nx)
    train = (full, train_1d) if along_x else (train_1d, full)
    test = (full, test_1d) if along_x else (test_1d, full)
    train_mask = np.zeros((ny, nx), bool)
    train_mask[train] = True
    what = "columns" if along_x else "rows"
    description = (
        f"held out: the {side} {n_test} of {n} {what} ({100 * n_test / n:.1f} %); "
        f"trained on the other {n - n_test}"
    )
    return SpatialSplit(train, test, train_mask, ~train_mask, description)


def bin_image(image, factor, *, reduce: str = "mean") -> np.ndarray:
    """Bin the last two axes (``Y, X``) of an image by ``factor`` (e.g. 2 x 2 binning).

    Parameters
    ----------
    image : array_like
        ``(..., Y, X)``, float or integer counts.
    factor : int or (int, int)
        Pixels per bin along Y and X. Rows or columns that do not fill a bin are dropped
        (at the bottom and right).
    reduce : {"mean", "sum"}
        ``"mean"`` keeps the intensity scale; ``"sum"`` adds the counts, as a camera's
        hardware binning does.

    Returns
    -------
    numpy.ndarray
        float32 (float64 for float64 input), ``(..., Y // fy, X // fx)``.

    Examples
    --------
    >>> bin_image(np.arange(16).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    x = check_array(image, "image", allow_int=True)
    if x.ndim < 2:
        raise ValueError(f"image: expected at least (Y, X), got shape {x.shape}")
    if isinstance(factor, (int, np.integer)) and not isinstance(factor, bool):
        fy = fx = check_int(factor, "factor", minimum=1)
    else:
        try:
            fy, fx = (check_int(f, "factor", minimum=1) for f in factor)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"factor: expected an integer or two, got {factor!r}") from exc
    check_choice(reduce, "reduce", ("mean", "sum"))
    ny, nx = x.shape[-2] // fy, x.shape[-1] // fx
    if ny == 0 or nx == 0:
        raise ValueError(f"factor {(fy, fx)} is larger than the image's (Y, X) {x.shape[-2:]}")
    if x.dtype != np.float64:
        x = x.astype(np.float32, copy=False)
    cropped = x[..., : ny * fy, : nx * fx]
    blocks = cropped.reshape(*x.shape[:-2], ny, fy, nx, fx)
    out = blocks.sum(axis=(-3, -1)) if reduce == "sum" else blocks.mean(axis=(-3, -1))
    return out.astype(x.dtype, copy=False)
