"""Where a prediction paints signal that the clean truth does not have (hallucination), and
where the truth has signal that the prediction misses: the common scale, signal levels,
maps and scores (see the package notes for the definitions)."""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_array
from coursekit.metrics.similarity import _check_mask, fit_affine

__all__ = [
    "signal_levels",
    "fit_scale",
    "to_truth_scale",
    "hallucination_map",
    "miss_map",
    "hallucination_scores",
]

_DEFAULT_FRACTION = 0.1
_BACKGROUND_PERCENTILE = 1.0
_PEAK_PERCENTILE = 99.9


def signal_levels(truth, *, fraction: float = _DEFAULT_FRACTION, mask=None) -> dict:
    """The background, peak and signal threshold of a truth image.

    Parameters
    ----------
    truth : array_like
        The clean target, any shape, float.
    fraction : float
        Where the threshold sits between background and peak, in (0, 1].
    mask : array_like of bool, optional
        Compute the percentiles over these pixels only.

    Returns
    -------
    dict
        ``background`` (1st percentile), ``peak`` (99.9th percentile) and ``threshold``
        (``background + fraction * (peak - background)``), in the truth's units.

    Raises
    ------
    ValueError
        For a constant truth (an empty field): there is no dynamic range to take a
        fraction of; compute the levels on a reference field instead.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((10, 10)); t[2:5, 2:5] = 10.0
    >>> signal_levels(t)["threshold"]
    1.0
    """
    t = check_array(truth, "truth", allow_int=True)
    mask = _check_mask(mask, t.shape, min_true=1)
    if not 0 < float(fraction) <= 1:
        raise ValueError(f"fraction: expected a number in (0, 1], got {fraction!r}")
    vals = (t[mask] if mask is not None else t.ravel()).astype(np.float64)
    bg, peak = np.percentile(vals, [_BACKGROUND_PERCENTILE, _PEAK_PERCENTILE])
    if not peak > bg:
        raise ValueError(
            f"the truth is constant (every value near {bg:g}), so it has no dynamic range to "
            "set a signal threshold from; pass threshold= (and background=) computed on a "
            "reference field, e.g. signal_levels(reference_truth)"
        )
    return {
        "background": float(bg),
        "peak": float(peak),
        "threshold": float(bg + fraction * (peak - bg)),
    }


def fit_scale(prediction, truth, *, mask=None) -> tuple[float, float]:
    """The affine calibration ``(a, b)`` that maps a prediction onto the truth's scale.

    Least squares of ``a * prediction + b`` against ``truth`` (see
    :func:`coursekit.metrics.similarity.fit_affine`). Fit it on a reference field and
    pass it as ``scale=(a, b)`` to the maps of probes whose truth is empty.

    Parameters
    ----------
    prediction, truth : array_like
        Same shape (a leading channel axis of length 1 on the prediction is dropped).
    mask : array_like of bool, optional
        Fit on these pixels only.

    Returns
    -------
    (float, float)

    Raises
    ------
    ValueError
        When the truth or the prediction is constant.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(6.0).reshape(2, 3)
    >>> tuple(round(v, 6) for v in fit_scale(t / 4 - 1, t))
    (4.0, 4.0)
    """
    p, t = _pair(prediction, truth)
    mask = _check_mask(mask, t.shape)
    tv = t[mask] if mask is not None else t
    if np.ptp(tv) == 0:
        raise ValueError(
            "cannot fit the prediction's scale to a constant truth (an empty field); fit it on "
            "a reference field with fit_scale(reference_prediction, reference_truth) and pass "
            "scale=(a, b)"
        )
    return fit_affine(prediction=p, target=t, mask=mask)


