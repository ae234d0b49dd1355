"""Per-channel normalization of real images, fitted once and stored with the model.

``(x - offset) / scale`` with the offset and scale of each input plane computed on the
training pixels (``scope="training"``), so that every later image, tile or crop is mapped
with the same numbers; or each image's own statistics (``scope="image"``).
"""

from __future__ import annotations

import warnings

import numpy as np

from coursekit._validation import check_array, check_choice

__all__ = ["fit_normalization", "apply_normalization", "SCOPES"]

SCOPES = ("training", "image")


def _channel_stats(image: np.ndarray, mask, method: str, percentiles) -> tuple[list, list]:
    offsets, scales = [], []
    for c in image:
        v = c[mask] if mask is not None else c.ravel()
        v = v.astype(np.float64)
        if method == "zscore":
            lo, width = v.mean(), v.std()
        else:
            lo, hi = np.percentile(v, percentiles)
            width = hi - lo
        offsets.append(float(lo))
        scales.append(float(width) if width > 0 else 1.0)
    return offsets, scales


def fit_normalization(
    image, *, method: str = "zscore", scope: str = "training", mask=None, percentiles=(1.0, 99.8)
) -> dict:
    """Choose a per-channel normalization ``(x - offset) / scale`` for ``image``.

    Parameters
    ----------
    image : array_like
        ``(C, Y, X)`` (camera counts are fine).
    method : {"zscore", "percentile"}
        ``"zscore"``: offset the mean, scale the standard deviation; ``"percentile"``:
        offset the low percentile, scale the distance to the high one.
    scope : {"training", "image"}
        ``"training"``: the statistics are computed now (on the ``mask`` pixels) and stored,
        so every later image is mapped with the same numbers; ``"image"``: every image is
        normalized with its own statistics when :func:`apply_normalization` sees it.
    mask : array_like of bool, optional
        ``(Y, X)``: the pixels the statistics come from (the training region).
    percentiles : (float, float)
        For ``"percentile"``.

    Returns
    -------
    dict
        Plain values (checkpoint-friendly): ``method``, ``scope``, ``percentiles`` and, for
        ``"training"``, ``offset`` and ``scale`` (one per channel) and the training range
        ``p1``/``p99`` used to warn about inputs in other units.
    """
    check_choice(method, "normalization", ("zscore", "percentile"))
    check_choice(scope, "normalization_scope", SCOPES)
    image = check_array(image, "image", ndim=3, floating=False, allow_int=True)
    lo, hi = (float(p) for p in percentiles)
    if not 0 <= lo < hi <= 100:
        raise ValueError(f"percentiles: expected 0 <= low < high <= 100, got {percentiles!r}")
    spec = {"method": method, "scope": scope, "percentiles": [lo, hi]}
    if scope == "training":
        m = None if mask is None else np.asarray(mask, bool)
        spec["offset"], spec["scale"] = _channel_stats(image, m, method, (lo, hi))
        spec["p1"], p99 = _channel_stats(image, m, "percentile", (1.0, 99.0))
        spec["p99"] = [a + b for a, b in zip(spec["p1"], p99)]
    return spec


def apply_normalization(image, spec: dict, *, name: str = "image") -> np.ndarray:
    """Normalize ``image`` ``(C, Y, X)`` as ``spec`` (from :func:`fit_normalization`) says;
    returns float32."""
    image = check_array(image, name, ndim=3, floating=False, allow_int=True)
    if spec["scope"] == "image":
        offset, scale = _channel_stats(image, None, spec["method"], spec["percentiles"])
    else:
        offset, scale = spec["offset"], spec["scale"]
        if len(offset) != image.shape[0]:
            raise ValueError(
                f"{name}: {image.shape[0]} channels, but the normalization was fitted on "
                f"{len(offset)}"
            )
    off = np.asarray(offset, np.float32)[:, None, None]
    sc = np.asarray(scale, np.float32)[:, None, None]
    return ((image.astype(np.float32) - off) / sc).astype(np.float32)


def _warn_if_other_units(image: np.ndarray, spec: dict, names) -> None:
    """Warn when an input is far outside the intensity range seen in training (e.g. an
    image normalized by hand, or in other camera units): the model normalizes itself."""
    if spec["scope"] != "training":
        return
    for c, (lo, hi) in enumerate(zip(spec["p1"], spec["p99"])):
        med = float(np.median(image[c]))
        width = max(hi - lo, 1e-12)
        if not lo - width <= med <= hi + width:
            warnings.warn(
                f"input {names[c]!r}: median {med:.4g} is far outside the range seen in "
                f"training ({lo:.4g} to {hi:.4g}, 1st to 99th percentile, raw units). Pass "
                "images as loaded (camera counts): the model applies its own normalization.",
                UserWarning,
                stacklevel=4,
            )
            return
