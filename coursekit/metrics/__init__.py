"""Evaluation helpers: how close is a prediction, and how close could it possibly be?

- :func:`pearson_r`, :func:`nrmse`, :func:`ssim`, :func:`psnr`: similarity of a prediction
  to a target (optionally inside a mask).
- :func:`noise_ceiling`: the best Pearson r any model can reach against a noisy target
  (C_max, Ounkomol et al. 2018), estimated from the noisy image and the camera calibration.
- :func:`evaluate`, :func:`summarize`, :func:`plot_scores`: one tidy table per structure and
  field, and the lecture's bar chart with the C_max line.
"""

from coursekit.metrics.ceiling import (
    calibrate_dark,
    camera_calibration_from_dark,
    estimate_gain,
    noise_ceiling,
    noise_ceiling_from_repeats,
)
from coursekit.metrics.evaluate import METRICS, evaluate, plot_scores, summarize
from coursekit.metrics.similarity import fit_affine, nrmse, pearson_r, psnr, ssim

__all__ = [
    "pearson_r",
    "nrmse",
    "ssim",
    "psnr",
    "fit_affine",
    "noise_ceiling",
    "noise_ceiling_from_repeats",
    "calibrate_dark",
    "camera_calibration_from_dark",
    "estimate_gain",
    "evaluate",
    "summarize",
    "plot_scores",
    "METRICS",
]
