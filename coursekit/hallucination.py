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
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from coursekit._validation import check_array, check_positive
from coursekit.metrics.similarity import _check_mask, fit_affine, pearson_r

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
    "mc_dropout_uncertainty",
    "uncertainty_calibration",
    "plot_probe",
    "plot_uncertainty",
]

#: The probes :func:`make_probes` builds, in order ("reference" is the control).
PROBE_NAMES = (
    "reference",
    "blank",
    "noise",
    "cell_removed",
    "other_cell_type",
    "other_modality",
    "no_signature",
)

_DEFAULT_FRACTION = 0.1
_BACKGROUND_PERCENTILE = 1.0
_PEAK_PERCENTILE = 99.9


# =========================================================================== probes
@dataclass(eq=False)
class Probe:
    """An input whose right answer is known.

    Attributes
    ----------
    name : str
        One of :data:`PROBE_NAMES`.
    input : numpy.ndarray
        What the model gets: ``(C, Y, X)`` (C = focal planes) for 2D fields,
        ``(1, Z, Y, X)`` for 3D ones; float32, relative intensity (1.0 = illumination).
    truth : numpy.ndarray
        The clean (noise-free) fluorescence a perfect model would output for ``label``,
        ``(Y, X)`` or ``(Z, Y, X)``; the field's background level where nothing is.
    description : str
        One sentence for the lecture.
    label : str
        The structure the truth shows.
    reference_input, reference_truth : numpy.ndarray or None
        The unmodified field the probe was derived from, for side-by-side comparison.
    region : numpy.ndarray of bool or None
        Where the probe changed the specimen (the removed cell), ``truth``'s shape.
    metadata : dict
        Anything else (e.g. the removed cell's id, the modality).
    """

    name: str
    input: np.ndarray
    truth: np.ndarray
    description: str
    label: str = "dna"
    reference_input: np.ndarray | None = None
    reference_truth: np.ndarray | None = None
    region: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Probe(name={self.name!r}, label={self.label!r}, input={self.input.shape}, "
            f"truth={self.truth.shape}, description={self.description!r})"
        )


def _model_input(fld, ndim_spatial: int) -> np.ndarray:
    x = np.asarray(fld.transmitted, dtype=np.float32)
    if ndim_spatial == 3 and x.ndim == 3:
        x = x[None]  # (Z, Y, X) -> one channel
    return x


def _truth(fld, label: str, ndim_spatial: int) -> np.ndarray:
    if label not in fld.clean:
        raise KeyError(
            f"the simulated field has no clean {label!r} image; it has {sorted(fld.clean)}"
        )
    t = np.asarray(fld.clean[label], dtype=np.float32)
    if t.ndim == ndim_spatial + 1 and t.shape[0] == 1:
        t = t[0]
    return t


