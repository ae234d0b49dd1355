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
from coursekit.metrics.similarity import fit_affine, nrmse, pearson_r, psnr, ssim

__all__ = [
    "pearson_r",
    "nrmse",
    "ssim",
    "psnr",
    "fit_affine",
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
