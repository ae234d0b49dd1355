"""Similarity between a predicted image and a target: Pearson r, NRMSE, SSIM and PSNR.

All four functions take a ``prediction`` and a ``target`` of the same shape (any number
of dimensions for Pearson r, NRMSE and PSNR; 2D ``(Y, X)`` or 3D ``(Z, Y, X)`` for SSIM),
floating point and finite, and an optional boolean ``mask`` that restricts the score to
some pixels (for example the cells, ``field.cell_mask > 0``). They accumulate in float64
so that float32 images of millions of pixels give the same number as float64 ones.

Only Pearson r is invariant to the scale of the prediction. NRMSE, SSIM and PSNR compare
intensities, so the prediction must be in the target's units first (see :func:`fit_affine`
and ``coursekit.metrics.evaluate.evaluate``, which does that by least squares).
"""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_array, check_choice, check_positive, describe

__all__ = ["pearson_r", "nrmse", "ssim", "psnr", "fit_affine", "NRMSE_NORMALIZATIONS"]

NRMSE_NORMALIZATIONS = ("std", "range", "mean", "euclidean")


# --------------------------------------------------------------------------- validation
def _check_pair(prediction, target, *, ndim=None) -> tuple[np.ndarray, np.ndarray]:
    """Validate a prediction/target pair: float, finite, non-empty, same shape."""
    p = check_array(prediction, "prediction", ndim=ndim)
    t = check_array(target, "target", ndim=ndim)
    if p.shape != t.shape:
        hint = ""
        if p.ndim == t.ndim + 1 and p.shape[0] == 1 and p.shape[1:] == t.shape:
            hint = "; the prediction has a leading channel axis of length 1, use prediction[0]"
        elif t.ndim == p.ndim + 1 and t.shape[0] == 1 and t.shape[1:] == p.shape:
            hint = "; the target has a leading channel axis of length 1, use target[0]"
        raise ValueError(
            f"prediction and target must have the same shape, got {p.shape} and {t.shape}{hint}"
        )
    return p, t


def _check_mask(mask, shape: tuple[int, ...], *, min_true: int = 2) -> np.ndarray | None:
    """Validate an optional boolean mask of ``shape`` with at least ``min_true`` true pixels."""
    if mask is None:
        return None
    if isinstance(mask, np.ndarray) or hasattr(mask, "__array__"):
        mask = np.asarray(mask)
    else:
        raise TypeError(f"mask: expected a boolean array, got {describe(mask)}")
    if mask.dtype != bool:
        raise TypeError(
            f"mask: expected a boolean array, got {describe(mask)}; "
            "make one with a comparison, e.g. mask = field.cell_mask > 0"
        )
    if mask.shape != tuple(shape):
        raise ValueError(f"mask must have the image's shape {tuple(shape)}, got {mask.shape}")
    n_true = int(mask.sum())
    if n_true < min_true:
        raise ValueError(f"mask: expected at least {min_true} true pixels, got {n_true}")
    return mask


