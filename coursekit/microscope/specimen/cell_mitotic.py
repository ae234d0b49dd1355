"""Whole-cell drawing of metaphase, anaphase and telophase cells."""

from __future__ import annotations

import math

import numpy as np

from coursekit.microscope.specimen.constants import CROSS_SECTION_UM2
from coursekit.microscope.specimen.footprint import rounded_heights
from coursekit.microscope.specimen.geometry import soft_inside
from coursekit.microscope.specimen.maps import NucleusGeometry, nucleus_geometry, put_nucleus
from coursekit.microscope.specimen.organelles import (
    draw_astral_microtubules,
    draw_centrosome,
    draw_granules,
    draw_mitochondria,
    draw_peripheral_adhesions,
    draw_puncta,
)

# Chromosome arms stick out of a plate: its outline is modulated by the "chromosome"
# texture by up to this fraction (a look), the texture clipped at +-1.5 standard deviations.
PLATE_KNOBBINESS = 0.22
PLATE_TEXTURE_CLIP = 1.5


def chromosome_plate(
    cell,
    canvas,
    center_y_um,
    center_x_um,
    half_width_um,
    half_length_um,
    half_height_um,
    center_z_um,
    angle,
    curve=0.0,
):
    """A chromosome plate: a knobby flattened ellipsoid, ``half_width_um`` along the
    spindle (``angle``), ``half_length_um`` across it, bent by ``curve`` (1/um)."""
    c, s_ = math.cos(angle), math.sin(angle)
    dy = cell.y_um - center_y_um
    dx = cell.x_um - center_x_um
    u = dx * c + dy * s_
    v = dy * c - dx * s_
    u = u - curve * v * v
    rho = np.sqrt((u / half_width_um) ** 2 + (v / half_length_um) ** 2)
    tex = canvas.noise("chromosome")
    tex2 = tex[tex.shape[0] // 2][cell.box] if tex.ndim == 3 else tex[cell.box]
    rho = rho * (1.0 - PLATE_KNOBBINESS * np.clip(tex2, -PLATE_TEXTURE_CLIP, PLATE_TEXTURE_CLIP))
    half = half_height_um * np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0))
    return NucleusGeometry(
        rho=rho,
        footprint=soft_inside(rho, half_width_um / canvas.px) * cell.footprint,
        half_thickness_um=half,
        bottom_um=center_z_um - half,
        top_um=center_z_um + half,
        center_z_um=center_z_um,
        half_height_um=half_height_um,
        semi_major_um=half_length_um,
        semi_minor_um=half_width_um,
        center_y_um=center_y_um,
        center_x_um=center_x_um,
        angle=angle,
    )


