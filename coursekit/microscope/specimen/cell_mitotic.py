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


# -- the rounded cell (a look unless stated) --------------------------------------------
# Mitotic cells round up to a near-sphere resting on the coverslip (Cadart et al. 2014,
# Nat Commun 5:5023 for mitotic rounding); its centre sits at 0.92 radii.
ROUNDED_CENTER_HEIGHT = 0.92
SPINDLE_LENGTH = 0.7  # the ER-poor spindle region: semi-axes of 0.7 and 0.45 radii
SPINDLE_WIDTH = 0.45
SPINDLE_ER_DEPLETION = 0.7
TELOPHASE_SPINDLE = 0.3  # what is left of the spindle region in telophase
MITOTIC_ER_BASE = 0.15
MITOTIC_ER_NETWORK = 0.55
MITOTIC_CORTEX = 1.6  # the cortex stiffens and thickens in mitosis
RING_WIDTH_UM = 0.9  # contractile ring
RING_STRENGTH = (0.4, 0.4)  # first + second * progress (anaphase), full in telophase
# -- chromosomes: a metaphase plate about 1.5 um thick spanning most of the cell
PLATE_DNA_LEVEL = 0.9
METAPHASE_PLATE = (0.75, 0.6, 0.5)  # half width (um), half length and half height (radii)
ANAPHASE_PLATE_HALF_WIDTH_UM = 0.6
ANAPHASE_SEPARATION = (1.0, 0.42)  # first (um) + second * radius * progress
ANAPHASE_PLATE_LENGTH = (0.55, 0.25)  # first * radius * (1 - second * progress)
ANAPHASE_PLATE_HEIGHT = 0.45
ANAPHASE_PLATE_CURVE = 0.05  # chromatid arms trail behind the kinetochores
# -- spindle microtubules
POLE_DISTANCE = (0.55, 0.25)  # first + second * progress (anaphase), radii
KINETOCHORE_FIBRES = 22  # per pole, for a cell of scale 1
KINETOCHORE_SPREAD = 0.9  # across the plate's half length
KINETOCHORE_POINTS = 24
KINETOCHORE_BOW_UM = 0.25
KINETOCHORE_HEIGHT_SPREAD = 0.6
ASTRAL_PER_POLE = 12
ASTRAL_CONE = 1.3  # radians around the spindle axis, away from the plate
ASTRAL_REACH = 0.8  # radii
MIDZONE_FIBRES = 14
MIDZONE_SPREAD = 0.18  # radii
MIDZONE_POINTS = 30
# -- telophase: daughter nuclei re-forming, the midbody between them
DAUGHTER_OFFSET = 0.1  # of the lobe radius, beyond the lobe centre
DAUGHTER_NUCLEUS = (0.5, 0.36, 0.35)  # semi-axes (lobe radii)
DAUGHTER_DNA_LEVEL = 0.6
DAUGHTER_CONDENSATION = (0.75, 0.4)  # first - second * progress
DAUGHTER_ENVELOPE = (0.4, 0.6)  # first + second * progress
MIDBODY_FIBRES = 12
MIDBODY_SPREAD_UM = 0.25
MIDBODY_POINTS = 24
MIDBODY_LENGTH = 0.75  # of the lobe offset, each side
MIDBODY_HEIGHT = 0.8  # of the cell centre's height
DAUGHTER_ASTERS = 14
DAUGHTER_ASTER_OFFSET = 0.45  # lobe radii beyond the lobe centre
DAUGHTER_ASTER_REACH = 0.6  # lobe radii
# -- organelles
SPINDLE_ORGANELLE_DEPLETION = 0.8
MITOTIC_MITO_FRACTION = 0.8
MITOTIC_MITO_LENGTH = 0.6  # mitochondria fragment in mitosis (of the interphase length)
CONTACT_HEIGHT_UM = 0.3  # adhesions remain where the cell touches the glass
CONTACT_ADHESIONS = 3
CONTACT_BAND = (0.0, 0.45)


