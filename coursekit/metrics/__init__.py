"""Evaluation helpers: how close is a prediction, and how close could it possibly be?

- :func:`pearson_r`, :func:`nrmse`, :func:`ssim`, :func:`psnr`: similarity of a prediction
  to a target (optionally inside a mask), target first as in ``skimage.metrics``:
  ``pearson_r(target=t, prediction=p)``; :func:`fit_affine` maps a prediction onto a
  target's units.
- :func:`noise_ceiling`: the best Pearson r any model can reach against a noisy target
  (C_max, Ounkomol et al. 2018), from the noisy image and the camera calibration;
  :func:`noise_ceiling_from_repeats` (two acquisitions) and
  :func:`noise_ceiling_from_image` (no calibration, a noise model fitted to the image)
  where there is no calibration.
- :class:`CameraCalibration`, :func:`as_calibration`, :func:`calibrate_dark`,
  :func:`estimate_gain`: the calibration, in one type, and how to measure it.
- :func:`evaluate`, :func:`summarize`, :func:`plot_scores`: one tidy table per structure and
  field (with the input-as-prediction baseline), and the lecture's bar chart with the C_max
  line.

All metrics take the target first, as ``skimage.metrics`` does; call them with keywords.

Examples
--------
The lecture recipe: score predictions against a simulated field's targets, with the noise
ceiling from the field's camera and the in-focus transmitted-light plane as the baseline
(what doing nothing scores), then draw the chart. Here the "prediction" is the clean
target itself, the best any model could do, so its r reaches C_max.

>>> from coursekit.metrics import evaluate, plot_scores, pearson_r
>>> from coursekit.microscope.field import simulate_field
>>> field = simulate_field((128, 128), seed=0, n_cells=3, labels=("dna", "membrane"))
>>> predictions = {s: field.clean[s] for s in ("dna", "membrane")}
>>> table = evaluate(predictions, field.recorded, clean=field.clean,
...                  camera=field.metadata["camera"], baseline=field.transmitted[1])
>>> row = table.iloc[0]
>>> bool(abs(row["pearson_recorded"] - row["c_max"]) < 0.01)  # a perfect model meets C_max
True
>>> bool(row["baseline_pearson_recorded"] < row["pearson_recorded"])
True
>>> ax = plot_scores(table)  # grey hatched bars: the input; black lines: C_max
>>> pearson_r(target=field.recorded["dna"], prediction=field.clean["dna"]) > 0.9
True
"""

from coursekit.metrics.calibration import (
    CameraCalibration,
    as_calibration,
    calibrate_dark,
    estimate_gain,
)
from coursekit.metrics.ceiling import (
    CeilingUnavailable,
    noise_ceiling,
    noise_ceiling_from_image,
    noise_ceiling_from_repeats,
)
from coursekit.metrics.evaluate import (
    BASELINE_METRICS,
    METRICS,
    TARGET_COLUMNS,
    evaluate,
    summarize,
)
from coursekit.metrics.noise_model import NoiseFit, fit_noise_model
from coursekit.metrics.plot import plot_scores
from coursekit.metrics.similarity import (
    fit_affine,
    nrmse,
    pearson_r,
    psnr,
    rescale_to_target,
    ssim,
)

__all__ = [
    "pearson_r",
    "nrmse",
    "ssim",
    "psnr",
    "fit_affine",
    "rescale_to_target",
    "noise_ceiling",
    "noise_ceiling_from_repeats",
    "noise_ceiling_from_image",
    "CeilingUnavailable",
    "CameraCalibration",
    "as_calibration",
    "calibrate_dark",
    "estimate_gain",
    "NoiseFit",
    "fit_noise_model",
    "evaluate",
    "summarize",
    "plot_scores",
    "METRICS",
    "BASELINE_METRICS",
    "TARGET_COLUMNS",
]
