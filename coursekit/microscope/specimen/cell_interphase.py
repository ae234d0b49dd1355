"""Whole-cell drawing of interphase and prophase cells (and neurons with their neurites).

A spread cell is a footprint (pass 1) with a height profile: a body that tapers to the
edge and a dome over an ellipsoidal nucleus. Sizes that come from the cell type live in
:class:`~coursekit.microscope.specimen.cell_types.CellType`; the constants below are
proportions chosen by eye against images of the three cell types ("a look") unless a
source is given.
"""

from __future__ import annotations

import math

import numpy as np

from coursekit.microscope.specimen.constants import CROSS_SECTION_UM2
from coursekit.microscope.specimen.footprint import NEURITE_STEP_UM
from coursekit.microscope.specimen.geometry import lookup_in_box, soft_inside
from coursekit.microscope.specimen.maps import INTERPHASE_DNA_LEVEL, nucleus_geometry, put_nucleus
from coursekit.microscope.specimen.organelles import (
    draw_astral_microtubules,
    draw_centrosome,
    draw_focal_adhesions,
    draw_granules,
    draw_mitochondria,
    draw_nucleoli,
    draw_peripheral_adhesions,
    draw_puncta,
    draw_stress_fibres,
)

# -- the nucleus inside the footprint (a look) ------------------------------------------
NUCLEUS_MAX_LONG = 0.85  # the nucleus' semi-axes at most this fraction of the cell's
NUCLEUS_MAX_SHORT = 0.8
NUCLEUS_ASPECT_SIGMA = 0.1
NUCLEUS_SHIFT_LONG = 0.8  # how far the nucleus may wander from the centre, per axis
NUCLEUS_SHIFT_SHORT = 0.5
NUCLEUS_TILT_SD = 0.15  # radians
NUCLEUS_LIFT_UM = 0.5  # the nucleus sits this far above the coverslip
# -- prophase: the cell starts rounding up (a look)
PROPHASE_NUCLEUS_SWELL = 1.08
PROPHASE_BODY_SWELL = 1.15
PROPHASE_CONDENSATION = (0.3, 0.6)  # condensation = first + second * progress
PROPHASE_NUCLEOLUS_SHRINK = 0.5  # nucleoli shrink and fade with progress
PROPHASE_NUCLEOLUS_FADE = 0.6
PROPHASE_FIBRES = 0.4  # stress fibres and adhesions disassemble
PROPHASE_ADHESIONS = 0.5
PROPHASE_CENTROSOME_SPLIT = (0.5, 1.2)  # angle between the poles: first + second * progress
# -- height profile (a look)
DOME_WIDTH = 1.4  # the dome over the nucleus reaches 1.4 nucleus radii
DOME_EXTRA_UM = 0.8  # and rises this far above the nucleus' top
DOME_EXPONENT = 0.6
NUCLEUS_COVER_UM = 0.3  # cytoplasm above the nucleus at least this thick
MIN_CELL_HEIGHT_UM = 0.3
NEURITE_HEIGHT_UM = 1.1
GROWTH_CONE_HEIGHT_UM = 0.5
GROWTH_CONE_EDGE_UM = 1.3  # anti-aliasing width of the cone outline
GROWTH_CONE_ACTIN = 0.6
# -- ER: a reticulum densest around the nucleus, sheets next to it (a look)
ER_DECAY_FRACTION = 0.35  # decay length: 0.35 of the cell radius, at least 3 um
ER_DECAY_MIN_UM = 3.0
ER_SHEET_UM = 1.0
ER_BASE = 0.08
ER_NETWORK = 0.95
ER_SHEET = 0.25
# -- organelles
CYTOPLASM_WEIGHT_FLOOR = 0.3  # organelles also far from the nucleus
CENTROSOME_GAP_UM = 0.7  # the centrosome sits this far outside the nucleus
CENTROSOME_CENTRED_UM = 0.5  # below this nucleus offset the centrosome side is random
MICROTUBULE_REACH = 1.3  # astral microtubules at most 1.3 cell radii long
MICROTUBULE_HEIGHT_FRACTION = 0.45  # height away from the nucleus, of the cell's top
# -- neurites: five microtubule bundles spread over 0.18 of the neurite width, one
# mitochondrion every ~4 um (mitochondria in axons are spaced a few micrometres apart),
# three adhesions per growth cone (a look)
NEURITE_BUNDLES = 5
NEURITE_BUNDLE_SPREAD = 0.18
NEURITE_MICROTUBULE_HEIGHT_UM = 0.55
NEURITE_MITO_SPACING_UM = 4.0
NEURITE_MITO_LENGTH_UM = (0.8, 2.0)
NEURITE_MITO_HEIGHT_UM = 0.5
CONE_ADHESIONS = 3
CONE_ADHESION_REACH_UM = 1.6
CONE_ADHESION_LENGTH_UM = (0.6, 1.2)


