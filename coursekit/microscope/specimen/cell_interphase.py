"""Whole-cell drawing of interphase and prophase cells (and neurons with their neurites)."""

from __future__ import annotations

import math

import numpy as np

from coursekit.microscope.specimen.constants import CROSS_SECTION_UM2
from coursekit.microscope.specimen.geometry import lookup_in_box, soft_inside
from coursekit.microscope.specimen.maps import nucleus_geometry, put_nucleus
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


def draw_spread_cell(canvas, field_maps, cell, gains):
    """Interphase and prophase cells (and neurons)."""
    ct, rng, plan = cell.profile, cell.rng, cell.plan
    px = canvas.px
    s = plan.scale
    pro = plan.state == "prophase"
    prog = plan.progress
    cy, cx = plan.center_um
    a, b, ang = cell.semi_major_um, cell.semi_minor_um, cell.angle
    a0 = 0.5 * ct.diameter_um * s  # nominal size (colony cells are carved by neighbours)
    f = cell.footprint
    # -- nucleus geometry -------------------------------------------------------------
    an = min(0.5 * ct.nucleus_fraction * ct.diameter_um * s, 0.85 * a)
    bn = min(an / max(ct.nucleus_aspect * math.exp(0.1 * rng.standard_normal()), 1.0), 0.8 * b)
    an = max(an, bn)
    ou = float(np.clip(ct.nucleus_offset * rng.standard_normal(), -1, 1)) * max(a0 - an, 0.0) * 0.8
    ov = float(np.clip(ct.nucleus_offset * rng.standard_normal(), -1, 1)) * max(b - bn, 0.0) * 0.5
    ncy = cy + ou * math.sin(ang) + ov * math.cos(ang)
    ncx = cx + ou * math.cos(ang) - ov * math.sin(ang)
    nang = ang + 0.15 * rng.standard_normal()
    cz = 0.5 * ct.nucleus_height_um * math.sqrt(s) * (1.08 if pro else 1.0)
    zc = 0.5 + cz
    nucleus = nucleus_geometry(canvas, cell, f, ncy, ncx, an, bn, nang, cz, zc)
    fn, z0n, z1n, rhon = nucleus.footprint, nucleus.bottom_um, nucleus.top_um, nucleus.rho
    # -- height of the cell: body profile, a dome over the nucleus --------------------
    rn2 = rhon * np.float32(1 / 1.4)
    body = (ct.body_height_um * math.sqrt(s) * (1.15 if pro else 1.0)) * np.sqrt(
        np.clip(1.0 - cell.rho_body**ct.edge_sharpness, 0.0, 1.0)
    )
    # the cell rises smoothly over the nucleus (no cliff where the dome meets the body)
    dome = (zc + cz + 0.8) * np.clip(1.0 - rn2 * rn2, 0.0, 1.0) ** 0.6
    z1c = np.maximum(body, dome)
    cone = None
    if cell.neurites is not None:
        tube = 1.1 * np.sqrt(np.clip(1.0 - cell.rho_neurite**2, 0.0, 1.0))
        cone = soft_inside(cell.rho_cone, 1.3 / px)
        z1c = np.maximum(
            z1c, np.maximum(tube, 0.5 * np.sqrt(np.clip(1.0 - cell.rho_cone**2, 0, 1)))
        )
    z1c = np.maximum(z1c, (z1n + 0.3) * (fn > 0.01))
    z1c = np.where(f > 0, np.maximum(z1c, 0.3), 0.0).astype(np.float32)
    z0c = np.zeros_like(z1c)
    # -- ER parameters: a reticulum densest around the nucleus -------------------------
    dpos = np.clip((rhon - 1.0) * bn, 0.0, None)
    decay = np.exp(-dpos / max(0.35 * a0, 3.0))
    sheet = np.exp(-((dpos / 1.0) ** 2))
    mask = f > 0
    field_maps.put(
        cell,
        mask,
        footprint=f,
        cell_bottom_um=z0c,
        cell_top_um=z1c,
        er_base=0.08 * decay,
        er_network=0.95 * decay,
        er_sheet=0.25 * sheet,
        cortex_actin=1.0,
        junction_actin=ct.junction_actin,
        owner=plan.id,
    )
    if cone is not None:
        field_maps.put(cell, mask, growth_cone=0.6 * cone * f)
    cond = (0.3 + 0.6 * prog) if pro else 0.0
    put_nucleus(
        field_maps, cell, nucleus, dna_level=0.48, condense=cond, envelope=1.0, plate=0.0, dead=0.0
    )
    draw_nucleoli(
        canvas,
        field_maps,
        cell,
        nucleus,
        gains,
        scale=(1.0 - 0.5 * prog) if pro else 1.0,
        fade=0.6 * prog if pro else 0.0,
    )
    # -- organelles in the cytoplasm --------------------------------------------------
    thick_c = np.maximum(z1c - z0c - fn * (z1n - z0n), 0.0)
    over = fn > 0.5
    zlo = np.where(over, z1n, z0c)
    zhi = z1c
    w_cyto = f * (f > 0.5) * thick_c * (0.3 + decay)
    nscale = s * s
    draw_mitochondria(
        canvas,
        cell,
        rng,
        gains,
        w_cyto,
        zlo,
        zhi,
        ct.n_mitochondria * nscale,
        ct.mito_length_um,
        ncy,
        ncx,
        px,
    )
    # microtubules from the centrosome, next to the nucleus on the side of the cell centre
    dy, dx = cy - ncy, cx - ncx
    dn = math.hypot(dy, dx)
    phi_c = math.atan2(dy, dx) if dn > 0.5 else rng.uniform(0, 2 * math.pi)
    cu, cvv = math.cos(phi_c - nang), math.sin(phi_c - nang)
    rdir = 1.0 / math.sqrt((cu / an) ** 2 + (cvv / bn) ** 2)
    field_maps.put(
        cell,
        mask,
        body_rho=cell.rho_body,
        microtubule_height_um=np.where(over, 0.5 * (z1n + z1c), 0.45 * z1c),
    )
    n_mt = ct.n_microtubules * s
    max_len = 1.3 * a
    if pro:  # two centrosomes separating around the nucleus
        for sgn in (-1.0, 1.0):
            ph = phi_c + sgn * (0.5 + 1.2 * prog)
            ry = ncy + (rdir + 0.7) * math.sin(ph)
            rx = ncx + (rdir + 0.7) * math.cos(ph)
            draw_astral_microtubules(
                canvas, cell, rng, gains, ry, rx, zc, n_mt / 2, max_len, px, True
            )
            draw_centrosome(canvas, rng, gains, ry, rx, zc)
    else:
        csy = ncy + (rdir + 0.7) * math.sin(phi_c)
        csx = ncx + (rdir + 0.7) * math.cos(phi_c)
        draw_astral_microtubules(canvas, cell, rng, gains, csy, csx, zc, n_mt, max_len, px, True)
        draw_centrosome(canvas, rng, gains, csy, csx, zc)
    # actin stress fibres with focal adhesions at their ends, and peripheral adhesions
    fib = ct.n_stress_fibres * nscale * (0.4 if pro else 1.0)
    draw_stress_fibres(canvas, cell, rng, gains, fib, cy, cx, a0, b, ang, ct.fibre_alignment, px)
    n_fa = int(round(ct.n_focal_adhesions * nscale * (0.5 if pro else 1.0)))
    draw_peripheral_adhesions(canvas, cell, rng, gains, n_fa, cy, cx, px)
    if cell.neurites is not None:
        draw_neurites(canvas, cell, rng, gains, px)
    draw_granules(canvas, cell, rng, w_cyto, zlo, zhi, ct.n_granules * nscale, px)
    draw_puncta(canvas, cell, rng, gains, w_cyto, fn * (fn > 0.5), zlo, zhi, z0n, z1n, s)
    return fn


