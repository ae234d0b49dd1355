"""Organelles drawn per cell: expression, granules, mitochondria, microtubules, actin,
adhesions, label-only puncta and nucleoli."""

from __future__ import annotations

import math

import numpy as np

from coursekit.microscope.specimen.constants import EXPRESSION, LABEL_EXTRAS, LABELS
from coursekit.microscope.specimen.footprint import SubBox
from coursekit.microscope.specimen.geometry import (
    ellipse_rho,
    lognormal,
    sample_positions,
    soft_inside,
)

EXPRESSION_SIGMA = np.array([EXPRESSION[lab][0] for lab in LABELS])
EXPRESSION_OFF_FRACTION = np.array([EXPRESSION[lab][1] for lab in LABELS])


def draw_expression(rng) -> dict[str, float]:
    """Per-cell expression level of every label (lognormal, mean 1; 0 when silent)."""
    z = rng.standard_normal(len(LABELS))
    u = rng.uniform(size=len(LABELS))
    v = np.exp(EXPRESSION_SIGMA * z - 0.5 * EXPRESSION_SIGMA * EXPRESSION_SIGMA)
    v[u < EXPRESSION_OFF_FRACTION] = 0.0
    return dict(zip(LABELS, v.tolist()))


def draw_granules(canvas, cell, rng, w, zlo, zhi, mean, px):
    n = int(rng.poisson(mean))
    y, x, idx = sample_positions(cell, rng, w, n, px)
    r = rng.uniform(0.2, 0.45, n)
    frac = rng.uniform(0.2, 0.8, n)
    if idx.size == 0:
        return
    z = zlo.ravel()[idx] + frac * (zhi.ravel()[idx] - zlo.ravel()[idx])
    canvas.points("granules", y, x, z, 4.0 / 3.0 * math.pi * r**3)


def draw_mitochondria(
    canvas, cell, rng, gains, w, zlo, zhi, n, length, cy, cx, px, radial=0.7, wiggle=0.25
):
    """Mitochondria: short curved tubules, oriented roughly radially.

    The cell draws its random parameters; the tubules of all cells are traced at once
    (:func:`trace_deferred`)."""
    n = int(n)
    y0, x0, idx = sample_positions(cell, rng, w, n, px)
    m = y0.size
    if m == 0:
        return
    L = length * lognormal(rng, 0.4, m)
    npt = 10
    step = L / (npt - 1)
    th0 = np.arctan2(y0 - cy, x0 - cx) + radial * rng.standard_normal(m) * 2.0
    dth = wiggle * rng.standard_normal((m, npt))
    frac = rng.uniform(0.15, 0.85, m)
    bright = lognormal(rng, 0.3, m)
    zl = zlo.ravel()[idx]
    z = zl + frac * (zhi.ravel()[idx] - zl)
    canvas.defer(
        "mito",
        cell.plan.id,
        (y0, x0, step, th0, dth, z, gains["mitochondria"] * bright),
    )


def draw_astral_microtubules(
    canvas, cell, rng, gains, cyc, cxc, zcen, n, max_len, px, zmid, theta=None, wiggle=0.05
):
    """Microtubules growing from a centrosome until they reach the cell edge.

    ``zmid``: True to put them at the height of the cell's ``zmid`` map (spread cells),
    False for the centrosome's height ``zcen``. Traced for all cells at once."""
    n = int(n)
    if n <= 0:
        return
    step = 0.35
    m = max(int(max_len / step), 2)
    th0 = rng.uniform(0, 2 * math.pi, n) if theta is None else theta
    dth = wiggle * rng.standard_normal((n, m))
    canvas.defer(
        "astral", cell.plan.id, (cyc, cxc, float(zcen), bool(zmid), th0, dth, gains["microtubules"])
    )


def draw_centrosome(canvas, rng, gains, cy, cx, z):
    k = 12
    y = cy + 0.25 * rng.standard_normal(k)
    x = cx + 0.25 * rng.standard_normal(k)
    zz = z + 0.25 * rng.standard_normal(k)
    canvas.points("microtubules", y, x, zz, 0.02, gain=gains["microtubules"])


def draw_focal_adhesions(canvas, rng, gains, y_end, x_end, th, length, px, cid=0):
    """Elongated basal plaques ending at (y_end, x_end), pointing along ``th``."""
    n = np.size(y_end)
    if n == 0:
        return
    bright = lognormal(rng, 0.35, n)
    canvas.defer("fa", cid, (y_end, x_end, th, length, gains["focal_adhesions"] * bright))


def draw_stress_fibres(canvas, cell, rng, gains, n, cy, cx, a, b, angle, spread, px, fa=True):
    n = int(n)
    if n <= 0:
        return
    th = angle + spread * rng.standard_normal(n)
    off = rng.uniform(-0.8, 0.8, n) * b
    thick = rng.uniform(0.5, 1.3, n)
    fa_len = rng.uniform(1.0, 2.6, (n, 2))
    zf = 0.25 + 0.08 * rng.standard_normal(n)
    fa_bright = lognormal(rng, 0.35, (n, 2)) if fa else None
    cy_ = cy + off * np.cos(angle)
    cx_ = cx - off * np.sin(angle)
    canvas.defer(
        "fibre",
        cell.plan.id,
        (cy_, cx_, th, float(a), thick, fa_len, zf, gains["actin"], fa_bright, gains),
    )


def draw_peripheral_adhesions(canvas, cell, rng, gains, n, cy, cx, px, lo=0.72, hi=0.95):
    w = ((cell.rho >= lo) & (cell.rho <= hi) & (cell.footprint > 0.5)).astype(np.float32)
    y, x, _ = sample_positions(cell, rng, w, n, px)
    m = y.size
    ln = rng.uniform(0.7, 2.0, n)[:m]
    if m == 0:
        return
    th = np.arctan2(y - cy, x - cx)
    draw_focal_adhesions(canvas, rng, gains, y, x, th, ln, px)