def draw_spread_cell(canvas, field_maps, cell, gains):
    """Interphase and prophase cells (and neurons).

    Returns the nucleus' soft footprint over the cell's box."""
    profile, rng, plan = cell.profile, cell.rng, cell.plan
    px = canvas.px
    scale = plan.scale
    prophase = plan.state == "prophase"
    progress = plan.progress
    cy, cx = plan.center_um
    semi_a, semi_b, angle = cell.semi_major_um, cell.semi_minor_um, cell.angle
    # nominal size (colony cells are carved by neighbours)
    nominal_a = 0.5 * profile.diameter_um * scale
    footprint = cell.footprint
    # -- nucleus geometry -------------------------------------------------------------
    nuc_a = min(
        0.5 * profile.nucleus_fraction * profile.diameter_um * scale, NUCLEUS_MAX_LONG * semi_a
    )
    aspect = profile.nucleus_aspect * math.exp(NUCLEUS_ASPECT_SIGMA * rng.standard_normal())
    nuc_b = min(nuc_a / max(aspect, 1.0), NUCLEUS_MAX_SHORT * semi_b)
    nuc_a = max(nuc_a, nuc_b)
    shift_u = (
        float(np.clip(profile.nucleus_offset * rng.standard_normal(), -1, 1))
        * max(nominal_a - nuc_a, 0.0)
        * NUCLEUS_SHIFT_LONG
    )
    shift_v = (
        float(np.clip(profile.nucleus_offset * rng.standard_normal(), -1, 1))
        * max(semi_b - nuc_b, 0.0)
        * NUCLEUS_SHIFT_SHORT
    )
    ncy = cy + shift_u * math.sin(angle) + shift_v * math.cos(angle)
    ncx = cx + shift_u * math.cos(angle) - shift_v * math.sin(angle)
    nuc_angle = angle + NUCLEUS_TILT_SD * rng.standard_normal()
    nuc_half_height = (
        0.5
        * profile.nucleus_height_um
        * math.sqrt(scale)
        * (PROPHASE_NUCLEUS_SWELL if prophase else 1.0)
    )
    nuc_z = NUCLEUS_LIFT_UM + nuc_half_height
    nucleus = nucleus_geometry(
        canvas, cell, footprint, ncy, ncx, nuc_a, nuc_b, nuc_angle, nuc_half_height, nuc_z
    )
    fn, z0n, z1n = nucleus.footprint, nucleus.bottom_um, nucleus.top_um
    # -- height of the cell: body profile, a dome over the nucleus --------------------
    rn2 = nucleus.rho * np.float32(1 / DOME_WIDTH)
    body = (
        profile.body_height_um * math.sqrt(scale) * (PROPHASE_BODY_SWELL if prophase else 1.0)
    ) * np.sqrt(np.clip(1.0 - cell.rho_body**profile.edge_sharpness, 0.0, 1.0))
    # the cell rises smoothly over the nucleus (no cliff where the dome meets the body)
    dome = (nuc_z + nuc_half_height + DOME_EXTRA_UM) * np.clip(
        1.0 - rn2 * rn2, 0.0, 1.0
    ) ** DOME_EXPONENT
    top = np.maximum(body, dome)
    cone = None
    if cell.neurites is not None:
        tube = NEURITE_HEIGHT_UM * np.sqrt(np.clip(1.0 - cell.rho_neurite**2, 0.0, 1.0))
        cone = soft_inside(cell.rho_cone, GROWTH_CONE_EDGE_UM / px)
        cone_top = GROWTH_CONE_HEIGHT_UM * np.sqrt(np.clip(1.0 - cell.rho_cone**2, 0, 1))
        top = np.maximum(top, np.maximum(tube, cone_top))
    top = np.maximum(top, (z1n + NUCLEUS_COVER_UM) * (fn > 0.01))
    top = np.where(footprint > 0, np.maximum(top, MIN_CELL_HEIGHT_UM), 0.0).astype(np.float32)
    bottom = np.zeros_like(top)
    # -- ER parameters: a reticulum densest around the nucleus -------------------------
    dpos = np.clip((nucleus.rho - 1.0) * nuc_b, 0.0, None)
    decay = np.exp(-dpos / max(ER_DECAY_FRACTION * nominal_a, ER_DECAY_MIN_UM))
    sheet = np.exp(-((dpos / ER_SHEET_UM) ** 2))
    mask = footprint > 0
    field_maps.put(
        cell,
        mask,
        footprint=footprint,
        cell_bottom_um=bottom,
        cell_top_um=top,
        er_base=ER_BASE * decay,
        er_network=ER_NETWORK * decay,
        er_sheet=ER_SHEET * sheet,
        cortex_actin=1.0,
        junction_actin=profile.junction_actin,
        owner=plan.id,
    )
    if cone is not None:
        field_maps.put(cell, mask, growth_cone=GROWTH_CONE_ACTIN * cone * footprint)
    condensation = (
        (PROPHASE_CONDENSATION[0] + PROPHASE_CONDENSATION[1] * progress) if prophase else 0.0
    )
    put_nucleus(
        field_maps,
        cell,
        nucleus,
        dna_level=INTERPHASE_DNA_LEVEL,
        condense=condensation,
        envelope=1.0,
        plate=0.0,
        dead=0.0,
    )
    draw_nucleoli(
        canvas,
        field_maps,
        cell,
        nucleus,
        gains,
        scale=(1.0 - PROPHASE_NUCLEOLUS_SHRINK * progress) if prophase else 1.0,
        fade=PROPHASE_NUCLEOLUS_FADE * progress if prophase else 0.0,
    )
    # -- organelles in the cytoplasm --------------------------------------------------
    thick_cytoplasm = np.maximum(top - bottom - fn * (z1n - z0n), 0.0)
    over_nucleus = fn > 0.5
    low = np.where(over_nucleus, z1n, bottom)
    high = top
    w_cyto = footprint * (footprint > 0.5) * thick_cytoplasm * (CYTOPLASM_WEIGHT_FLOOR + decay)
    area_scale = scale * scale
    draw_mitochondria(
        canvas,
        cell,
        rng,
        gains,
        w_cyto,
        low,
        high,
        profile.n_mitochondria * area_scale,
        profile.mito_length_um,
        ncy,
        ncx,
    )
    # microtubules from the centrosome, next to the nucleus on the side of the cell centre
    dy, dx = cy - ncy, cx - ncx
    phi_c = (
        math.atan2(dy, dx)
        if math.hypot(dy, dx) > CENTROSOME_CENTRED_UM
        else rng.uniform(0, 2 * math.pi)
    )
    cos_u, sin_u = math.cos(phi_c - nuc_angle), math.sin(phi_c - nuc_angle)
    nucleus_radius = 1.0 / math.sqrt((cos_u / nuc_a) ** 2 + (sin_u / nuc_b) ** 2)
    field_maps.put(
        cell,
        mask,
        body_rho=cell.rho_body,
        microtubule_height_um=np.where(
            over_nucleus, 0.5 * (z1n + top), MICROTUBULE_HEIGHT_FRACTION * top
        ),
    )
    n_microtubules = profile.n_microtubules * scale
    max_length = MICROTUBULE_REACH * semi_a
    reach = nucleus_radius + CENTROSOME_GAP_UM
    if prophase:  # two centrosomes separating around the nucleus
        for sign in (-1.0, 1.0):
            split = PROPHASE_CENTROSOME_SPLIT[0] + PROPHASE_CENTROSOME_SPLIT[1] * progress
            phi = phi_c + sign * split
            pole_y = ncy + reach * math.sin(phi)
            pole_x = ncx + reach * math.cos(phi)
            draw_astral_microtubules(
                canvas,
                cell,
                rng,
                gains,
                pole_y,
                pole_x,
                nuc_z,
                n_microtubules / 2,
                max_length,
                at_cell_height=True,
            )
            draw_centrosome(canvas, rng, gains, pole_y, pole_x, nuc_z)
    else:
        pole_y = ncy + reach * math.sin(phi_c)
        pole_x = ncx + reach * math.cos(phi_c)
        draw_astral_microtubules(
            canvas,
            cell,
            rng,
            gains,
            pole_y,
            pole_x,
            nuc_z,
            n_microtubules,
            max_length,
            at_cell_height=True,
        )
        draw_centrosome(canvas, rng, gains, pole_y, pole_x, nuc_z)
    # actin stress fibres with focal adhesions at their ends, and peripheral adhesions
    n_fibres = profile.n_stress_fibres * area_scale * (PROPHASE_FIBRES if prophase else 1.0)
    draw_stress_fibres(
        canvas,
        cell,
        rng,
        gains,
        n_fibres,
        cy,
        cx,
        nominal_a,
        semi_b,
        angle,
        profile.fibre_alignment,
    )
    n_adhesions = int(
        round(profile.n_focal_adhesions * area_scale * (PROPHASE_ADHESIONS if prophase else 1.0))
    )
    draw_peripheral_adhesions(canvas, cell, rng, gains, n_adhesions, cy, cx)
    if cell.neurites is not None:
        draw_neurites(canvas, cell, rng, gains)
    draw_granules(canvas, cell, rng, w_cyto, low, high, profile.n_granules * area_scale)
    draw_puncta(canvas, cell, rng, gains, w_cyto, fn * (fn > 0.5), low, high, z0n, z1n, scale)
    return fn


