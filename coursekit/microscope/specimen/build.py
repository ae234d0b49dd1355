"""Building a specimen: plan, geometry, drawing, rendering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from coursekit._validation import check_choice, check_int, check_positive
from coursekit.microscope.specimen.canvas import Canvas
from coursekit.microscope.specimen.cell_dead import draw_dead_cell
from coursekit.microscope.specimen.cell_interphase import draw_spread_cell
from coursekit.microscope.specimen.cell_mitotic import draw_mitotic_cell
from coursekit.microscope.specimen.cell_types import CELL_TYPES
from coursekit.microscope.specimen.cells import CellPlan, Specimen
from coursekit.microscope.specimen.constants import LABELS, STATES
from coursekit.microscope.specimen.footprint import cell_geometry, crop_to
from coursekit.microscope.specimen.geometry import rng_for, soft_inside
from coursekit.microscope.specimen.maps import FieldMaps
from coursekit.microscope.specimen.organelles import draw_expression
from coursekit.microscope.specimen.perturb import check_perturb, perturbed_profiles
from coursekit.microscope.specimen.planning import check_cell_types, plan_cells
from coursekit.microscope.specimen.render import masks_and_cells, render_bodies_and_nuclei
from coursekit.microscope.specimen.tracing import trace_deferred


def check_shape(shape) -> tuple[int, ...]:
    try:
        shp = tuple(int(v) for v in shape)
        if any(float(v) != int(v) for v in shape):
            raise ValueError
    except (TypeError, ValueError) as exc:
        raise TypeError(f"shape: expected a tuple of 2 or 3 integers, got {shape!r}") from exc
    if len(shp) not in (2, 3):
        raise ValueError(
            f"shape: expected (Y, X) for a 2D field or (Z, Y, X) for a 3D field, got {shape!r} "
            f"({len(shp)} dimensions)"
        )
    if any(v <= 0 for v in shp):
        raise ValueError(f"shape: expected positive sizes, got {shape!r}")
    if min(shp[-2:]) < 8:
        raise ValueError(f"shape: expected at least 8 x 8 pixels in (Y, X), got {shape!r}")
    return shp


def check_labels(labels) -> tuple[str, ...]:
    if labels is None:
        return LABELS
    if isinstance(labels, str):
        labels = (labels,)
    out = []
    for lab in labels:
        check_choice(lab, "label", LABELS)
        if lab not in out:
            out.append(lab)
    if not out:
        raise ValueError(
            "labels: expected at least one label, got an empty sequence; choose from "
            f"{', '.join(map(repr, LABELS))} (or pass labels=None for all of them)"
        )
    return tuple(out)


def build_specimen(
    shape,
    *,
    seed: int,
    cell_types=("epithelial",),
    n_cells: int | None = None,
    states=None,
    pixel_size_um: float = 0.3,
    z_step_um: float = 0.5,
    focus_um: float | None = None,
    slab_um: float = 1.0,
    coverslip_um: float = 1.0,
    labels=None,
    drop_cells=(),
    plans: Sequence[CellPlan] | None = None,
    field_um: tuple[float, float] | None = None,
    origin_um: tuple[float, float] = (0.0, 0.0),
    shift_um: tuple[float, float] = (0.0, 0.0),
    perturb=None,
) -> Specimen:
    """Draw a field of cells: structure densities, label intensities and masks.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` for one focal plane or ``(Z, Y, X)`` for a volume.
    seed : int
        Random seed (same seed: bit-identical specimen).
    cell_types, n_cells, states
        See :func:`plan_cells`.
    pixel_size_um, z_step_um : float
        Grid spacing in micrometres.
    focus_um : float, optional
        2D: focal plane height above the coverslip (default: the mean ``focus_um`` of the
        cell types, mid-nucleus).
    slab_um : float
        2D: thickness of the focal slab that the in-focus densities average over (the
        depth of field; the field uses the fluorescence PSF's).
    coverslip_um : float
        3D: the coverslip surface lies this far above plane 0.
    labels : sequence of str, optional
        Labels to compute intensities for (default all :data:`LABELS`); densities of all
        structures are always computed (they set the refractive index).
    drop_cells : sequence of int
        Ids of cells not to draw; every other cell stays bit-identical (their footprints are
        decided with all cells present, so the dropped cell leaves background behind).
    plans : sequence of CellPlan, optional
        Explicit cells (e.g. a time-lapse); then ``cell_types``, ``n_cells`` and ``states``
        are ignored.
    field_um, origin_um : tuple of float, optional
        Plan the cells for a field of this size (um) whose top-left corner sits at
        ``origin_um`` in the grid (default: the whole grid). Used to draw a margin around
        the field without changing where the cells are.
    shift_um : tuple of float
        Move the whole specimen (cells and textures) by ``(dy, dx)`` micrometres: a stage
        drift in a time-lapse.
    perturb : dict, optional
        A drug-like change of structures in every cell, e.g.
        ``{"mitochondria": {"size": 0.35, "amount": 2.5}}`` (fragmentation); see
        :mod:`~coursekit.microscope.specimen.perturb`.

    Returns
    -------
    Specimen

    Examples
    --------
    >>> sp = build_specimen((128, 128), seed=1, n_cells=4)
    >>> sp.densities["dna"].shape, int(sp.cell_mask.max()) <= 4
    ((128, 128), True)
    """
    shp = check_shape(shape)
    px = check_positive(pixel_size_um, "pixel_size_um")
    dz = check_positive(z_step_um, "z_step_um")
    slab = check_positive(slab_um, "slab_um")
    cov = float(coverslip_um)
    labs = check_labels(labels)
    seed = check_int(seed, "seed", minimum=0)
    perturbation = check_perturb(perturb)
    drop = set()
    for c in drop_cells:
        drop.add(check_int(c, "drop_cells (cell ids)"))
    if field_um is None:
        field_um = (shp[-2] * px, shp[-1] * px)
    if plans is None:
        plans = plan_cells(
            field_um, seed=int(seed), cell_types=cell_types, n_cells=n_cells, states=states
        )
    else:
        plans = list(plans)
        for pl in plans:
            check_choice(pl.cell_type, "cell type", CELL_TYPES)
            check_choice(pl.state, "state", STATES)
    unknown = sorted(drop - {pl.id for pl in plans})
    if unknown:
        ids = sorted(pl.id for pl in plans)
        shown = ", ".join(map(str, ids[:40])) + (", ..." if len(ids) > 40 else "")
        raise ValueError(
            f"drop_cells: no cell with id {', '.join(map(str, unknown))} in this field; its "
            f"cells have ids {shown or '(none)'} (field.cells lists the cells in view)"
        )
    oy = float(origin_um[0]) + float(shift_um[0])
    ox = float(origin_um[1]) + float(shift_um[1])
    if oy or ox:
        plans = [replace(p, center_um=(p.center_um[0] + oy, p.center_um[1] + ox)) for p in plans]
    types_used = sorted({pl.cell_type for pl in plans}) or list(check_cell_types(cell_types))
    if focus_um is None:
        focus = float(np.mean([CELL_TYPES[t].focus_um for t in types_used]))
    else:
        focus = float(focus_um)
    profiles = perturbed_profiles(perturbation) if perturbation else None
    canvas = Canvas(shp, px, dz, focus, slab, cov, labs, int(seed), shift_um)
    # pass 1: geometry of every planned cell, and the ownership of every pixel
    geoms = []
    best = np.full(canvas.YX, np.inf, np.float32)
    owner = np.zeros(canvas.YX, np.int32)
    for pl in plans:
        cell = cell_geometry(pl, canvas, profiles)
        if cell is None:
            continue
        c = cell.rho * np.float32(cell.priority)
        reach = cell.rho < 1.0 + 2.0 / max(cell.semi_minor_px, 1.0)
        b = best[cell.box]
        m = reach & (c < b)
        b[m] = c[m]
        owner[cell.box][m] = pl.id
        geoms.append(cell)
    # pass 2: each kept cell writes its maps and draws its thin structures
    field_maps = FieldMaps.empty(canvas)
    drawn = []
    for cell in geoms:
        pl = cell.plan
        if pl.id in drop:
            continue
        f = soft_inside(cell.rho, cell.semi_minor_px) * (owner[cell.box] == pl.id)
        if not (f > 0.5).any():
            continue
        loc = crop_to(cell, canvas, f > 0)
        cell.footprint = f[loc].astype(np.float32)
        # expression from its own stream: the same in every state of the cell
        gains = draw_expression(rng_for(*(pl.expression_seed or pl.seed), 99))
        if pl.state != "dead":
            gains["dead"] = 0.0
        if cell.kind == "spread":
            draw_spread_cell(canvas, field_maps, cell, gains)
        elif cell.kind == "dead":
            draw_dead_cell(canvas, field_maps, cell, gains)
        else:
            draw_mitotic_cell(canvas, field_maps, cell, gains)
        drawn.append((pl, gains))
    trace_deferred(canvas, field_maps)
    # per-pixel expression level of every label (the owner cell's)
    n_id = max([pl.id for pl, _ in drawn], default=0) + 1
    gmap = {}
    for lab in labs:
        table = np.zeros(n_id, np.float32)
        for pl, gains in drawn:
            table[pl.id] = gains[lab]
        gmap[lab] = table[field_maps.owner]
    render_bodies_and_nuclei(canvas, field_maps, gmap)
    canvas.finish_points()
    cells = masks_and_cells(canvas, field_maps, drawn)
    # densities in [0, 1]; intensities and path lengths non-negative
    # (in place: the canvas' accumulators are not used again)
    dens = {k: np.clip(v, 0.0, 1.0, out=v) for k, v in canvas.acc.items()}
    labs_out = {k: np.clip(v, 0.0, np.inf, out=v) for k, v in canvas.lab.items()}
    path = (
        None
        if canvas.path is None
        else {k: np.clip(v, 0.0, np.inf, out=v) for k, v in canvas.path.items()}
    )
    lpath = (
        None
        if canvas.lab_path is None
        else {k: np.clip(v, 0.0, np.inf, out=v) for k, v in canvas.lab_path.items()}
    )
    return Specimen(
        shape=shp,
        pixel_size_um=px,
        z_step_um=dz,
        focus_um=focus,
        slab_um=slab,
        coverslip_um=cov,
        densities=dens,
        path_um=path,
        labels=labs_out,
        label_path_um=lpath,
        cell_mask=canvas.cell_mask,
        nucleus_mask=canvas.nucleus_mask,
        cells=cells,
    )