SPOT_LABELS = tuple(lab for lab in LABELS if LABEL_EXTRAS[lab]["spots"] > 0)
SPOT_MEANS = np.array([LABEL_EXTRAS[lab]["spots"] for lab in SPOT_LABELS])


def draw_puncta(canvas, cell, rng, gains, w_cyto, w_nuc, zlo, zhi, zlo_n, zhi_n, s):
    """Label-only puncta (no refractive index): aggregates, vesicles, nuclear bodies."""
    px = canvas.px
    n_spots = rng.poisson(SPOT_MEANS * (s * s)).tolist()
    counts = dict(zip(SPOT_LABELS, n_spots))
    for comp, w, lo_m, hi_m in (("cytoplasm", w_cyto, zlo, zhi), ("nucleus", w_nuc, zlo_n, zhi_n)):
        labs = [lab for lab in counts if LABEL_EXTRAS[lab]["compartment"] == comp]
        n = sum(counts[lab] for lab in labs)
        y, x, idx = sample_positions(cell, rng, w, n, px)
        frac = rng.uniform(0.15, 0.85, n)
        bright = lognormal(rng, 0.6, n) * 2.0
        if idx.size < n or n == 0:
            continue
        z = lo_m.ravel()[idx] + frac * (hi_m.ravel()[idx] - lo_m.ravel()[idx])
        w = bright * 0.12
        k = 0
        for lab in labs:
            c = counts[lab]
            if c and lab in canvas.lab and gains[lab] > 0:
                j = slice(k, k + c)
                canvas.defer("spots", lab, (y[j], x[j], z[j], gains[lab] * w[j]))
            k += c


# ---------------------------------------------------------------------------------------
# Field-wide maps: every cell writes its geometry and parameters (on the pixels it owns);
# the densities are then evaluated once over the whole field (fast: few large arrays
# instead of many small ones)


def draw_nucleoli(canvas, field_maps, cell, nucleus, gains, *, scale=1.0, fade=0.0):
    """1 to 4 dense nucleoli inside a nucleus (drawn directly; they also exclude chromatin)."""
    px = canvas.px
    rng = cell.rng
    ct = cell.profile
    zz = cell.heights_um
    gran = canvas.texture("granular", cell) if canvas.is3d else None
    nn = int(rng.integers(ct.nucleoli[0], ct.nucleoli[1] + 1))
    for _ in range(nn):
        r = (
            ct.nucleolus_radius_um
            * math.sqrt(cell.plan.scale)
            * math.exp(0.25 * rng.standard_normal())
        )
        r *= scale
        rr = 0.5 * math.sqrt(rng.uniform())
        ph = rng.uniform(0, 2 * math.pi)
        uu, vv = (
            rr * nucleus.semi_major_um * math.cos(ph),
            rr * nucleus.semi_minor_um * math.sin(ph),
        )
        ly = nucleus.center_y_um + uu * math.sin(nucleus.angle) + vv * math.cos(nucleus.angle)
        lx = nucleus.center_x_um + uu * math.cos(nucleus.angle) - vv * math.sin(nucleus.angle)
        zl = (
            nucleus.center_z_um
            + float(np.clip(0.3 * rng.standard_normal(), -0.4, 0.4)) * nucleus.half_height_um
        )
        asp = math.exp(0.15 * rng.standard_normal())
        lang = rng.uniform(0, math.pi)
        bright = float(lognormal(rng, 0.3))
        if r < 0.2:
            continue
        ra, rb, rz = r * math.sqrt(asp), r / math.sqrt(asp), 0.85 * r
        sub = SubBox(cell, canvas, ly, lx, max(ra, rb) + 1.0)
        if sub.empty:
            continue
        if not canvas.is3d:  # 2D: drawn for all cells at once (trace_deferred)
            params = (ly, lx, ra, rb, lang, zl, rz, fade, gains["nucleoli"] * bright)
            canvas.defer(
                "nucleolus", cell.plan.id, (sub.box, nucleus.footprint[sub.local].copy(), params)
            )
            continue
        rl, _, _ = ellipse_rho(sub.y_um, sub.x_um, ly, lx, ra, rb, lang)
        fl = soft_inside(rl, rb / px) * nucleus.footprint[sub.local]
        tl = rz * np.sqrt(np.clip(1.0 - rl * rl, 0.0, 1.0))
        gl = gran[..., sub.local[0], sub.local[1]]
        lvl = 0.85 * (1.0 - fade)
        dl = fl * (lvl + 0.12 * gl)
        canvas.layer(
            "nucleoli",
            sub,
            dl,
            zl - tl,
            zl + tl,
            gain=gains["nucleoli"] * bright,
            d_mean=fl * np.float32(lvl),
        )
        rl3 = np.sqrt(rl * rl + ((zz - zl) / rz) ** 2)
        if canvas.is3d:
            e = field_maps.nucleolus_exclusion[sub.planes, sub.box[0], sub.box[1]]
            nr = field_maps.perinucleolar_rim[sub.planes, sub.box[0], sub.box[1]]
        else:
            e = field_maps.nucleolus_exclusion[sub.box]
            nr = field_maps.perinucleolar_rim[sub.box]
        np.maximum(e, soft_inside(rl3, rb / px) * (1.0 - fade), out=e)
        np.maximum(nr, np.exp(-(((rl3 - 1.0) * rb / 0.35) ** 2)) * (rl3 > 1.0), out=nr)
