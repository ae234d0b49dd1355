"""Pass 1 of the drawing: each cell's box in the field, its footprint metric and shape."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from coursekit.microscope.specimen.canvas import Canvas
from coursekit.microscope.specimen.cell_types import CELL_TYPES, CellType
from coursekit.microscope.specimen.cells import CellPlan
from coursekit.microscope.specimen.geometry import ellipse_rho, outline_harmonics, rng_for


@dataclass(eq=False)
class CellGeometry:
    """A cell's local frame: its box in the field, coordinates and footprint.

    Pass 1 (:func:`cell_geometry`) fills the shape and the box; pass 2 (drawing) adds the
    soft ``footprint`` once the ownership of pixels is known. Arrays cover the cell's box
    ``box`` (``(bh, bw)``); lengths are micrometres.
    """

    plan: CellPlan
    profile: CellType
    rng: np.random.Generator
    kind: str = "spread"  # "spread" (interphase, prophase) or the rounded state's name
    angle: float = 0.0  # long axis (spread) or spindle direction (rounded), radians
    semi_major_um: float = 0.0
    semi_minor_um: float = 0.0
    semi_minor_px: float = 1.0  # the short semi-axis in pixels (anti-aliasing width)
    harmonics: np.ndarray | None = None  # outline harmonics (k, cos, sin) or None
    rounded_radius_um: float = 0.0  # rounded cells
    lobe_radius_um: float = 0.0  # telophase: radius of each daughter lobe
    lobe_offset_um: float = 0.0  # telophase: distance of each lobe from the centre
    neurites: tuple | None = None  # (paths, tips, width_um) of a neuron, else None
    cones: list = field(default_factory=list)  # growth cones (y_um, x_um, direction)
    priority: float = 1.0  # footprint weight when cells compete for pixels (lower wins)
    # the box: rows and columns of the field, planes in 3D, pixel coordinates
    row0: int = 0
    col0: int = 0
    box: tuple = (slice(0), slice(0))
    planes: slice | None = None
    heights_um: np.ndarray | np.float32 | None = None
    y_um: np.ndarray | None = None  # (bh, 1)
    x_um: np.ndarray | None = None  # (1, bw)
    # footprint metrics over the box (< 1 inside)
    rho: np.ndarray | None = None
    rho_body: np.ndarray | None = None
    rho_neurite: np.ndarray | None = None
    rho_cone: np.ndarray | None = None
    rho_lobes: tuple | None = None
    u_um: np.ndarray | None = None  # coordinate along the long axis / spindle
    v_um: np.ndarray | None = None  # coordinate across it
    footprint: np.ndarray | None = None  # soft footprint on the pixels the cell owns
    cdf_cache: dict = field(default_factory=dict)  # weight-map cdfs of sample_positions


# the per-pixel maps of a CellGeometry that crop_to shrinks with the box
_BOX_MAPS = ("rho", "rho_body", "u_um", "v_um", "rho_neurite", "rho_cone")


def set_box(cell, canvas, y_lo, y_hi, x_lo, x_hi, z_hi):
    """Set the cell's box from an extent in um; False when it misses the field."""
    px = canvas.px
    Y, X = canvas.YX
    y0 = max(int(math.floor(y_lo / px)), 0)
    y1 = min(int(math.ceil(y_hi / px)) + 1, Y)
    x0 = max(int(math.floor(x_lo / px)), 0)
    x1 = min(int(math.ceil(x_hi / px)) + 1, X)
    if y0 >= y1 or x0 >= x1:
        return False
    cell.row0, cell.col0 = y0, x0
    cell.box = (slice(y0, y1), slice(x0, x1))
    cell.y_um = (np.arange(y0, y1, dtype=np.float32) * np.float32(px))[:, None]
    cell.x_um = (np.arange(x0, x1, dtype=np.float32) * np.float32(px))[None, :]
    if canvas.is3d:
        k0 = max(int(math.floor((-0.5 * canvas.dz + canvas.coverslip) / canvas.dz)), 0)
        k1 = min(int(math.ceil((z_hi + canvas.coverslip) / canvas.dz)) + 2, canvas.shape[0])
        k1 = max(k1, k0 + 1)
        cell.planes = slice(k0, k1)
        cell.heights_um = canvas.zc[cell.planes][:, None, None]
    else:
        cell.planes = None
        cell.heights_um = np.float32(canvas.focus)
    return True


