"""Pass 1 of the drawing: each cell's box in the field, its footprint metric and shape."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from coursekit.microscope.specimen.canvas import Canvas
from coursekit.microscope.specimen.cell_types import CELL_TYPES
from coursekit.microscope.specimen.cells import CellPlan
from coursekit.microscope.specimen.geometry import ellipse_rho, outline_harmonics, rng_for


class CellGeometry:
    """A cell's local frame: its box in the field, coordinates (um) and footprint."""

    def __init__(self, plan, ct, rng):
        self.plan = plan
        self.ct = ct
        self.rng = rng


def set_box(g, cv, y_lo, y_hi, x_lo, x_hi, z_hi):
    """Set the cell's box from an extent in um; False when it misses the field."""
    px = cv.px
    Y, X = cv.YX
    y0 = max(int(math.floor(y_lo / px)), 0)
    y1 = min(int(math.ceil(y_hi / px)) + 1, Y)
    x0 = max(int(math.floor(x_lo / px)), 0)
    x1 = min(int(math.ceil(x_hi / px)) + 1, X)
    if y0 >= y1 or x0 >= x1:
        return False
    g.y0, g.x0 = y0, x0
    g.sl = (slice(y0, y1), slice(x0, x1))
    g.y = (np.arange(y0, y1, dtype=np.float32) * np.float32(px))[:, None]
    g.x = (np.arange(x0, x1, dtype=np.float32) * np.float32(px))[None, :]
    if cv.is3d:
        k0 = max(int(math.floor((-0.5 * cv.dz + cv.coverslip) / cv.dz)), 0)
        k1 = min(int(math.ceil((z_hi + cv.coverslip) / cv.dz)) + 2, cv.shape[0])
        k1 = max(k1, k0 + 1)
        g.zs = slice(k0, k1)
        g.zz = cv.zc[g.zs][:, None, None]
    else:
        g.zs = None
        g.zz = np.float32(cv.focus)
    return True


def crop_to(g, cv, keep):
    """Shrink a cell's box to the rows and columns where ``keep`` is true (+1 pixel)."""
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    r0, r1 = max(rows[0] - 1, 0), min(rows[-1] + 2, keep.shape[0])
    c0, c1 = max(cols[0] - 1, 0), min(cols[-1] + 2, keep.shape[1])
    if (r0, r1, c0, c1) == (0, keep.shape[0], 0, keep.shape[1]):
        return (slice(None), slice(None))
    loc = (slice(r0, r1), slice(c0, c1))
    g.y = g.y[r0:r1]
    g.x = g.x[:, c0:c1]
    g.y0 += r0
    g.x0 += c0
    g.sl = (slice(g.y0, g.y0 + (r1 - r0)), slice(g.x0, g.x0 + (c1 - c0)))
    for name in ("rho", "rho_body", "u", "v", "rho_neurite", "rho_cone"):
        if hasattr(g, name):
            setattr(g, name, getattr(g, name)[loc])
    if hasattr(g, "rho_lobes"):
        g.rho_lobes = tuple(r[loc] for r in g.rho_lobes)
    return loc


class SubBox:
    """A window of a cell's box (for small objects such as nucleoli and growth cones)."""

    def __init__(self, g, cv, cy, cx, ext):
        px = cv.px
        bh, bw = g.y.shape[0], g.x.shape[1]
        iy0 = max(int(math.floor((cy - ext) / px)) - g.y0, 0)
        iy1 = min(int(math.ceil((cy + ext) / px)) + 1 - g.y0, bh)
        ix0 = max(int(math.floor((cx - ext) / px)) - g.x0, 0)
        ix1 = min(int(math.ceil((cx + ext) / px)) + 1 - g.x0, bw)
        self.empty = iy0 >= iy1 or ix0 >= ix1
        if self.empty:
            return
        self.loc = (slice(iy0, iy1), slice(ix0, ix1))
        self.sl = (slice(g.y0 + iy0, g.y0 + iy1), slice(g.x0 + ix0, g.x0 + ix1))
        self.y = g.y[iy0:iy1]
        self.x = g.x[:, ix0:ix1]
        self.zs = g.zs
        self.zz = g.zz


