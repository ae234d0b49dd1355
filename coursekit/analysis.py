"""Downstream analysis of predicted images: segment nuclei, match instances, read profiles.

A predicted DNA image is only as useful as what a biologist measures on it. These helpers
run the same analysis on a prediction and on its truth (scikit-image: smoothing, Otsu
threshold, distance-transform watershed, region properties) and compare the results with
instance metrics (precision, recall and F1 of objects matched at an IoU threshold), as the
DL@MBL image-translation exercise reports next to its pixel metrics.

Examples
--------
>>> import numpy as np
>>> yy, xx = np.mgrid[:64, :64]
>>> img = (((yy - 20) ** 2 + (xx - 20) ** 2) < 64) + (((yy - 44) ** 2 + (xx - 40) ** 2) < 81)
>>> labels = segment_nuclei(img.astype(np.float32), min_area_px=10)
>>> int(labels.max())
2
>>> match_instances(labels, labels)["f1"]
1.0
"""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_array, check_int, check_positive, check_same_shape

__all__ = [
    "segment_nuclei",
    "match_instances",
    "intensity_profile",
    "profile_roughness",
    "nucleus_table",
]

# Nuclei of hiPS-like cells are about 8-12 um across; at 0.3 um pixels that is 25-40 px.
# Peaks of the distance transform closer than this (in pixels) belong to one nucleus.
DEFAULT_MIN_DISTANCE_PX = 7
# Objects smaller than this are debris or noise, not nuclei (about 2 um^2 at 0.3 um pixels).
DEFAULT_MIN_AREA_PX = 20
# Light Gaussian smoothing before thresholding, in pixels: removes shot noise, keeps edges.
DEFAULT_SMOOTH_SIGMA_PX = 1.0