def draw_neurites(canvas, cell, rng, gains):
    """Microtubule bundles and mitochondria along neurites; adhesions in growth cones."""
    paths, _, width = cell.neurites
    for path_y, path_x, direction in paths:
        m = path_y.size
        offset = NEURITE_BUNDLE_SPREAD * width * rng.standard_normal((NEURITE_BUNDLES, 1))
        yy = path_y[None, :] + offset * np.cos(direction)[None, :]
        xx = path_x[None, :] - offset * np.sin(direction)[None, :]
        keep = lookup_in_box(cell, cell.footprint, yy, xx, canvas.px) > 0.3
        canvas.points(
            "microtubules",
            yy[keep],
            xx[keep],
            NEURITE_MICROTUBULE_HEIGHT_UM,
            0.5 * CROSS_SECTION_UM2["neurite_mt"],
            gain=gains["microtubules"],
        )
        n_mito = int(rng.poisson(m * NEURITE_STEP_UM / NEURITE_MITO_SPACING_UM))
        if n_mito:
            j = rng.integers(0, m, n_mito)
            lengths = rng.uniform(*NEURITE_MITO_LENGTH_UM, n_mito)
            t = np.linspace(-0.5, 0.5, 8)[None, :] * lengths[:, None]
            my = path_y[j][:, None] + np.sin(direction[j])[:, None] * t
            mx = path_x[j][:, None] + np.cos(direction[j])[:, None] * t
            vol = np.broadcast_to(
                (lengths / 7 * CROSS_SECTION_UM2["mitochondria"])[:, None], my.shape
            )
            canvas.points(
                "mitochondria", my, mx, NEURITE_MITO_HEIGHT_UM, vol, gain=gains["mitochondria"]
            )
    for cone_y, cone_x, direction in cell.cones:
        angles = direction + rng.uniform(-1.0, 1.0, CONE_ADHESIONS)
        end_y = cone_y + CONE_ADHESION_REACH_UM * np.sin(angles)
        end_x = cone_x + CONE_ADHESION_REACH_UM * np.cos(angles)
        lengths = rng.uniform(*CONE_ADHESION_LENGTH_UM, CONE_ADHESIONS)
        draw_focal_adhesions(canvas, rng, gains, end_y, end_x, angles, lengths)