def neurite_paths(rng, ct, cy, cx, a, b, angle, s):
    """Polylines (um) of a neuron's neurites and the tips' positions and directions."""
    n = int(rng.integers(ct.neurites[0], ct.neurites[1] + 1))
    base = rng.uniform(0, 2 * math.pi)
    paths = []
    tips = []
    step = 0.5
    for i in range(n):
        alpha = base + 2 * math.pi * i / max(n, 1) + 0.5 * rng.standard_normal()
        length = ct.neurite_length_um * s * math.exp(0.35 * rng.standard_normal())
        m = max(int(length / step), 4)
        th = alpha + np.cumsum(0.10 * rng.standard_normal(m))
        # start on the soma outline
        c, si = math.cos(alpha - angle), math.sin(alpha - angle)
        r0 = 0.9 / math.sqrt((c / a) ** 2 + (si / b) ** 2)
        y0 = cy + r0 * math.sin(alpha)
        x0 = cx + r0 * math.cos(alpha)
        py = y0 + np.cumsum(step * np.sin(th))
        pxs = x0 + np.cumsum(step * np.cos(th))
        paths.append((py, pxs, th))
        tips.append((py[-1], pxs[-1], th[-1]))
        if rng.uniform() < 0.5:  # a branch
            k = int(rng.integers(m // 3, max(m // 3 + 1, 2 * m // 3)))
            m2 = max(int(0.45 * m), 4)
            th2 = th[k] + rng.choice([-1.0, 1.0]) * 0.7 + np.cumsum(0.1 * rng.standard_normal(m2))
            py2 = py[k] + np.cumsum(step * np.sin(th2))
            px2 = pxs[k] + np.cumsum(step * np.cos(th2))
            paths.append((py2, px2, th2))
            tips.append((py2[-1], px2[-1], th2[-1]))
    return paths, tips


def cell_geometry(plan: CellPlan, cv: Canvas):
    """Pass 1: the cell's box and its footprint metric ``rho`` (< 1 inside)."""
    ct = CELL_TYPES[plan.cell_type]
    g = CellGeometry(plan, ct, rng_for(*plan.seed))
    rng = g.rng
    cy, cx = plan.center_um
    s = plan.scale
    st = plan.state
    p = plan.progress
    g.neur = None
    if st in ("interphase", "prophase"):
        a = 0.5 * ct.diameter_um * s
        asp = max(1.0, ct.aspect * math.exp(0.12 * rng.standard_normal()))
        b = a / asp
        if st == "prophase":  # rounding up begins
            a *= 0.88
            b *= 0.95
        if ct.colony:  # packed: each cell reaches past its neighbours and gets carved
            a *= 1.35
            b *= 1.35
        harm = outline_harmonics(rng, 6, ct.irregularity)
        g.kind = "spread"
        g.a, g.b, g.angle, g.harm = a, b, plan.angle, harm
        ext = a * (1.05 + 2.5 * ct.irregularity) + 2 * cv.px
        lo_y, hi_y, lo_x, hi_x = cy - ext, cy + ext, cx - ext, cx + ext
        if ct.neurites[1] > 0 and st == "interphase":
            paths, tips = neurite_paths(rng, ct, cy, cx, a, b, plan.angle, s)
            g.neur = (paths, tips, ct.neurite_width_um * math.sqrt(s))
            allp = np.concatenate([np.stack([q[0], q[1]], 1) for q in paths], 0)
            lo_y = min(lo_y, allp[:, 0].min() - 4)
            hi_y = max(hi_y, allp[:, 0].max() + 4)
            lo_x = min(lo_x, allp[:, 1].min() - 4)
            hi_x = max(hi_x, allp[:, 1].max() + 4)
        z_hi = ct.height_um * math.sqrt(s) * 1.3 + 1.0
        g.rpx = b / cv.px
    else:
        R = ct.rounded_radius_um * s
        g.kind = st
        g.angle = plan.spindle_angle
        if st == "dead":
            R *= 0.6
            g.harm = outline_harmonics(rng, 10, 0.10)  # blebs
            g.a = g.b = R
        elif st == "metaphase":
            g.harm = outline_harmonics(rng, 4, 0.02)
            g.a = g.b = R
        elif st == "anaphase":
            g.harm = outline_harmonics(rng, 4, 0.02)
            g.a = R * (1 + 0.25 * p)
            g.b = R * (1 - 0.08 * p)
        else:  # telophase: two lobes joined by a narrowing neck
            g.harm = None
            g.lobe_r = 0.8 * R
            g.lobe_d = R * (0.58 + 0.2 * p)
            g.a = g.lobe_d + g.lobe_r
            g.b = g.lobe_r
        g.R = R
        ext = max(g.a, g.b) * 1.3 + 2 * cv.px
        lo_y, hi_y, lo_x, hi_x = cy - ext, cy + ext, cx - ext, cx + ext
        z_hi = 2.2 * R + 1.0
        g.rpx = g.b / cv.px
    if not set_box(g, cv, lo_y, hi_y, lo_x, hi_x, z_hi):
        return None
    y, x = g.y, g.x
    if g.kind == "telophase":
        ca, sa = math.cos(g.angle), math.sin(g.angle)
        r1, u1, v1 = ellipse_rho(
            y, x, cy + g.lobe_d * sa, cx + g.lobe_d * ca, g.lobe_r, g.lobe_r, 0.0
        )
        r2, _, _ = ellipse_rho(
            y, x, cy - g.lobe_d * sa, cx - g.lobe_d * ca, g.lobe_r, g.lobe_r, 0.0
        )
        g.rho_lobes = (r1, r2)
        g.rho = np.minimum(r1, r2)
        _, g.u, g.v = ellipse_rho(y, x, cy, cx, 1.0, 1.0, g.angle)
    else:
        g.rho, g.u, g.v = ellipse_rho(y, x, cy, cx, g.a, g.b, g.angle, g.harm)
    g.rho_body = g.rho
    if g.neur is not None:
        neurite_footprint(g, cv)
    g.prio = 1.0 if g.kind == "spread" else 0.55
    return g


def neurite_footprint(g, cv):
    """Footprint metric of neurites (splatted polylines) and growth cones."""
    paths, tips, width = g.neur
    px = cv.px
    bh, bw = g.y.shape[0], g.x.shape[1]
    sig = max(0.5 * width / px / 1.5, 0.6)
    acc = np.zeros(bh * bw, np.float64)
    ds = 0.5 / px
    wt = ds * math.sqrt(2 * math.pi) * sig
    for py, pxs, _ in paths:
        fy = py / px - g.y0
        fx = pxs / px - g.x0
        iy = np.floor(fy).astype(int)
        ix = np.floor(fx).astype(int)
        ty, tx = fy - iy, fx - ix
        for dy, wy in ((0, 1 - ty), (1, ty)):
            for dx, wx in ((0, 1 - tx), (1, tx)):
                yy, xx = iy + dy, ix + dx
                ok = (yy >= 0) & (yy < bh) & (xx >= 0) & (xx < bw)
                acc += np.bincount(yy[ok] * bw + xx[ok], (wt * wy * wx)[ok], minlength=bh * bw)
    prof = ndimage.gaussian_filter(acc.reshape(bh, bw).astype(np.float32), sig, truncate=3.0)
    dist_px = sig * np.sqrt(-2.0 * np.log(np.clip(prof, 1e-12, 1.0)))
    rho_n = dist_px * px / (0.5 * width)
    rho_c = np.full_like(rho_n, 10.0)
    cones = []
    for ty_, tx_, th in tips:
        ccy = ty_ + 1.2 * math.sin(th)
        ccx = tx_ + 1.2 * math.cos(th)
        sub = SubBox(g, cv, ccy, ccx, 3.5)
        if sub.empty:
            continue
        r, _, _ = ellipse_rho(sub.y, sub.x, ccy, ccx, 1.3, 2.4, th)
        rho_c[sub.loc] = np.minimum(rho_c[sub.loc], r)
        cones.append((ccy, ccx, th))
    g.rho_neurite = rho_n
    g.rho_cone = rho_c
    g.cones = cones
    g.rho = np.minimum(np.minimum(g.rho, rho_n), rho_c)


def rounded_heights(g, f, rz, zc, px):
    hh = rz * np.sqrt(np.clip(1.0 - g.rho * g.rho, 0.0, 1.0))
    z1c = np.where(f > 0, np.maximum(zc + hh, 0.3), 0.0).astype(np.float32)
    z0c = np.where(f > 0, np.clip(zc - hh, 0.0, None), 0.0).astype(np.float32)
    z0c = np.maximum(np.minimum(z0c, z1c - 0.2), 0.0)
    return z0c, z1c
