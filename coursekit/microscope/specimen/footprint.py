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


# -- footprints (a look unless stated) ----------------------------------------------------
SPREAD_ASPECT_SIGMA = 0.12  # cell-to-cell spread of the aspect ratio (log)
OUTLINE_ORDER = 6  # outline harmonics up to this order
PROPHASE_ROUNDING = (0.88, 0.95)  # prophase: the long and short axes shrink (rounding up)
# colony cells reach past their neighbours by 35 % and are carved by them (pass 1 gives
# every pixel to the nearest cell), which packs them like an epithelium
COLONY_REACH = 1.35
BOX_SLACK = 1.05  # the box covers the outline's harmonics plus two pixels
BOX_HARMONIC_REACH = 2.5
NEURITE_BOX_MARGIN_UM = 4.0
SPREAD_HEIGHT_REACH = 1.3  # the box's planes reach 1.3 cell heights plus 1 um
BOX_Z_MARGIN_UM = 1.0
# rounded cells (radius CellType.rounded_radius_um)
DEAD_SHRINK = 0.6  # a dead cell shrinks to 60 % of the rounded radius
DEAD_BLEBS = (10, 0.10)  # outline harmonics: order and amplitude (blebbing)
MITOTIC_OUTLINE = (4, 0.02)  # nearly round
ANAPHASE_ELONGATION = (0.25, 0.08)  # long axis + first * progress, short - second * progress
TELOPHASE_LOBE = 0.8  # daughter lobes of 0.8 radii...
TELOPHASE_LOBE_OFFSET = (0.58, 0.2)  # ...apart by (first + second * progress) radii
ROUNDED_BOX_REACH = 1.3
ROUNDED_HEIGHT_REACH = 2.2  # the box's planes reach 2.2 radii plus 1 um
# pixels go to the cell with the smallest rho * priority: rounded cells win over their
# spread neighbours (they sit on top of them)
ROUNDED_PRIORITY = 0.55
# -- neurites: traced in 0.5 um steps, lengths log-normal (spread 0.35), turning 0.1 rad
# per step, half of them branching once at 0.7 rad
NEURITE_STEP_UM = 0.5
NEURITE_ANGLE_SD = 0.5
NEURITE_LENGTH_SIGMA = 0.35
NEURITE_TURN_SD = 0.10
NEURITE_START = 0.9  # neurites start just inside the soma outline
NEURITE_BRANCH_PROBABILITY = 0.5
NEURITE_BRANCH_ANGLE = 0.7
NEURITE_BRANCH_LENGTH = 0.45
# growth cones: ellipses of 1.3 x 2.4 um, 1.2 um beyond the tip (a look; growth cones
# are a few micrometres across)
CONE_OFFSET_UM = 1.2
CONE_SEMI_AXES_UM = (1.3, 2.4)
CONE_WINDOW_UM = 3.5


