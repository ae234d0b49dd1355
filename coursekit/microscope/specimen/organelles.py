"""Organelles drawn per cell: expression, granules, mitochondria, microtubules, actin,
adhesions, label-only puncta and nucleoli.

Each function draws the random parameters of one kind of organelle for one cell from the
cell's own generator (so that dropping a cell leaves the others bit-identical). Thin
structures are only *described* here (:meth:`Canvas.defer`) and traced for all cells at
once in :mod:`~coursekit.microscope.specimen.tracing`.

Sizes marked "a look" were chosen by eye against bright-field, phase-contrast and
fluorescence images of the cell types (no measurement behind them beyond the order of
magnitude); the others carry their source.
"""

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

# -- granules (lipid droplets, vesicles): 0.4 to 0.9 um across, at the small end of lipid
# droplet sizes (0.1 to 5 um; Walther & Farese 2012, Annu Rev Biochem 81:687)
GRANULE_RADIUS_UM = (0.2, 0.45)
# heights within the cytoplasm column (fraction from its bottom to its top): a look
GRANULE_HEIGHT_FRACTION = (0.2, 0.8)

# -- mitochondria: tubules ~0.4 um wide (CROSS_SECTION_UM2), 1 to 4 um long in cultured
# cells; the length spread, brightness spread and curvature are a look
MITO_POINTS = 10  # points per traced tubule
MITO_LENGTH_SIGMA = 0.4  # log-normal spread of lengths
MITO_BRIGHTNESS_SIGMA = 0.3
MITO_HEIGHT_FRACTION = (0.15, 0.85)
MITO_RADIAL_SPREAD = 2.0  # multiplies ``radial``: direction spread around the radial one

# -- microtubules: traced in 0.35 um steps (about one pixel)
ASTRAL_STEP_UM = 0.35
# the centrosome: about 0.5 um across (a pair of centrioles in pericentriolar material),
# drawn as a small cloud of points
CENTROSOME_POINTS = 12
CENTROSOME_SPREAD_UM = 0.25
CENTROSOME_POINT_VOLUME_UM3 = 0.02

# -- focal adhesions: mature adhesions are 1 to 5 um long and sit in the basal 0.1 to
# 0.2 um (Geiger, Spatz & Bershadsky 2009, Nat Rev Mol Cell Biol 10:21)
ADHESION_BRIGHTNESS_SIGMA = 0.35
FIBRE_ADHESION_LENGTH_UM = (1.0, 2.6)
PERIPHERAL_ADHESION_LENGTH_UM = (0.7, 2.0)
# peripheral adhesions lie in the band 0.72 < rho < 0.95 of the footprint (a look)
PERIPHERAL_BAND = (0.72, 0.95)

# -- stress fibres: ventral fibres just above the coverslip (0.25 +- 0.08 um), spread
# across 80 % of the cell's short axis, 0.5 to 1.3 times the nominal bundle thickness
FIBRE_OFFSET_FRACTION = 0.8
FIBRE_THICKNESS = (0.5, 1.3)
FIBRE_HEIGHT_UM = 0.25
FIBRE_HEIGHT_SD_UM = 0.08

# -- label-only puncta (aggregates, vesicles, nuclear bodies): bright (2 x a log-normal of
# spread 0.6) points of weight 0.12; a look
PUNCTA_BRIGHTNESS_SIGMA = 0.6
PUNCTA_BRIGHTNESS = 2.0
PUNCTA_WEIGHT = 0.12
PUNCTA_HEIGHT_FRACTION = (0.15, 0.85)

# -- nucleoli: 1 to 4 per nucleus, radius 0.8 to 1 um (CellType.nucleolus_radius_um),
# flattened to 0.85 of their radius along z; density 0.85 of the nucleolar increment with
# a granular texture of amplitude 0.12 (nucleoli are the densest compartment, DELTA_N), and
# a rim of perinucleolar chromatin 0.35 um thick (a look)
NUCLEOLUS_RADIUS_SIGMA = 0.25
NUCLEOLUS_PLACEMENT = 0.5  # nucleoli lie within half the nucleus' semi-axes
NUCLEOLUS_HEIGHT_SD = 0.3  # of the nucleus' half height, clipped at NUCLEOLUS_HEIGHT_CLIP
NUCLEOLUS_HEIGHT_CLIP = 0.4
NUCLEOLUS_ASPECT_SIGMA = 0.15
NUCLEOLUS_BRIGHTNESS_SIGMA = 0.3
NUCLEOLUS_MIN_RADIUS_UM = 0.2  # smaller ones are not drawn
NUCLEOLUS_FLATTENING = 0.85
NUCLEOLUS_WINDOW_MARGIN_UM = 1.0
NUCLEOLUS_DENSITY = 0.85
NUCLEOLUS_TEXTURE = 0.12
PERINUCLEOLAR_RIM_UM = 0.35