def make_probes(
    shape=(128, 128),
    *,
    seed: int = 0,
    modality: str = "brightfield",
    n_planes: int = 3,
    label: str = "dna",
    other_cell_type: str = "fibroblast",
    no_signature_label: str | None = None,
    **field_kwargs,
) -> dict[str, Probe]:
    """Build the hallucination probes from the virtual microscope.

    Every probe comes from ``coursekit.microscope.simulate_field`` with the same ``seed``,
    so the cells are the same wherever the probe does not change them:

    ``"reference"``
        The unmodified field: the control, and where :func:`run_probes` calibrates the
        model's output scale.
    ``"blank"``
        Empty medium (every cell dropped): uniform illumination, truth = background.
    ``"noise"``
        Gaussian noise with the reference input's mean and standard deviation in each
        plane; truth = the blank field's (background only).
    ``"cell_removed"``
        The reference field with its largest cell removed, everything else identical;
        truth = that field's clean label, ``region`` = the removed cell's footprint.
    ``"other_cell_type"``
        A field of ``other_cell_type`` cells.
    ``"other_modality"``
        The same cells imaged by the other modality (phase contrast for a bright-field
        model and vice versa); the truth is the reference's.
    ``"no_signature"``
        The same cells with the refractive index increment (delta_n) of
        ``no_signature_label`` set to 0: the structure is in the truth, nothing in the
        input shows it.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` for 2D fields or ``(Z, Y, X)`` for 3D ones, in pixels.
    seed : int
        Seed of every simulated field (and of the noise probe).
    modality : {"brightfield", "phase_contrast"}
        The modality the model was trained on.
    n_planes : int
        Focal planes of a 2D field's transmitted-light input (its channels).
    label : str
        The structure the model predicts.
    other_cell_type : str
        The cell type of the ``"other_cell_type"`` probe.
    no_signature_label : str, optional
        The structure whose optical signature is removed in ``"no_signature"``; default
        ``label``, so that one single-structure model answers every probe. With another
        structure, the probe's ``label`` (and truth) is that structure, and
        :func:`run_probes` needs a predictor for it.
    **field_kwargs
        Passed to every ``simulate_field`` call (e.g. ``cell_types``, ``n_cells``,
        ``pixel_size_um``).

    Returns
    -------
    dict[str, Probe]
        Keyed by :data:`PROBE_NAMES`, in that order.

    Examples
    --------
    >>> probes = make_probes((128, 128), seed=0)  # doctest: +SKIP
    >>> probes["blank"].input.shape, probes["blank"].truth.shape  # doctest: +SKIP
    ((3, 128, 128), (128, 128))
    """
    from coursekit.microscope.field import simulate_field

    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"shape: expected (Y, X) or (Z, Y, X) in pixels, got {shape}")
    nd = len(shape)
    nsl = label if no_signature_label is None else no_signature_label
    kwargs = dict(field_kwargs)
    labels = list(kwargs.pop("labels", None) or [])
    for name in (label, nsl):
        if name not in labels:
            labels.append(name)
    delta_n = dict(kwargs.pop("delta_n", None) or {})
    other_modality = "phase_contrast" if modality == "brightfield" else "brightfield"

    def sim(**kw):
        args = {"seed": seed, "modality": modality, "n_planes": n_planes, "labels": tuple(labels)}
        args.update(kwargs)
        if delta_n:
            args["delta_n"] = dict(delta_n)
        args.update(kw)
        return simulate_field(shape, **args)

    ref = sim()
    ref_in, ref_truth = _model_input(ref, nd), _truth(ref, label, nd)
    ids = [c.id for c in ref.cells]
    probes: dict[str, Probe] = {}
    probes["reference"] = Probe(
        "reference",
        ref_in,
        ref_truth,
        f"The unmodified {modality} field: the control every other probe is compared with.",
        label,
        metadata={"modality": modality, "n_cells": len(ids)},
    )

    blank = sim(drop_cells=tuple(ids))
    blank_truth = _truth(blank, label, nd)
    probes["blank"] = Probe(
        "blank",
        _model_input(blank, nd),
        blank_truth,
        f"Empty medium, no cells: a perfect model predicts no {label} anywhere.",
        label,
        ref_in,
        ref_truth,
        metadata={"dropped_cells": list(ids)},
    )

    rng = np.random.default_rng(seed)
    axes = tuple(range(1, ref_in.ndim))
    mean = ref_in.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = ref_in.std(axis=axes, keepdims=True, dtype=np.float64)
    noise = (mean + std * rng.standard_normal(ref_in.shape)).astype(np.float32)
    probes["noise"] = Probe(
        "noise",
        noise,
        blank_truth.copy(),
        "Gaussian noise with the transmitted light's mean and standard deviation in each "
        "plane: there is nothing to predict.",
        label,
        ref_in,
        ref_truth,
    )

    cell_mask = np.asarray(ref.cell_mask)
    areas = {i: int((cell_mask == i).sum()) for i in ids}
    removed = max(ids, key=lambda i: areas[i]) if ids else None
    if removed is not None:
        gone = sim(drop_cells=(removed,))
        region = (cell_mask == removed) if areas[removed] > 0 else None
        if region is not None and region.shape != ref_truth.shape:
            region = None
        probes["cell_removed"] = Probe(
            "cell_removed",
            _model_input(gone, nd),
            _truth(gone, label, nd),
            f"The reference field with cell {removed} removed and everything else identical: "
            f"its {label} must vanish from the prediction.",
            label,
            ref_in,
            ref_truth,
            region,
            {"removed_cell": removed},
        )

    other = sim(cell_types=(other_cell_type,))
    probes["other_cell_type"] = Probe(
        "other_cell_type",
        _model_input(other, nd),
        _truth(other, label, nd),
        f"A field of {other_cell_type} cells, a type the model may never have seen: does it "
        f"still find the {label}, and only there?",
        label,
        ref_in,
        ref_truth,
        metadata={"cell_type": other_cell_type},
    )

    om = sim(modality=other_modality)
    probes["other_modality"] = Probe(
        "other_modality",
        _model_input(om, nd),
        _truth(om, label, nd),
        f"The same cells imaged by {other_modality.replace('_', ' ')} instead of "
        f"{modality.replace('_', ' ')}: the input changes, the truth does not.",
        label,
        ref_in,
        ref_truth,
        metadata={"modality": other_modality},
    )

    ns_delta = dict(delta_n)
    ns_delta[nsl] = 0.0
    ns = sim(delta_n=ns_delta)
    probes["no_signature"] = Probe(
        "no_signature",
        _model_input(ns, nd),
        _truth(ns, nsl, nd),
        f"The same cells with the refractive index of {nsl} set to the medium's: the "
        "structure is in the truth, but nothing in the input shows it.",
        nsl,
        ref_in,
        _truth(ref, nsl, nd),
        metadata={"delta_n": ns_delta},
    )
    return probes


# =========================================================================== prediction
def _as_predictor(predictor) -> Callable[[np.ndarray], np.ndarray]:
    """A callable numpy -> numpy; a torch nn.Module is run in eval mode without gradients."""
    try:
        import torch

        if isinstance(predictor, torch.nn.Module):
            model = predictor

            def run(image: np.ndarray) -> np.ndarray:
                was_training = model.training
                model.eval()
                try:
                    param = next(model.parameters(), None)
                    device = param.device if param is not None else torch.device("cpu")
                    dtype = param.dtype if param is not None else torch.float32
                    x = torch.as_tensor(np.asarray(image), dtype=dtype, device=device)[None]
                    with torch.no_grad():
                        return model(x)[0].detach().cpu().numpy()
                finally:
                    model.train(was_training)

            return run
    except ImportError:  # pragma: no cover
        pass
    if not callable(predictor):
        raise TypeError(
            f"predictor: expected a function mapping an input array (C, Y, X) to an output "
            f"array (C_out, Y, X), or a torch model, got {type(predictor).__name__}"
        )
    return predictor