def draw_mitotic_cell(canvas, field_maps, cell, gains):
    """Metaphase, anaphase and telophase: a rounded cell and condensed chromosomes."""
    ct, rng, plan = cell.profile, cell.rng, cell.plan
    px = canvas.px
    s = plan.scale
    st = plan.state
    p = plan.progress
    cy, cx = plan.center_um
    R = cell.rounded_radius_um
    ang = cell.angle
    ca, sa = math.cos(ang), math.sin(ang)
    f = cell.footprint
    # -- a sphere (or two lobes) resting on the coverslip -----------------------------
    rz = cell.lobe_radius_um if st == "telophase" else R
    zc = 0.92 * rz
    z0c, z1c = rounded_heights(cell, f, rz, zc, px)
    uu = (cell.x_um - cx) * ca + (cell.y_um - cy) * sa
    vv = (cell.y_um - cy) * ca - (cell.x_um - cx) * sa
    # ER dispersed, sparser in the spindle
    spindle = np.exp(-((uu / (0.7 * R)) ** 2) - ((vv / (0.45 * R)) ** 2))
    if st == "telophase":
        spindle = spindle * 0.3
    ring = 0.0
    if st in ("anaphase", "telophase"):  # contractile ring at the equator
        ring = np.exp(-((uu / 0.9) ** 2)) * (0.4 + 0.4 * (p if st == "anaphase" else 1.0))
    mask = f > 0
    field_maps.put(
        cell,
        mask,
        footprint=f,
        cell_bottom_um=z0c,
        cell_top_um=z1c,
        er_base=0.15 * (1 - 0.7 * spindle),
        er_network=0.55 * (1 - 0.7 * spindle),
        er_sheet=0.0,
        cortex_actin=1.6,
        junction_actin=0.0,
        ring_actin=ring,
        owner=plan.id,
    )
    nuc2d = np.zeros_like(f)
    if st in ("metaphase", "anaphase"):
        if st == "metaphase":
            plates = [(cy, cx, 0.75, 0.6 * R, 0.5 * R, 0.0)]
        else:
            sep = 1.0 + 0.42 * R * p
            bp = 0.55 * R * (1 - 0.25 * p)
            plates = [
                (cy + sep * sa, cx + sep * ca, 0.6, bp, 0.45 * R, -0.05),
                (cy - sep * sa, cx - sep * ca, 0.6, bp, 0.45 * R, 0.05),
            ]
        for pcy, pcx, a_p, b_p, c_p, curve in plates:
            nucleus = chromosome_plate(cell, canvas, pcy, pcx, a_p, b_p, c_p, zc, ang, curve)
            put_nucleus(
                field_maps,
                cell,
                nucleus,
                dna_level=0.9,
                condense=0.0,
                envelope=0.0,
                plate=1.0,
                dead=0.0,
            )
            nuc2d = np.maximum(nuc2d, nucleus.footprint)
        # spindle: kinetochore fibres from each pole to the chromosomes, astral microtubules
        half = (0.55 + (0.25 * p if st == "anaphase" else 0.0)) * R
        for sgn in (-1.0, 1.0):
            poy, pox = cy + sgn * half * sa, cx + sgn * half * ca
            k = int(22 * s)
            tgt = plates[0] if (st == "metaphase" or sgn > 0) else plates[-1]
            vk = rng.uniform(-0.9, 0.9, k) * tgt[3]
            ty = tgt[0] + vk * ca
            tx = tgt[1] - vk * sa
            t = np.linspace(0, 1, 24)[None, :]
            bow = 0.25 * np.sin(math.pi * t) * (vk[:, None] / max(tgt[3], 1e-3))
            yy = poy + (ty[:, None] - poy) * t + bow * ca
            xx = pox + (tx[:, None] - pox) * t - bow * sa
            zt = zc + rng.uniform(-0.6, 0.6, k)[:, None] * tgt[4] * t
            seg = np.hypot(ty - poy, tx - pox) / 23
            vol = np.broadcast_to((seg * CROSS_SECTION_UM2["microtubules"])[:, None], yy.shape)
            canvas.points("microtubules", yy, xx, zt, vol, gain=gains["microtubules"])
            th = ang + (0.0 if sgn > 0 else math.pi) + rng.uniform(-1.3, 1.3, int(12 * s))
            draw_astral_microtubules(
                canvas, cell, rng, gains, poy, pox, zc, th.size, 0.8 * R, px, False, theta=th
            )
            draw_centrosome(canvas, rng, gains, poy, pox, zc)
        if st == "anaphase":  # interpolar microtubules in the midzone
            k = int(14 * s)
            vk = rng.normal(0, 0.18 * R, k)
            span = 0.5 * plates[0][2] + 1.0 + 0.42 * R * p
            t = np.linspace(-1, 1, 30)[None, :] * span
            yy = cy + t * sa + vk[:, None] * ca
            xx = cx + t * ca - vk[:, None] * sa
            vol = 2 * span / 29 * CROSS_SECTION_UM2["microtubules"]
            canvas.points("microtubules", yy, xx, zc, vol, gain=gains["microtubules"])
    else:  # telophase: two daughter nuclei re-forming, a midbody
        for sgn in (-1.0, 1.0):
            dcy = cy + sgn * (cell.lobe_offset_um + 0.1 * cell.lobe_radius_um) * sa
            dcx = cx + sgn * (cell.lobe_offset_um + 0.1 * cell.lobe_radius_um) * ca
            nucleus = nucleus_geometry(
                canvas,
                cell,
                f,
                dcy,
                dcx,
                0.5 * cell.lobe_radius_um,
                0.36 * cell.lobe_radius_um,
                ang + math.pi / 2,
                0.35 * cell.lobe_radius_um,
                zc,
            )
            put_nucleus(
                field_maps,
                cell,
                nucleus,
                dna_level=0.6,
                condense=0.75 - 0.4 * p,
                envelope=0.4 + 0.6 * p,
                plate=0.0,
                dead=0.0,
            )
            nuc2d = np.maximum(nuc2d, nucleus.footprint)
        k = int(12 * s)
        vk = rng.normal(0, 0.25, k)
        t = np.linspace(-1, 1, 24)[None, :] * (0.75 * cell.lobe_offset_um)
        yy = cy + t * sa + vk[:, None] * ca
        xx = cx + t * ca - vk[:, None] * sa
        vol = 1.5 * cell.lobe_offset_um / 23 * CROSS_SECTION_UM2["microtubules"]
        canvas.points("microtubules", yy, xx, zc * 0.8, vol, gain=gains["microtubules"])
        for sgn in (-1.0, 1.0):
            ccy = cy + sgn * (cell.lobe_offset_um + 0.45 * cell.lobe_radius_um) * sa
            ccx = cx + sgn * (cell.lobe_offset_um + 0.45 * cell.lobe_radius_um) * ca
            draw_astral_microtubules(
                canvas,
                cell,
                rng,
                gains,
                ccy,
                ccx,
                zc,
                int(14 * s),
                0.6 * cell.lobe_radius_um,
                px,
                False,
            )
    thick = np.maximum(z1c - z0c, 0.0)
    w_cyto = f * (f > 0.5) * thick * (1.0 - 0.8 * spindle) * (1.0 - nuc2d)
    nscale = s * s
    draw_mitochondria(
        canvas,
        cell,
        rng,
        gains,
        w_cyto,
        z0c,
        z1c,
        ct.n_mitochondria * nscale * 0.8,
        0.6 * ct.mito_length_um,
        cy,
        cx,
        px,
        radial=3.0,
        wiggle=0.3,
    )
    # a few adhesions remain at the contact disc
    if ((z0c < 0.3) & (f > 0.5)).any():
        draw_peripheral_adhesions(canvas, cell, rng, gains, 3, cy, cx, px, lo=0.0, hi=0.45)
    draw_granules(canvas, cell, rng, w_cyto, z0c, z1c, ct.n_granules * nscale, px)
    draw_puncta(canvas, cell, rng, gains, w_cyto, w_cyto, z0c, z1c, z0c, z1c, s)
    return nuc2d