def neurite_paths(rng, profile, center_y_um, center_x_um, semi_a, semi_b, angle, scale):
    """Polylines (um) of a neuron's neurites starting on the soma outline (semi-axes
    ``semi_a``, ``semi_b`` at ``angle``), and the tips' positions and directions."""
    n = int(rng.integers(profile.neurites[0], profile.neurites[1] + 1))
    base = rng.uniform(0, 2 * math.pi)
    paths = []
    tips = []
    step = NEURITE_STEP_UM
    for i in range(n):
        alpha = base + 2 * math.pi * i / max(n, 1) + NEURITE_ANGLE_SD * rng.standard_normal()
        length = (
            profile.neurite_length_um
            * scale
            * math.exp(NEURITE_LENGTH_SIGMA * rng.standard_normal())
        )
        m = max(int(length / step), 4)
        direction = alpha + np.cumsum(NEURITE_TURN_SD * rng.standard_normal(m))
        # start on the soma outline
        c, si = math.cos(alpha - angle), math.sin(alpha - angle)
        r0 = NEURITE_START / math.sqrt((c / semi_a) ** 2 + (si / semi_b) ** 2)
        y0 = center_y_um + r0 * math.sin(alpha)
        x0 = center_x_um + r0 * math.cos(alpha)
        path_y = y0 + np.cumsum(step * np.sin(direction))
        path_x = x0 + np.cumsum(step * np.cos(direction))
        paths.append((path_y, path_x, direction))
        tips.append((path_y[-1], path_x[-1], direction[-1]))
        if rng.uniform() < NEURITE_BRANCH_PROBABILITY:  # a branch
            k = int(rng.integers(m // 3, max(m // 3 + 1, 2 * m // 3)))
            m2 = max(int(NEURITE_BRANCH_LENGTH * m), 4)
            branch = (
                direction[k]
                + rng.choice([-1.0, 1.0]) * NEURITE_BRANCH_ANGLE
                + np.cumsum(NEURITE_TURN_SD * rng.standard_normal(m2))
            )
            branch_y = path_y[k] + np.cumsum(step * np.sin(branch))
            branch_x = path_x[k] + np.cumsum(step * np.cos(branch))
            paths.append((branch_y, branch_x, branch))
            tips.append((branch_y[-1], branch_x[-1], branch[-1]))
    return paths, tips


def cell_geometry(plan: CellPlan, canvas: Canvas, profiles=None) -> CellGeometry | None:
    """Pass 1: the cell's box and its footprint metric ``rho`` (< 1 inside); None when
    the cell misses the field. ``profiles`` overrides :data:`CELL_TYPES` (perturbations)."""
    profile = (CELL_TYPES if profiles is None else profiles)[plan.cell_type]
    cell = CellGeometry(plan, profile, rng_for(*plan.seed))
    rng = cell.rng
    cy, cx = plan.center_um
    scale = plan.scale
    state = plan.state
    progress = plan.progress
    if state in ("interphase", "prophase"):
        semi_a = 0.5 * profile.diameter_um * scale
        aspect = max(1.0, profile.aspect * math.exp(SPREAD_ASPECT_SIGMA * rng.standard_normal()))
        semi_b = semi_a / aspect
        if state == "prophase":  # rounding up begins
            semi_a *= PROPHASE_ROUNDING[0]
            semi_b *= PROPHASE_ROUNDING[1]
        if profile.colony:  # packed: each cell reaches past its neighbours and gets carved
            semi_a *= COLONY_REACH
            semi_b *= COLONY_REACH
        harmonics = outline_harmonics(rng, OUTLINE_ORDER, profile.irregularity)
        cell.kind = "spread"
        cell.semi_major_um, cell.semi_minor_um = semi_a, semi_b
        cell.angle, cell.harmonics = plan.angle, harmonics
        ext = semi_a * (BOX_SLACK + BOX_HARMONIC_REACH * profile.irregularity) + 2 * canvas.px
        lo_y, hi_y, lo_x, hi_x = cy - ext, cy + ext, cx - ext, cx + ext
        if profile.neurites[1] > 0 and state == "interphase":
            paths, tips = neurite_paths(rng, profile, cy, cx, semi_a, semi_b, plan.angle, scale)
            cell.neurites = (paths, tips, profile.neurite_width_um * math.sqrt(scale))
            allp = np.concatenate([np.stack([q[0], q[1]], 1) for q in paths], 0)
            lo_y = min(lo_y, allp[:, 0].min() - NEURITE_BOX_MARGIN_UM)
            hi_y = max(hi_y, allp[:, 0].max() + NEURITE_BOX_MARGIN_UM)
            lo_x = min(lo_x, allp[:, 1].min() - NEURITE_BOX_MARGIN_UM)
            hi_x = max(hi_x, allp[:, 1].max() + NEURITE_BOX_MARGIN_UM)
        z_hi = profile.height_um * math.sqrt(scale) * SPREAD_HEIGHT_REACH + BOX_Z_MARGIN_UM
        cell.semi_minor_px = semi_b / canvas.px
    else:
        radius = profile.rounded_radius_um * scale
        cell.kind = state
        cell.angle = plan.spindle_angle
        if state == "dead":
            radius *= DEAD_SHRINK
            cell.harmonics = outline_harmonics(rng, *DEAD_BLEBS)  # blebs
            cell.semi_major_um = cell.semi_minor_um = radius
        elif state == "metaphase":
            cell.harmonics = outline_harmonics(rng, *MITOTIC_OUTLINE)
            cell.semi_major_um = cell.semi_minor_um = radius
        elif state == "anaphase":
            cell.harmonics = outline_harmonics(rng, *MITOTIC_OUTLINE)
            cell.semi_major_um = radius * (1 + ANAPHASE_ELONGATION[0] * progress)
            cell.semi_minor_um = radius * (1 - ANAPHASE_ELONGATION[1] * progress)
        else:  # telophase: two lobes joined by a narrowing neck
            cell.harmonics = None
            cell.lobe_radius_um = TELOPHASE_LOBE * radius
            cell.lobe_offset_um = radius * (
                TELOPHASE_LOBE_OFFSET[0] + TELOPHASE_LOBE_OFFSET[1] * progress
            )
            cell.semi_major_um = cell.lobe_offset_um + cell.lobe_radius_um
            cell.semi_minor_um = cell.lobe_radius_um
        cell.rounded_radius_um = radius
        ext = max(cell.semi_major_um, cell.semi_minor_um) * ROUNDED_BOX_REACH + 2 * canvas.px
        lo_y, hi_y, lo_x, hi_x = cy - ext, cy + ext, cx - ext, cx + ext
        z_hi = ROUNDED_HEIGHT_REACH * radius + BOX_Z_MARGIN_UM
        cell.semi_minor_px = cell.semi_minor_um / canvas.px
    if not set_box(cell, canvas, lo_y, hi_y, lo_x, hi_x, z_hi):
        return None
    y, x = cell.y_um, cell.x_um
    if cell.kind == "telophase":
        ca, sa = math.cos(cell.angle), math.sin(cell.angle)
        lobes = []
        for sign in (1.0, -1.0):
            rho, _, _ = ellipse_rho(
                y,
                x,
                cy + sign * cell.lobe_offset_um * sa,
                cx + sign * cell.lobe_offset_um * ca,
                cell.lobe_radius_um,
                cell.lobe_radius_um,
                0.0,
            )
            lobes.append(rho)
        cell.rho_lobes = tuple(lobes)
        cell.rho = np.minimum(lobes[0], lobes[1])
        _, cell.u_um, cell.v_um = ellipse_rho(y, x, cy, cx, 1.0, 1.0, cell.angle)
    else:
        cell.rho, cell.u_um, cell.v_um = ellipse_rho(
            y, x, cy, cx, cell.semi_major_um, cell.semi_minor_um, cell.angle, cell.harmonics
        )
    cell.rho_body = cell.rho
    if cell.neurites is not None:
        neurite_footprint(cell, canvas)
    cell.priority = 1.0 if cell.kind == "spread" else ROUNDED_PRIORITY
    return cell


def neurite_footprint(cell, canvas):
    """Footprint metric of neurites (splatted polylines) and growth cones."""
    paths, tips, width = cell.neurites
    px = canvas.px
    bh, bw = cell.y_um.shape[0], cell.x_um.shape[1]
    sig = max(0.5 * width / px / 1.5, 0.6)
    acc = np.zeros(bh * bw, np.float64)
    ds = NEURITE_STEP_UM / px
    wt = ds * math.sqrt(2 * math.pi) * sig
    for path_y, path_x, _ in paths:
        fy = path_y / px - cell.row0
        fx = path_x / px - cell.col0
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
    for tip_y, tip_x, direction in tips:
        ccy = tip_y + CONE_OFFSET_UM * math.sin(direction)
        ccx = tip_x + CONE_OFFSET_UM * math.cos(direction)
        sub = SubBox(cell, canvas, ccy, ccx, CONE_WINDOW_UM)
        if sub.empty:
            continue
        r, _, _ = ellipse_rho(sub.y_um, sub.x_um, ccy, ccx, *CONE_SEMI_AXES_UM, direction)
        rho_c[sub.local] = np.minimum(rho_c[sub.local], r)
        cones.append((ccy, ccx, direction))
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