def _predict(predictor, image, name: str = "prediction") -> np.ndarray:
    out = _as_predictor(predictor)(image)
    return check_array(out, name, allow_int=True)


def _select_channel(pred: np.ndarray, truth_shape: tuple, channel: int, where: str) -> np.ndarray:
    if pred.shape == tuple(truth_shape):
        return pred
    if pred.ndim == len(truth_shape) + 1 and pred.shape[1:] == tuple(truth_shape):
        if not -pred.shape[0] <= channel < pred.shape[0]:
            raise ValueError(
                f"{where}: channel {channel} out of range for {pred.shape[0]} channels"
            )
        return pred[channel]
    raise ValueError(
        f"{where}: the prediction's shape {pred.shape} does not match the truth's "
        f"{tuple(truth_shape)} (with or without a leading channel axis)"
    )


# =========================================================================== scale and levels
def signal_levels(truth, *, fraction: float = _DEFAULT_FRACTION, mask=None) -> dict:
    """The background, peak and signal threshold of a truth image.

    Parameters
    ----------
    truth : array_like
        The clean target, any shape, float.
    fraction : float
        Where the threshold sits between background and peak, in (0, 1].
    mask : array_like of bool, optional
        Compute the percentiles over these pixels only.

    Returns
    -------
    dict
        ``background`` (1st percentile), ``peak`` (99.9th percentile) and ``threshold``
        (``background + fraction * (peak - background)``), in the truth's units.

    Raises
    ------
    ValueError
        For a constant truth (an empty field): there is no dynamic range to take a
        fraction of; compute the levels on a reference field instead.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((10, 10)); t[2:5, 2:5] = 10.0
    >>> signal_levels(t)["threshold"]
    1.0
    """
    t = check_array(truth, "truth", allow_int=True)
    mask = _check_mask(mask, t.shape, min_true=1)
    if not 0 < float(fraction) <= 1:
        raise ValueError(f"fraction: expected a number in (0, 1], got {fraction!r}")
    vals = (t[mask] if mask is not None else t.ravel()).astype(np.float64)
    bg, peak = np.percentile(vals, [_BACKGROUND_PERCENTILE, _PEAK_PERCENTILE])
    if not peak > bg:
        raise ValueError(
            f"the truth is constant (every value near {bg:g}), so it has no dynamic range to "
            "set a signal threshold from; pass threshold= (and background=) computed on a "
            "reference field, e.g. signal_levels(reference_truth)"
        )
    return {
        "background": float(bg),
        "peak": float(peak),
        "threshold": float(bg + fraction * (peak - bg)),
    }


def fit_scale(prediction, truth, *, mask=None) -> tuple[float, float]:
    """The affine calibration ``(a, b)`` that maps a prediction onto the truth's scale.

    Least squares of ``a * prediction + b`` against ``truth`` (see
    :func:`coursekit.metrics.similarity.fit_affine`). Fit it on a reference field and
    pass it as ``scale=(a, b)`` to the maps of probes whose truth is empty.

    Parameters
    ----------
    prediction, truth : array_like
        Same shape (a leading channel axis of length 1 on the prediction is dropped).
    mask : array_like of bool, optional
        Fit on these pixels only.

    Returns
    -------
    (float, float)

    Raises
    ------
    ValueError
        When the truth or the prediction is constant.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(6.0).reshape(2, 3)
    >>> tuple(round(v, 6) for v in fit_scale(t / 4 - 1, t))
    (4.0, 4.0)
    """
    p, t = _pair(prediction, truth)
    mask = _check_mask(mask, t.shape)
    tv = t[mask] if mask is not None else t
    if np.ptp(tv) == 0:
        raise ValueError(
            "cannot fit the prediction's scale to a constant truth (an empty field); fit it on "
            "a reference field with fit_scale(reference_prediction, reference_truth) and pass "
            "scale=(a, b)"
        )
    return fit_affine(target=t, prediction=p, mask=mask)


def _pair(prediction, truth) -> tuple[np.ndarray, np.ndarray]:
    t = check_array(truth, "truth", allow_int=True)
    p = check_array(prediction, "prediction", allow_int=True)
    if p.ndim == t.ndim + 1 and p.shape[0] == 1 and p.shape[1:] == t.shape:
        p = p[0]
    if p.shape != t.shape:
        raise ValueError(
            f"prediction and truth must have the same shape, got {p.shape} and {t.shape}"
        )
    return p, t


