"""Similarity between a predicted image and a target: Pearson r, NRMSE, SSIM and PSNR.

All four functions, and :func:`fit_affine`, take the ``target`` first and the
``prediction`` second, as ``skimage.metrics`` does (``image_true, image_test``):
``pearson_r(target, prediction)``. Call them with keywords
(``pearson_r(target=t, prediction=p)``) to make the roles obvious to a reader. Both are
arrays of the same shape (any number of dimensions for Pearson r, NRMSE and PSNR; 2D
``(Y, X)`` or 3D ``(Z, Y, X)`` for SSIM), floating point and finite, with an optional
boolean ``mask`` that restricts the score to some pixels (for example the cells,
``field.cell_mask > 0``). They accumulate in float64 so that float32 images of millions of
pixels give the same number as float64 ones.

A constant image (every value the same, detected on the input values, not on rounded
differences) makes Pearson r, the NRMSE denominator and the default data range undefined;
the functions raise ``ValueError`` for it instead of returning rounding noise.

Only Pearson r is invariant to the scale of the prediction. NRMSE, SSIM and PSNR compare
intensities, so the prediction must be in the target's units first (see :func:`fit_affine`
and ``coursekit.metrics.evaluate.evaluate``, which does that by least squares).
"""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_array, check_choice, check_int, check_positive, describe

__all__ = [
    "pearson_r",
    "nrmse",
    "ssim",
    "psnr",
    "fit_affine",
    "rescale_to_target",
    "NRMSE_NORMALIZATIONS",
]

NRMSE_NORMALIZATIONS = ("std", "range", "mean", "euclidean")

# An image whose peak-to-peak range is below this many float64 epsilons of its largest
# magnitude is constant to float64 precision: subtracting its mean leaves only rounding
# noise (np.full(1000, 0.1) - 0.1 is not all zero), and any score of it is that noise.
_CONSTANT_RTOL = 64 * np.finfo(np.float64).eps


# --------------------------------------------------------------------------- validation
def _check_pair(target, prediction, *, ndim=None) -> tuple[np.ndarray, np.ndarray]:
    """Validate a target/prediction pair: float, finite, non-empty, same shape.

    Returns ``(target, prediction)`` as arrays, in that order.
    """
    t = check_array(target, "target", ndim=ndim)
    p = check_array(prediction, "prediction", ndim=ndim)
    if p.shape != t.shape:
        hint = ""
        if p.ndim == t.ndim + 1 and p.shape[0] == 1 and p.shape[1:] == t.shape:
            hint = "; the prediction has a leading channel axis of length 1, use prediction[0]"
        elif t.ndim == p.ndim + 1 and t.shape[0] == 1 and t.shape[1:] == p.shape:
            hint = "; the target has a leading channel axis of length 1, use target[0]"
        raise ValueError(
            f"target and prediction must have the same shape, got {t.shape} (target) and "
            f"{p.shape} (prediction){hint}"
        )
    return t, p


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


def _exponent(*arrays: np.ndarray) -> int:
    """The binary exponent of the largest magnitude in ``arrays`` (0 for all zeros)."""
    top = max(float(np.max(np.abs(a))) for a in arrays)
    return int(np.frexp(top)[1]) if top > 0 else 0


def _to_unit(x: np.ndarray, exponent: int) -> np.ndarray:
    """``x * 2**-exponent``: exact (a power of two), so that squares and sums of images
    of 1e200 or 1e-300 neither overflow nor underflow (a scale-free score is unchanged)."""
    return np.ldexp(x, -exponent)


def _is_constant(values: np.ndarray) -> bool:
    """Whether ``values`` (flat float64) are constant to float64 precision.

    Tested on the values themselves (their range against their magnitude), never on
    differences from the mean, which for a constant are rounding noise, not zero.
    """
    spread = float(np.ptp(values))
    return spread <= _CONSTANT_RTOL * float(np.max(np.abs(values)))


