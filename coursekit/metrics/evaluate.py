"""Evaluate predicted fluorescence against its targets: one tidy table, a summary, a bar chart.

:func:`evaluate` scores every (structure, field) pair against the *recorded* (noisy)
target, as in a real experiment, and, when the simulator provides it, against the *clean*
(noise-free) target, which only a virtual microscope knows. It adds the noise ceiling
C_max (Ounkomol et al. 2018): the best Pearson r any prediction can reach against the
noisy target, estimated from the recorded image and the camera calibration alone (never
from the clean image, so that the same code works on real data). :func:`plot_scores`
draws the lecture's bar chart after Ounkomol et al. (2018), Fig. 2.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coursekit._validation import check_array, check_choice
from coursekit.metrics.similarity import (
    _check_mask,
    _is_constant,
    fit_affine,
    nrmse,
    pearson_r,
    psnr,
    ssim,
)

__all__ = ["evaluate", "summarize", "plot_scores", "METRICS"]

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


def _calibration(cal, label) -> dict:
    """A camera calibration (dict or object) -> noise_ceiling keyword arguments in ADU."""

    def get(key):
        if isinstance(cal, Mapping):
            return cal.get(key)
        return getattr(cal, key, None)

    gain, offset = get("gain"), get("offset")
    read_adu, read_e = get("read_noise_adu"), get("read_noise_e")
    if gain is None or offset is None or (read_adu is None and read_e is None):
        raise ValueError(
            f"camera for {label!r}: expected a calibration with 'gain' (ADU per electron), "
            "'offset' (ADU) and 'read_noise_adu' or 'read_noise_e', e.g. "
            f"field.metadata['camera'], got {cal!r}"
        )
    if read_adu is None:
        read_adu = float(read_e) * float(gain)  # electrons -> ADU
    return {"gain": float(gain), "offset": float(offset), "read_noise_adu": float(read_adu)}


def _camera_for(camera, label):
    """Resolve ``camera`` (None, one calibration, or a dict label -> calibration)."""
    if camera is None:
        return None
    single = (isinstance(camera, Mapping) and "gain" in camera) or (
        not isinstance(camera, Mapping) and hasattr(camera, "gain")
    )
    if single:
        return _calibration(camera, label)
    if isinstance(camera, Mapping):
        if label not in camera:
            raise KeyError(
                f"camera: no calibration for structure {label!r}; give one calibration for all "
                f"structures or a dict with keys {sorted(map(str, camera))} plus {label!r}"
            )
        return None if camera[label] is None else _calibration(camera[label], label)
    raise TypeError(
        f"camera: expected None, a calibration (dict or object with gain, offset, read noise) "
        f"or a dict mapping structures to calibrations, got {type(camera).__name__}"
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
    x = pred.astype(np.float64)
    if _is_constant(x[mask] if mask is not None else x.ravel()):
        mean = target[mask].mean() if mask is not None else target.mean()
        return np.full(target.shape, mean, dtype=np.float64)
    a, b = fit_affine(target=target, prediction=x, mask=mask)
    return a * x + b


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


# --------------------------------------------------------------------------- evaluate
def evaluate(
    predictions,
    recorded,
    *,
    clean=None,
    camera=None,
    field_ids: Sequence | None = None,
    mask=None,
    rescale: str = "affine",
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
        and fields, float (camera counts in ADU, or any units).
    clean : dict[str, ndarray or list of ndarray], optional
        The noise-free targets of the simulator, same layout. Without it the ``*_clean``
        columns are NaN.
    camera : dict or object, or dict[str, dict or object], optional
        The camera calibration used for the noise ceiling C_max: a mapping or object with
        ``gain`` (ADU per electron), ``offset`` (ADU) and ``read_noise_adu`` or
        ``read_noise_e`` (electrons, converted with the gain), e.g.
        ``field.metadata["camera"]``; one for all structures, or a dict structure ->
        calibration (``None`` for a structure without one). C_max is computed by
        ``coursekit.metrics.ceiling.noise_ceiling`` from the *recorded* image (never the
        clean one). Without ``camera`` the ``c_max`` and ``r_over_cmax`` columns are NaN.
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

    Returns
    -------
    pandas.DataFrame
        Columns ``structure``, ``field``, then :data:`METRICS`: ``pearson_recorded``,
        ``pearson_clean``, ``c_max``, ``r_over_cmax`` (pearson_recorded / c_max, the
        fraction of the achievable correlation reached), ``nrmse_*`` (std-normalized),
        ``ssim_*`` and ``psnr_*`` (data range = the target's range, dB) against the
        recorded and the clean target. A constant prediction gets NaN Pearson r and a
        warning.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = rng.random((32, 32))
    >>> noisy = clean + 0.1 * rng.standard_normal((32, 32))
    >>> table = evaluate({"dna": 2 * clean}, {"dna": noisy}, clean={"dna": clean})
    >>> float(table.loc[0, "pearson_clean"])
    1.0
    """
    check_choice(rescale, "rescale", ("affine", "none"))
    predictions = _check_label_dict(predictions, "predictions")
    recorded = _check_label_dict(recorded, "recorded")
    if clean is not None:
        clean = _check_label_dict(clean, "clean")

    rows = []
    n_fields_seen = None
    for label, pred_value in predictions.items():
        if label not in recorded:
            raise KeyError(
                f"recorded has no target for structure {label!r}; it has {sorted(map(str, recorded))}"
            )
        preds = _as_fields(pred_value, "predictions", label)
        recs = _as_fields(recorded[label], "recorded", label)
        if len(recs) != len(preds):
            raise ValueError(
                f"structure {label!r}: {len(preds)} predicted fields but {len(recs)} recorded ones"
            )
        if clean is not None:
            if label not in clean:
                raise KeyError(f"clean has no target for structure {label!r}")
            cleans = _as_fields(clean[label], "clean", label)
            if len(cleans) != len(preds):
                raise ValueError(
                    f"structure {label!r}: {len(preds)} predicted fields but {len(cleans)} clean ones"
                )
        else:
            cleans = [None] * len(preds)
        n = len(preds)
        if n_fields_seen is None:
            n_fields_seen = n
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
            if cleans[i] is not None:
                cl = check_array(cleans[i], f"clean[{label!r}][{i}]", allow_int=True)
                if cl.shape != rec.shape:
                    raise ValueError(
                        f"{where}: clean target shape {cl.shape} differs from the recorded {rec.shape}"
                    )
                s = _image_scores(pred, cl, m, rescale, where + " (clean)")
                row.update({f"{k}_clean": v for k, v in s.items()})
            if cal is not None:
                from coursekit.metrics.ceiling import noise_ceiling

                row["c_max"] = float(noise_ceiling(rec, mask=m, **cal))
            rows.append(row)

    table = pd.DataFrame(rows)
    for col in METRICS:
        if col not in table:
            table[col] = np.nan
    table["r_over_cmax"] = table["pearson_recorded"] / table["c_max"]
    return table[["structure", "field", *METRICS]]


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