def to_truth_scale(prediction, truth, *, scale="affine", mask=None) -> tuple[np.ndarray, tuple]:
    """Map a prediction onto the truth's intensity scale.

    Parameters
    ----------
    prediction, truth : array_like
        Same shape (a leading channel axis of length 1 on the prediction is dropped).
    scale : {"affine", "none"} or (float, float)
        ``"affine"``: least-squares fit to this truth (:func:`fit_scale`); ``"none"``:
        unchanged; ``(a, b)``: apply ``a * prediction + b``.
    mask : array_like of bool, optional
        Pixels used for the fit.

    Returns
    -------
    (numpy.ndarray, (float, float))
        The scaled prediction (float64, truth's shape and units) and the ``(a, b)`` used.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(4.0)
    >>> to_truth_scale(2 * t, t)[0].round(6).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    p, t = _pair(prediction, truth)
    if isinstance(scale, str):
        if scale == "none":
            a, b = 1.0, 0.0
        elif scale == "affine":
            a, b = fit_scale(p, t, mask=mask)
        else:
            raise ValueError(f"unknown scale {scale!r}; expected 'affine', 'none' or a pair (a, b)")
    else:
        try:
            a, b = (float(v) for v in scale)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"scale: expected 'affine', 'none' or a pair (a, b) of numbers, got {scale!r}"
            ) from exc
        if not (np.isfinite(a) and np.isfinite(b)):
            raise ValueError(f"scale: expected finite numbers, got {scale!r}")
    return a * p.astype(np.float64) + b, (float(a), float(b))


def _levels(t: np.ndarray, threshold, background, fraction, mask) -> tuple[float, float]:
    if threshold is None:
        lv = signal_levels(t, fraction=fraction, mask=mask)
        bg = lv["background"] if background is None else float(background)
        thr = lv["threshold"]
    else:
        thr = float(threshold)
        if background is None:
            vals = t[mask] if mask is not None else t
            bg = float(np.percentile(vals.astype(np.float64), _BACKGROUND_PERCENTILE))
            bg = min(bg, thr)
        else:
            bg = float(background)
    if not (np.isfinite(thr) and np.isfinite(bg)):
        raise ValueError(f"threshold and background must be finite, got {thr!r} and {bg!r}")
    if thr < bg:
        raise ValueError(f"threshold ({thr:g}) must not be below the background ({bg:g})")
    return thr, bg


def _maps(prediction, truth, threshold, background, scale, mask, fraction):
    """Core of the maps and scores: everything in the truth's units, above background."""
    p, t = _pair(prediction, truth)
    mask = _check_mask(mask, t.shape, min_true=1)
    thr, bg = _levels(t, threshold, background, fraction, mask)
    ps, (a, b) = to_truth_scale(p, t, scale=scale, mask=mask)
    inside = np.ones(t.shape, bool) if mask is None else mask
    pp = ps - bg  # prediction above background
    tt = t.astype(np.float64) - bg  # truth above background
    level = thr - bg
    empty = (tt <= level) & inside  # the truth has no signal here
    claims = (pp > level) & inside  # the prediction shows signal here
    signal = (tt > level) & inside
    hall = np.where(empty & claims, pp - np.maximum(tt, 0.0), 0.0)
    miss = np.where(signal & ~claims, tt - np.maximum(pp, 0.0), 0.0)
    info = {
        "pp": pp,
        "tt": tt,
        "empty": empty,
        "claims": claims,
        "signal": signal,
        "threshold": thr,
        "background": bg,
        "scale": (a, b),
    }
    return hall, miss, info


def hallucination_map(
    prediction,
    truth,
    *,
    threshold=None,
    background=None,
    scale="affine",
    mask=None,
    fraction: float = _DEFAULT_FRACTION,
) -> np.ndarray:
    """Predicted signal where the truth has none.

    After scaling the prediction to the truth's units, a pixel is hallucinated when the
    truth is at or below ``threshold`` (nothing there) but the prediction is above it
    (the model claims a structure). Its value is the excess intensity,
    ``prediction - max(truth, background)``; every other pixel is 0.

    Parameters
    ----------
    prediction : array_like
        The model's output, ``(Y, X)`` or ``(Z, Y, X)`` (or with a leading channel axis of
        length 1), any units.
    truth : array_like
        The clean target, same spatial shape, e.g. ``field.clean["dna"]``.
    threshold : float, optional
        The signal level in the truth's units. Default: ``signal_levels(truth)``, i.e.
        background + 0.1 x (peak - background) of this truth; required for a constant
        truth (compute it on a reference field).
    background : float, optional
        The level that counts as "no fluorescence" (masses are measured above it).
        Default: the truth's 1st percentile (clipped to the threshold).
    scale : {"affine", "none"} or (float, float)
        How the prediction is brought to the truth's units, see :func:`to_truth_scale`.
    mask : array_like of bool, optional
        Only these pixels count (the maps are 0 elsewhere).
    fraction : float
        The threshold's position between background and peak when ``threshold`` is None.

    Returns
    -------
    numpy.ndarray
        float32, the truth's shape, >= 0, in the truth's intensity units.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8)); truth[1:3, 1:3] = 1.0
    >>> pred = truth.copy(); pred[5:7, 5:7] = 1.0  # a blob that is not there
    >>> h = hallucination_map(pred, truth, scale="none")
    >>> np.argwhere(h > 0).tolist()
    [[5, 5], [5, 6], [6, 5], [6, 6]]
    >>> float(miss_map(pred, truth, scale="none").sum())
    0.0
    """
    hall, _, _ = _maps(prediction, truth, threshold, background, scale, mask, fraction)
    return hall.astype(np.float32)