def _pair(prediction, truth) -> tuple[np.ndarray, np.ndarray]:
    t = check_array(truth, "truth", allow_int=True)
    p = check_array(prediction, "prediction", allow_int=True)
    if p.ndim == t.ndim + 1 and p.shape[0] == 1 and p.shape[1:] == t.shape:
        p = p[0]
    if p.shape != t.shape:
        raise ValueError(
            f"prediction and truth must have the same shape, got {p.shape} and {t.shape}"
        )
    return p, t


def to_truth_scale(prediction, truth, *, scale="affine", mask=None) -> tuple[np.ndarray, tuple]:
    """Map a prediction onto the truth's intensity scale.

    Parameters
    ----------
    prediction, truth : array_like
        Same shape (a leading channel axis of length 1 on the prediction is dropped).
    scale : {"affine", "none"} or (float, float)
        ``"affine"``: least-squares fit to this truth (:func:`fit_scale`); ``"none"``:
        unchanged; ``(a, b)``: apply ``a * prediction + b``.
    mask : array_like of bool, optional
        Pixels used for the fit.

    Returns
    -------
    (numpy.ndarray, (float, float))
        The scaled prediction (float64, truth's shape and units) and the ``(a, b)`` used.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(4.0)
    >>> to_truth_scale(2 * t, t)[0].round(6).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    p, t = _pair(prediction, truth)
    if isinstance(scale, str):
        if scale == "none":
            a, b = 1.0, 0.0
        elif scale == "affine":
            a, b = fit_scale(p, t, mask=mask)
        else:
            raise ValueError(f"unknown scale {scale!r}; expected 'affine', 'none' or a pair (a, b)")
    else:
        try:
            a, b = (float(v) for v in scale)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"scale: expected 'affine', 'none' or a pair (a, b) of numbers, got {scale!r}"
            ) from exc
        if not (np.isfinite(a) and np.isfinite(b)):
            raise ValueError(f"scale: expected finite numbers, got {scale!r}")
    return a * p.astype(np.float64) + b, (float(a), float(b))


def _levels(t: np.ndarray, threshold, background, fraction, mask) -> tuple[float, float]:
    if threshold is None:
        lv = signal_levels(t, fraction=fraction, mask=mask)
        bg = lv["background"] if background is None else float(background)
        thr = lv["threshold"]
    else:
        thr = float(threshold)
        if background is None:
            vals = t[mask] if mask is not None else t
            bg = float(np.percentile(vals.astype(np.float64), _BACKGROUND_PERCENTILE))
            bg = min(bg, thr)
        else:
            bg = float(background)
    if not (np.isfinite(thr) and np.isfinite(bg)):
        raise ValueError(f"threshold and background must be finite, got {thr!r} and {bg!r}")
    if thr < bg:
        raise ValueError(f"threshold ({thr:g}) must not be below the background ({bg:g})")
    return thr, bg


def _maps(prediction, truth, threshold, background, scale, mask, fraction):
    """Core of the maps and scores: everything in the truth's units, above background."""
    p, t = _pair(prediction, truth)
    mask = _check_mask(mask, t.shape, min_true=1)
    thr, bg = _levels(t, threshold, background, fraction, mask)
    ps, (a, b) = to_truth_scale(p, t, scale=scale, mask=mask)
    inside = np.ones(t.shape, bool) if mask is None else mask
    pp = ps - bg  # prediction above background
    tt = t.astype(np.float64) - bg  # truth above background
    level = thr - bg
    empty = (tt <= level) & inside  # the truth has no signal here
    claims = (pp > level) & inside  # the prediction shows signal here
    signal = (tt > level) & inside
    hall = np.where(empty & claims, pp - np.maximum(tt, 0.0), 0.0)
    miss = np.where(signal & ~claims, tt - np.maximum(pp, 0.0), 0.0)
    info = {
        "pp": pp,
        "tt": tt,
        "empty": empty,
        "claims": claims,
        "signal": signal,
        "threshold": thr,
        "background": bg,
        "scale": (a, b),
    }
    return hall, miss, info


