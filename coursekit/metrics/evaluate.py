"""Evaluate predicted fluorescence against its targets: one tidy table, a summary, a bar chart.

:func:`evaluate` scores every (structure, field) pair against the *recorded* (noisy)
target, as in a real experiment, and, when the simulator provides it, against the *clean*
(noise-free) target, which only a virtual microscope knows. It adds the noise ceiling
C_max (Ounkomol et al. 2018): the best Pearson r any prediction can reach against the
noisy target, estimated from the recorded image and the camera calibration alone (never
from the clean image, so that the same code works on real data). :func:`coursekit.metrics.plot.plot_scores`
draws the lecture's bar chart after Ounkomol et al. (2018), Fig. 2.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coursekit._validation import check_array, check_choice, check_positive
from coursekit.metrics.calibration import as_calibration
from coursekit.metrics.ceiling import CeilingUnavailable, noise_ceiling, noise_ceiling_from_image
from coursekit.metrics.similarity import (
    _check_mask,
    nrmse,
    pearson_r,
    psnr,
    rescale_to_target,
    ssim,
)

__all__ = [
    "evaluate",
    "summarize",
    "METRICS",
    "BASELINE_METRICS",
    "TARGET_COLUMNS",
    "BASELINE_LABEL",
]

#: The score columns of :func:`evaluate`'s table, in order.
METRICS = (
    "pearson_recorded",
    "pearson_clean",
    "c_max",
    "r_over_cmax",
    "nrmse_recorded",
    "ssim_recorded",
    "psnr_recorded",
    "nrmse_clean",
    "ssim_clean",
    "psnr_clean",
)

#: The input-as-prediction scores that :func:`evaluate` adds with ``baseline=``.
BASELINE_METRICS = tuple(f"baseline_{m}" for m in METRICS if m != "c_max")

#: Columns that describe the recorded target rather than score a prediction.
TARGET_COLUMNS = ("saturated_fraction", "c_max_note")

#: How the baseline is named in plots.
BASELINE_LABEL = "input (baseline)"

# Saturation counts that a float image with integer values most likely comes from
# (8- to 16-bit cameras), when neither a camera nor an integer dtype says.
_ADC_MAXIMA = tuple(2**bits - 1 for bits in (8, 10, 12, 14, 16))


# --------------------------------------------------------------------------- inputs
def _as_fields(value, name: str, label) -> list:
    """One array or a list/tuple of arrays (one per field) -> a list."""
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            raise ValueError(f"{name}[{label!r}]: expected at least one field, got an empty list")
        return list(value)
    return [value]


def _check_label_dict(value, name: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name}: expected a dict mapping a structure name to an array (one field) or a "
            f"list of arrays (several fields), e.g. {{'dna': image}}, got {type(value).__name__}"
        )
    if len(value) == 0:
        raise ValueError(f"{name}: expected at least one structure, got an empty dict")
    return value


def _camera_for(camera, label):
    """Resolve ``camera`` (None, one calibration, or a dict label -> calibration) for one
    structure: a CameraCalibration, or None."""
    if camera is None:
        return None
    single = (isinstance(camera, Mapping) and "gain" in camera) or (
        not isinstance(camera, Mapping) and hasattr(camera, "gain")
    )
    if single:
        return as_calibration(camera, name=f"camera for {label!r}")
    if isinstance(camera, Mapping):
        if label not in camera:
            raise KeyError(
                f"camera: no calibration for structure {label!r}; give one calibration for all "
                f"structures or a dict with keys {sorted(map(str, camera))} plus {label!r}"
            )
        if camera[label] is None:
            return None
        return as_calibration(camera[label], name=f"camera for {label!r}")
    raise TypeError(
        f"camera: expected None, a calibration (a Camera, field.metadata['camera'], a dict with "
        f"gain, offset and read noise, a CameraCalibration) or a dict mapping structures to "
        f"calibrations, got {type(camera).__name__}"
    )


def _match_prediction(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Drop a leading channel axis of length 1 (a model's (1, Y, X) output) if needed."""
    if pred.ndim == target.ndim + 1 and pred.shape[0] == 1 and pred.shape[1:] == target.shape:
        return pred[0]
    return pred


def _to_target_scale(pred: np.ndarray, target: np.ndarray, mask, rescale: str) -> np.ndarray:
    """Bring the prediction onto the target's intensity scale (least squares, or as is)."""
    if rescale == "none":
        return pred
    return rescale_to_target(target=target, prediction=pred, mask=mask)


def _pearson_or_nan(pred, target, mask, where: str) -> float:
    try:
        return pearson_r(target=target, prediction=pred, mask=mask)
    except ValueError as exc:
        if "constant" not in str(exc):
            raise
        warnings.warn(f"{where}: {exc}; recorded as NaN", UserWarning, stacklevel=3)
        return float("nan")


def _image_scores(pred, target, mask, rescale: str, where: str) -> dict:
    r = _pearson_or_nan(pred, target, mask, where)
    scaled = _to_target_scale(pred, target, mask, rescale)
    out = {"pearson": r, "nrmse": nrmse(target=target, prediction=scaled, mask=mask)}
    if target.ndim in (2, 3):
        out["ssim"] = ssim(target=target, prediction=scaled, mask=mask)
    else:
        out["ssim"] = float("nan")
    out["psnr"] = psnr(target=target, prediction=scaled, mask=mask)
    return out


# --------------------------------------------------------------------------- target checks
def _saturation_level(raw, cal, saturation):
    """The count at which the recorded target clips, or None where nothing says."""
    if saturation is not None:
        return float(saturation)
    if cal is not None and cal.max_count is not None:
        return float(cal.max_count)
    dtype = np.asarray(raw).dtype
    if np.issubdtype(dtype, np.integer):
        return float(np.iinfo(dtype).max)
    top = float(np.max(raw))
    if top in _ADC_MAXIMA and top == np.round(top):
        return top
    return None


def _ceiling(rec, mask, cal, mode: str, has_camera_entry: bool, saturation):
    """C_max of one recorded target and a note saying where it comes from or why not."""
    use_camera = cal is not None and mode in ("camera", "auto")
    if use_camera:
        return float(noise_ceiling(rec, mask=mask, camera=cal)), ""
    if mode == "image" or (mode == "auto" and cal is None):
        try:
            c_max = noise_ceiling_from_image(rec, mask=mask, saturation=saturation)
        except CeilingUnavailable as exc:
            return float("nan"), f"not estimated: {exc}"
        return c_max, "estimated from the image (noise model fitted to it, no calibration)"
    if has_camera_entry:
        return float("nan"), "no calibration for this structure (camera[structure] is None)"
    return float("nan"), (
        "no camera calibration: pass camera= (e.g. field.metadata['camera']) or "
        "ceiling='image' to estimate C_max from the image"
    )


def _field_list(value, name: str, label, n: int) -> list:
    """``value`` (dict of per-structure entries, or one entry for all) -> n fields."""
    if isinstance(value, Mapping):
        if label not in value:
            raise KeyError(f"{name} has no image for structure {label!r}")
        value = value[label]
    fields = _as_fields(value, name, label)
    if len(fields) != n:
        raise ValueError(f"structure {label!r}: {n} predicted fields but {len(fields)} {name} ones")
    return fields


def _check_baseline(image, rec_shape, where: str) -> np.ndarray:
    base = check_array(image, f"baseline ({where})", allow_int=True)
    base = _match_prediction(base, np.empty(rec_shape, dtype=bool))
    if base.shape != rec_shape:
        hint = ""
        if base.ndim == len(rec_shape) + 1 and base.shape[1:] == rec_shape:
            hint = (
                f"; it has {base.shape[0]} channels or planes: pick the one to score, e.g. "
                "the in-focus plane input[k]"
            )
        raise ValueError(
            f"{where}: the baseline image has shape {base.shape}, the recorded target "
            f"{rec_shape}{hint}"
        )
    return base