def miss_map(
    prediction,
    truth,
    *,
    threshold=None,
    background=None,
    scale="affine",
    mask=None,
    fraction: float = _DEFAULT_FRACTION,
) -> np.ndarray:
    """True signal that the prediction does not show.

    A pixel is missed when the truth is above ``threshold`` but the (scaled) prediction
    is not; its value is the missing intensity, ``truth - max(prediction, background)``;
    every other pixel is 0.

    Parameters
    ----------
    prediction : array_like
        The model's output, ``(Y, X)`` or ``(Z, Y, X)`` (or with a leading channel axis of
        length 1), any units.
    truth : array_like
        The clean target, same spatial shape, e.g. ``field.clean["dna"]``.
    threshold : float, optional
        The signal level in the truth's units. Default: ``signal_levels(truth)``, i.e.
        background + 0.1 x (peak - background) of this truth; required for a constant
        truth (compute it on a reference field).
    background : float, optional
        The level that counts as "no fluorescence" (masses are measured above it).
        Default: the truth's 1st percentile (clipped to the threshold).
    scale : {"affine", "none"} or (float, float)
        How the prediction is brought to the truth's units, see :func:`to_truth_scale`.
    mask : array_like of bool, optional
        Only these pixels count (the maps are 0 elsewhere).
    fraction : float
        The threshold's position between background and peak when ``threshold`` is None.

    Returns
    -------
    numpy.ndarray
        float32, the truth's shape, >= 0, in the truth's intensity units.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8)); truth[1:3, 1:3] = 1.0
    >>> pred = truth.copy(); pred[5:7, 5:7] = 1.0  # a blob that is not there
    >>> h = hallucination_map(pred, truth, scale="none")
    >>> np.argwhere(h > 0).tolist()
    [[5, 5], [5, 6], [6, 5], [6, 6]]
    >>> float(miss_map(pred, truth, scale="none").sum())
    0.0
    """
    _, miss, _ = _maps(prediction, truth, threshold, background, scale, mask, fraction)
    return miss.astype(np.float32)


def hallucination_scores(
    prediction,
    truth,
    *,
    threshold=None,
    background=None,
    scale="affine",
    mask=None,
    fraction: float = _DEFAULT_FRACTION,
) -> dict:
    """Numbers that summarize the hallucination and miss maps, to compare models.

    All masses are intensities above ``background`` summed over pixels, in the truth's
    units; areas are pixel (voxel) counts. A fraction with an empty denominator is 0
    (nothing predicted: nothing hallucinated; nothing true: nothing missed).

    Parameters
    ----------
    prediction : array_like
        The model's output, ``(Y, X)`` or ``(Z, Y, X)`` (or with a leading channel axis of
        length 1), any units.
    truth : array_like
        The clean target, same spatial shape, e.g. ``field.clean["dna"]``.
    threshold : float, optional
        The signal level in the truth's units. Default: ``signal_levels(truth)``, i.e.
        background + 0.1 x (peak - background) of this truth; required for a constant
        truth (compute it on a reference field).
    background : float, optional
        The level that counts as "no fluorescence" (masses are measured above it).
        Default: the truth's 1st percentile (clipped to the threshold).
    scale : {"affine", "none"} or (float, float)
        How the prediction is brought to the truth's units, see :func:`to_truth_scale`.
    mask : array_like of bool, optional
        Only these pixels count (the maps are 0 elsewhere).
    fraction : float
        The threshold's position between background and peak when ``threshold`` is None.

    Returns
    -------
    dict
        ``hallucinated_mass_fraction``
            Share of the predicted signal mass (where the prediction is above threshold)
            that lies where the truth has none: **the hallucination score**, 0 to 1.
        ``hallucinated_area_fraction``
            Share of the predicted signal area that is hallucinated (1 - precision).
        ``false_positive_rate``
            Share of the truly empty area painted as signal.
        ``missed_mass_fraction``
            Share of the true signal mass the prediction does not show: **the miss
            score**, 0 to 1.
        ``missed_area_fraction``
            Share of the true signal area not predicted (1 - recall).
        ``hallucinated_mass``, ``missed_mass``
            The sums of the two maps (truth units x pixels).
        ``threshold``, ``background``, ``scale_a``, ``scale_b``
            The levels and the calibration used, so that they can be reused.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8)); truth[1:3, 1:3] = 1.0
    >>> s = hallucination_scores(truth, truth, scale="none")
    >>> s["hallucinated_mass_fraction"], s["missed_mass_fraction"]
    (0.0, 0.0)
    """
    hall, miss, info = _maps(prediction, truth, threshold, background, scale, mask, fraction)
    pp, tt = info["pp"], info["tt"]
    claims, signal, empty = info["claims"], info["signal"], info["empty"]
    pred_mass = float(pp[claims].sum())
    true_mass = float(tt[signal].sum())
    n_hall = int((hall > 0).sum())
    n_miss = int((miss > 0).sum())

    def frac(num, den):
        return float(num) / float(den) if den > 0 else 0.0

    a, b = info["scale"]
    return {
        "hallucinated_mass_fraction": frac(hall.sum(), pred_mass),
        "hallucinated_area_fraction": frac(n_hall, int(claims.sum())),
        "false_positive_rate": frac(n_hall, int(empty.sum())),
        "missed_mass_fraction": frac(miss.sum(), true_mass),
        "missed_area_fraction": frac(n_miss, int(signal.sum())),
        "hallucinated_mass": float(hall.sum()),
        "missed_mass": float(miss.sum()),
        "threshold": info["threshold"],
        "background": info["background"],
        "scale_a": a,
        "scale_b": b,
    }


