"""Shifted test sets: the same task imaged differently from the training data.

A model is always best on data like its training data (lecture 7). Each entry of
:data:`SHIFTS` changes one setting of :func:`~coursekit.microscope.simulate_field` against
the course's training distribution (epithelial cells, bright field, 0.3 um pixels, focus
mid-nucleus, default photon budgets); :func:`shifted_test_sets` simulates held-out fields
for each, and :func:`generalization_table` scores one model on all of them beside the
input-as-prediction baseline, one row per shift, named so that the table reads well.

Examples
--------
>>> from coursekit.shifts import SHIFTS, shift_settings
>>> shift_settings("focus 2 um higher")["focus_offset_um"]
2.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from coursekit._validation import check_int

__all__ = [
    "IN_DISTRIBUTION",
    "SHIFTS",
    "shift_settings",
    "shifted_test_sets",
    "generalization_table",
]

#: The name of the unshifted test set.
IN_DISTRIBUTION = "in distribution (like training)"

#: Shift name -> the :func:`~coursekit.microscope.simulate_field` settings it changes.
#: ``focus_offset_um`` moves the focal plane from the cell type's default (mid-nucleus);
#: ``photon_scale`` multiplies the transmitted-light photon budget (a dimmer lamp or a
#: shorter exposure: a noisier input).
SHIFTS: dict[str, dict] = {
    IN_DISTRIBUTION: {},
    "another cell type (fibroblasts)": {"cell_types": ("fibroblast",)},
    "another cell type (neurons)": {"cell_types": ("neuron",)},
    "another modality (phase contrast)": {"modality": "phase_contrast"},
    "another magnification (0.45 um pixels)": {"pixel_size_um": 0.45},
    "focus 2 um higher": {"focus_offset_um": 2.0},
    "20x fewer photons (input)": {"photon_scale": 1 / 20},
}

_TRANSMITTED_PHOTONS = 2000.0  # simulate_field's default


def shift_settings(name: str) -> dict:
    """The settings of a named shift (a copy), with a clear error for an unknown name."""
    if name not in SHIFTS:
        raise ValueError(f"unknown shift {name!r}; expected one of {list(SHIFTS)}")
    return dict(SHIFTS[name])


def _field_kwargs(settings: Mapping, base: Mapping) -> dict:
    """simulate_field keyword arguments for one shift on top of the training settings."""
    from coursekit.microscope.specimen import CELL_TYPES

    kw = {
        **base,
        **{k: v for k, v in settings.items() if k not in ("focus_offset_um", "photon_scale")},
    }
    if "focus_offset_um" in settings:
        types = kw.get("cell_types", ("epithelial",))
        types = (types,) if isinstance(types, str) else tuple(types)
        default = float(np.mean([CELL_TYPES[t].focus_um for t in types]))
        kw["focus_um"] = default + float(settings["focus_offset_um"])
    if "photon_scale" in settings:
        kw["transmitted_photons"] = kw.get("transmitted_photons", _TRANSMITTED_PHOTONS) * float(
            settings["photon_scale"]
        )
    return kw


def shifted_test_sets(
    n_fields: int,
    shape,
    *,
    seed: int,
    labels: Sequence[str] = ("dna",),
    shifts: Sequence[str] | None = None,
    **base_kwargs,
) -> dict:
    """Held-out fields for each shift: the same seeds, one setting changed.

    Parameters
    ----------
    n_fields : int
        Fields per test set (seeds ``seed, seed + 1, ...``; use seeds the training stream
        never drew, e.g. 20,000 and up).
    shape : tuple of int
        ``(Y, X)``.
    seed : int
    labels : sequence of str
    shifts : sequence of str, optional
        Names from :data:`SHIFTS` (default all, the in-distribution set first).
    **base_kwargs
        The training distribution's settings, applied to every set before the shift
        (e.g. ``photons``).

    Returns
    -------
    dict of str to list of coursekit.microscope.Field
    """
    from coursekit.microscope.field import simulate_field

    n_fields = check_int(n_fields, "n_fields", minimum=1)
    names = list(SHIFTS) if shifts is None else list(shifts)
    out = {}
    for name in names:
        kw = _field_kwargs(shift_settings(name), base_kwargs)
        out[name] = [
            simulate_field(tuple(shape), seed=seed + k, labels=tuple(labels), **kw)
            for k in range(n_fields)
        ]
    return out


def generalization_table(model, test_sets: Mapping, labels: Sequence[str], **predict_kwargs):
    """Score one model on every test set: one row per (shift, label), mean over fields.

    Parameters
    ----------
    model : torch.nn.Module
    test_sets : dict of str to list of Field
        From :func:`shifted_test_sets`.
    labels : sequence of str
        The model's outputs, in order.
    **predict_kwargs
        Passed to :func:`coursekit.experiments.predict_fields`.

    Returns
    -------
    pandas.DataFrame
        Columns ``test set``, ``structure``, ``r (recorded)``, ``r (clean)``,
        ``r input baseline (recorded)`` (the middle input plane, affinely rescaled),
        ``C_max``, in the order of ``test_sets``.
    """
    import pandas as pd

    from coursekit.experiments import score_fields
    from coursekit.learning_curve import field_arrays, input_baseline

    labels = tuple(labels)
    rows = []
    for name, fields in test_sets.items():
        scores = score_fields(model, fields, labels, **predict_kwargs)
        x, y, c = field_arrays(fields, labels)
        base = input_baseline(x, y, clean=c)
        for k, lab in enumerate(labels):
            s = scores[scores["structure"] == lab]
            rows.append(
                {
                    "test set": name,
                    "structure": lab,
                    "r (recorded)": float(s["pearson_recorded"].mean()),
                    "r (clean)": float(s["pearson_clean"].mean()),
                    "r input baseline (recorded)": float(
                        base.loc[base["channel"] == k, "pearson_recorded"].mean()
                    ),
                    "C_max": float(s["c_max"].mean()),
                }
            )
    return pd.DataFrame(rows)