def draw_expression(rng) -> dict[str, float]:
    """Per-cell expression level of every label (lognormal, mean 1; 0 when silent)."""
    z = rng.standard_normal(len(LABELS))
    u = rng.uniform(size=len(LABELS))
    v = np.exp(EXPRESSION_SIGMA * z - 0.5 * EXPRESSION_SIGMA * EXPRESSION_SIGMA)
    v[u < EXPRESSION_OFF_FRACTION] = 0.0
    return dict(zip(LABELS, v.tolist()))


def _heights(bottom_um, top_um, idx, fraction):
    """Heights at a fraction between the bottom and top maps at flat box indices."""
    low = bottom_um.ravel()[idx]
    return low + fraction * (top_um.ravel()[idx] - low)


def draw_granules(canvas, cell, rng, weight, bottom_um, top_um, mean_count):
    """Refractile granules (unlabelled): a Poisson number of small spheres placed with
    probability ``weight`` between the ``bottom_um`` and ``top_um`` maps."""
    n = int(rng.poisson(mean_count))
    y, x, idx = sample_positions(cell, rng, weight, n, canvas.px)
    radius = rng.uniform(*GRANULE_RADIUS_UM, n)
    frac = rng.uniform(*GRANULE_HEIGHT_FRACTION, n)
    if idx.size == 0:
        return
    bottom = bottom_um.ravel()[idx]
    z = bottom + frac * (top_um.ravel()[idx] - bottom)
    canvas.points("granules", y, x, z, 4.0 / 3.0 * math.pi * radius**3)


def draw_mitochondria(
    canvas,
    cell,
    rng,
    gains,
    weight,
    bottom_um,
    top_um,
    count,
    length_um,
    center_y_um,
    center_x_um,
    radial=0.7,
    wiggle=0.25,
):
    """Mitochondria: short curved tubules, oriented roughly radially from the centre.

    ``radial`` spreads the directions around the radial one (large: random), ``wiggle``
    bends the tubules (radians per step). The cell draws its random parameters; the
    tubules of all cells are traced at once (:func:`~.tracing.trace_deferred`)."""
    count = int(count)
    y0, x0, idx = sample_positions(cell, rng, weight, count, canvas.px)
    m = y0.size
    if m == 0:
        return
    lengths = length_um * lognormal(rng, MITO_LENGTH_SIGMA, m)
    step = lengths / (MITO_POINTS - 1)
    direction = (
        np.arctan2(y0 - center_y_um, x0 - center_x_um)
        + radial * rng.standard_normal(m) * MITO_RADIAL_SPREAD
    )
    turns = wiggle * rng.standard_normal((m, MITO_POINTS))
    frac = rng.uniform(*MITO_HEIGHT_FRACTION, m)
    bright = lognormal(rng, MITO_BRIGHTNESS_SIGMA, m)
    z = _heights(bottom_um, top_um, idx, frac)
    canvas.defer(
        "mito",
        cell.plan.id,
        (y0, x0, step, direction, turns, z, gains["mitochondria"] * bright),
    )


def draw_astral_microtubules(
    canvas,
    cell,
    rng,
    gains,
    center_y_um,
    center_x_um,
    center_z_um,
    count,
    max_length_um,
    at_cell_height,
    directions=None,
    wiggle=0.05,
):
    """Microtubules growing from a centrosome until they reach the cell edge.

    ``at_cell_height``: True to put them at the height of the cell's
    ``microtubule_height_um`` map (spread cells), False at the centrosome's height
    ``center_z_um``. ``directions`` (radians) default to uniform. Traced for all cells at
    once."""
    count = int(count)
    if count <= 0:
        return
    n_steps = max(int(max_length_um / ASTRAL_STEP_UM), 2)
    start = rng.uniform(0, 2 * math.pi, count) if directions is None else directions
    turns = wiggle * rng.standard_normal((count, n_steps))
    canvas.defer(
        "astral",
        cell.plan.id,
        (
            center_y_um,
            center_x_um,
            float(center_z_um),
            bool(at_cell_height),
            start,
            turns,
            gains["microtubules"],
        ),
    )


def draw_centrosome(canvas, rng, gains, center_y_um, center_x_um, center_z_um):
    """The centrosome: a bright small cloud of tubulin."""
    k = CENTROSOME_POINTS
    y = center_y_um + CENTROSOME_SPREAD_UM * rng.standard_normal(k)
    x = center_x_um + CENTROSOME_SPREAD_UM * rng.standard_normal(k)
    z = center_z_um + CENTROSOME_SPREAD_UM * rng.standard_normal(k)
    canvas.points("microtubules", y, x, z, CENTROSOME_POINT_VOLUME_UM3, gain=gains["microtubules"])