def _constant_error(name: str, values: np.ndarray, mask, what: str) -> ValueError:
    where = " inside the mask" if mask is not None else ""
    lo, hi = float(values.min()), float(values.max())
    value = f"every value is {lo:g}" if lo == hi else f"values from {lo!r} to {hi!r}"
    return ValueError(
        f"{name} is constant{where} ({value}, the same to float64 precision); {what} is "
        "undefined for a constant image"
    )


# --------------------------------------------------------------------------- Pearson r
def pearson_r(target, prediction, *, mask=None) -> float:
    """Pearson correlation coefficient between two images, pixel by pixel.

    ``r = sum((p - mean p)(t - mean t)) / sqrt(sum((p - mean p)^2) sum((t - mean t)^2))``,
    the measure of Ounkomol et al. (2018). It ignores the prediction's offset and scale:
    ``pearson_r(t, a * p + b) == pearson_r(t, p)`` for ``a > 0``, and the sign flips for
    ``a < 0``. It is symmetric in its two arguments (the order only matters for the
    error messages), but keep skimage's order, target first, as for the other metrics.

    Parameters
    ----------
    target : array_like
        The reference image (e.g. the recorded fluorescence), float, any number of
        dimensions (e.g. ``(Y, X)`` or ``(Z, Y, X)``), finite. Units do not matter.
    prediction : array_like
        The image to score (e.g. a network's output), same shape as ``target``.
    mask : array_like of bool, optional
        Same shape; only pixels where it is true count (at least 2).

    Returns
    -------
    float
        r in [-1, 1], computed in float64.

    Raises
    ------
    ValueError
        When either image is constant (over the mask, to float64 precision): the
        correlation is then 0 / 0, undefined. We raise instead of returning NaN (which is what
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
    >>> pearson_r(target=t, prediction=2 * t + 1)
    1.0
    >>> pearson_r(t, -t)
    -1.0
    """
    t, p = _check_pair(target, prediction)
    mask = _check_mask(mask, p.shape)
    y = _select(t, mask)
    x = _select(p, mask)
    if x.size < 2:
        raise ValueError(f"Pearson r needs at least 2 pixels, got {x.size}")
    for name, values in (("target", y), ("prediction", x)):
        if _is_constant(values):
            raise _constant_error(name, values, mask, "Pearson r")
    x = _to_unit(x, _exponent(x))
    y = _to_unit(y, _exponent(y))
    x = x - x.mean()
    y = y - y.mean()
    sxx = float(np.dot(x, x))
    syy = float(np.dot(y, y))
    r = float(np.dot(x, y)) / np.sqrt(sxx * syy)
    return float(np.clip(r, -1.0, 1.0))


# --------------------------------------------------------------------------- NRMSE
def nrmse(target, prediction, *, normalization: str = "std", mask=None) -> float:
    """Normalized root mean squared error, ``RMSE(target, prediction) / denominator``.

    There is no single convention, so say which one you use when you report NRMSE:

    ===================  ============================================  ===============
    ``normalization``    denominator (of the *target*)                 skimage name
    ===================  ============================================  ===============
    ``"std"`` (default)  standard deviation ``std(t)``                 (none)
    ``"range"``          ``max(t) - min(t)``                           ``"min-max"``
    ``"mean"``           ``mean(t)``                                   ``"mean"``
    ``"euclidean"``      ``sqrt(mean(t**2))``, i.e. ``||t-p||/||t||``  ``"euclidean"``
    ===================  ============================================  ===============

    ``skimage.metrics.normalized_root_mse`` defaults to ``"euclidean"``, which depends on
    the target's offset (adding a constant background to both images lowers it). We
    default to ``"std"``: predicting the target's mean everywhere scores exactly 1, a
    perfect prediction 0, and neither the background level nor a single hot pixel of a
    noisy target (which moves ``"range"``) changes the scale. ``"mean"`` is undefined for
    zero-mean (z-scored) targets.

    Parameters
    ----------
    target : array_like
        The reference image, float; the denominator is computed from it.
    prediction : array_like
        The image to score, same shape and units as ``target`` (NRMSE is not scale
        invariant; see :func:`fit_affine`).
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
        When the denominator is zero to float64 precision (a constant target for
        ``"std"``/``"range"``, a zero-mean target for ``"mean"``, an all-zero target for
        ``"euclidean"``).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 2.0, 3.0])
    >>> nrmse(target=t, prediction=np.full(4, t.mean()))  # predicting the mean
    1.0
    >>> nrmse(t, t)
    0.0
    """
    check_choice(normalization, "normalization", NRMSE_NORMALIZATIONS)
    t, p = _check_pair(target, prediction)
    mask = _check_mask(mask, p.shape)
    x = _select(p, mask)
    y = _select(t, mask)
    if normalization in ("std", "range") and _is_constant(y):
        raise _constant_error("target", y, mask, f"nrmse with normalization={normalization!r}")
    common = _exponent(x, y)  # a ratio: the same scale for both leaves it unchanged
    x, y = _to_unit(x, common), _to_unit(y, common)
    rmse = float(np.sqrt(np.mean((x - y) ** 2)))
    scale = float(np.max(np.abs(y)))  # what "zero" is measured against
    if normalization == "std":
        denom = float(y.std())
    elif normalization == "range":
        denom = float(y.max() - y.min())
    elif normalization == "mean":
        denom = float(y.mean())
    else:
        denom = float(np.sqrt(np.mean(y**2)))
    if abs(denom) <= _CONSTANT_RTOL * scale or not np.isfinite(denom):
        raise ValueError(
            f"nrmse with normalization={normalization!r}: the target's {normalization} is "
            f"{denom:g}, cannot normalize; choose another normalization"
        )
    return rmse / abs(denom)


