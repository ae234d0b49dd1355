"""Per-image intensity normalization, shared by the training data, the patch stream and
prediction, so that a model sees the same scale at training and at prediction time."""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_array, check_choice

__all__ = ["normalize", "NORMALIZATIONS"]

NORMALIZATIONS = ("zscore", "percentile", "none")


def normalize(
    image,
    method: str = "zscore",
    *,
    pmin: float = 1.0,
    pmax: float = 99.8,
    channel_axis: int | None = None,
    eps: float = 1e-6,
) -> np.ndarray:
    """Normalize an image's intensities.

    Parameters
    ----------
    image : array_like
        Any shape, e.g. ``(Y, X)``, ``(Z, Y, X)`` or ``(C, Z, Y, X)``. Integer arrays
        (camera counts) are accepted and converted to float32.
    method : {"zscore", "percentile", "none"}
        ``"zscore"``: subtract the mean, divide by the standard deviation.
        ``"percentile"``: map the ``pmin`` and ``pmax`` percentiles to 0 and 1 (CARE-style,
        robust to a few hot pixels). ``"none"``: return a float32 copy.
    pmin, pmax : float
        Percentiles (0 to 100) for ``"percentile"``.
    channel_axis : int, optional
        Normalize each index along this axis separately (e.g. ``0`` for ``(C, Y, X)``).
    eps : float
        Added to the denominator so that a flat image does not divide by zero.

    Returns
    -------
    numpy.ndarray
        float32, same shape as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> x = normalize(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> round(float(x.mean()), 6), round(float(x.std()), 3)
    (0.0, 1.0)
    """
    check_choice(method, "normalization", NORMALIZATIONS)
    x = check_array(image, "image", allow_int=True).astype(np.float32, copy=True)
    if not 0 <= pmin < pmax <= 100:
        raise ValueError(f"expected 0 <= pmin < pmax <= 100, got pmin={pmin}, pmax={pmax}")
    if channel_axis is not None:
        moved = np.moveaxis(x, channel_axis, 0)
        out = np.stack([normalize(c, method, pmin=pmin, pmax=pmax, eps=eps) for c in moved], axis=0)
        return np.moveaxis(out, 0, channel_axis)
    if method == "zscore":
        x -= x.mean(dtype=np.float64)
        x /= x.std(dtype=np.float64) + eps
    elif method == "percentile":
        lo, hi = np.percentile(x, [pmin, pmax])
        x -= lo
        x /= (hi - lo) + eps
    return x