def crop_to(cell, canvas, keep):
    """Shrink a cell's box to the rows and columns where ``keep`` is true (+1 pixel)."""
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    r0, r1 = max(rows[0] - 1, 0), min(rows[-1] + 2, keep.shape[0])
    c0, c1 = max(cols[0] - 1, 0), min(cols[-1] + 2, keep.shape[1])
    if (r0, r1, c0, c1) == (0, keep.shape[0], 0, keep.shape[1]):
        return (slice(None), slice(None))
    loc = (slice(r0, r1), slice(c0, c1))
    cell.y_um = cell.y_um[r0:r1]
    cell.x_um = cell.x_um[:, c0:c1]
    cell.row0 += r0
    cell.col0 += c0
    cell.box = (slice(cell.row0, cell.row0 + (r1 - r0)), slice(cell.col0, cell.col0 + (c1 - c0)))
    for name in _BOX_MAPS:
        value = getattr(cell, name)
        if value is not None:
            setattr(cell, name, value[loc])
    if cell.rho_lobes is not None:
        cell.rho_lobes = tuple(r[loc] for r in cell.rho_lobes)
    return loc


class SubBox:
    """A window of a cell's box (for small objects such as nucleoli and growth cones)."""

    def __init__(self, cell, canvas, cy, cx, ext):
        px = canvas.px
        bh, bw = cell.y_um.shape[0], cell.x_um.shape[1]
        iy0 = max(int(math.floor((cy - ext) / px)) - cell.row0, 0)
        iy1 = min(int(math.ceil((cy + ext) / px)) + 1 - cell.row0, bh)
        ix0 = max(int(math.floor((cx - ext) / px)) - cell.col0, 0)
        ix1 = min(int(math.ceil((cx + ext) / px)) + 1 - cell.col0, bw)
        self.empty = iy0 >= iy1 or ix0 >= ix1
        self.planes = cell.planes
        self.heights_um = cell.heights_um
        if self.empty:
            self.local = self.box = (slice(0), slice(0))
            self.y_um = self.x_um = None
            return
        self.local = (slice(iy0, iy1), slice(ix0, ix1))
        self.box = (
            slice(cell.row0 + iy0, cell.row0 + iy1),
            slice(cell.col0 + ix0, cell.col0 + ix1),
        )
        self.y_um = cell.y_um[iy0:iy1]
        self.x_um = cell.x_um[:, ix0:ix1]


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


