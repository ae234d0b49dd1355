"""Preparing a real image for training: binning (``bin_image(x, 2)`` for 2 x 2 bins).

The spatial split of one real field into a training and a held-out region lives with the
real-data pipeline (:func:`coursekit.realdata.spatial_split`).
"""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_array, check_choice, check_int

__all__ = ["bin_image"]


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