# --------------------------------------------------------------------------- evaluate
def evaluate(
    predictions,
    recorded,
    *,
    clean=None,
    camera=None,
    ceiling: str = "auto",
    baseline=None,
    field_ids: Sequence | None = None,
    mask=None,
    rescale: str = "affine",
    saturation: float | None = None,
) -> pd.DataFrame:
    """Score predictions against recorded (and clean) targets: one row per structure and field.

    Parameters
    ----------
    predictions : dict[str, ndarray or list of ndarray]
        Structure name -> predicted image ``(Y, X)`` or ``(Z, Y, X)`` for one field, or a
        list with one image per field. A leading channel axis of length 1 (what
        ``coursekit.models.predict`` returns, ``(1, Y, X)``) is dropped.
    recorded : dict[str, ndarray or list of ndarray]
        The recorded (noisy) targets, same structures (at least those of ``predictions``)
        and fields; float or integer (camera counts in ADU, or any units).
    clean : dict[str, ndarray or list of ndarray], optional
        The noise-free targets of the simulator, same layout. Without it the ``*_clean``
        columns are NaN.
    camera : Camera, dict or CameraCalibration, or dict[str, ...], optional
        The camera calibration for the noise ceiling C_max, in any form
        :func:`coursekit.metrics.calibration.as_calibration` accepts (e.g.
        ``field.metadata["camera"]``, a :class:`coursekit.microscope.camera.Camera`); one
        for all structures, or a dict structure -> calibration (``None`` for a structure
        without one). C_max is computed from the *recorded* image, never the clean one.
    ceiling : {"auto", "camera", "image"}
        Where C_max comes from. ``"camera"``: from ``camera`` only (NaN without one).
        ``"image"``: estimated from each recorded image by
        :func:`coursekit.metrics.ceiling.noise_ceiling_from_image` (no calibration; a
        noise model fitted to the image), even when a camera is given. ``"auto"``
        (default): the camera where there is one, the image estimate otherwise. The
        ``c_max_note`` column says which was used, or why C_max is missing.
    baseline : ndarray or list of ndarray, or dict[str, ...], optional
        The input itself scored as if it were the prediction, so that a score is read
        against what doing nothing gives (as ZeroCostDL4Mic and CARE report): one image
        per field of the target's shape (e.g. the in-focus transmitted-light plane,
        ``field.transmitted[k]``), the same for every structure, or a dict structure ->
        image(s). It is always mapped to the target's units by least squares
        (:func:`coursekit.metrics.similarity.fit_affine`) before NRMSE, SSIM and PSNR.
        Adds the :data:`BASELINE_METRICS` columns (``baseline_pearson_recorded``, ...).
    field_ids : sequence, optional
        A name for each field (default ``0, 1, ...``).
    mask : ndarray of bool or list of them, optional
        Pixels to score (e.g. ``field.cell_mask > 0``): one mask for all fields, or one per
        field. Applies to every metric and to C_max.
    rescale : {"affine", "none"}
        NRMSE, SSIM and PSNR compare intensities, so with ``"affine"`` (default, as in
        CARE's evaluation) the prediction is first mapped to each target's scale by least
        squares (:func:`coursekit.metrics.similarity.fit_affine`); use ``"none"`` when the
        prediction is already in the target's units. Pearson r never needs it.
    saturation : float, optional
        The count at which the recorded targets clip. Default: the camera's
        ``2**bit_depth - 1`` when a camera is given, else the dtype's maximum for integer
        images, else the maximum of a float image with integer values when it is
        2**k - 1 (k = 8, 10, 12, 14, 16), else unknown (``saturated_fraction`` NaN).

    Returns
    -------
    pandas.DataFrame
        Columns ``structure``, ``field``, then :data:`METRICS`: ``pearson_recorded``,
        ``pearson_clean``, ``c_max``, ``r_over_cmax`` (pearson_recorded / c_max, the
        fraction of the achievable correlation reached), ``nrmse_*`` (std-normalized),
        ``ssim_*`` and ``psnr_*`` (data range = the target's range, dB) against the
        recorded and the clean target; then :data:`TARGET_COLUMNS`:
        ``saturated_fraction`` (of the target's pixels at the saturation count) and
        ``c_max_note`` (empty for a calibrated C_max, else where it comes from or why it
        is NaN); then, with ``baseline``, :data:`BASELINE_METRICS`. A constant
        prediction gets NaN Pearson r and a warning; saturated target pixels get a
        warning naming their fraction (they break the noise model behind C_max).

    Examples
    --------
    Score a prediction and the input itself (the baseline) against a noisy target:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = rng.random((32, 32))
    >>> noisy = clean + 0.1 * rng.standard_normal((32, 32))
    >>> inp = clean + 0.8 * rng.standard_normal((32, 32))  # e.g. a transmitted-light plane
    >>> table = evaluate({"dna": 2 * clean}, {"dna": noisy}, clean={"dna": clean},
    ...                  baseline=inp)
    >>> float(table.loc[0, "pearson_clean"])
    1.0
    >>> bool(table.loc[0, "baseline_pearson_clean"] < 0.5)  # doing nothing scores far lower
    True
    """
    check_choice(rescale, "rescale", ("affine", "none"))
    check_choice(ceiling, "ceiling", ("auto", "camera", "image"))
    if saturation is not None:
        saturation = check_positive(saturation, "saturation")
    predictions = _check_label_dict(predictions, "predictions")
    recorded = _check_label_dict(recorded, "recorded")
    if clean is not None:
        clean = _check_label_dict(clean, "clean")

    rows = []
    for label, pred_value in predictions.items():
        if label not in recorded:
            raise KeyError(
                f"recorded has no target for structure {label!r}; it has {sorted(map(str, recorded))}"
            )
        preds = _as_fields(pred_value, "predictions", label)
        n = len(preds)
        recs = _field_list(recorded, "recorded", label, n)
        cleans = [None] * n if clean is None else _field_list(clean, "clean", label, n)
        bases = [None] * n if baseline is None else _field_list(baseline, "baseline", label, n)
        ids = list(range(n)) if field_ids is None else list(field_ids)
        if len(ids) != n:
            raise ValueError(
                f"field_ids has {len(ids)} names but structure {label!r} has {n} fields"
            )
        if isinstance(mask, (list, tuple)):
            if len(mask) != n:
                raise ValueError(f"mask: got {len(mask)} masks for {n} fields of {label!r}")
            masks = list(mask)
        else:
            masks = [mask] * n
        cal = _camera_for(camera, label)
        has_entry = isinstance(camera, Mapping) and label in camera and "gain" not in camera

        for i in range(n):
            where = f"structure {label!r}, field {ids[i]!r}"
            rec = check_array(recs[i], f"recorded[{label!r}][{i}]", allow_int=True)
            pred = check_array(preds[i], f"predictions[{label!r}][{i}]")
            pred = _match_prediction(pred, rec)
            if pred.shape != rec.shape:
                raise ValueError(
                    f"{where}: prediction shape {pred.shape} differs from the recorded target's "
                    f"{rec.shape}"
                )
            m = _check_mask(masks[i], rec.shape)
            row = {"structure": label, "field": ids[i]}
            s = _image_scores(pred, rec, m, rescale, where + " (recorded)")
            row.update({f"{k}_recorded": v for k, v in s.items()})
            cl = None
            if cleans[i] is not None:
                cl = check_array(cleans[i], f"clean[{label!r}][{i}]", allow_int=True)
                if cl.shape != rec.shape:
                    raise ValueError(
                        f"{where}: clean target shape {cl.shape} differs from the recorded {rec.shape}"
                    )
                s = _image_scores(pred, cl, m, rescale, where + " (clean)")
                row.update({f"{k}_clean": v for k, v in s.items()})
            level = _saturation_level(recs[i], cal, saturation)
            fraction = float("nan")
            if level is not None:
                inside = rec[m] if m is not None else rec
                fraction = float(np.mean(inside >= level))
            row["saturated_fraction"] = fraction
            row["c_max"], note = _ceiling(rec, m, cal, ceiling, has_entry, level)
            if fraction > 0:
                warnings.warn(
                    f"{where}: {100 * fraction:.2g} % of the recorded target's pixels are "
                    f"saturated (at {level:g}): clipped pixels have no noise and no signal "
                    "above the clip, so C_max and the scores there are unreliable; leave them "
                    "out with mask= (e.g. mask=target < saturation)",
                    UserWarning,
                    stacklevel=2,
                )
                note = "; ".join(
                    x for x in (note, f"{100 * fraction:.2g} % of target pixels saturated") if x
                )
            row["c_max_note"] = note
            if bases[i] is not None:
                base = _check_baseline(bases[i], rec.shape, where)
                for kind, truth in (("recorded", rec), ("clean", cl)):
                    if truth is None:
                        continue
                    # the input affinely rescaled to the target (as CARE and ZeroCostDL4Mic
                    # score it): an inverted contrast is turned upright, so r is |r|
                    scaled = rescale_to_target(target=truth, prediction=base, mask=m)
                    s = _image_scores(scaled, truth, m, "none", f"{where} (baseline vs {kind})")
                    row.update({f"baseline_{k}_{kind}": v for k, v in s.items()})
            rows.append(row)

    table = pd.DataFrame(rows)
    columns = ["structure", "field", *METRICS, *TARGET_COLUMNS]
    if baseline is not None:
        columns += list(BASELINE_METRICS)
    for col in columns:
        if col not in table:
            table[col] = np.nan
    table["r_over_cmax"] = table["pearson_recorded"] / table["c_max"]
    if baseline is not None:
        table["baseline_r_over_cmax"] = table["baseline_pearson_recorded"] / table["c_max"]
    return table[columns]


# --------------------------------------------------------------------------- summarize
def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over fields of every score, per structure.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`evaluate` (any table with a ``structure`` column and numeric
        score columns works).

    Returns
    -------
    pandas.DataFrame
        Indexed by structure (in the table's order), with ``n_fields`` and, for each score
        column, ``<score>_mean`` and ``<score>_std`` (sample standard deviation, ddof=1;
        NaN with a single field).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"structure": ["dna", "dna"], "field": [0, 1],
    ...                   "pearson_recorded": [0.8, 0.9]})
    >>> round(float(summarize(t).loc["dna", "pearson_recorded_mean"]), 6)
    0.85
    """
    if not isinstance(table, pd.DataFrame) or "structure" not in table:
        raise TypeError("summarize: expected the DataFrame returned by evaluate(...)")
    scores = [
        c
        for c in table.columns
        if c not in ("structure", "field") and pd.api.types.is_numeric_dtype(table[c])
    ]
    groups = table.groupby("structure", sort=False)
    out = pd.DataFrame({"n_fields": groups.size()})
    for c in scores:
        out[f"{c}_mean"] = groups[c].mean()
        out[f"{c}_std"] = groups[c].std(ddof=1)
    out.index.name = "structure"
    return out