def draw_mitotic_cell(canvas, field_maps, cell, gains):
    """Metaphase, anaphase and telophase: a rounded cell and condensed chromosomes.

    Returns the chromosomes' (or daughter nuclei's) soft footprint over the cell's box."""
    profile, rng, plan = cell.profile, cell.rng, cell.plan
    scale = plan.scale
    state = plan.state
    progress = plan.progress
    cy, cx = plan.center_um
    radius = cell.rounded_radius_um
    angle = cell.angle
    ca, sa = math.cos(angle), math.sin(angle)
    footprint = cell.footprint
    lobe_r, lobe_d = cell.lobe_radius_um, cell.lobe_offset_um
    # -- a sphere (or two lobes) resting on the coverslip -----------------------------
    sphere_r = lobe_r if state == "telophase" else radius
    center_z = ROUNDED_CENTER_HEIGHT * sphere_r
    bottom, top = rounded_heights(cell, footprint, sphere_r, center_z)
    uu = (cell.x_um - cx) * ca + (cell.y_um - cy) * sa
    vv = (cell.y_um - cy) * ca - (cell.x_um - cx) * sa
    # ER dispersed, sparser in the spindle
    spindle = np.exp(
        -((uu / (SPINDLE_LENGTH * radius)) ** 2) - ((vv / (SPINDLE_WIDTH * radius)) ** 2)
    )
    if state == "telophase":
        spindle = spindle * TELOPHASE_SPINDLE
    ring = 0.0
    if state in ("anaphase", "telophase"):  # contractile ring at the equator
        ring = np.exp(-((uu / RING_WIDTH_UM) ** 2)) * (
            RING_STRENGTH[0] + RING_STRENGTH[1] * (progress if state == "anaphase" else 1.0)
        )
    mask = footprint > 0
    field_maps.put(
        cell,
        mask,
        footprint=footprint,
        cell_bottom_um=bottom,
        cell_top_um=top,
        er_base=MITOTIC_ER_BASE * (1 - SPINDLE_ER_DEPLETION * spindle),
        er_network=MITOTIC_ER_NETWORK * (1 - SPINDLE_ER_DEPLETION * spindle),
        er_sheet=0.0,
        cortex_actin=MITOTIC_CORTEX,
        junction_actin=0.0,
        ring_actin=ring,
        owner=plan.id,
    )
    nuclei = np.zeros_like(footprint)
    if state in ("metaphase", "anaphase"):
        if state == "metaphase":
            width, length, height = METAPHASE_PLATE
            plates = [(cy, cx, width, length * radius, height * radius, 0.0)]
        else:
            sep = ANAPHASE_SEPARATION[0] + ANAPHASE_SEPARATION[1] * radius * progress
            length = ANAPHASE_PLATE_LENGTH[0] * radius * (1 - ANAPHASE_PLATE_LENGTH[1] * progress)
            width, height = ANAPHASE_PLATE_HALF_WIDTH_UM, ANAPHASE_PLATE_HEIGHT * radius
            plates = [
                (cy + sep * sa, cx + sep * ca, width, length, height, -ANAPHASE_PLATE_CURVE),
                (cy - sep * sa, cx - sep * ca, width, length, height, ANAPHASE_PLATE_CURVE),
            ]
        for plate_y, plate_x, half_w, half_l, half_h, curve in plates:
            nucleus = chromosome_plate(
                cell, canvas, plate_y, plate_x, half_w, half_l, half_h, center_z, angle, curve
            )
            put_nucleus(
                field_maps,
                cell,
                nucleus,
                dna_level=PLATE_DNA_LEVEL,
                condense=0.0,
                envelope=0.0,
                plate=1.0,
                dead=0.0,
            )
            nuclei = np.maximum(nuclei, nucleus.footprint)
        # spindle: kinetochore fibres from each pole to the chromosomes, astral microtubules
        half = (
            POLE_DISTANCE[0] + (POLE_DISTANCE[1] * progress if state == "anaphase" else 0.0)
        ) * radius
        for sign in (-1.0, 1.0):
            pole_y, pole_x = cy + sign * half * sa, cx + sign * half * ca
            k = int(KINETOCHORE_FIBRES * scale)
            target = plates[0] if (state == "metaphase" or sign > 0) else plates[-1]
            across = rng.uniform(-KINETOCHORE_SPREAD, KINETOCHORE_SPREAD, k) * target[3]
            ty = target[0] + across * ca
            tx = target[1] - across * sa
            t = np.linspace(0, 1, KINETOCHORE_POINTS)[None, :]
            bow = (
                KINETOCHORE_BOW_UM * np.sin(math.pi * t) * (across[:, None] / max(target[3], 1e-3))
            )
            yy = pole_y + (ty[:, None] - pole_y) * t + bow * ca
            xx = pole_x + (tx[:, None] - pole_x) * t - bow * sa
            zt = (
                center_z
                + rng.uniform(-KINETOCHORE_HEIGHT_SPREAD, KINETOCHORE_HEIGHT_SPREAD, k)[:, None]
                * target[4]
                * t
            )
            seg = np.hypot(ty - pole_y, tx - pole_x) / (KINETOCHORE_POINTS - 1)
            vol = np.broadcast_to((seg * CROSS_SECTION_UM2["microtubules"])[:, None], yy.shape)
            canvas.points("microtubules", yy, xx, zt, vol, gain=gains["microtubules"])
            directions = (
                angle
                + (0.0 if sign > 0 else math.pi)
                + rng.uniform(-ASTRAL_CONE, ASTRAL_CONE, int(ASTRAL_PER_POLE * scale))
            )
            draw_astral_microtubules(
                canvas,
                cell,
                rng,
                gains,
                pole_y,
                pole_x,
                center_z,
                directions.size,
                ASTRAL_REACH * radius,
                at_cell_height=False,
                directions=directions,
            )
            draw_centrosome(canvas, rng, gains, pole_y, pole_x, center_z)
        if state == "anaphase":  # interpolar microtubules in the midzone
            k = int(MIDZONE_FIBRES * scale)
            across = rng.normal(0, MIDZONE_SPREAD * radius, k)
            span = (
                0.5 * plates[0][2]
                + ANAPHASE_SEPARATION[0]
                + ANAPHASE_SEPARATION[1] * radius * progress
            )
            t = np.linspace(-1, 1, MIDZONE_POINTS)[None, :] * span
            yy = cy + t * sa + across[:, None] * ca
            xx = cx + t * ca - across[:, None] * sa
            vol = 2 * span / (MIDZONE_POINTS - 1) * CROSS_SECTION_UM2["microtubules"]
            canvas.points("microtubules", yy, xx, center_z, vol, gain=gains["microtubules"])
    else:  # telophase: two daughter nuclei re-forming, a midbody
        for sign in (-1.0, 1.0):
            dcy = cy + sign * (lobe_d + DAUGHTER_OFFSET * lobe_r) * sa
            dcx = cx + sign * (lobe_d + DAUGHTER_OFFSET * lobe_r) * ca
            nucleus = nucleus_geometry(
                canvas,
                cell,
                footprint,
                dcy,
                dcx,
                DAUGHTER_NUCLEUS[0] * lobe_r,
                DAUGHTER_NUCLEUS[1] * lobe_r,
                angle + math.pi / 2,
                DAUGHTER_NUCLEUS[2] * lobe_r,
                center_z,
            )
            put_nucleus(
                field_maps,
                cell,
                nucleus,
                dna_level=DAUGHTER_DNA_LEVEL,
                condense=DAUGHTER_CONDENSATION[0] - DAUGHTER_CONDENSATION[1] * progress,
                envelope=DAUGHTER_ENVELOPE[0] + DAUGHTER_ENVELOPE[1] * progress,
                plate=0.0,
                dead=0.0,
            )
            nuclei = np.maximum(nuclei, nucleus.footprint)
        k = int(MIDBODY_FIBRES * scale)
        across = rng.normal(0, MIDBODY_SPREAD_UM, k)
        t = np.linspace(-1, 1, MIDBODY_POINTS)[None, :] * (MIDBODY_LENGTH * lobe_d)
        yy = cy + t * sa + across[:, None] * ca
        xx = cx + t * ca - across[:, None] * sa
        vol = 2 * MIDBODY_LENGTH * lobe_d / (MIDBODY_POINTS - 1) * CROSS_SECTION_UM2["microtubules"]
        canvas.points(
            "microtubules", yy, xx, center_z * MIDBODY_HEIGHT, vol, gain=gains["microtubules"]
        )
        for sign in (-1.0, 1.0):
            aster_y = cy + sign * (lobe_d + DAUGHTER_ASTER_OFFSET * lobe_r) * sa
            aster_x = cx + sign * (lobe_d + DAUGHTER_ASTER_OFFSET * lobe_r) * ca
            draw_astral_microtubules(
                canvas,
                cell,
                rng,
                gains,
                aster_y,
                aster_x,
                center_z,
                int(DAUGHTER_ASTERS * scale),
                DAUGHTER_ASTER_REACH * lobe_r,
                at_cell_height=False,
            )
    thick = np.maximum(top - bottom, 0.0)
    w_cyto = (
        footprint
        * (footprint > 0.5)
        * thick
        * (1.0 - SPINDLE_ORGANELLE_DEPLETION * spindle)
        * (1.0 - nuclei)
    )
    area_scale = scale * scale
    draw_mitochondria(
        canvas,
        cell,
        rng,
        gains,
        w_cyto,
        bottom,
        top,
        profile.n_mitochondria * area_scale * MITOTIC_MITO_FRACTION,
        MITOTIC_MITO_LENGTH * profile.mito_length_um,
        cy,
        cx,
        radial=3.0,
        wiggle=0.3,
    )
    # a few adhesions remain at the contact disc
    if ((bottom < CONTACT_HEIGHT_UM) & (footprint > 0.5)).any():
        draw_peripheral_adhesions(
            canvas, cell, rng, gains, CONTACT_ADHESIONS, cy, cx, band=CONTACT_BAND
        )
    draw_granules(canvas, cell, rng, w_cyto, bottom, top, profile.n_granules * area_scale)
    draw_puncta(canvas, cell, rng, gains, w_cyto, w_cyto, bottom, top, bottom, top, scale)
    return nuclei