def run_probes(
    predictor,
    probes: Mapping[str, Probe],
    *,
    channel: int = 0,
    scale="reference",
    reference: str = "reference",
    threshold=None,
    fraction: float = _DEFAULT_FRACTION,
    return_predictions: bool = False,
):
    """Run a model on every probe and score what it paints.

    Calibration: with ``scale="reference"`` (default) the prediction's scale ``(a, b)``
    (:func:`fit_scale`) and the signal levels (:func:`signal_levels`) are computed once on
    the ``reference`` probe (the field the model is meant for) and applied unchanged to
    every probe of the same label, so an empty field's prediction is judged in the units
    the model uses on real cells. A probe with another label is calibrated on its own
    ``reference_input``/``reference_truth`` pair.

    Parameters
    ----------
    predictor : callable or torch.nn.Module, or dict[str, callable]
        A function mapping a probe's ``input`` (``(C, Y, X)`` or ``(C, Z, Y, X)``) to the
        prediction (``(C_out, ...)`` or the truth's shape); a torch model is run in eval
        mode without gradients. A dict maps a label to its predictor (one model per
        structure).
    probes : dict[str, Probe]
        From :func:`make_probes` (any subset, or your own probes).
    channel : int
        The output channel to compare with the truth when the prediction has several.
    scale : {"reference", "affine", "none"} or (float, float)
        ``"reference"`` as above; ``"affine"``: fit each probe to its own truth
        (impossible for the empty probes); ``"none"``/``(a, b)``: see
        :func:`to_truth_scale` (the levels then come from the reference too).
    reference : str
        The name of the reference probe.
    threshold : float, optional
        Override the signal threshold (truth units).
    fraction : float
        See :func:`signal_levels`.
    return_predictions : bool
        Also return the raw predictions, ``{name: array}``.

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, dict)
        One row per probe: ``probe``, ``label``, ``pearson_truth`` (NaN when the truth or
        the prediction is constant), the :func:`hallucination_scores`
        (``hallucinated_mass_fraction`` is the hallucination score,
        ``missed_mass_fraction`` the miss score), ``region_painted_fraction`` (share of
        the probe's ``region``, e.g. the removed cell, still predicted as signal; NaN
        without a region) and ``prediction_mean`` (in truth units).

    Examples
    --------
    >>> probes = make_probes((128, 128), seed=0)  # doctest: +SKIP
    >>> table = run_probes(lambda x: model_output(x), probes)  # doctest: +SKIP
    """
    if not isinstance(probes, Mapping) or not probes:
        raise TypeError("probes: expected a non-empty dict name -> Probe, e.g. make_probes(...)")
    for name, pr in probes.items():
        if not isinstance(pr, Probe):
            raise TypeError(f"probes[{name!r}]: expected a Probe, got {type(pr).__name__}")

    def predictor_for(label):
        if isinstance(predictor, Mapping):
            if label not in predictor:
                raise KeyError(
                    f"no predictor for label {label!r}; the dict has {sorted(map(str, predictor))}"
                )
            return predictor[label]
        return predictor

    preds = {}
    for name, pr in probes.items():
        out = _predict(predictor_for(pr.label), pr.input, f"prediction for probe {name!r}")
        preds[name] = _select_channel(out, pr.truth.shape, channel, f"probe {name!r}")

    calib: dict[str, tuple] = {}

    def calibration(pr: Probe):
        if pr.label in calib:
            return calib[pr.label]
        ref = probes.get(reference)
        if ref is not None and ref.label == pr.label:
            ref_pred, ref_truth = preds[reference], ref.truth
        elif pr.reference_input is not None and pr.reference_truth is not None:
            out = _predict(predictor_for(pr.label), pr.reference_input, "reference prediction")
            ref_pred = _select_channel(out, pr.reference_truth.shape, channel, "reference")
            ref_truth = pr.reference_truth
        else:
            raise ValueError(
                f"probe {pr.name!r}: no reference field of label {pr.label!r} to calibrate on; "
                f"include the {reference!r} probe or use scale='affine' or scale=(a, b)"
            )
        if isinstance(scale, str) and scale == "reference":
            try:
                ab = fit_scale(ref_pred, ref_truth)
            except ValueError as exc:
                raise ValueError(
                    f"cannot calibrate the {pr.label!r} predictions on the reference field: {exc}"
                ) from exc
        else:
            ab = scale
        lv = signal_levels(ref_truth, fraction=fraction)
        calib[pr.label] = (ab, lv)
        return calib[pr.label]

    rows = []
    for name, pr in probes.items():
        pred = preds[name]
        if isinstance(scale, str) and scale == "affine":
            sc, thr, bg = "affine", threshold, None
        else:
            sc, lv = calibration(pr)
            thr = lv["threshold"] if threshold is None else threshold
            bg = min(lv["background"], thr)
        scores = hallucination_scores(
            pred, pr.truth, threshold=thr, background=bg, scale=sc, fraction=fraction
        )
        a, b = scores["scale_a"], scores["scale_b"]
        scaled = a * pred.astype(np.float64) + b
        if np.ptp(pr.truth) > 0 and np.ptp(pred) > 0:
            r = pearson_r(target=pr.truth.astype(np.float64), prediction=pred.astype(np.float64))
        else:
            r = float("nan")
        region_frac = float("nan")
        if pr.region is not None and pr.region.any():
            region_frac = float((scaled[pr.region] > scores["threshold"]).mean())
        rows.append(
            {
                "probe": name,
                "label": pr.label,
                "pearson_truth": r,
                **scores,
                "region_painted_fraction": region_frac,
                "prediction_mean": float(scaled.mean()),
            }
        )
    table = pd.DataFrame(rows)
    return (table, preds) if return_predictions else table