# --------------------------------------------------------------------------- SSIM
def _default_data_range(t: np.ndarray, data_range) -> float:
    if data_range is None:
        values = t.astype(np.float64, copy=False).ravel()
        data_range = float(np.max(values)) - float(np.min(values))
        if _is_constant(values):
            raise ValueError(
                "the target is constant, so its range (the default data_range) is 0; "
                "pass data_range explicitly"
            )
        return data_range
    return check_positive(data_range, "data_range")


def ssim(target, prediction, *, data_range=None, mask=None, win_size: int | None = None) -> float:
    """Mean structural similarity index (SSIM, Wang et al. 2004) of a 2D or 3D image.

    Wraps ``skimage.metrics.structural_similarity`` (uniform 7-pixel window, sample
    covariance, K1 = 0.01, K2 = 0.03) with a default ``data_range`` and a mask.

    Parameters
    ----------
    target : array_like
        The reference image, float, ``(Y, X)`` or ``(Z, Y, X)``. A 3D stack is scored with
        a 3D window (not plane by plane).
    prediction : array_like
        The image to score, same shape and units as ``target``.
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
    >>> ssim(target=t, prediction=t)
    1.0
    """
    from skimage.metrics import structural_similarity

    t, p = _check_pair(target, prediction, ndim=(2, 3))
    mask = _check_mask(mask, p.shape)
    dr = _default_data_range(t, data_range)
    smallest = min(p.shape)
    if win_size is None:
        win_size = min(7, smallest if smallest % 2 == 1 else smallest - 1)
    else:
        win_size = check_int(win_size, "win_size", minimum=3)
    if win_size < 3 or win_size % 2 == 0 or win_size > smallest:
        raise ValueError(
            f"ssim: expected an odd win_size between 3 and the smallest side of the image "
            f"({smallest}), got {win_size}; SSIM needs every side to be at least 3 pixels"
        )
    # SSIM is unchanged when both images and the data range scale together
    common = _exponent(p, t)
    x = _to_unit(p.astype(np.float64, copy=False), common)
    y = _to_unit(t.astype(np.float64, copy=False), common)
    dr = float(np.ldexp(dr, -common))
    if mask is None:
        return float(structural_similarity(y, x, data_range=dr, win_size=win_size))
    _, smap = structural_similarity(y, x, data_range=dr, win_size=win_size, full=True)
    pad = (win_size - 1) // 2
    inner = tuple(slice(pad, n - pad) for n in smap.shape)
    m = mask[inner]
    if not m.any():
        raise ValueError(f"ssim: the mask has no pixels left after dropping the {pad}-pixel border")
    return float(smap[inner][m].mean(dtype=np.float64))


