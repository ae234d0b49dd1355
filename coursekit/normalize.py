"""Per-image intensity normalization, shared by the training data, the patch stream and
prediction, so that a model sees the same scale at training and at prediction time.

One module owns the idea:

- :func:`normalize` normalizes one array (optionally each channel separately);
- :func:`normalization_spec` turns a setting (``"zscore"``, ``"percentile"``, a dict) into
  the dict that checkpoints store and :func:`~coursekit.models.predict` reads;
- :func:`normalize_channels` applies a setting to a ``(C, *spatial)`` image.

Percentile bounds are named ``percentiles=(low, high)`` everywhere (checkpoints written
before this name, with ``pmin``/``pmax``, are still read).
"""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_array, check_choice

__all__ = [
    "normalize",
    "normalize_channels",
    "normalization_spec",
    "NORMALIZATIONS",
    "DEFAULT_PERCENTILES",
]

NORMALIZATIONS = ("zscore", "percentile", "none")
#: CARE's defaults (Weigert et al. 2018): robust to a few hot or saturated pixels.
DEFAULT_PERCENTILES = (1.0, 99.8)


def _check_percentiles(percentiles) -> tuple[float, float]:
    try:
        low, high = (float(p) for p in percentiles)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"percentiles: expected two numbers (low, high) such as (1, 99.8), got {percentiles!r}"
        ) from exc
    if not 0 <= low < high <= 100:
        raise ValueError(
            f"percentiles: expected 0 <= low < high <= 100, got percentiles=({low}, {high})"
        )
    return low, high


def normalize(
    image,
    method: str = "zscore",
    *,
    percentiles=DEFAULT_PERCENTILES,
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
        ``"percentile"``: map the ``percentiles`` to 0 and 1 (CARE-style, robust to a few
        hot pixels). ``"none"``: return a float32 copy.
    percentiles : (float, float)
        Low and high percentiles (0 to 100) for ``"percentile"``.
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
    >>> y = normalize(np.arange(101.0), "percentile", percentiles=(10, 90))
    >>> float(y[10]), float(y[90])
    (0.0, 1.0)
    """
    check_choice(method, "normalization", NORMALIZATIONS)
    low, high = _check_percentiles(percentiles)
    x = check_array(image, "image", allow_int=True).astype(np.float32, copy=True)
    if channel_axis is not None:
        moved = np.moveaxis(x, channel_axis, 0)
        out = np.stack(
            [normalize(c, method, percentiles=(low, high), eps=eps) for c in moved], axis=0
        )
        return np.moveaxis(out, 0, channel_axis)
    if method == "zscore":
        x -= x.mean(dtype=np.float64)
        x /= x.std(dtype=np.float64) + eps
    elif method == "percentile":
        lo, hi = np.percentile(x, [low, high])
        x -= lo
        x /= (hi - lo) + eps
    return x


def normalization_spec(normalization) -> dict:
    """Return a normalization setting as a dict ``{"method": ..., **normalize kwargs}``.

    Parameters
    ----------
    normalization : str or dict or None
        ``"zscore"``, ``"percentile"``, ``"none"`` (or ``None``), or a dict such as
        ``{"method": "percentile", "percentiles": [1, 99.8]}`` (as stored in checkpoints).
        The older keys ``pmin``/``pmax`` (checkpoints written before) are read as
        ``percentiles``.

    Returns
    -------
    dict
        ``{"method": ...}``, plus ``percentiles`` (a list of two floats) and ``eps`` when
        given.

    Examples
    --------
    >>> normalization_spec("zscore")
    {'method': 'zscore'}
    >>> normalization_spec({"method": "percentile", "pmin": 2, "pmax": 99})
    {'method': 'percentile', 'percentiles': [2.0, 99.0]}
    """
    if normalization is None:
        return {"method": "none"}
    if isinstance(normalization, str):
        check_choice(normalization, "normalization", NORMALIZATIONS)
        return {"method": normalization}
    if isinstance(normalization, dict):
        spec = dict(normalization)
        method = spec.get("method", "zscore")
        check_choice(method, "normalization method", NORMALIZATIONS)
        spec["method"] = method
        unknown = set(spec) - {"method", "percentiles", "pmin", "pmax", "eps"}
        if unknown:
            raise ValueError(
                f"normalization: unknown keys {sorted(unknown)}; expected 'method' and "
                "optionally 'percentiles' (low, high) and 'eps'"
            )
        if "pmin" in spec or "pmax" in spec:  # the name used before `percentiles`
            if "percentiles" in spec:
                raise ValueError("normalization: give 'percentiles', not also 'pmin'/'pmax'")
            low = spec.pop("pmin", DEFAULT_PERCENTILES[0])
            high = spec.pop("pmax", DEFAULT_PERCENTILES[1])
            spec["percentiles"] = (low, high)
        if "percentiles" in spec:
            spec["percentiles"] = list(_check_percentiles(spec["percentiles"]))
        if "eps" in spec:
            spec["eps"] = float(spec["eps"])
        return spec
    raise TypeError(
        f"normalization: expected a string, a dict or None, got {type(normalization).__name__}"
    )


def normalize_channels(image, normalization="zscore") -> np.ndarray:
    """Normalize each channel of ``image`` ``(C, *spatial)`` separately; returns float32.

    Parameters
    ----------
    image : array_like
        ``(C, *spatial)``, float or integer counts.
    normalization : str or dict or None
        See :func:`normalization_spec`.

    Examples
    --------
    >>> x = normalize_channels(np.arange(8.0).reshape(2, 2, 2), "zscore")
    >>> np.round(x.mean(axis=(1, 2)), 6).tolist()
    [0.0, 0.0]
    """
    spec = normalization_spec(normalization)
    method = spec.pop("method")
    if method == "none":
        return np.asarray(image, dtype=np.float32)
    return normalize(image, method, channel_axis=0, **spec)
