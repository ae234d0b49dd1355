"""Figures for the hallucination probes and for uncertainty against error."""

from __future__ import annotations

import numpy as np

from coursekit._validation import check_array, check_positive
from coursekit.hallucination.maps import (
    _DEFAULT_FRACTION,
    _PEAK_PERCENTILE,
    _maps,
    _pair,
)
from coursekit.hallucination.probes import Probe, _select_channel

__all__ = ["plot_probe", "plot_uncertainty"]


def _plane(x: np.ndarray) -> np.ndarray:
    """A 2D view: the middle plane of every leading axis."""
    x = np.asarray(x)
    while x.ndim > 2:
        x = x[x.shape[0] // 2]
    return x


def plot_probe(
    probe: Probe,
    prediction,
    *,
    calibration=None,
    scale=None,
    threshold=None,
    background=None,
    channel: int = 0,
    axes=None,
):
    """Show a probe: input, truth, prediction and where it hallucinates or misses.

    Four panels: the input (middle focal plane or z-slice), the clean truth, the
    prediction on the truth's scale (same colour limits), and an overlay of the
    hallucination map (magenta) and the miss map (green) on the truth.

    Parameters
    ----------
    probe : Probe
    prediction : array_like
        The model's output for ``probe.input``.
    calibration : mapping or pandas.Series, optional
        A row of :func:`run_probes`'s table (``scale_a``, ``scale_b``, ``threshold``,
        ``background``), so the figure uses the same calibration as the table.
    scale, threshold, background
        Override the calibration; see :func:`hallucination_map`. Without either, the
        prediction is fitted to this probe's truth (impossible for an empty truth).
    channel : int
        Output channel to show when the prediction has several.
    axes : sequence of 4 matplotlib Axes, optional

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes

    Examples
    --------
    >>> from coursekit.hallucination import make_probes
    >>> probe = make_probes((64, 64), seed=0)["cell_removed"]
    >>> axes = plot_probe(probe, probe.truth + 0.1, scale="none")
    >>> len(axes)
    4
    """
    import matplotlib.pyplot as plt

    if not isinstance(probe, Probe):
        raise TypeError(f"probe: expected a Probe, got {type(probe).__name__}")
    pred = _select_channel(
        check_array(prediction, "prediction", allow_int=True),
        probe.truth.shape,
        channel,
        probe.name,
    )
    if calibration is not None:
        scale = scale if scale is not None else (calibration["scale_a"], calibration["scale_b"])
        threshold = threshold if threshold is not None else calibration["threshold"]
        background = background if background is not None else calibration["background"]
    scale = "affine" if scale is None else scale
    hall, miss, info = _maps(
        pred, probe.truth, threshold, background, scale, None, _DEFAULT_FRACTION
    )
    scaled = info["pp"] + info["background"]
    if axes is None:
        _, axes = plt.subplots(1, 4, figsize=(13, 3.4))
    axes = np.asarray(axes).ravel()
    if axes.size != 4:
        raise ValueError(f"axes: expected 4 axes, got {axes.size}")
    lo = info["background"]
    hi = max(float(np.percentile(probe.truth, _PEAK_PERCENTILE)), info["threshold"] * 2 - lo)
    if not hi > lo:
        hi = lo + 1.0
    axes[0].imshow(_plane(probe.input), cmap="gray")
    axes[0].set_title(f"input ({probe.name})")
    axes[1].imshow(_plane(probe.truth), cmap="gray", vmin=lo, vmax=hi)
    axes[1].set_title(f"truth ({probe.label})")
    axes[2].imshow(_plane(scaled), cmap="gray", vmin=lo, vmax=hi)
    axes[2].set_title("prediction (truth units)")
    base = np.clip((_plane(probe.truth) - lo) / (hi - lo), 0, 1)
    rgb = np.stack([base] * 3, axis=-1) * 0.6
    h, m = _plane(hall) > 0, _plane(miss) > 0
    rgb[h] = (1.0, 0.0, 1.0)
    rgb[m] = (0.0, 0.9, 0.0)
    axes[3].imshow(rgb)
    axes[3].set_title("hallucinated (magenta), missed (green)")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def plot_uncertainty(mean, std, *, truth=None, axes=None, max_points: int = 5000, seed: int = 0):
    """Show a prediction's mean, its uncertainty and, with the truth, the error.

    Panels: the mean prediction, the standard deviation, and with ``truth`` the absolute
    error and a scatter of error against uncertainty (a random subset of pixels). Both
    should be in the same units (scale the truth to the prediction's first).

    Parameters
    ----------
    mean, std : array_like
        From :func:`ensemble_uncertainty` or :func:`mc_dropout_uncertainty`, same shape.
    truth : array_like, optional
        The clean target, same shape (a leading channel of length 1 is matched).
    axes : sequence of matplotlib Axes, optional
        2 axes without ``truth``, 4 with it.
    max_points : int
        Pixels in the scatter.
    seed : int
        Which pixels.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random((32, 32))
    >>> std = rng.random((32, 32))
    >>> axes = plot_uncertainty(truth + std * rng.standard_normal((32, 32)), std, truth=truth)
    """
    import matplotlib.pyplot as plt

    mu = check_array(mean, "mean", allow_int=True)
    sd = check_array(std, "std", allow_int=True)
    if mu.shape != sd.shape:
        raise ValueError(f"mean and std must have the same shape, got {mu.shape} and {sd.shape}")
    check_positive(max_points, "max_points")
    n_panels = 2 if truth is None else 4
    if axes is None:
        _, axes = plt.subplots(1, n_panels, figsize=(3.4 * n_panels, 3.4), layout="constrained")
    axes = np.asarray(axes).ravel()
    if axes.size != n_panels:
        raise ValueError(f"axes: expected {n_panels} axes, got {axes.size}")
    im = axes[0].imshow(_plane(mu), cmap="gray")
    axes[0].set_title("mean prediction")
    plt.colorbar(im, ax=axes[0], fraction=0.046)
    im = axes[1].imshow(_plane(sd), cmap="magma")
    axes[1].set_title("uncertainty (std)")
    plt.colorbar(im, ax=axes[1], fraction=0.046)
    if truth is not None:
        mu2, t = _pair(mu, truth)
        sd2 = sd[0] if sd.shape != t.shape else sd
        err = np.abs(mu2.astype(np.float64) - t)
        im = axes[2].imshow(_plane(err), cmap="magma")
        axes[2].set_title("|mean - truth|")
        plt.colorbar(im, ax=axes[2], fraction=0.046)
        rng = np.random.default_rng(seed)
        idx = rng.choice(err.size, size=min(int(max_points), err.size), replace=False)
        axes[3].plot(sd2.ravel()[idx], err.ravel()[idx], ".", ms=2, alpha=0.4)
        axes[3].set_xlabel("uncertainty (std)")
        axes[3].set_ylabel("absolute error")
        axes[3].set_title("does uncertainty flag errors?")
    for ax in axes[: 3 if truth is not None else 2]:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes
