"""Whole-cell drawing of a dead cell: shrunken, rounded, blebbing, fragmented nucleus."""

from __future__ import annotations

import math

import numpy as np

from coursekit.microscope.specimen.footprint import rounded_heights
from coursekit.microscope.specimen.geometry import sample_positions
from coursekit.microscope.specimen.maps import nucleus_geometry, put_nucleus
from coursekit.microscope.specimen.organelles import draw_granules, draw_mitochondria, draw_puncta


def draw_dead_cell(canvas, field_maps, cell, gains):
    """A dead cell: shrunken, rounded, blebbing, with a fragmented dense nucleus."""
    ct, rng, plan = cell.profile, cell.rng, cell.plan
    px = canvas.px
    s = plan.scale
    cy, cx = plan.center_um
    R = cell.rounded_radius_um
    f = cell.footprint
    zc = 0.85 * R
    z0c, z1c = rounded_heights(cell, f, R, zc, px)
    field_maps.put(
        cell,
        f > 0,
        footprint=f,
        cell_bottom_um=z0c,
        cell_top_um=z1c,
        er_base=0.0,
        er_network=0.4,
        er_sheet=0.0,
        cortex_actin=0.8,
        junction_actin=0.0,
        owner=plan.id,
    )
    nfrag = int(rng.integers(1, 5))
    nuc2d = np.zeros_like(f)
    for _ in range(nfrag):  # pyknosis and karyorrhexis: dense nuclear fragments
        rf = 0.55 * R * rng.uniform(0.6, 1.0) / nfrag ** (1 / 3)
        ph = rng.uniform(0, 2 * math.pi)
        rr = (0.0 if nfrag == 1 else 0.35 * R) * rng.uniform(0.5, 1.0)
        fy, fx = cy + rr * math.sin(ph), cx + rr * math.cos(ph)
        fz = float(np.clip(zc + 0.15 * R * rng.standard_normal(), rf + 0.1, None))
        bf = rf * rng.uniform(0.8, 1.0)
        nucleus = nucleus_geometry(canvas, cell, f, fy, fx, rf, bf, rng.uniform(0, math.pi), bf, fz)
        put_nucleus(
            field_maps,
            cell,
            nucleus,
            dna_level=0.95,
            condense=0.0,
            envelope=0.0,
            plate=0.0,
            dead=1.0,
        )
        nuc2d = np.maximum(nuc2d, nucleus.footprint)
    thick = np.maximum(z1c - z0c, 0.0)
    w = f * (f > 0.5) * thick
    # fragmented, clumped mitochondria; actin clumps; many refractile granules
    draw_mitochondria(
        canvas,
        cell,
        rng,
        gains,
        w,
        z0c,
        z1c,
        ct.n_mitochondria * s * s * 0.6,
        0.35,
        cy,
        cx,
        px,
        radial=3.0,
    )
    k = int(rng.integers(2, 6))
    y, x, idx = sample_positions(cell, rng, w, k, px)
    if idx.size:
        z = 0.5 * (z0c.ravel()[idx] + z1c.ravel()[idx])
        canvas.points("actin", y, x, z, 0.08, gain=gains["actin"])
    draw_granules(canvas, cell, rng, w, z0c, z1c, 3 * ct.n_granules * s * s, px)
    draw_puncta(canvas, cell, rng, gains, w, w, z0c, z1c, z0c, z1c, s)
    return nuc2d
