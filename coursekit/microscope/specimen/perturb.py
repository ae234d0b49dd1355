"""Drug-like perturbations: change the amount or the size of one structure in every cell.

A perturbation is a dict ``{structure: {"amount": a, "size": s}}``: ``amount`` multiplies
how many objects of the structure a cell makes (mitochondria, microtubules, stress fibres,
adhesions, nucleoli, granules), ``size`` multiplies their length or radius (or the
nucleus' size for ``"dna"``). Both default to 1. The cells keep their positions and
shapes; the perturbed structure changes in every cell, the others keep their statistics
(their random details differ, as in another culture dish).

Examples of what a lecture can imitate (the drugs act roughly so):

- mitochondrial fragmentation (an uncoupler such as CCCP or FCCP): many short mitochondria,
  ``{"mitochondria": {"size": 0.35, "amount": 2.5}}``;
- microtubule depolymerization (nocodazole): ``{"microtubules": {"amount": 0.15}}``;
- loss of stress fibres and adhesions (a ROCK inhibitor such as Y-27632):
  ``{"actin": {"amount": 0.2}, "focal_adhesions": {"amount": 0.3}}``;
- swollen nuclei / larger nucleoli: ``{"dna": {"size": 1.2}}``, ``{"nucleoli": {"size": 1.5}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from coursekit._validation import check_choice, check_positive
from coursekit.microscope.specimen.cell_types import CELL_TYPES, CellType

__all__ = ["PERTURBABLE", "check_perturb", "perturbed_profile", "perturbed_profiles"]

# structure -> ({"amount": CellType fields scaled}, {"size": CellType fields scaled})
PERTURBABLE = {
    "mitochondria": (("n_mitochondria",), ("mito_length_um",)),
    "microtubules": (("n_microtubules",), ()),
    "actin": (("n_stress_fibres",), ()),
    "focal_adhesions": (("n_focal_adhesions",), ()),
    "nucleoli": (("nucleoli",), ("nucleolus_radius_um",)),
    "granules": (("n_granules",), ()),
    "dna": ((), ("nucleus_fraction", "nucleus_height_um")),
}
_KNOBS = ("amount", "size")


def check_perturb(perturb) -> dict[str, dict[str, float]]:
    """Validate a perturbation; returns ``{structure: {"amount": a, "size": s}}``."""
    if perturb is None:
        return {}
    if not isinstance(perturb, Mapping):
        raise TypeError(
            "perturb: expected a dict such as {'mitochondria': {'size': 0.35, 'amount': 2.5}}, "
            f"got {type(perturb).__name__}"
        )
    out = {}
    for structure, knobs in perturb.items():
        check_choice(structure, "perturbed structure", PERTURBABLE)
        if not isinstance(knobs, Mapping):
            raise TypeError(
                f"perturb[{structure!r}]: expected a dict of 'amount' and/or 'size' factors, "
                f"got {knobs!r}"
            )
        factors = {"amount": 1.0, "size": 1.0}
        for knob, value in knobs.items():
            check_choice(knob, f"perturb[{structure!r}] knob", _KNOBS)
            factors[knob] = check_positive(
                value, f"perturb[{structure!r}][{knob!r}]", allow_zero=True
            )
        amount_fields, size_fields = PERTURBABLE[structure]
        if factors["amount"] != 1.0 and not amount_fields:
            raise ValueError(f"perturb[{structure!r}]: only 'size' can change, not 'amount'")
        if factors["size"] != 1.0 and not size_fields:
            raise ValueError(f"perturb[{structure!r}]: only 'amount' can change, not 'size'")
        out[structure] = factors
    return out


def perturbed_profile(profile: CellType, perturb: dict) -> CellType:
    """The cell type with every perturbation of a validated ``perturb`` applied."""
    if not perturb:
        return profile
    changes = {}
    for structure, factors in perturb.items():
        amount_fields, size_fields = PERTURBABLE[structure]
        for name in amount_fields:
            value = changes.get(name, getattr(profile, name))
            if isinstance(value, tuple):  # a (min, max) count
                changes[name] = tuple(int(round(v * factors["amount"])) for v in value)
            elif isinstance(value, int):
                changes[name] = int(round(value * factors["amount"]))
            else:
                changes[name] = value * factors["amount"]
        for name in size_fields:
            changes[name] = changes.get(name, getattr(profile, name)) * factors["size"]
    if "nucleus_fraction" in changes:  # the nucleus stays inside the cell
        changes["nucleus_fraction"] = min(changes["nucleus_fraction"], 0.95)
    return replace(profile, **changes)


def perturbed_profiles(perturb: dict) -> dict[str, CellType]:
    """Every registered cell type with ``perturb`` applied (a validated perturbation)."""
    return {name: perturbed_profile(ct, perturb) for name, ct in CELL_TYPES.items()}
