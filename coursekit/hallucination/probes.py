"""Probes: inputs whose right answer is known (an empty field, pure noise, a cell removed,
another cell type, another microscope, a structure with no optical signature), and
:func:`run_probes`, which scores what a model paints on each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from coursekit.hallucination._predictors import run_predictor
from coursekit.hallucination.maps import (
    _DEFAULT_FRACTION,
    fit_scale,
    hallucination_scores,
    signal_levels,
)
from coursekit.metrics.similarity import pearson_r

__all__ = ["Probe", "PROBE_NAMES", "make_probes", "run_probes"]

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
    >>> probes = make_probes((64, 64), seed=0)
    >>> probes["blank"].input.shape, probes["blank"].truth.shape
    ((3, 64, 64), (64, 64))
    """
    from coursekit.microscope import simulate_field

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
    >>> probes = make_probes((64, 64), seed=0)
    >>> in_focus = lambda x: 1.0 - x[1]  # a "model": dark in bright field = signal
    >>> table = run_probes(in_focus, probes)
    >>> list(table["probe"]) == list(PROBE_NAMES)
    True
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
        out = run_predictor(predictor_for(pr.label), pr.input, f"prediction for probe {name!r}")
        preds[name] = _select_channel(out, pr.truth.shape, channel, f"probe {name!r}")

    calib: dict[str, tuple] = {}

    def calibration(pr: Probe):
        if pr.label in calib:
            return calib[pr.label]
        ref = probes.get(reference)
        if ref is not None and ref.label == pr.label:
            ref_pred, ref_truth = preds[reference], ref.truth
        elif pr.reference_input is not None and pr.reference_truth is not None:
            out = run_predictor(predictor_for(pr.label), pr.reference_input, "reference prediction")
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