def hallucination_map(
    prediction,
    truth,
    *,
    threshold=None,
    background=None,
    scale="affine",
    mask=None,
    fraction: float = _DEFAULT_FRACTION,
) -> np.ndarray:
    """Predicted signal where the truth has none.

    After scaling the prediction to the truth's units, a pixel is hallucinated when the
    truth is at or below ``threshold`` (nothing there) but the prediction is above it
    (the model claims a structure). Its value is the excess intensity,
    ``prediction - max(truth, background)``; every other pixel is 0.

    Parameters
    ----------
    prediction : array_like
        The model's output, ``(Y, X)`` or ``(Z, Y, X)`` (or with a leading channel axis of
        length 1), any units.
    truth : array_like
        The clean target, same spatial shape, e.g. ``field.clean["dna"]``.
    threshold : float, optional
        The signal level in the truth's units. Default: ``signal_levels(truth)``, i.e.
        background + 0.1 x (peak - background) of this truth; required for a constant
        truth (compute it on a reference field).
    background : float, optional
        The level that counts as "no fluorescence" (masses are measured above it).
        Default: the truth's 1st percentile (clipped to the threshold).
    scale : {"affine", "none"} or (float, float)
        How the prediction is brought to the truth's units, see :func:`to_truth_scale`.
    mask : array_like of bool, optional
        Only these pixels count (the maps are 0 elsewhere).
    fraction : float
        The threshold's position between background and peak when ``threshold`` is None.

    Returns
    -------
    numpy.ndarray
        float32, the truth's shape, >= 0, in the truth's intensity units.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8)); truth[1:3, 1:3] = 1.0
    >>> pred = truth.copy(); pred[5:7, 5:7] = 1.0  # a blob that is not there
    >>> h = hallucination_map(pred, truth, scale="none")
    >>> np.argwhere(h > 0).tolist()
    [[5, 5], [5, 6], [6, 5], [6, 6]]
    >>> float(miss_map(pred, truth, scale="none").sum())
    0.0
    """
    hall, _, _ = _maps(prediction, truth, threshold, background, scale, mask, fraction)
    return hall.astype(np.float32)


def miss_map(
    prediction,
    truth,
    *,
    threshold=None,
    background=None,
    scale="affine",
    mask=None,
    fraction: float = _DEFAULT_FRACTION,
) -> np.ndarray:
    """True signal that the prediction does not show.

    A pixel is missed when the truth is above ``threshold`` but the (scaled) prediction
    is not; its value is the missing intensity, ``truth - max(prediction, background)``;
    every other pixel is 0.

    Parameters
    ----------
    prediction : array_like
        The model's output, ``(Y, X)`` or ``(Z, Y, X)`` (or with a leading channel axis of
        length 1), any units.
    truth : array_like
        The clean target, same spatial shape, e.g. ``field.clean["dna"]``.
    threshold : float, optional
        The signal level in the truth's units. Default: ``signal_levels(truth)``, i.e.
        background + 0.1 x (peak - background) of this truth; required for a constant
        truth (compute it on a reference field).
    background : float, optional
        The level that counts as "no fluorescence" (masses are measured above it).
        Default: the truth's 1st percentile (clipped to the threshold).
    scale : {"affine", "none"} or (float, float)
        How the prediction is brought to the truth's units, see :func:`to_truth_scale`.
    mask : array_like of bool, optional
        Only these pixels count (the maps are 0 elsewhere).
    fraction : float
        The threshold's position between background and peak when ``threshold`` is None.

    Returns
    -------
    numpy.ndarray
        float32, the truth's shape, >= 0, in the truth's intensity units.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8)); truth[1:3, 1:3] = 1.0
    >>> pred = truth.copy(); pred[5:7, 5:7] = 1.0  # a blob that is not there
    >>> h = hallucination_map(pred, truth, scale="none")
    >>> np.argwhere(h > 0).tolist()
    [[5, 5], [5, 6], [6, 5], [6, 6]]
    >>> float(miss_map(pred, truth, scale="none").sum())
    0.0
    """
    _, miss, _ = _maps(prediction, truth, threshold, background, scale, mask, fraction)
    return miss.astype(np.float32)