# --------------------------------------------------------------------------- plot
_AXIS_LABELS = {
    "pearson_recorded": "Pearson r (prediction vs recorded target)",
    "pearson_clean": "Pearson r (prediction vs clean target)",
    "r_over_cmax": "r / C_max",
    "nrmse_recorded": "NRMSE (vs recorded target)",
    "nrmse_clean": "NRMSE (vs clean target)",
    "ssim_recorded": "SSIM (vs recorded target)",
    "ssim_clean": "SSIM (vs clean target)",
    "psnr_recorded": "PSNR (dB, vs recorded target)",
    "psnr_clean": "PSNR (dB, vs clean target)",
    "c_max": "noise ceiling C_max",
}


def plot_scores(
    table: pd.DataFrame,
    *,
    ax=None,
    metric: str = "pearson_recorded",
    ceiling: bool = True,
    points: bool = True,
    descending: bool = True,
):
    """Bar chart of a score per structure with the noise ceiling, after Ounkomol et al. 2018, Fig. 2.

    One bar per structure at the mean over fields, with the standard deviation as an
    error bar and, with ``points``, one dot per field; bars are sorted by their mean
    score. With ``ceiling`` and ``metric="pearson_recorded"``, the mean C_max of each
    structure is drawn as a short horizontal black line across its bar: the best r any
    model could reach against that noisy target. (C_max bounds only the correlation with
    the recorded target, so it is not drawn for other metrics, nor where ``c_max`` is
    NaN.)

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`evaluate`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made otherwise.
    metric : str
        A score column of the table, e.g. ``"pearson_clean"`` or ``"ssim_recorded"``.
    ceiling : bool
        Draw the C_max markers (label ``"noise ceiling C_max"``, a LineCollection).
    points : bool
        Show each field's score as a dot.
    descending : bool
        Sort the bars from best to worst (``False``: worst to best). For NRMSE, where
        lower is better, the best is the lowest.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"structure": ["dna", "membrane"], "field": [0, 0],
    ...                   "pearson_recorded": [0.9, 0.6], "c_max": [0.95, 0.8]})
    >>> ax = plot_scores(t)
    >>> [tick.get_text() for tick in ax.get_xticklabels()]
    ['dna', 'membrane']
    """
    import matplotlib.pyplot as plt

    if not isinstance(table, pd.DataFrame) or "structure" not in table:
        raise TypeError("plot_scores: expected the DataFrame returned by evaluate(...)")
    if metric not in table or not pd.api.types.is_numeric_dtype(table[metric]):
        numeric = [c for c in table.columns if c in METRICS]
        raise ValueError(
            f"unknown metric {metric!r}; expected one of {', '.join(map(repr, numeric))}"
        )
    if table.empty:
        raise ValueError("plot_scores: the table is empty")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.7 * table["structure"].nunique(), 3.5))

    groups = table.groupby("structure", sort=False)[metric]
    mean = groups.mean()
    std = groups.std(ddof=1).fillna(0.0)
    better_low = metric.startswith("nrmse")
    order = mean.sort_values(ascending=better_low == descending, kind="stable").index
    x = np.arange(len(order))
    width = 0.7
    ax.bar(
        x,
        mean[order].to_numpy(),
        width=width,
        color="0.7",
        edgecolor="0.3",
        label="mean over fields",
    )
    if (std[order] > 0).any():
        ax.errorbar(
            x,
            mean[order].to_numpy(),
            yerr=std[order].to_numpy(),
            fmt="none",
            ecolor="0.2",
            capsize=3,
        )
    if points:
        for xi, s in zip(x, order):
            vals = table.loc[table["structure"] == s, metric].to_numpy(dtype=float)
            jitter = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else np.zeros(1)
            ax.plot(xi + jitter, vals, "o", ms=3, color="tab:blue", alpha=0.8, zorder=3)

    if ceiling and metric == "pearson_recorded" and "c_max" in table:
        cmax = table.groupby("structure", sort=False)["c_max"].mean()[order].to_numpy(dtype=float)
        ok = np.isfinite(cmax)
        if ok.any():
            ax.hlines(
                cmax[ok],
                x[ok] - width / 2,
                x[ok] + width / 2,
                colors="k",
                linewidths=2.5,
                label="noise ceiling C_max",
                zorder=4,
            )
            # above the plotting area, so that it never hides a bar or its ceiling
            ax.legend(
                loc="lower left", bbox_to_anchor=(0, 1.01), ncol=1, fontsize="small", frameon=False
            )

    ax.set_xticks(x)
    ax.set_xticklabels([str(s) for s in order], rotation=45, ha="right")
    ax.set_xlabel("structure")
    ax.set_ylabel(_AXIS_LABELS.get(metric, metric))
    if metric.startswith("pearson") or metric.startswith("ssim"):
        low = min(0.0, float(np.nanmin(table[metric])) - 0.05)
        ax.set_ylim(low, 1.05)
    ax.set_xlim(-0.6, len(order) - 0.4)
    return ax