def draw_focal_adhesions(canvas, rng, gains, end_y_um, end_x_um, direction, length_um, cell_id=0):
    """Elongated basal plaques ending at ``(end_y_um, end_x_um)``, pointing along
    ``direction`` (radians)."""
    n = np.size(end_y_um)
    if n == 0:
        return
    bright = lognormal(rng, ADHESION_BRIGHTNESS_SIGMA, n)
    canvas.defer(
        "fa", cell_id, (end_y_um, end_x_um, direction, length_um, gains["focal_adhesions"] * bright)
    )


def draw_stress_fibres(
    canvas,
    cell,
    rng,
    gains,
    count,
    center_y_um,
    center_x_um,
    half_length_um,
    half_width_um,
    angle,
    spread,
    with_adhesions=True,
):
    """Basal actin bundles along ``angle`` (spread ``spread`` radians), across the cell's
    width, with focal adhesions at both ends; traced for all cells at once."""
    count = int(count)
    if count <= 0:
        return
    direction = angle + spread * rng.standard_normal(count)
    offset = rng.uniform(-FIBRE_OFFSET_FRACTION, FIBRE_OFFSET_FRACTION, count) * half_width_um
    thickness = rng.uniform(*FIBRE_THICKNESS, count)
    adhesion_length = rng.uniform(*FIBRE_ADHESION_LENGTH_UM, (count, 2))
    height = FIBRE_HEIGHT_UM + FIBRE_HEIGHT_SD_UM * rng.standard_normal(count)
    adhesion_bright = (
        lognormal(rng, ADHESION_BRIGHTNESS_SIGMA, (count, 2)) if with_adhesions else None
    )
    fibre_y = center_y_um + offset * np.cos(angle)
    fibre_x = center_x_um - offset * np.sin(angle)
    canvas.defer(
        "fibre",
        cell.plan.id,
        (
            fibre_y,
            fibre_x,
            direction,
            float(half_length_um),
            thickness,
            adhesion_length,
            height,
            gains["actin"],
            adhesion_bright,
            gains,
        ),
    )


def draw_peripheral_adhesions(
    canvas, cell, rng, gains, count, center_y_um, center_x_um, band=PERIPHERAL_BAND
):
    """Adhesions near the cell edge (``band`` of the footprint metric), pointing outwards."""
    low, high = band
    weight = ((cell.rho >= low) & (cell.rho <= high) & (cell.footprint > 0.5)).astype(np.float32)
    y, x, _ = sample_positions(cell, rng, weight, count, canvas.px)
    m = y.size
    lengths = rng.uniform(*PERIPHERAL_ADHESION_LENGTH_UM, count)[:m]
    if m == 0:
        return
    direction = np.arctan2(y - center_y_um, x - center_x_um)
    draw_focal_adhesions(canvas, rng, gains, y, x, direction, lengths)


SPOT_LABELS = tuple(lab for lab in LABELS if LABEL_EXTRAS[lab]["spots"] > 0)
SPOT_MEANS = np.array([LABEL_EXTRAS[lab]["spots"] for lab in SPOT_LABELS])


def draw_puncta(
    canvas,
    cell,
    rng,
    gains,
    weight_cytoplasm,
    weight_nucleus,
    bottom_um,
    top_um,
    nucleus_bottom_um,
    nucleus_top_um,
    scale,
):
    """Label-only puncta (no refractive index): aggregates, vesicles, nuclear bodies.

    Counts scale with the cell's area (``scale ** 2``); each label's puncta live in its
    compartment (:data:`LABEL_EXTRAS`)."""
    n_spots = rng.poisson(SPOT_MEANS * (scale * scale)).tolist()
    counts = dict(zip(SPOT_LABELS, n_spots))
    compartments = (
        ("cytoplasm", weight_cytoplasm, bottom_um, top_um),
        ("nucleus", weight_nucleus, nucleus_bottom_um, nucleus_top_um),
    )
    for compartment, weight, low_map, high_map in compartments:
        labs = [lab for lab in counts if LABEL_EXTRAS[lab]["compartment"] == compartment]
        n = sum(counts[lab] for lab in labs)
        y, x, idx = sample_positions(cell, rng, weight, n, canvas.px)
        frac = rng.uniform(*PUNCTA_HEIGHT_FRACTION, n)
        bright = lognormal(rng, PUNCTA_BRIGHTNESS_SIGMA, n) * PUNCTA_BRIGHTNESS
        if idx.size < n or n == 0:
            continue
        z = _heights(low_map, high_map, idx, frac)
        w = bright * PUNCTA_WEIGHT
        k = 0
        for lab in labs:
            c = counts[lab]
            if c and lab in canvas.lab and gains[lab] > 0:
                j = slice(k, k + c)
                canvas.defer("spots", lab, (y[j], x[j], z[j], gains[lab] * w[j]))
            k += c


