"""Whole-cell drawing of a dead cell: shrunken, rounded, blebbing, fragmented nucleus.

Apoptotic and necrotic cells round up and shrink, their chromatin condenses into one or a
few dense bodies (pyknosis, karyorrhexis), mitochondria fragment and the cytoskeleton
collapses into clumps (reviewed in Kroemer et al. 2009, Cell Death Differ 16:3). The
proportions below are a look.
"""

from __future__ import annotations

import math

import numpy as np

from coursekit.microscope.specimen.footprint import rounded_heights
from coursekit.microscope.specimen.geometry import sample_positions
from coursekit.microscope.specimen.maps import nucleus_geometry, put_nucleus
from coursekit.microscope.specimen.organelles import (
    draw_granules,
    draw_mitochondria,
    draw_puncta,
)

DEAD_CENTER_HEIGHT = 0.85  # the centre of the shrunken sphere, in radii above the glass
DEAD_ER = 0.4  # dispersed ER
DEAD_CORTEX = 0.8
FRAGMENTS = (1, 4)  # number of nuclear fragments
FRAGMENT_RADIUS = 0.55  # of the cell radius for one fragment (volume shared by several)
FRAGMENT_RADIUS_SPREAD = (0.6, 1.0)
FRAGMENT_SCATTER = 0.35  # several fragments scatter over this fraction of the radius
FRAGMENT_HEIGHT_SD = 0.15
FRAGMENT_FLATTENING = (0.8, 1.0)
FRAGMENT_DNA_LEVEL = 0.95  # condensed chromatin: as dense as mitotic chromosomes
DEAD_MITO_FRACTION = 0.6  # mitochondria left, fragmented
DEAD_MITO_LENGTH_UM = 0.35
ACTIN_CLUMPS = (2, 5)
ACTIN_CLUMP_VOLUME_UM3 = 0.08
DEAD_GRANULES = 3.0  # three times the type's granules (vacuoles, debris)


def draw_dead_cell(canvas, field_maps, cell, gains):
    """A dead cell: shrunken, rounded, blebbing, with a fragmented dense nucleus.

    Returns the fragments' soft footprint over the cell's box."""
    profile, rng, plan = cell.profile, cell.rng, cell.plan
    scale = plan.scale
    cy, cx = plan.center_um
    radius = cell.rounded_radius_um
    footprint = cell.footprint
    center_z = DEAD_CENTER_HEIGHT * radius
    bottom, top = rounded_heights(cell, footprint, radius, center_z)
    field_maps.put(
        cell,
        footprint > 0,
        footprint=footprint,
        cell_bottom_um=bottom,
        cell_top_um=top,
        er_base=0.0,
        er_network=DEAD_ER,
        er_sheet=0.0,
        cortex_actin=DEAD_CORTEX,
        junction_actin=0.0,
        owner=plan.id,
    )
    n_fragments = int(rng.integers(FRAGMENTS[0], FRAGMENTS[1] + 1))
    nuclei = np.zeros_like(footprint)
    for _ in range(n_fragments):  # pyknosis and karyorrhexis: dense nuclear fragments
        frag_a = (
            FRAGMENT_RADIUS * radius * rng.uniform(*FRAGMENT_RADIUS_SPREAD) / n_fragments ** (1 / 3)
        )
        phi = rng.uniform(0, 2 * math.pi)
        dist = (0.0 if n_fragments == 1 else FRAGMENT_SCATTER * radius) * rng.uniform(0.5, 1.0)
        frag_y, frag_x = cy + dist * math.sin(phi), cx + dist * math.cos(phi)
        frag_z = float(
            np.clip(
                center_z + FRAGMENT_HEIGHT_SD * radius * rng.standard_normal(), frag_a + 0.1, None
            )
        )
        frag_b = frag_a * rng.uniform(*FRAGMENT_FLATTENING)
        nucleus = nucleus_geometry(
            canvas,
            cell,
            footprint,
            frag_y,
            frag_x,
            frag_a,
            frag_b,
            rng.uniform(0, math.pi),
            frag_b,
            frag_z,
        )
        put_nucleus(
            field_maps,
            cell,
            nucleus,
            dna_level=FRAGMENT_DNA_LEVEL,
            condense=0.0,
            envelope=0.0,
            plate=0.0,
            dead=1.0,
        )
        nuclei = np.maximum(nuclei, nucleus.footprint)
    thick = np.maximum(top - bottom, 0.0)
    weight = footprint * (footprint > 0.5) * thick
    # fragmented, clumped mitochondria; actin clumps; many refractile granules
    draw_mitochondria(
        canvas,
        cell,
        rng,
        gains,
        weight,
        bottom,
        top,
        profile.n_mitochondria * scale * scale * DEAD_MITO_FRACTION,
        DEAD_MITO_LENGTH_UM,
        cy,
        cx,
        radial=3.0,
    )
    n_clumps = int(rng.integers(ACTIN_CLUMPS[0], ACTIN_CLUMPS[1] + 1))
    y, x, idx = sample_positions(cell, rng, weight, n_clumps, canvas.px)
    if idx.size:
        z = 0.5 * (bottom.ravel()[idx] + top.ravel()[idx])
        canvas.points("actin", y, x, z, ACTIN_CLUMP_VOLUME_UM3, gain=gains["actin"])
    draw_granules(
        canvas,
        cell,
        rng,
        weight,
        bottom,
        top,
        DEAD_GRANULES * profile.n_granules * scale * scale,
    )
    draw_puncta(canvas, cell, rng, gains, weight, weight, bottom, top, bottom, top, scale)
    return nuclei