# =========================================================================== uncertainty
def ensemble_uncertainty(predictors: Sequence, image) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of the predictions of several models (a deep ensemble).

    Parameters
    ----------
    predictors : sequence of callables or torch models
        At least two; each maps ``image`` to an array of the same shape as the others
        (e.g. models trained from different seeds).
    image : array_like
        The input, ``(C, Y, X)`` or ``(C, Z, Y, X)``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The pixel-wise mean and standard deviation (ddof=0) over the predictors,
        float32, each of the predictions' shape, in the predictions' units.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 4, 4), np.float32)
    >>> mean, std = ensemble_uncertainty([lambda v: v, lambda v: 3 * v], x)
    >>> float(mean.max()), float(std.max())
    (2.0, 1.0)
    """
    if isinstance(predictors, Mapping):
        predictors = list(predictors.values())
    predictors = list(predictors)
    if len(predictors) < 2:
        raise ValueError(f"ensemble_uncertainty needs at least 2 predictors, got {len(predictors)}")
    image = check_array(image, "image", allow_int=True)
    outs = []
    for i, pr in enumerate(predictors):
        out = _predict(pr, image, f"prediction of predictor {i}")
        if outs and out.shape != outs[0].shape:
            raise ValueError(
                f"predictor {i} returned shape {out.shape}, predictor 0 returned {outs[0].shape}"
            )
        outs.append(out.astype(np.float64))
    stack = np.stack(outs)
    return stack.mean(axis=0).astype(np.float32), stack.std(axis=0).astype(np.float32)


def _dropout_types():
    import torch.nn as nn

    return tuple(
        getattr(nn, n)
        for n in (
            "Dropout",
            "Dropout1d",
            "Dropout2d",
            "Dropout3d",
            "AlphaDropout",
            "FeatureAlphaDropout",
        )
        if hasattr(nn, n)
    )


def mc_dropout_uncertainty(
    model, image, *, n_samples: int = 16, seed: int = 0, batch_size: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo dropout (Gal & Ghahramani 2016): mean and spread of stochastic passes.

    The model is put in eval mode (batch norm uses its running statistics and does not
    update them) and only its dropout layers (``nn.Dropout``, ``Dropout1d/2d/3d``,
    ``AlphaDropout``, ``FeatureAlphaDropout``) are switched to train mode, so each forward
    pass drops a different random set of features. Every module's mode is restored
    afterwards and the global torch random state is left untouched.

    Parameters
    ----------
    model : torch.nn.Module
        Any model with at least one dropout layer; takes ``(N, C, ...)`` tensors.
    image : array_like
        One input ``(C, Y, X)`` or ``(C, Z, Y, X)`` (numpy or torch), no batch axis.
    n_samples : int
        Number of stochastic forward passes (>= 2).
    seed : int
        Seed of the dropout masks (same seed, same result).
    batch_size : int
        Passes run together (the copies of the image form a batch).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Pixel-wise mean and standard deviation (ddof=0) over the passes, float32,
        ``(C_out, ...)``, in the model's output units.

    Raises
    ------
    ValueError
        When the model has no dropout layer (the passes would all be identical).

    Examples
    --------
    >>> import numpy as np, torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Dropout2d(0.5),
    ...                           torch.nn.Conv2d(4, 1, 1))
    >>> mean, std = mc_dropout_uncertainty(net, np.ones((1, 8, 8), np.float32), n_samples=8)
    >>> mean.shape, bool(std.max() > 0)
    ((1, 8, 8), True)
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    n_samples = int(n_samples)
    if n_samples < 2:
        raise ValueError(f"n_samples: expected at least 2 passes, got {n_samples}")
    batch_size = max(1, int(batch_size))
    drop_types = _dropout_types()
    dropouts = [m for m in model.modules() if isinstance(m, drop_types)]
    if not dropouts:
        raise ValueError(
            "model has no dropout layers (nn.Dropout, nn.Dropout2d, nn.Dropout3d, ...), so "
            "every pass would give the same output; build it with dropout > 0 "
            "(e.g. UNet(..., dropout=0.2)) or use ensemble_uncertainty"
        )
    x = check_array(image, "image", allow_int=True)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    xt = torch.as_tensor(np.ascontiguousarray(x), dtype=dtype, device=device)[None]

    modes = {m: m.training for m in model.modules()}
    devices = [device.index or 0] if device.type == "cuda" else []
    mean = m2 = None
    count = 0
    try:
        model.eval()
        for m in dropouts:
            m.train()
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            done = 0
            while done < n_samples:
                nb = min(batch_size, n_samples - done)
                out = model(xt.expand(nb, *xt.shape[1:]).contiguous())
                out = out.detach().to("cpu", torch.float64).numpy()
                for sample in out:  # Welford: exact zero spread for identical passes
                    count += 1
                    if mean is None:
                        mean = sample.copy()
                        m2 = np.zeros_like(sample)
                        continue
                    delta = sample - mean
                    mean += delta / count
                    m2 += delta * (sample - mean)
                done += nb
    finally:
        for m, mode in modes.items():
            m.training = mode
    return mean.astype(np.float32), np.sqrt(m2 / count).astype(np.float32)


def uncertainty_calibration(uncertainty, error, *, top_fraction: float = 0.1, mask=None) -> dict:
    """How well an uncertainty map flags the largest errors.

    Parameters
    ----------
    uncertainty : array_like
        Per-pixel uncertainty (e.g. the std of :func:`ensemble_uncertainty`), any shape.
    error : array_like
        Per-pixel error of the prediction, same shape (e.g. ``mean - truth``, in the same
        units); its absolute value is used.
    top_fraction : float
        The share of most-uncertain pixels to compare with the rest, in (0, 1).
    mask : array_like of bool, optional
        Only these pixels count.

    Returns
    -------
    dict
        ``spearman`` and ``pearson``: correlation of uncertainty with absolute error
        (1: uncertainty ranks the errors perfectly; about 0: it says nothing);
        ``mae_top`` and ``mae_rest``: mean absolute error in the ``top_fraction`` most
        uncertain pixels and in the others; ``ratio`` = mae_top / mae_rest (about 1 for
        an uninformative uncertainty, large when it flags the errors);
        ``top_error_overlap``: the share of the ``top_fraction`` largest errors that are
        among the ``top_fraction`` most uncertain pixels (about ``top_fraction`` at
        random, 1 at best); ``top_fraction``; ``n_pixels``. For a constant uncertainty
        (nothing ranked) every score is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> err = np.random.default_rng(0).standard_normal((32, 32))
    >>> cal = uncertainty_calibration(np.abs(err), err)
    >>> cal["spearman"], cal["top_error_overlap"]
    (1.0, 1.0)
    """
    from scipy.stats import spearmanr

    u = check_array(uncertainty, "uncertainty", allow_int=True)
    e = check_array(error, "error", allow_int=True)
    if u.shape != e.shape:
        raise ValueError(
            f"uncertainty and error must have the same shape, got {u.shape} and {e.shape}"
        )
    if not 0 < float(top_fraction) < 1:
        raise ValueError(f"top_fraction: expected a number in (0, 1), got {top_fraction!r}")
    mask = _check_mask(mask, u.shape)
    uv = (u[mask] if mask is not None else u.ravel()).astype(np.float64)
    ev = np.abs((e[mask] if mask is not None else e.ravel()).astype(np.float64))
    n = uv.size
    k = int(round(top_fraction * n))
    if k < 1 or k >= n:
        raise ValueError(
            f"top_fraction={top_fraction} of {n} pixels leaves an empty group; use more pixels "
            "or another top_fraction"
        )
    out = {"top_fraction": float(top_fraction), "n_pixels": int(n)}
    nan = float("nan")
    if np.ptp(uv) == 0:
        out.update(spearman=nan, pearson=nan, mae_top=nan, mae_rest=nan, ratio=nan)
        out["top_error_overlap"] = nan
        return out
    order = np.argsort(-uv, kind="stable")
    top = np.zeros(n, bool)
    top[order[:k]] = True
    mae_top, mae_rest = float(ev[top].mean()), float(ev[~top].mean())
    if mae_rest > 0:
        ratio = mae_top / mae_rest
    else:
        ratio = float("inf") if mae_top > 0 else nan
    if np.ptp(ev) == 0:
        rho = r = nan
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = float(spearmanr(uv, ev).statistic)
        r = pearson_r(target=ev, prediction=uv)
    big = np.zeros(n, bool)
    big[np.argsort(-ev, kind="stable")[:k]] = True
    out.update(
        spearman=rho,
        pearson=r,
        mae_top=mae_top,
        mae_rest=mae_rest,
        ratio=ratio,
        top_error_overlap=float((big & top).sum() / k),
    )
    return out


# =========================================================================== figures
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
    >>> axes = plot_probe(probes["blank"], prediction, calibration=row)  # doctest: +SKIP
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
    >>> axes = plot_uncertainty(mean, std, truth=truth)  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    mu = check_array(mean, "mean", allow_int=True)
    sd = check_array(std, "std", allow_int=True)
    if mu.shape != sd.shape:
        raise ValueError(f"mean and std must have the same shape, got {mu.shape} and {sd.shape}")
    check_positive(max_points, "max_points")
    n_panels = 2 if truth is None else 4
    if axes is None:
        _, axes = plt.subplots(1, n_panels, figsize=(3.4 * n_panels, 3.4))
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