def _select(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The pixels of ``x`` inside ``mask`` (all of them without a mask), as float64, flat."""
    x = x.astype(np.float64, copy=False)
    return x[mask] if mask is not None else x.ravel()


# --------------------------------------------------------------------------- Pearson r
def pearson_r(prediction, target, *, mask=None) -> float:
    """Pearson correlation coefficient between two images, pixel by pixel.

    ``r = sum((p - mean p)(t - mean t)) / sqrt(sum((p - mean p)^2) sum((t - mean t)^2))``,
    the measure of Ounkomol et al. (2018). It ignores the prediction's offset and scale:
    ``pearson_r(a * p + b, t) == pearson_r(p, t)`` for ``a > 0``, and the sign flips for
    ``a < 0``. It is symmetric in its two arguments.

    Parameters
    ----------
    prediction, target : array_like
        Float arrays of the same shape, any number of dimensions (e.g. ``(Y, X)`` or
        ``(Z, Y, X)``), finite. Units do not matter.
    mask : array_like of bool, optional
        Same shape; only pixels where it is true count (at least 2).

    Returns
    -------
    float
        r in [-1, 1], computed in float64.

    Raises
    ------
    ValueError
        When either image is constant (over the mask): the correlation is then 0 / 0,
        undefined. We raise instead of returning NaN (which is what
        ``scipy.stats.pearsonr`` does, with a warning) so that a flat prediction, for
        example from a network that has collapsed to its mean, is noticed at once.
        :func:`coursekit.metrics.evaluate.evaluate` catches it and records NaN.
    TypeError, ValueError
        For inputs that are not float arrays of the same shape, contain NaN or infinity,
        or a mask that is not boolean.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> pearson_r(2 * t + 1, t)
    1.0
    >>> pearson_r(-t, t)
    -1.0
    """
    p, t = _check_pair(prediction, target)
    mask = _check_mask(mask, p.shape)
    x = _select(p, mask)
    y = _select(t, mask)
    if x.size < 2:
        raise ValueError(f"Pearson r needs at least 2 pixels, got {x.size}")
    x = x - x.mean()
    y = y - y.mean()
    sxx = float(np.dot(x, x))
    syy = float(np.dot(y, y))
    for name, s, arr in (("prediction", sxx, p), ("target", syy, t)):
        if s == 0.0:
            where = " inside the mask" if mask is not None else ""
            value = float(arr[mask][0]) if mask is not None else float(arr.flat[0])
            raise ValueError(
                f"{name} is constant{where} (every value is {value:g}); Pearson r is "
                "undefined for a constant image"
            )
    r = float(np.dot(x, y)) / np.sqrt(sxx * syy)
    return float(min(1.0, max(-1.0, r)))


# --------------------------------------------------------------------------- NRMSE
def nrmse(prediction, target, *, normalization: str = "std", mask=None) -> float:
    """Normalized root mean squared error, ``RMSE(prediction, target) / denominator``.

    There is no single convention, so say which one you use when you report NRMSE:

    ======================  ==========================================  ==================
    ``normalization``       denominator (of the *target*)               skimage name
    ======================  ==========================================  ==================
    ``"std"`` (default)     standard deviation ``std(t)``               (none)
    ``"range"``             ``max(t) - min(t)``                         ``"min-max"``
    ``"mean"``              ``mean(t)``                                 ``"mean"``
    ``"euclidean"``         ``sqrt(mean(t**2))``, i.e. ``||t-p||/||t||``  ``"euclidean"``
    ======================  ==========================================  ==================

    ``skimage.metrics.normalized_root_mse`` defaults to ``"euclidean"``, which depends on
    the target's offset (adding a constant background to both images lowers it). We
    default to ``"std"``: predicting the target's mean everywhere scores exactly 1, a
    perfect prediction 0, and neither the background level nor a single hot pixel of a
    noisy target (which moves ``"range"``) changes the scale. ``"mean"`` is undefined for
    zero-mean (z-scored) targets.

    Parameters
    ----------
    prediction, target : array_like
        Float arrays of the same shape, in the same units (NRMSE is not scale invariant).
    normalization : {"std", "range", "mean", "euclidean"}
        The denominator, see above.
    mask : array_like of bool, optional
        Same shape; only pixels where it is true count (at least 2).

    Returns
    -------
    float
        NRMSE, >= 0 (dimensionless).

    Raises
    ------
    ValueError
        When the denominator is zero (a constant target for ``"std"``/``"range"``, a
        zero-mean target for ``"mean"``, an all-zero target for ``"euclidean"``).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 2.0, 3.0])
    >>> nrmse(np.full(4, t.mean()), t)  # predicting the mean
    1.0
    >>> nrmse(t, t)
    0.0
    """
    check_choice(normalization, "normalization", NRMSE_NORMALIZATIONS)
    p, t = _check_pair(prediction, target)
    mask = _check_mask(mask, p.shape)
    x = _select(p, mask)
    y = _select(t, mask)
    rmse = float(np.sqrt(np.mean((x - y) ** 2)))
    if normalization == "std":
        denom = float(y.std())
    elif normalization == "range":
        denom = float(y.max() - y.min())
    elif normalization == "mean":
        denom = float(y.mean())
    else:
        denom = float(np.sqrt(np.mean(y**2)))
    if denom == 0.0 or not np.isfinite(denom):
        raise ValueError(
            f"nrmse with normalization={normalization!r}: the target's {normalization} is "
            f"{denom:g}, cannot normalize; choose another normalization"
        )
    return rmse / abs(denom)


# --------------------------------------------------------------------------- SSIM
def _default_data_range(t: np.ndarray, data_range) -> float:
    if data_range is None:
        data_range = float(np.max(t)) - float(np.min(t))
        if data_range == 0:
            raise ValueError(
                "the target is constant, so its range (the default data_range) is 0; "
                "pass data_range explicitly"
            )
        return data_range
    return check_positive(data_range, "data_range")


def ssim(prediction, target, *, data_range=None, mask=None, win_size: int | None = None) -> float:
    """Mean structural similarity index (SSIM, Wang et al. 2004) of a 2D or 3D image.

    Wraps ``skimage.metrics.structural_similarity`` (uniform 7-pixel window, sample
    covariance, K1 = 0.01, K2 = 0.03) with a default ``data_range`` and a mask.

    Parameters
    ----------
    prediction, target : array_like
        Float arrays of the same shape, ``(Y, X)`` or ``(Z, Y, X)``, in the same units.
        A 3D stack is scored with a 3D window (not plane by plane).
    data_range : float, optional
        The intensity range the constants C1 = (0.01 L)^2 and C2 = (0.03 L)^2 refer to.
        **Default: the target's range, max(target) - min(target).** Note that skimage
        refuses float images without a data_range, and that its dtype-based guess (1 for
        floats) is wrong for camera counts or z-scored images; for a noisy target, hot
        pixels widen the range and raise the SSIM slightly, so pass the same data_range
        to every image you compare.
    mask : array_like of bool, optional
        Same shape: the local SSIM map is averaged over these pixels only (after dropping
        a border of ``win_size // 2`` pixels, as skimage does).
    win_size : int, optional
        Odd side length of the window, default 7, or the largest odd size that fits
        when a side of the image (e.g. a short z-stack) is shorter than 7 (at least 3).

    Returns
    -------
    float
        Mean SSIM, at most 1 (1 for identical images).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.random.default_rng(0).random((16, 16))
    >>> ssim(t, t)
    1.0
    """
    from skimage.metrics import structural_similarity

    p, t = _check_pair(prediction, target, ndim=(2, 3))
    mask = _check_mask(mask, p.shape)
    dr = _default_data_range(t, data_range)
    smallest = min(p.shape)
    if win_size is None:
        win_size = min(7, smallest if smallest % 2 == 1 else smallest - 1)
    if win_size < 3 or win_size % 2 == 0 or win_size > smallest:
        raise ValueError(
            f"ssim: expected an odd win_size between 3 and the smallest side of the image "
            f"({smallest}), got {win_size}; SSIM needs every side to be at least 3 pixels"
        )
    x = p.astype(np.float64, copy=False)
    y = t.astype(np.float64, copy=False)
    if mask is None:
        return float(structural_similarity(x, y, data_range=dr, win_size=win_size))
    _, smap = structural_similarity(x, y, data_range=dr, win_size=win_size, full=True)
    pad = (win_size - 1) // 2
    inner = tuple(slice(pad, n - pad) for n in smap.shape)
    m = mask[inner]
    if not m.any():
        raise ValueError(f"ssim: the mask has no pixels left after dropping the {pad}-pixel border")
    return float(smap[inner][m].mean(dtype=np.float64))


# --------------------------------------------------------------------------- PSNR
def psnr(prediction, target, *, data_range=None, mask=None) -> float:
    """Peak signal-to-noise ratio in decibels, ``10 log10(data_range^2 / MSE)``.

    Parameters
    ----------
    prediction, target : array_like
        Float arrays of the same shape, in the same units.
    data_range : float, optional
        The peak-to-peak range of the signal. **Default: the target's range,
        max(target) - min(target)** (skimage instead guesses from the dtype: 1 for floats,
        which is wrong for camera counts).
    mask : array_like of bool, optional
        Same shape; the MSE is taken over these pixels only (at least 2).

    Returns
    -------
    float
        PSNR in dB; ``inf`` for a perfect prediction.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 0.0, 1.0])
    >>> round(psnr(t + 0.1, t), 3)  # MSE 0.01, range 1
    20.0
    """
    p, t = _check_pair(prediction, target)
    mask = _check_mask(mask, p.shape)
    dr = _default_data_range(t, data_range)
    mse = float(np.mean((_select(p, mask) - _select(t, mask)) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(dr**2 / mse))


# --------------------------------------------------------------------------- scale
def fit_affine(prediction, target, *, mask=None) -> tuple[float, float]:
    """Least-squares ``a, b`` such that ``a * prediction + b`` is closest to ``target``.

    The way CARE (Weigert et al. 2018) brings a network's output, which is in whatever
    units it was trained on, onto the target's scale before NRMSE, SSIM or PSNR. The fit
    is done on ``target``, so noise in the target does not bias the slope.

    Parameters
    ----------
    prediction, target : array_like
        Float arrays of the same shape.
    mask : array_like of bool, optional
        Fit on these pixels only.

    Returns
    -------
    (float, float)
        Slope ``a`` and offset ``b`` (target units).

    Raises
    ------
    ValueError
        When the prediction is constant (the slope is undefined).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 2.0])
    >>> a, b = fit_affine((t - 1.0) / 2.0, t)
    >>> round(a, 6), round(b, 6)
    (2.0, 1.0)
    """
    p, t = _check_pair(prediction, target)
    mask = _check_mask(mask, p.shape)
    x = _select(p, mask)
    y = _select(t, mask)
    xm, ym = x.mean(), y.mean()
    sxx = float(np.dot(x - xm, x - xm))
    if sxx == 0.0:
        raise ValueError("fit_affine: the prediction is constant, so no slope can be fitted")
    a = float(np.dot(x - xm, y - ym)) / sxx
    return a, float(ym - a * xm)