def hallucination_scores(
    prediction,
    truth,
    *,
    threshold=None,
    background=None,
    scale="affine",
    mask=None,
    fraction: float = _DEFAULT_FRACTION,
) -> dict:
    """Numbers that summarize the hallucination and miss maps, to compare models.

    All masses are intensities above ``background`` summed over pixels, in the truth's
    units; areas are pixel (voxel) counts. A fraction with an empty denominator is 0
    (nothing predicted: nothing hallucinated; nothing true: nothing missed).

    Parameters
    ----------
    prediction : array_like
        The model's output, ``(Y, X)`` or ``(Z, Y, X)`` (or with a leading channel axis of
        length 1), any units.
    truth : array_like
        The clean target, same spatial shape, e.g. ``field.clean["dna"]``.
    threshold : float, optional
        The signal level in the truth's units. Default: ``signal_levels(truth)``, i.e.
        background + 0.1 x (peak - background) of this truth; required for a constant
        truth (compute it on a reference field).
    background : float, optional
        The level that counts as "no fluorescence" (masses are measured above it).
        Default: the truth's 1st percentile (clipped to the threshold).
    scale : {"affine", "none"} or (float, float)
        How the prediction is brought to the truth's units, see :func:`to_truth_scale`.
    mask : array_like of bool, optional
        Only these pixels count (the maps are 0 elsewhere).
    fraction : float
        The threshold's position between background and peak when ``threshold`` is None.

    Returns
    -------
    dict
        ``hallucinated_mass_fraction``
            Share of the predicted signal mass (where the prediction is above threshold)
            that lies where the truth has none: **the hallucination score**, 0 to 1.
        ``hallucinated_area_fraction``
            Share of the predicted signal area that is hallucinated (1 - precision).
        ``false_positive_rate``
            Share of the truly empty area painted as signal.
        ``missed_mass_fraction``
            Share of the true signal mass the prediction does not show: **the miss
            score**, 0 to 1.
        ``missed_area_fraction``
            Share of the true signal area not predicted (1 - recall).
        ``hallucinated_mass``, ``missed_mass``
            The sums of the two maps (truth units x pixels).
        ``threshold``, ``background``, ``scale_a``, ``scale_b``
            The levels and the calibration used, so that they can be reused.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8)); truth[1:3, 1:3] = 1.0
    >>> s = hallucination_scores(truth, truth, scale="none")
    >>> s["hallucinated_mass_fraction"], s["missed_mass_fraction"]
    (0.0, 0.0)
    """
    hall, miss, info = _maps(prediction, truth, threshold, background, scale, mask, fraction)
    pp, tt = info["pp"], info["tt"]
    claims, signal, empty = info["claims"], info["signal"], info["empty"]
    pred_mass = float(pp[claims].sum())
    true_mass = float(tt[signal].sum())
    n_hall = int((hall > 0).sum())
    n_miss = int((miss > 0).sum())

    def frac(num, den):
        return float(num) / float(den) if den > 0 else 0.0

    a, b = info["scale"]
    return {
        "hallucinated_mass_fraction": frac(hall.sum(), pred_mass),
        "hallucinated_area_fraction": frac(n_hall, int(claims.sum())),
        "false_positive_rate": frac(n_hall, int(empty.sum())),
        "missed_mass_fraction": frac(miss.sum(), true_mass),
        "missed_area_fraction": frac(n_miss, int(signal.sum())),
        "hallucinated_mass": float(hall.sum()),
        "missed_mass": float(miss.sum()),
        "threshold": info["threshold"],
        "background": info["background"],
        "scale_a": a,
        "scale_b": b,
    }
