"""The lecture's bar chart: a score per structure, the noise ceiling, and the baseline.

After Ounkomol et al. (2018), Fig. 2: one bar per structure at the mean Pearson r over
fields, the noise ceiling C_max drawn across it, and (the course's addition, as CARE and
ZeroCostDL4Mic report it) a grey hatched bar for the input itself scored the same way, so
that "r = 0.85" is read against what doing nothing gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coursekit.metrics.evaluate import BASELINE_LABEL, METRICS

__all__ = ["plot_scores"]

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
_BAR_WIDTH = 0.7  # of the space between structures, for the model and baseline bars together
_MODEL_COLOUR = "0.55"
_BASELINE_COLOUR = "0.9"
_BASELINE_HATCH = "///"
_CEILING_LINEWIDTH = 2.5
_POINT_SIZE = 3
_JITTER = 0.15  # half-width of the spread of the per-field dots, as a fraction of a bar slot
_Y_MARGIN = 0.05


def plot_scores(
    table: pd.DataFrame,
    *,
    ax=None,
    metric: str = "pearson_recorded",
    ceiling: bool = True,
    baseline: bool = True,
    points: bool = True,
    descending: bool = True,
    label: str = "model",
):
    """Bar chart of a score per structure with the noise ceiling and the input baseline.

    One bar per structure at the mean over fields, with the standard deviation as an
    error bar and, with ``points``, one dot per field; bars are sorted by their mean
    score. With ``baseline`` and a ``baseline_<metric>`` column in the table (from
    ``evaluate(..., baseline=...)``), a grey hatched bar beside each one shows the input
    itself scored the same way (label ``"input (baseline)"``). With ``ceiling`` and
    ``metric="pearson_recorded"``, the mean C_max of each structure is drawn as a short
    horizontal black line across its bars: the best r any model could reach against that
    noisy target (it bounds the baseline too). C_max bounds only the correlation with the
    recorded target, so it is not drawn for other metrics, nor where ``c_max`` is NaN.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`coursekit.metrics.evaluate.evaluate`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made otherwise.
    metric : str
        A score column of the table, e.g. ``"pearson_clean"`` or ``"ssim_recorded"``.
    ceiling : bool
        Draw the C_max markers (label ``"noise ceiling C_max"``, a LineCollection).
    baseline : bool
        Draw the baseline bars where the table has them.
    points : bool
        Show each field's score as a dot.
    descending : bool
        Sort the bars from best to worst (``False``: worst to best). For NRMSE, where
        lower is better, the best is the lowest.
    label : str
        Legend label of the model's bars.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    A lecture's chart: evaluate a prediction with the input as baseline, then plot.

    >>> import numpy as np
    >>> from coursekit.metrics import evaluate
    >>> rng = np.random.default_rng(0)
    >>> clean = {s: 100 + 50 * rng.random((64, 64)) for s in ("dna", "membrane")}
    >>> recorded = {s: c + 5 * rng.standard_normal(c.shape) for s, c in clean.items()}
    >>> predicted = {s: c + 10 * rng.standard_normal(c.shape) for s, c in clean.items()}
    >>> inp = clean["dna"] + 40 * rng.standard_normal((64, 64))
    >>> camera = {"gain": 1.0, "offset": 0.0, "read_noise_adu": 5.0}
    >>> table = evaluate(predicted, recorded, camera=camera, baseline=inp)
    >>> ax = plot_scores(table)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['noise ceiling C_max', 'model', 'input (baseline)']
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
    base_col = f"baseline_{metric}"
    with_baseline = (
        baseline and base_col in table and bool(np.isfinite(table[base_col].to_numpy(float)).any())
    )
    if ax is None:
        per_structure = 0.9 if with_baseline else 0.7
        _, ax = plt.subplots(figsize=(1.5 + per_structure * table["structure"].nunique(), 3.5))

    groups = table.groupby("structure", sort=False)
    mean = groups[metric].mean()
    better_low = metric.startswith("nrmse")
    order = mean.sort_values(ascending=better_low == descending, kind="stable").index
    x = np.arange(len(order))
    width = _BAR_WIDTH / 2 if with_baseline else _BAR_WIDTH
    x_model = x - width / 2 if with_baseline else x

    def bars(xs, column, **style):
        m = groups[column].mean()[order].to_numpy(dtype=float)
        sd = groups[column].std(ddof=1).fillna(0.0)[order].to_numpy(dtype=float)
        ax.bar(xs, m, width=width, edgecolor="0.3", **style)
        if (sd > 0).any():
            ax.errorbar(xs, m, yerr=sd, fmt="none", ecolor="0.2", capsize=3)
        if points:
            for xi, s in zip(xs, order):
                vals = table.loc[table["structure"] == s, column].to_numpy(dtype=float)
                spread = _JITTER * width / _BAR_WIDTH
                jitter = np.linspace(-spread, spread, len(vals)) if len(vals) > 1 else [0.0]
                ax.plot(
                    xi + np.asarray(jitter),
                    vals,
                    "o",
                    ms=_POINT_SIZE,
                    color="tab:blue",
                    alpha=0.8,
                    zorder=3,
                )

    bars(x_model, metric, color=_MODEL_COLOUR, label=label)
    if with_baseline:
        bars(
            x + width / 2,
            base_col,
            color=_BASELINE_COLOUR,
            hatch=_BASELINE_HATCH,
            label=BASELINE_LABEL,
        )

    drew_ceiling = False
    if ceiling and metric == "pearson_recorded" and "c_max" in table:
        cmax = groups["c_max"].mean()[order].to_numpy(dtype=float)
        ok = np.isfinite(cmax)
        if ok.any():
            left = x_model - width / 2
            right = (x + width) if with_baseline else (x + width / 2)
            ax.hlines(
                cmax[ok],
                left[ok],
                right[ok],
                colors="k",
                linewidths=_CEILING_LINEWIDTH,
                label="noise ceiling C_max",
                zorder=4,
            )
            drew_ceiling = True
    if with_baseline or drew_ceiling:
        # above the plotting area, so that it never hides a bar or its ceiling
        ax.legend(
            loc="lower left", bbox_to_anchor=(0, 1.01), ncol=3, fontsize="small", frameon=False
        )

    ax.set_xticks(x)
    ax.set_xticklabels([str(s) for s in order], rotation=45, ha="right")
    ax.set_xlabel("structure")
    ax.set_ylabel(_AXIS_LABELS.get(metric, metric))
    if metric.startswith("pearson") or metric.startswith("ssim"):
        lowest = [float(np.nanmin(table[metric]))]
        if with_baseline:
            lowest.append(float(np.nanmin(table[base_col])))
        ax.set_ylim(min(0.0, min(lowest) - _Y_MARGIN), 1.0 + _Y_MARGIN)
    ax.set_xlim(-0.6, len(order) - 0.4)
    return ax
