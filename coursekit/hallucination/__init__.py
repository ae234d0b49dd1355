"""Critique predictions: probes with a known answer, hallucination and miss maps, uncertainty.

"Be very careful regarding hallucinated pixel intensities": a network that maps
transmitted light to fluorescence paints *plausible* structure, wherever it is. The
virtual microscope knows the noise-free truth, so hallucination can be measured instead
of guessed at:

1. **Probes** (:func:`make_probes`, :func:`run_probes`): inputs where the right answer is
   known, such as an empty field, pure noise, a cell removed, another cell type, another
   microscope, or a structure with no optical signature.
2. **Maps** (:func:`hallucination_map`, :func:`miss_map`, :func:`hallucination_scores`):
   where the prediction shows signal that the clean truth does not have, and where the
   truth has signal that the prediction does not show.
3. **Uncertainty** (:func:`ensemble_uncertainty`, :func:`mc_dropout_uncertainty`,
   :func:`uncertainty_calibration`): does the model's own spread flag its largest errors?

Common scale
------------
A network outputs whatever units it was trained on (e.g. z-scored intensities) while the
truth is in camera counts, so every map and score first brings the prediction onto the
truth's scale with an affine map ``a * prediction + b`` (``scale=``):

- ``"affine"`` (default): ``a, b`` from a least-squares fit of the prediction to the truth
  (as in CARE's evaluation, Weigert et al. 2018). Fine for an ordinary field; impossible
  when the truth is constant (an empty field) and flattering when the prediction
  hallucinates a lot, since the fit shrinks what it cannot explain.
- ``(a, b)``: a calibration fitted once on a reference field (:func:`fit_scale`) and
  applied unchanged to every probe. :func:`run_probes` does this: the model's units are
  calibrated where it works as intended, then it is asked about empty fields.
- ``"none"``: the prediction is already in the truth's units.

Signal levels
-------------
Signal means "above the threshold": ``background + fraction * (peak - background)``, with
``background`` and ``peak`` the 1st and 99.9th percentiles of the truth and
``fraction = 0.1`` by default (one tenth of the truth's dynamic range above its
background; :func:`signal_levels`). The same threshold decides where the truth has
signal and where the prediction claims some, so low-level noise in a prediction is not
counted as hallucination, and a faint but real structure still counts as signal.

Modules: :mod:`~coursekit.hallucination.probes` (probes and :func:`run_probes`),
:mod:`~coursekit.hallucination.maps` (scale, signal levels, maps, scores),
:mod:`~coursekit.hallucination.uncertainty` (ensembles, MC dropout, calibration),
:mod:`~coursekit.hallucination.plots` (figures). Models run through
:func:`coursekit.models.predict` (with the model's training normalization), and
:func:`mc_dropout_uncertainty` is :func:`coursekit.models.predict_mc_dropout`.
"""

from coursekit.hallucination.maps import (
    fit_scale,
    hallucination_map,
    hallucination_scores,
    miss_map,
    signal_levels,
    to_truth_scale,
)
from coursekit.hallucination.plots import plot_probe, plot_uncertainty
from coursekit.hallucination.probes import PROBE_NAMES, Probe, make_probes, run_probes
from coursekit.hallucination.uncertainty import ensemble_uncertainty, uncertainty_calibration

__all__ = [
    "Probe",
    "PROBE_NAMES",
    "make_probes",
    "run_probes",
    "signal_levels",
    "fit_scale",
    "to_truth_scale",
    "hallucination_map",
    "miss_map",
    "hallucination_scores",
    "ensemble_uncertainty",
    "mc_dropout_uncertainty",  # noqa: F822 - provided by __getattr__ (needs torch)
    "uncertainty_calibration",
    "plot_probe",
    "plot_uncertainty",
]


def __getattr__(name):
    # MC dropout exists once, in coursekit.models; imported on first use (it needs torch)
    if name == "mc_dropout_uncertainty":
        from coursekit.models.mc_dropout import predict_mc_dropout

        return predict_mc_dropout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