# --------------------------------------------------------------------------- PSNR
def psnr(target, prediction, *, data_range=None, mask=None) -> float:
    """Peak signal-to-noise ratio in decibels, ``10 log10(data_range^2 / MSE)``.

    Parameters
    ----------
    target : array_like
        The reference image, float, any shape.
    prediction : array_like
        The image to score, same shape and units as ``target``.
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
    >>> round(psnr(target=t, prediction=t + 0.1), 3)  # MSE 0.01, range 1
    20.0
    """
    t, p = _check_pair(target, prediction)
    mask = _check_mask(mask, p.shape)
    dr = _default_data_range(t, data_range)
    common = _exponent(p, t)  # PSNR is unchanged when both images and the range scale
    x, y = _to_unit(_select(p, mask), common), _to_unit(_select(t, mask), common)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(float(np.ldexp(dr, -common)) ** 2 / mse))


# --------------------------------------------------------------------------- scale
def fit_affine(target, prediction, *, mask=None) -> tuple[float, float]:
    """Least-squares ``a, b`` such that ``a * prediction + b`` is closest to ``target``.

    Fits the prediction onto the target (never the other way round), with the target
    first as in the metrics: ``a, b = fit_affine(target, prediction)``, then score
    ``a * prediction + b``.

    The way CARE (Weigert et al. 2018) brings a network's output, which is in whatever
    units it was trained on, onto the target's scale before NRMSE, SSIM or PSNR. The fit
    is done on ``target``, so noise in the target does not bias the slope.

    Parameters
    ----------
    target : array_like
        The reference image whose units the fit maps to, float.
    prediction : array_like
        The image to rescale, same shape as ``target``.
    mask : array_like of bool, optional
        Fit on these pixels only.

    Returns
    -------
    (float, float)
        Slope ``a`` and offset ``b`` (target units).

    Raises
    ------
    ValueError
        When the prediction is constant (to float64 precision; the slope is undefined).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 2.0])
    >>> a, b = fit_affine(target=t, prediction=(t - 1.0) / 2.0)
    >>> round(a, 6), round(b, 6)
    (2.0, 1.0)
    """
    t, p = _check_pair(target, prediction)
    mask = _check_mask(mask, p.shape)
    x = _select(p, mask)
    y = _select(t, mask)
    if _is_constant(x):
        err = _constant_error("prediction", x, mask, "the slope")
        raise ValueError(f"fit_affine: {err} (no slope can be fitted)")
    ex, ey = _exponent(x), _exponent(y)
    x, y = _to_unit(x, ex), _to_unit(y, ey)
    xm, ym = x.mean(), y.mean()
    sxx = float(np.dot(x - xm, x - xm))
    a = float(np.dot(x - xm, y - ym)) / sxx
    b = float(ym - a * xm)
    # back to the images' units: y = a x + b in unit scale -> Y = a 2**(ey-ex) X + b 2**ey
    return float(np.ldexp(a, ey - ex)), float(np.ldexp(b, ey))


def rescale_to_target(target, prediction, *, mask=None) -> np.ndarray:
    """``prediction`` mapped onto ``target``'s intensity scale by :func:`fit_affine`.

    This is how every score in the course puts an image that is in other units (a network's
    output, or the input itself as the "do nothing" baseline) on the target's scale before
    NRMSE, SSIM or PSNR; the fit uses ``mask``'s pixels only (e.g. the training region of a
    real field), the result covers the whole image. A constant prediction has no slope: it
    becomes the target's mean (over ``mask``), the best constant.

    Parameters
    ----------
    target, prediction : array_like
        Same shape, float or integer.
    mask : array_like of bool, optional
        Fit on these pixels only.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``prediction``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 2.0])
    >>> rescale_to_target(target=t, prediction=-t).tolist()  # an inverted contrast
    [0.0, 1.0, 2.0]
    """
    t, p = _check_pair(target, prediction)
    mask = _check_mask(mask, p.shape)
    if _is_constant(_select(p, mask)):
        return np.full(p.shape, float(_select(t, mask).mean()))
    a, b = fit_affine(target=t, prediction=p, mask=mask)
    return a * p + b