def draw_neurites(canvas, cell, rng, gains, px):
    """Microtubule bundles and mitochondria along neurites; adhesions in growth cones."""
    paths, tips, width = cell.neurites
    for py, pxs, th in paths:
        m = py.size
        k = 5
        off = 0.18 * width * rng.standard_normal((k, 1))
        yy = py[None, :] + off * np.cos(th)[None, :]
        xx = pxs[None, :] - off * np.sin(th)[None, :]
        keep = lookup_in_box(cell, cell.footprint, yy, xx, px) > 0.3
        canvas.points(
            "microtubules",
            yy[keep],
            xx[keep],
            0.55,
            0.5 * CROSS_SECTION_UM2["neurite_mt"],
            gain=gains["microtubules"],
        )
        nm = int(rng.poisson(m * 0.5 / 4.0))  # a mitochondrion every ~4 um
        if nm:
            j = rng.integers(0, m, nm)
            ln = rng.uniform(0.8, 2.0, nm)
            t = np.linspace(-0.5, 0.5, 8)[None, :] * ln[:, None]
            my = py[j][:, None] + np.sin(th[j])[:, None] * t
            mx = pxs[j][:, None] + np.cos(th[j])[:, None] * t
            vol = np.broadcast_to((ln / 7 * CROSS_SECTION_UM2["mitochondria"])[:, None], my.shape)
            canvas.points("mitochondria", my, mx, 0.5, vol, gain=gains["mitochondria"])
    for ccy, ccx, th in cell.cones:
        n = 3
        ang = th + rng.uniform(-1.0, 1.0, n)
        ye = ccy + 1.6 * np.sin(ang)
        xe = ccx + 1.6 * np.cos(ang)
        draw_focal_adhesions(canvas, rng, gains, ye, xe, ang, rng.uniform(0.6, 1.2, n), px)