def draw_nucleoli(canvas, field_maps, cell, nucleus, gains, *, scale=1.0, fade=0.0):
    """1 to 4 dense nucleoli inside a nucleus (they also exclude chromatin).

    ``scale`` shrinks them and ``fade`` (0 to 1) dissolves them (prophase). In 2D they
    are drawn for all cells at once (:func:`~.tracing.trace_nucleoli_2d`)."""
    px = canvas.px
    rng = cell.rng
    profile = cell.profile
    heights = cell.heights_um
    granular = canvas.texture("granular", cell) if canvas.is3d else None
    n_nucleoli = int(rng.integers(profile.nucleoli[0], profile.nucleoli[1] + 1))
    for _ in range(n_nucleoli):
        radius = (
            profile.nucleolus_radius_um
            * math.sqrt(cell.plan.scale)
            * math.exp(NUCLEOLUS_RADIUS_SIGMA * rng.standard_normal())
        )
        radius *= scale
        where = NUCLEOLUS_PLACEMENT * math.sqrt(rng.uniform())
        phi = rng.uniform(0, 2 * math.pi)
        uu, vv = (
            where * nucleus.semi_major_um * math.cos(phi),
            where * nucleus.semi_minor_um * math.sin(phi),
        )
        ly = nucleus.center_y_um + uu * math.sin(nucleus.angle) + vv * math.cos(nucleus.angle)
        lx = nucleus.center_x_um + uu * math.cos(nucleus.angle) - vv * math.sin(nucleus.angle)
        dz = np.clip(
            NUCLEOLUS_HEIGHT_SD * rng.standard_normal(),
            -NUCLEOLUS_HEIGHT_CLIP,
            NUCLEOLUS_HEIGHT_CLIP,
        )
        lz = nucleus.center_z_um + float(dz) * nucleus.half_height_um
        aspect = math.exp(NUCLEOLUS_ASPECT_SIGMA * rng.standard_normal())
        angle = rng.uniform(0, math.pi)
        bright = float(lognormal(rng, NUCLEOLUS_BRIGHTNESS_SIGMA))
        if radius < NUCLEOLUS_MIN_RADIUS_UM:
            continue
        semi_a = radius * math.sqrt(aspect)
        semi_b = radius / math.sqrt(aspect)
        semi_z = NUCLEOLUS_FLATTENING * radius
        sub = SubBox(cell, canvas, ly, lx, max(semi_a, semi_b) + NUCLEOLUS_WINDOW_MARGIN_UM)
        if sub.empty:
            continue
        if not canvas.is3d:  # 2D: drawn for all cells at once (trace_deferred)
            params = (ly, lx, semi_a, semi_b, angle, lz, semi_z, fade, gains["nucleoli"] * bright)
            canvas.defer(
                "nucleolus", cell.plan.id, (sub.box, nucleus.footprint[sub.local].copy(), params)
            )
            continue
        rho, _, _ = ellipse_rho(sub.y_um, sub.x_um, ly, lx, semi_a, semi_b, angle)
        inside = soft_inside(rho, semi_b / px) * nucleus.footprint[sub.local]
        half = semi_z * np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0))
        texture = granular[..., sub.local[0], sub.local[1]]
        level = NUCLEOLUS_DENSITY * (1.0 - fade)
        density = inside * (level + NUCLEOLUS_TEXTURE * texture)
        canvas.layer(
            "nucleoli",
            sub,
            density,
            lz - half,
            lz + half,
            gain=gains["nucleoli"] * bright,
            d_mean=inside * np.float32(level),
        )
        rho3 = np.sqrt(rho * rho + ((heights - lz) / semi_z) ** 2)
        exclusion = field_maps.nucleolus_exclusion[sub.planes, sub.box[0], sub.box[1]]
        rim = field_maps.perinucleolar_rim[sub.planes, sub.box[0], sub.box[1]]
        np.maximum(exclusion, soft_inside(rho3, semi_b / px) * (1.0 - fade), out=exclusion)
        rim_here = np.exp(-(((rho3 - 1.0) * semi_b / PERINUCLEOLAR_RIM_UM) ** 2)) * (rho3 > 1.0)
        np.maximum(rim, rim_here, out=rim)