def segment_nuclei(
    image,
    *,
    threshold: float | None = None,
    smooth_sigma_px: float = DEFAULT_SMOOTH_SIGMA_PX,
    min_area_px: int = DEFAULT_MIN_AREA_PX,
    min_distance_px: int = DEFAULT_MIN_DISTANCE_PX,
    split_touching: bool = True,
) -> np.ndarray:
    """Segment nuclei in a DNA image (true or predicted) into instance labels.

    Smooth, threshold (Otsu unless ``threshold`` is given), remove small objects and, when
    ``split_touching``, split touching nuclei with a watershed on the distance transform.

    Parameters
    ----------
    image : array_like, shape (Y, X)
        A DNA image (any scale: counts, a prediction in normalized units).
    threshold : float, optional
        Intensity above which a pixel is nucleus, in the image's units (after smoothing).
        Default: Otsu's threshold of the smoothed image.
    smooth_sigma_px : float
        Gaussian smoothing before thresholding, in pixels (0 for none).
    min_area_px : int
        Objects with fewer pixels are discarded.
    min_distance_px : int
        Minimum distance between two nucleus centres for the watershed split, in pixels.
    split_touching : bool
        Split touching nuclei with a distance-transform watershed.

    Returns
    -------
    numpy.ndarray, shape (Y, X), int32
        0 for background, 1..N for nuclei (consecutive).

    Raises
    ------
    ValueError
        For a constant image (nothing to threshold) or bad sizes.
    """
    from scipy import ndimage as ndi
    from skimage import filters, measure, segmentation
    from skimage.feature import peak_local_max

    img = check_array(image, "image", ndim=2, allow_int=True).astype(np.float64)
    smooth_sigma_px = check_positive(smooth_sigma_px, "smooth_sigma_px", allow_zero=True)
    min_area_px = check_int(min_area_px, "min_area_px", minimum=1)
    min_distance_px = check_int(min_distance_px, "min_distance_px", minimum=1)
    if np.ptp(img) == 0:
        raise ValueError(
            "image: a constant image has no nuclei to segment; check that you passed the DNA "
            "channel (or a prediction that is not blank)"
        )
    smooth = ndi.gaussian_filter(img, smooth_sigma_px) if smooth_sigma_px > 0 else img
    level = filters.threshold_otsu(smooth) if threshold is None else float(threshold)
    foreground = smooth > level
    foreground = _drop_small(measure.label(foreground), min_area_px) > 0
    foreground = ndi.binary_fill_holes(foreground)
    if not split_touching:
        return measure.label(foreground).astype(np.int32)
    distance = ndi.distance_transform_edt(foreground)
    coarse = measure.label(foreground)
    peaks = peak_local_max(
        distance, min_distance=min_distance_px, labels=coarse, exclude_border=False
    )
    markers = np.zeros(img.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = segmentation.watershed(-distance, markers, mask=foreground)
    # Every connected object keeps at least one label even where no peak was found in it.
    unlabelled = foreground & (labels == 0)
    if unlabelled.any():
        extra = measure.label(unlabelled)
        labels[unlabelled] = extra[unlabelled] + labels.max()
    labels = _drop_small(labels, min_area_px)
    relabelled, _, _ = segmentation.relabel_sequential(labels)
    return relabelled.astype(np.int32)


def _drop_small(labels: np.ndarray, min_area_px: int) -> np.ndarray:
    """Remove labelled objects with fewer than ``min_area_px`` pixels (same across skimage versions)."""
    areas = np.bincount(labels.ravel())
    small = areas < min_area_px
    small[0] = False
    out = labels.copy()
    out[small[labels]] = 0
    return out


def _check_labels(labels, name: str) -> np.ndarray:
    arr = check_array(labels, name, floating=False)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise TypeError(f"{name}: expected an integer label image, got dtype {arr.dtype}")
    if arr.min() < 0:
        raise ValueError(f"{name}: labels must be >= 0 (0 = background), got {arr.min()}")
    return arr.astype(np.int64)


def _iou_matrix(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU between every true and every predicted object, from one joint histogram."""
    t_ids = np.unique(truth[truth > 0])
    p_ids = np.unique(pred[pred > 0])
    if len(t_ids) == 0 or len(p_ids) == 0:
        return np.zeros((len(t_ids), len(p_ids))), t_ids, p_ids
    t_index = np.searchsorted(t_ids, truth)
    p_index = np.searchsorted(p_ids, pred)
    both = (truth > 0) & (pred > 0)
    overlap = np.zeros((len(t_ids), len(p_ids)))
    np.add.at(overlap, (t_index[both], p_index[both]), 1)
    t_area = np.bincount(t_index[truth > 0], minlength=len(t_ids)).astype(float)
    p_area = np.bincount(p_index[pred > 0], minlength=len(p_ids)).astype(float)
    union = t_area[:, None] + p_area[None, :] - overlap
    return overlap / np.maximum(union, 1), t_ids, p_ids


def match_instances(truth_labels, predicted_labels, *, iou_threshold: float = 0.5) -> dict:
    """Match predicted objects to true objects and score the matching.

    Pairs are matched one-to-one by the Hungarian algorithm on IoU; a pair counts as a
    true positive when its IoU is at least ``iou_threshold``. With a threshold of 0.5 or
    more the matching is unique anyway (two objects cannot both overlap one by more than
    half).

    Parameters
    ----------
    truth_labels, predicted_labels : array_like of int, same shape
        Instance label images (0 = background).
    iou_threshold : float
        Minimum intersection over union for a match, in (0, 1].

    Returns
    -------
    dict
        ``n_true``, ``n_predicted``, ``tp``, ``fp``, ``fn``, ``precision``, ``recall``,
        ``f1``, ``mean_matched_iou`` and ``pairs`` (a list of ``(true_id, predicted_id,
        iou)``). Precision (recall) is NaN when there are no predicted (true) objects.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((8, 8), int); t[1:4, 1:4] = 1; t[5:8, 5:8] = 2
    >>> p = np.zeros((8, 8), int); p[1:4, 1:4] = 7
    >>> m = match_instances(t, p)
    >>> m["tp"], m["fn"], m["fp"], m["recall"]
    (1, 1, 0, 0.5)
    """
    from scipy.optimize import linear_sum_assignment

    truth = _check_labels(truth_labels, "truth_labels")
    pred = _check_labels(predicted_labels, "predicted_labels")
    check_same_shape(truth, pred, ("truth_labels", "predicted_labels"))
    iou_threshold = check_positive(iou_threshold, "iou_threshold")
    if iou_threshold > 1:
        raise ValueError(f"iou_threshold: expected a value in (0, 1], got {iou_threshold}")
    iou, t_ids, p_ids = _iou_matrix(truth, pred)
    pairs = []
    if iou.size:
        rows, cols = linear_sum_assignment(-iou)
        pairs = [
            (int(t_ids[r]), int(p_ids[c]), float(iou[r, c]))
            for r, c in zip(rows, cols)
            if iou[r, c] >= iou_threshold
        ]
    tp = len(pairs)
    n_true, n_pred = len(t_ids), len(p_ids)
    precision = tp / n_pred if n_pred else float("nan")
    recall = tp / n_true if n_true else float("nan")
    f1 = 2 * tp / (n_true + n_pred) if (n_true + n_pred) else float("nan")
    return {
        "n_true": n_true,
        "n_predicted": n_pred,
        "tp": tp,
        "fp": n_pred - tp,
        "fn": n_true - tp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "mean_matched_iou": float(np.mean([p[2] for p in pairs])) if pairs else float("nan"),
        "pairs": pairs,
    }


def nucleus_table(labels, *, pixel_size_um: float = 1.0, intensity=None):
    """Per-nucleus measurements as a tidy table (one row per object).

    Parameters
    ----------
    labels : array_like of int, shape (Y, X)
        Instance labels (e.g. from :func:`segment_nuclei`).
    pixel_size_um : float
        Pixel size in micrometres; areas are reported in um^2 and positions in um.
    intensity : array_like, shape (Y, X), optional
        An image whose mean per object is reported (``mean_intensity``).

    Returns
    -------
    pandas.DataFrame
        Columns ``label``, ``area_um2``, ``centroid_y_um``, ``centroid_x_um``,
        ``equivalent_diameter_um`` (and ``mean_intensity``).
    """
    import pandas as pd
    from skimage import measure

    lab = _check_labels(labels, "labels")
    pixel_size_um = check_positive(pixel_size_um, "pixel_size_um")
    img = None
    if intensity is not None:
        img = check_array(intensity, "intensity", ndim=2, allow_int=True)
        check_same_shape(lab, img, ("labels", "intensity"))
    rows = []
    for region in measure.regionprops(lab, intensity_image=img):
        cy, cx = region.centroid
        row = {
            "label": int(region.label),
            "area_um2": float(region.area) * pixel_size_um**2,
            "centroid_y_um": float(cy) * pixel_size_um,
            "centroid_x_um": float(cx) * pixel_size_um,
            "equivalent_diameter_um": float(region.equivalent_diameter_area) * pixel_size_um,
        }
        if img is not None:
            row["mean_intensity"] = float(region.intensity_mean)
        rows.append(row)
    columns = ["label", "area_um2", "centroid_y_um", "centroid_x_um", "equivalent_diameter_um"]
    if img is not None:
        columns.append("mean_intensity")
    return pd.DataFrame(rows, columns=columns)


def intensity_profile(image, start, end, *, width_px: int = 3, n_points: int | None = None):
    """Intensity along a line from ``start`` to ``end`` (pixel coordinates ``(y, x)``).

    Averages ``width_px`` parallel lines (a thick line scan, as in Fiji), with linear
    interpolation between pixels.

    Parameters
    ----------
    image : array_like, shape (Y, X)
    start, end : tuple of float
        End points ``(y, x)`` in pixels, inside the image.
    width_px : int
        Width of the scan, in pixels (odd numbers centre the scan on the line).
    n_points : int, optional
        Number of samples; default one per pixel of length (at least 2).

    Returns
    -------
    distance_px, values : numpy.ndarray, shape (n_points,)
        Distance from ``start`` in pixels, and the mean intensity across the width.
    """
    from scipy import ndimage as ndi

    img = check_array(image, "image", ndim=2, allow_int=True).astype(np.float64)
    p0 = np.asarray(start, dtype=float)
    p1 = np.asarray(end, dtype=float)
    if p0.shape != (2,) or p1.shape != (2,):
        raise ValueError(f"start and end: expected (y, x) pairs, got {start!r} and {end!r}")
    for name, p in (("start", p0), ("end", p1)):
        if not (0 <= p[0] <= img.shape[0] - 1 and 0 <= p[1] <= img.shape[1] - 1):
            raise ValueError(f"{name} {tuple(p)} lies outside the image of shape {img.shape}")
    length = float(np.hypot(*(p1 - p0)))
    if length == 0:
        raise ValueError("start and end are the same point: a profile needs a line")
    width_px = check_int(width_px, "width_px", minimum=1)
    n = (
        max(int(np.ceil(length)) + 1, 2)
        if n_points is None
        else check_int(n_points, "n_points", minimum=2)
    )
    t = np.linspace(0.0, 1.0, n)
    direction = (p1 - p0) / length
    normal = np.array([-direction[1], direction[0]])
    offsets = np.arange(width_px) - (width_px - 1) / 2
    samples = []
    for off in offsets:
        pts = p0[:, None] + np.outer(p1 - p0, t) + normal[:, None] * off
        samples.append(ndi.map_coordinates(img, pts, order=1, mode="nearest"))
    return t * length, np.mean(samples, axis=0)


def profile_roughness(values) -> float:
    """Mean absolute second difference of a profile, relative to its range.

    A smooth profile (a prediction, a clean image) scores low; a noisy one (a recorded
    image with shot noise) scores high. Dimensionless, so profiles on different intensity
    scales can be compared.

    Parameters
    ----------
    values : array_like, shape (N,), N >= 3

    Returns
    -------
    float
    """
    v = check_array(values, "values", ndim=1, allow_int=True).astype(np.float64)
    if v.size < 3:
        raise ValueError(f"values: need at least 3 samples, got {v.size}")
    span = np.ptp(v)
    if span == 0:
        return 0.0
    return float(np.mean(np.abs(np.diff(v, n=2))) / span)
