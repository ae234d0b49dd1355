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


def chromosome_plate(g, cv, cyp, cxp, a_p, b_p, c_p, zc, ang, curve=0.0):
    """A chromosome plate: a knobby flattened ellipsoid, as a NucleusGeometry."""
    c, s_ = math.cos(ang), math.sin(ang)
    dy = g.y - cyp
    dx = g.x - cxp
    u = dx * c + dy * s_
    v = dy * c - dx * s_
    u = u - curve * v * v
    rho = np.sqrt((u / a_p) ** 2 + (v / b_p) ** 2)
    tex = cv.noise("chromosome")
    tex2 = tex[tex.shape[0] // 2][g.sl] if tex.ndim == 3 else tex[g.sl]
    # a knobby outline: chromosome arms sticking out of the plate
    rho = rho * (1.0 - 0.22 * np.clip(tex2, -1.5, 1.5))
    nu = NucleusGeometry()
    nu.rhon = rho
    nu.fn = soft_inside(rho, a_p / cv.px) * g.f
    nu.t = c_p * np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0))
    nu.z0n = zc - nu.t
    nu.z1n = zc + nu.t
    nu.zc, nu.cz, nu.bn = zc, c_p, a_p
    return nu


def draw_mitotic_cell(cv, M, g, gains):
    """Metaphase, anaphase and telophase: a rounded cell and condensed chromosomes."""
    ct, rng, plan = g.ct, g.rng, g.plan
    px = cv.px
    s = plan.scale
    st = plan.state
    p = plan.progress
    cy, cx = plan.center_um
    R = g.R
    ang = g.angle
    ca, sa = math.cos(ang), math.sin(ang)
    f = g.f
    # -- a sphere (or two lobes) resting on the coverslip -----------------------------
    rz = g.lobe_r if st == "telophase" else R
    zc = 0.92 * rz
    z0c, z1c = rounded_heights(g, f, rz, zc, px)
    uu = (g.x - cx) * ca + (g.y - cy) * sa
    vv = (g.y - cy) * ca - (g.x - cx) * sa
    # ER dispersed, sparser in the spindle
    spindle = np.exp(-((uu / (0.7 * R)) ** 2) - ((vv / (0.45 * R)) ** 2))
    if st == "telophase":
        spindle = spindle * 0.3
    ring = 0.0
    if st in ("anaphase", "telophase"):  # contractile ring at the equator
        ring = np.exp(-((uu / 0.9) ** 2)) * (0.4 + 0.4 * (p if st == "anaphase" else 1.0))
    mask = f > 0
    M.put(
        g,
        mask,
        f=f,
        z0c=z0c,
        z1c=z1c,
        er_a=0.15 * (1 - 0.7 * spindle),
        er_b=0.55 * (1 - 0.7 * spindle),
        er_c=0.0,
        actin=1.6,
        junction=0.0,
        ring=ring,
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
            nu = chromosome_plate(g, cv, pcy, pcx, a_p, b_p, c_p, zc, ang, curve)
            put_nucleus(M, g, nu, dna_level=0.9, condense=0.0, env=0.0, plate=1.0, dead=0.0)
            nuc2d = np.maximum(nuc2d, nu.fn)
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
            cv.points("microtubules", yy, xx, zt, vol, gain=gains["microtubules"])
            th = ang + (0.0 if sgn > 0 else math.pi) + rng.uniform(-1.3, 1.3, int(12 * s))
            draw_astral_microtubules(
                cv, g, rng, gains, poy, pox, zc, th.size, 0.8 * R, px, False, theta=th
            )
            draw_centrosome(cv, rng, gains, poy, pox, zc)
        if st == "anaphase":  # interpolar microtubules in the midzone
            k = int(14 * s)
            vk = rng.normal(0, 0.18 * R, k)
            span = 0.5 * plates[0][2] + 1.0 + 0.42 * R * p
            t = np.linspace(-1, 1, 30)[None, :] * span
            yy = cy + t * sa + vk[:, None] * ca
            xx = cx + t * ca - vk[:, None] * sa
            vol = 2 * span / 29 * CROSS_SECTION_UM2["microtubules"]
            cv.points("microtubules", yy, xx, zc, vol, gain=gains["microtubules"])
    else:  # telophase: two daughter nuclei re-forming, a midbody
        for sgn in (-1.0, 1.0):
            dcy = cy + sgn * (g.lobe_d + 0.1 * g.lobe_r) * sa
            dcx = cx + sgn * (g.lobe_d + 0.1 * g.lobe_r) * ca
            nu = nucleus_geometry(
                cv,
                g,
                f,
                dcy,
                dcx,
                0.5 * g.lobe_r,
                0.36 * g.lobe_r,
                ang + math.pi / 2,
                0.35 * g.lobe_r,
                zc,
            )
            put_nucleus(
                M,
                g,
                nu,
                dna_level=0.6,
                condense=0.75 - 0.4 * p,
                env=0.4 + 0.6 * p,
                plate=0.0,
                dead=0.0,
            )
            nuc2d = np.maximum(nuc2d, nu.fn)
        k = int(12 * s)
        vk = rng.normal(0, 0.25, k)
        t = np.linspace(-1, 1, 24)[None, :] * (0.75 * g.lobe_d)
        yy = cy + t * sa + vk[:, None] * ca
        xx = cx + t * ca - vk[:, None] * sa
        vol = 1.5 * g.lobe_d / 23 * CROSS_SECTION_UM2["microtubules"]
        cv.points("microtubules", yy, xx, zc * 0.8, vol, gain=gains["microtubules"])
        for sgn in (-1.0, 1.0):
            ccy = cy + sgn * (g.lobe_d + 0.45 * g.lobe_r) * sa
            ccx = cx + sgn * (g.lobe_d + 0.45 * g.lobe_r) * ca
            draw_astral_microtubules(
                cv, g, rng, gains, ccy, ccx, zc, int(14 * s), 0.6 * g.lobe_r, px, False
            )
    thick = np.maximum(z1c - z0c, 0.0)
    w_cyto = f * (f > 0.5) * thick * (1.0 - 0.8 * spindle) * (1.0 - nuc2d)
    nscale = s * s
    draw_mitochondria(
        cv,
        g,
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
        draw_peripheral_adhesions(cv, g, rng, gains, 3, cy, cx, px, lo=0.0, hi=0.45)
    draw_granules(cv, g, rng, w_cyto, z0c, z1c, ct.n_granules * nscale, px)
    draw_puncta(cv, g, rng, gains, w_cyto, w_cyto, z0c, z1c, z0c, z1c, s)
    return nuc2d
