"""Planning a field: which cells, where, in which state, at which size and angle."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from coursekit._validation import check_choice, check_int
from coursekit.microscope.specimen.cell_types import CELL_TYPES, CellType
from coursekit.microscope.specimen.cells import CellPlan
from coursekit.microscope.specimen.constants import DEFAULT_STATE_PROBABILITIES, STATES
from coursekit.microscope.specimen.geometry import harmonic_radius, outline_harmonics, rng_for


def check_states(states) -> dict[str, float]:
    if states is None:
        return dict(DEFAULT_STATE_PROBABILITIES)
    if isinstance(states, str):
        check_choice(states, "state", STATES)
        return {states: 1.0}
    if isinstance(states, Mapping):
        probs = {}
        for k, v in states.items():
            check_choice(k, "state", STATES)
            p = float(v)
            if not math.isfinite(p) or p < 0:
                raise ValueError(f"states[{k!r}]: expected a non-negative probability, got {v!r}")
            probs[k] = p
        if sum(probs.values()) <= 0:
            raise ValueError("states: the probabilities must not all be zero")
        return probs
    if isinstance(states, Sequence):
        if len(states) == 0:
            raise ValueError("states: expected at least one state")
        for s in states:
            check_choice(s, "state", STATES)
        return {s: 1.0 for s in states}
    raise TypeError(
        f"states: expected None, a state name, a list of states or a dict of probabilities, "
        f"got {type(states).__name__}"
    )


def check_cell_types(cell_types) -> tuple[str, ...]:
    if isinstance(cell_types, str):
        cell_types = (cell_types,)
    if isinstance(cell_types, CellType):
        cell_types = (cell_types,)
    try:
        names = []
        for ct in cell_types:
            if isinstance(ct, CellType):
                CELL_TYPES.setdefault(ct.name, ct)
                ct = ct.name
            check_choice(ct, "cell type", CELL_TYPES)
            names.append(ct)
    except TypeError as exc:
        raise TypeError(
            f"cell_types: expected a cell type name or a sequence of names, got {cell_types!r}"
        ) from exc
    if not names:
        raise ValueError(f"cell_types: expected at least one of {', '.join(map(repr, CELL_TYPES))}")
    return tuple(names)


def dart_throw(rng, n, sampler, min_dist, existing, max_tries=40):
    """Up to ``n`` points from ``sampler(k)`` at least ``min_dist`` apart (sequentially).

    Candidates come in batches of ``max(4 * missing, 16)``; each is kept when it lies at
    least ``min_dist`` from every point kept so far (``existing`` included). Kept points
    are filed in a grid of ``min_dist`` cells, so a candidate is compared only with the
    points of the 3 x 3 cells around it: memory and time grow with the number of points,
    not its square (a (4096, 4096) field plans ~8,000 cells).
    """
    out: list[tuple[float, float]] = []
    d2min = min_dist * min_dist
    cell = float(min_dist) if min_dist > 0 else 1.0
    grid: dict[tuple[int, int], list[tuple[float, float]]] = {}

    def file(y, x):
        grid.setdefault((math.floor(y / cell), math.floor(x / cell)), []).append((y, x))

    for y, x in existing:
        file(float(y), float(x))
    tries = 0
    while len(out) < n and tries < max_tries:
        cand = sampler(max(4 * (n - len(out)), 16))
        for y, x in cand.tolist():
            if len(out) >= n:
                break
            gy, gx = math.floor(y / cell), math.floor(x / cell)
            near = False
            for ky in (gy - 1, gy, gy + 1):
                for kx in (gx - 1, gx, gx + 1):
                    for py, px in grid.get((ky, kx), ()):
                        # (py - y) ** 2 + (px - x) ** 2, as the all-pairs version computed it
                        if (py - y) ** 2 + (px - x) ** 2 < d2min:
                            near = True
                            break
                    if near:
                        break
                if near:
                    break
            if near:
                continue
            file(y, x)
            out.append((y, x))
        tries += 1
    return out


# Closest spacing of cell centres, in area-equivalent diameters d: colony cells are packed
# (0.82 d, relaxed to 0.6 d when crowded: they are carved by their neighbours); scattered
# cells keep 0.85 d (neurons 2.2 d, their neurites take room; elongated cells half their
# length), relaxed to half of that when the field is crowded. A look.
COLONY_SPACING = (0.82, 0.6)
SCATTERED_SPACING = 0.85
NEURON_SPACING = 2.2
ELONGATED_SPACING = 0.5  # of the long diameter, for aspect ratios above 2
RELAXED_SPACING = 0.5


def _spacings(ct: CellType) -> tuple[float, float]:
    """The first and the relaxed minimum distance (um) between centres of type ``ct``."""
    d = ct.diameter_um / math.sqrt(ct.aspect)  # area-equivalent diameter
    if ct.colony:
        return COLONY_SPACING[0] * d, COLONY_SPACING[1] * d
    spacing = SCATTERED_SPACING * d if ct.neurites[1] == 0 else NEURON_SPACING * d
    if ct.aspect > 2:
        spacing = ELONGATED_SPACING * ct.diameter_um
    return spacing, RELAXED_SPACING * spacing


def _check_capacity(names, counts, height_um, width_um, n_cells) -> None:
    """Refuse more cells than can fit in the field at their closest spacing (points at
    least ``s`` apart cover at least ``sqrt(3) / 2 * s ** 2`` each: hexagonal packing)."""
    area = height_um * width_um
    limits = {}
    for name in names:
        closest = _spacings(CELL_TYPES[name])[1]
        limits[name] = int(area / (math.sqrt(3) / 2 * closest * closest)) + 1
    if any(count > limits[name] for name, count in zip(names, counts)):
        fit = ", ".join(f"{limits[n]} {n}" for n in names)
        raise ValueError(
            f"n_cells={n_cells}: at most {fit} cells fit in a {height_um:.1f} x {width_um:.1f} "
            "um field at their closest spacing; ask for fewer cells (or omit n_cells for a "
            "typical density), or simulate a larger shape"
        )


def plan_cells(
    field_um: tuple[float, float],
    *,
    seed: int,
    cell_types=("epithelial",),
    n_cells: int | None = None,
    states=None,
) -> list[CellPlan]:
    """Place cells in a field: types, states, positions, orientations and sizes.

    Parameters
    ----------
    field_um : tuple of float
        ``(height, width)`` of the field in micrometres.
    seed : int
        Random seed. The plan only depends on the seed and the arguments, and every cell
        gets its own seed, so the same cell is drawn the same way in any field.
    cell_types : str or sequence of str
        Keys of :data:`CELL_TYPES`. Colony types form one packed colony; other types are
        scattered. With several types the cells are shared out evenly.
    n_cells : int, optional
        Number of cells (default: enough to cover each type's ``coverage`` of the field).
    states : None, str, sequence or dict
        State of the cells: None for the default mix (mostly interphase, a few mitotic and
        dead cells), a state name, a list (uniform choice) or a dict of probabilities.

    Returns
    -------
    list of CellPlan
        Ids 1, 2, ... in order.

    Examples
    --------
    >>> plans = plan_cells((76.8, 76.8), seed=0, cell_types="fibroblast", n_cells=3)
    >>> [p.cell_type for p in plans]
    ['fibroblast', 'fibroblast', 'fibroblast']
    """
    names = check_cell_types(cell_types)
    probs = check_states(states)
    H, W = (float(v) for v in field_um)
    seed = check_int(seed, "seed", minimum=0)
    rng = rng_for(seed, 0)
    st_names = list(probs)
    st_p = np.array([probs[s] for s in st_names], float)
    st_p /= st_p.sum()
    st_cdf = st_p.cumsum()  # as Generator.choice(p=...) draws: one uniform, the cdf
    st_cdf /= st_cdf[-1]
    area = H * W
    if n_cells is not None:
        n_cells = check_int(n_cells, "n_cells", minimum=0)
        counts = [
            n_cells // len(names) + (1 if i < n_cells % len(names) else 0)
            for i in range(len(names))
        ]
    else:
        counts = []
        for nm in names:
            ct = CELL_TYPES[nm]
            a_cell = math.pi / 4 * ct.diameter_um**2 / ct.aspect
            if ct.neurites[1] > 0:
                a_cell *= 3.0  # neurites take room
            counts.append(max(1, int(round(area / len(names) * ct.coverage / a_cell))))
    _check_capacity(names, counts, H, W, n_cells)
    centres: list[tuple[float, float]] = []
    plans: list[CellPlan] = []
    # colonies first (they are dense), then scattered cells avoid them
    order = sorted(range(len(names)), key=lambda i: not CELL_TYPES[names[i]].colony)
    placed: dict[int, list] = {}
    for i in order:
        ct = CELL_TYPES[names[i]]
        n = counts[i]
        d = ct.diameter_um / math.sqrt(ct.aspect)  # area-equivalent diameter
        if n == 0:
            placed[i] = []
            continue
        if ct.colony:
            # one colony, centred somewhere in the field, big enough for n cells
            r_col = math.sqrt(n * d * d / 0.80) / 2 * 1.05
            cy = rng.uniform(0.25, 0.75) * H
            cx = rng.uniform(0.25, 0.75) * W
            harm = outline_harmonics(rng, 5, 0.12)

            def sampler(k, cy=cy, cx=cx, r_col=r_col, harm=harm):
                phi = rng.uniform(0, 2 * math.pi, k)
                r = r_col * np.sqrt(rng.uniform(0, 1, k)) * harmonic_radius(harm, phi)
                return np.stack([cy + r * np.sin(phi), cx + r * np.cos(phi)], 1)

            spacing, relaxed = _spacings(ct)
            pts = dart_throw(rng, n, sampler, spacing, [])
            if len(pts) < n:  # a crowded colony: relax the spacing
                pts += dart_throw(rng, n - len(pts), sampler, relaxed, pts)
        else:
            margin = -0.05 * min(H, W)  # centres inside the field: cells are seen whole-ish

            def sampler(k, margin=margin):
                return np.stack(
                    [rng.uniform(-margin, H + margin, k), rng.uniform(-margin, W + margin, k)], 1
                )

            spacing, relaxed = _spacings(ct)
            pts = dart_throw(rng, n, sampler, spacing, centres)
            if len(pts) < n:
                pts += dart_throw(rng, n - len(pts), sampler, relaxed, centres + pts)
        placed[i] = pts
        centres += pts
    common_angle = rng.uniform(0, math.pi)
    next_id = 1
    for i in range(len(names)):
        ct = CELL_TYPES[names[i]]
        for cy, cx in placed[i]:
            if ct.alignment < 3:
                angle = common_angle + ct.alignment * rng.standard_normal()
            else:
                angle = rng.uniform(0, math.pi)
            scale = float(np.exp(ct.size_cv * rng.standard_normal() - ct.size_cv**2 / 2))
            state = st_names[int(np.searchsorted(st_cdf, rng.random(), side="right"))]
            plans.append(
                CellPlan(
                    id=next_id,
                    cell_type=ct.name,
                    state=state,
                    center_um=(float(cy), float(cx)),
                    angle=float(angle),
                    scale=scale,
                    seed=(int(seed), 1, next_id),
                    progress=float(rng.uniform(0.1, 0.9)),
                    spindle_angle=float(rng.uniform(0, math.pi)),
                )
            )
            next_id += 1
    return plans