def cell_geometry(plan: CellPlan, canvas: Canvas):
    """Pass 1: the cell's box and its footprint metric ``rho`` (< 1 inside)."""
    ct = CELL_TYPES[plan.cell_type]
    cell = CellGeometry(plan, ct, rng_for(*plan.seed))
    rng = cell.rng
    cy, cx = plan.center_um
    s = plan.scale
    st = plan.state
    p = plan.progress
    cell.neurites = None
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
        cell.kind = "spread"
        cell.semi_major_um, cell.semi_minor_um, cell.angle, cell.harmonics = a, b, plan.angle, harm
        ext = a * (1.05 + 2.5 * ct.irregularity) + 2 * canvas.px
        lo_y, hi_y, lo_x, hi_x = cy - ext, cy + ext, cx - ext, cx + ext
        if ct.neurites[1] > 0 and st == "interphase":
            paths, tips = neurite_paths(rng, ct, cy, cx, a, b, plan.angle, s)
            cell.neurites = (paths, tips, ct.neurite_width_um * math.sqrt(s))
            allp = np.concatenate([np.stack([q[0], q[1]], 1) for q in paths], 0)
            lo_y = min(lo_y, allp[:, 0].min() - 4)
            hi_y = max(hi_y, allp[:, 0].max() + 4)
            lo_x = min(lo_x, allp[:, 1].min() - 4)
            hi_x = max(hi_x, allp[:, 1].max() + 4)
        z_hi = ct.height_um * math.sqrt(s) * 1.3 + 1.0
        cell.semi_minor_px = b / canvas.px
    else:
        R = ct.rounded_radius_um * s
        cell.kind = st
        cell.angle = plan.spindle_angle
        if st == "dead":
            R *= 0.6
            cell.harmonics = outline_harmonics(rng, 10, 0.10)  # blebs
            cell.semi_major_um = cell.semi_minor_um = R
        elif st == "metaphase":
            cell.harmonics = outline_harmonics(rng, 4, 0.02)
            cell.semi_major_um = cell.semi_minor_um = R
        elif st == "anaphase":
            cell.harmonics = outline_harmonics(rng, 4, 0.02)
            cell.semi_major_um = R * (1 + 0.25 * p)
            cell.semi_minor_um = R * (1 - 0.08 * p)
        else:  # telophase: two lobes joined by a narrowing neck
            cell.harmonics = None
            cell.lobe_radius_um = 0.8 * R
            cell.lobe_offset_um = R * (0.58 + 0.2 * p)
            cell.semi_major_um = cell.lobe_offset_um + cell.lobe_radius_um
            cell.semi_minor_um = cell.lobe_radius_um
        cell.rounded_radius_um = R
        ext = max(cell.semi_major_um, cell.semi_minor_um) * 1.3 + 2 * canvas.px
        lo_y, hi_y, lo_x, hi_x = cy - ext, cy + ext, cx - ext, cx + ext
        z_hi = 2.2 * R + 1.0
        cell.semi_minor_px = cell.semi_minor_um / canvas.px
    if not set_box(cell, canvas, lo_y, hi_y, lo_x, hi_x, z_hi):
        return None
    y, x = cell.y_um, cell.x_um
    if cell.kind == "telophase":
        ca, sa = math.cos(cell.angle), math.sin(cell.angle)
        r1, u1, v1 = ellipse_rho(
            y,
            x,
            cy + cell.lobe_offset_um * sa,
            cx + cell.lobe_offset_um * ca,
            cell.lobe_radius_um,
            cell.lobe_radius_um,
            0.0,
        )
        r2, _, _ = ellipse_rho(
            y,
            x,
            cy - cell.lobe_offset_um * sa,
            cx - cell.lobe_offset_um * ca,
            cell.lobe_radius_um,
            cell.lobe_radius_um,
            0.0,
        )
        cell.rho_lobes = (r1, r2)
        cell.rho = np.minimum(r1, r2)
        _, cell.u_um, cell.v_um = ellipse_rho(y, x, cy, cx, 1.0, 1.0, cell.angle)
    else:
        cell.rho, cell.u_um, cell.v_um = ellipse_rho(
            y, x, cy, cx, cell.semi_major_um, cell.semi_minor_um, cell.angle, cell.harmonics
        )
    cell.rho_body = cell.rho
    if cell.neurites is not None:
        neurite_footprint(cell, canvas)
    cell.priority = 1.0 if cell.kind == "spread" else 0.55
    return cell


def neurite_footprint(cell, canvas):
    """Footprint metric of neurites (splatted polylines) and growth cones."""
    paths, tips, width = cell.neurites
    px = canvas.px
    bh, bw = cell.y_um.shape[0], cell.x_um.shape[1]
    sig = max(0.5 * width / px / 1.5, 0.6)
    acc = np.zeros(bh * bw, np.float64)
    ds = 0.5 / px
    wt = ds * math.sqrt(2 * math.pi) * sig
    for py, pxs, _ in paths:
        fy = py / px - cell.row0
        fx = pxs / px - cell.col0
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
        sub = SubBox(cell, canvas, ccy, ccx, 3.5)
        if sub.empty:
            continue
        r, _, _ = ellipse_rho(sub.y_um, sub.x_um, ccy, ccx, 1.3, 2.4, th)
        rho_c[sub.local] = np.minimum(rho_c[sub.local], r)
        cones.append((ccy, ccx, th))
    cell.rho_neurite = rho_n
    cell.rho_cone = rho_c
    cell.cones = cones
    cell.rho = np.minimum(np.minimum(cell.rho, rho_n), rho_c)


# a rounded cell's top is at least 0.3 um high and 0.2 um above its bottom (a look)
ROUNDED_MIN_TOP_UM = 0.3
ROUNDED_MIN_THICKNESS_UM = 0.2


def rounded_heights(cell, footprint, radius_um, center_z_um):
    """Bottom and top (um) of a sphere of ``radius_um`` centred ``center_z_um`` above the
    coverslip, cut by the coverslip, over a rounded cell's box."""
    half = radius_um * np.sqrt(np.clip(1.0 - cell.rho * cell.rho, 0.0, 1.0))
    inside = footprint > 0
    top = np.where(inside, np.maximum(center_z_um + half, ROUNDED_MIN_TOP_UM), 0.0)
    top = top.astype(np.float32)
    bottom = np.where(inside, np.clip(center_z_um - half, 0.0, None), 0.0).astype(np.float32)
    bottom = np.maximum(np.minimum(bottom, top - ROUNDED_MIN_THICKNESS_UM), 0.0)
    return bottom, top
