"""Rendering the field-wide maps to densities and label intensities, and the masks."""

from __future__ import annotations

import numpy as np

from coursekit.microscope.specimen.cells import CellInfo
from coursekit.microscope.specimen.constants import LABEL_EXTRAS
from coursekit.microscope.specimen.geometry import gradient_magnitude
from coursekit.microscope.specimen.maps import FieldBox

# Proportions of the rendering; all a look (chosen against bright-field, phase and
# fluorescence images) unless stated.
# -- the cell column
EDGE_GAIN = 1.3  # lateral membrane: the footprint's gradient (per pixel) times this
CONTACT_MEMBRANE = 0.8  # membrane density where two cells touch
CYTOPLASM_LEVEL = 0.92  # mean cytoplasm density, with a granular texture of 0.05
CYTOPLASM_TEXTURE = 0.05
ER_TUBULE_WIDTH = 0.28  # of the ER texture's standard deviation: thin tubules
ER_NETWORK_MEAN = 0.23  # mean of the network pattern exp(-(t / 0.28) ** 2)
LATERAL_CORTEX = 0.9
# the cortex label is patchy: a log-normal pattern of spread 0.9 (the mean stays 1
# because 0.5 * 0.9 ** 2 is subtracted), at 0.55 of the cortex density
CORTEX_PATCHINESS = 0.9
CORTEX_LABEL = 0.55
SHELL_UM = 0.35  # the apical and basal membrane shells (along the surface normal)
APICAL_CORTEX = 0.35
BASAL_CORTEX = 0.25
JUNCTION_DEPTH_UM = (2.2, 0.7)  # the apical junctional belt: this far below the top
GROWTH_CONE_ACTIN_UM = 0.45  # thickness of the growth cones' actin mesh
# -- the nucleus: chromatin 0.35 to 0.65 of the DNA increment in interphase (see DELTA_N)
ENVELOPE_RIM_SHARPNESS = 2.0  # peripheral heterochromatin: a rim ~0.5 um thick
CHROMATIN_FINE = 0.11  # texture amplitudes
CHROMATIN_COARSE = 0.08
CHROMATIN_RIM = 0.2
NUCLEOLUS_EXCLUSION = 0.85  # nucleoli displace most chromatin
PERINUCLEOLAR_CHROMATIN = 0.15
CHROMOSOME_THREAD_WIDTH = 0.55  # condensing chromatin threads (prophase, telophase)
THREAD_BACKGROUND = 0.12
THREAD_LEVEL = 0.88
CHROMOSOME_KNOBS = (0.8, 0.3, 0.4)  # mitotic chromosomes: level, texture, minimum
DEAD_CHROMATIN = (0.92, 0.08)  # pyknotic fragments: level and texture
MIN_CHROMATIN = 0.03
CHROMATIN_MEAN_EXTRA = 0.1  # the projected mean is above the level (rim, texture)
PERICHROMOSOMAL_NUCLEOLI = 0.25  # fibrillarin coating mitotic chromosomes (label only)
ENVELOPE_SHELL_UM = 0.3


def cell_contacts(owner):
    """Pixels on a boundary between two different cells."""
    c = np.zeros(owner.shape, bool)
    for ax in (0, 1):
        a = owner[1:, :] if ax == 0 else owner[:, 1:]
        b = owner[:-1, :] if ax == 0 else owner[:, :-1]
        diff = (a != b) & (a > 0) & (b > 0)
        if ax == 0:
            c[1:, :] |= diff
            c[:-1, :] |= diff
        else:
            c[:, 1:] |= diff
            c[:, :-1] |= diff
    return c


def bounding_box(keep, margin):
    """Slices of the rows and columns where ``keep`` is true, widened by ``margin``."""
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, keep.shape[0])),
        slice(max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, keep.shape[1])),
    )


def render_bodies_and_nuclei(canvas, field_maps, gmap):
    """Evaluate the cell-body and nucleus densities over the field (the box holding all
    cells, with a margin for the gradients of the footprint), once."""
    px = canvas.px
    keep = field_maps.footprint > 0
    if not keep.any():
        return
    sl = bounding_box(keep, 2)
    field_maps = field_maps.cropped(sl, canvas.is3d)
    gmap = {k: v[sl] for k, v in gmap.items()}
    z_hi = float(field_maps.cell_top_um.max())
    region = FieldBox(canvas, z_hi, sl)
    if canvas.is3d:

        def tex(name):
            return canvas.noise(name)[region.planes, sl[0], sl[1]]
    else:

        def tex(name):
            return canvas.noise(name)[sl]

    f, z0c, z1c = field_maps.footprint, field_maps.cell_bottom_um, field_maps.cell_top_um
    # lateral membrane: the outline of the footprint and the contacts between cells
    gy, gx = np.gradient(f)
    edge = np.sqrt(gy * gy + gx * gx) * np.float32(EDGE_GAIN)
    edge = np.maximum(edge, np.float32(CONTACT_MEMBRANE) * cell_contacts(field_maps.owner))
    np.clip(edge, 0.0, 1.0, out=edge)
    thick = np.clip(z1c - z0c, 0.0, np.inf)
    # -- the cell column: cytoplasm, ER, lateral membrane and cortex ------------------
    gran = tex("granular")
    d_c = f * field_maps.cytoplasm
    dm_c = d_c * np.float32(CYTOPLASM_LEVEL)
    d_c = d_c * (np.float32(CYTOPLASM_LEVEL) + np.float32(CYTOPLASM_TEXTURE) * gran)
    net = np.exp(-((tex("er") * np.float32(1 / ER_TUBULE_WIDTH)) ** 2))
    d_er = f * np.clip(
        field_maps.er_base + field_maps.er_network * net + field_maps.er_sheet, 0.0, 1.0
    )
    dm_er = f * (
        field_maps.er_base
        + np.float32(ER_NETWORK_MEAN) * field_maps.er_network
        + field_maps.er_sheet
    )
    cyto_extra = {
        lab: gmap[lab] * np.float32(LABEL_EXTRAS[lab]["diffuse"])
        for lab in canvas.labels
        if LABEL_EXTRAS[lab]["compartment"] == "cytoplasm" and LABEL_EXTRAS[lab]["diffuse"] > 0
    }
    actin_lat = (
        np.clip(np.float32(LATERAL_CORTEX) * field_maps.cortex_actin * edge, -np.inf, 1.0)
        + field_maps.ring_actin * f
    )
    # the cortex is as dense as drawn, but its fluorescence is patchy (label only: local
    # enrichment, bleaching, fluorophore brightness), which no transmitted light shows
    ga = gmap.get("actin")
    ga_cortex = None
    if ga is not None:
        patch = np.exp(
            np.float32(CORTEX_PATCHINESS) * tex("chromatin_coarse")
            - np.float32(0.5 * CORTEX_PATCHINESS**2)
        )
        ga_cortex = {"actin": np.float32(CORTEX_LABEL) * ga * patch}
    canvas.layers(
        region,
        z0c,
        z1c,
        [
            ("cytoplasm", d_c, None, None, dm_c, cyto_extra),
            ("er", d_er, gmap.get("er"), None, dm_er, None),
            ("membrane", edge, gmap.get("membrane"), None, None, None),
            ("actin", actin_lat, None, None, None, ga_cortex),
        ],
    )
    # -- apical and basal shells: membrane and the cortex under it --------------------
    s_top = np.sqrt(1.0 + gradient_magnitude(z1c, px) ** 2)
    cap = np.minimum(np.float32(SHELL_UM) * s_top, thick)
    canvas.layers(
        region,
        z1c - cap,
        z1c,
        [
            ("membrane", f, gmap.get("membrane"), None, None, None),
            (
                "actin",
                np.float32(APICAL_CORTEX) * field_maps.cortex_actin * f,
                None,
                None,
                None,
                ga_cortex,
            ),
        ],
    )
    s_bot = np.sqrt(1.0 + gradient_magnitude(z0c, px) ** 2)
    capb = np.minimum(np.float32(SHELL_UM) * s_bot, thick)
    canvas.layers(
        region,
        z0c,
        z0c + capb,
        [
            ("membrane", f, gmap.get("membrane"), None, None, None),
            (
                "actin",
                np.float32(BASAL_CORTEX) * field_maps.cortex_actin * f,
                None,
                None,
                None,
                ga_cortex,
            ),
        ],
    )
    if (field_maps.junction_actin > 0).any():
        lo = np.maximum(z1c - JUNCTION_DEPTH_UM[0], z0c)
        hi = np.maximum(z1c - JUNCTION_DEPTH_UM[1], z0c)
        canvas.layers(
            region,
            lo,
            hi,
            [("actin", field_maps.junction_actin * edge, None, None, None, ga_cortex)],
        )
    if (field_maps.growth_cone > 0).any():
        z0 = np.zeros_like(field_maps.growth_cone)
        canvas.layer(
            "actin",
            region,
            field_maps.growth_cone,
            z0,
            z0 + np.float32(GROWTH_CONE_ACTIN_UM),
            gain=gmap.get("actin"),
        )
    # -- nuclei: chromatin texture, condensed chromosomes, dead fragments -------------
    if not (field_maps.nucleus > 0).any():
        return
    # the nuclei: a smaller box
    s2 = bounding_box(field_maps.nucleus > 0, 2)
    field_maps = field_maps.cropped(s2, canvas.is3d)
    gmap = {k: v[s2] for k, v in gmap.items()}
    e2 = (Ellipsis, *s2)
    d_c, dm_c, d_er, dm_er = d_c[e2], dm_c[e2], d_er[e2], dm_er[e2]
    cyto_extra = {k: v[e2] for k, v in cyto_extra.items()}
    sl = tuple(slice(a.start + b.start, a.start + b.stop) for a, b in zip(sl, s2))
    region = FieldBox(canvas, z_hi, sl)
    fn = field_maps.nucleus
    zz = region.heights_um
    excl = (
        field_maps.nucleolus_exclusion[region.planes]
        if canvas.is3d
        else field_maps.nucleolus_exclusion
    )
    nrim = (
        field_maps.perinucleolar_rim[region.planes] if canvas.is3d else field_maps.perinucleolar_rim
    )
    rho3 = np.sqrt(
        field_maps.nucleus_rho * field_maps.nucleus_rho
        + ((zz - field_maps.nucleus_center_z_um) / field_maps.nucleus_half_height_um) ** 2
    )
    rim = np.exp(
        -(
            (
                np.clip(1.0 - rho3, 0, None)
                * field_maps.nucleus_semi_minor_um
                * np.float32(ENVELOPE_RIM_SHARPNESS)
            )
            ** 2
        )
    ) * (rho3 <= 1.0)
    tf = tex("chromatin")
    d = (
        field_maps.dna_level
        + np.float32(CHROMATIN_FINE) * tf
        + np.float32(CHROMATIN_COARSE) * tex("chromatin_coarse")
    )
    d += np.float32(CHROMATIN_RIM) * rim
    d = (
        d * (1.0 - np.float32(NUCLEOLUS_EXCLUSION) * excl)
        + np.float32(PERINUCLEOLAR_CHROMATIN) * nrim
    )
    if (field_maps.condense > 0).any():
        threads = np.exp(-((tex("chromosome") * np.float32(1 / CHROMOSOME_THREAD_WIDTH)) ** 2))
        d = (1.0 - field_maps.condense) * d + field_maps.condense * (
            np.float32(THREAD_BACKGROUND) + np.float32(THREAD_LEVEL) * threads
        )
    special = (field_maps.plate > 0) | (field_maps.dead > 0)
    if special.any():
        knob = np.clip(
            np.float32(CHROMOSOME_KNOBS[0]) + np.float32(CHROMOSOME_KNOBS[1]) * tex("chromosome"),
            CHROMOSOME_KNOBS[2],
            1.0,
        )
        dead_d = np.clip(
            np.float32(DEAD_CHROMATIN[0]) + np.float32(DEAD_CHROMATIN[1]) * tf, 0.0, 1.0
        )
        d = np.where(field_maps.plate > 0, knob, d)
        d = np.where(field_maps.dead > 0, dead_d, d)
    d = np.clip(d, MIN_CHROMATIN, 1.0) * fn
    dmean = fn * np.where(
        special,
        field_maps.dna_level,
        field_maps.dna_level + CHROMATIN_MEAN_EXTRA + CHROMATIN_MEAN_EXTRA * field_maps.condense,
    )
    normal = fn * (1.0 - field_maps.plate) * (1.0 - field_maps.dead)
    nuc_extra = {
        lab: gmap[lab] * np.float32(LABEL_EXTRAS[lab]["diffuse"])
        for lab in canvas.labels
        if LABEL_EXTRAS[lab]["compartment"] == "nucleus" and LABEL_EXTRAS[lab]["diffuse"] > 0
    }
    entries = [
        ("dna", d, gmap.get("dna"), None, dmean, None),
        ("dead", fn * field_maps.dead, gmap.get("dead"), None, None, None),
        (None, normal, None, None, None, nuc_extra),
        # what the nucleus displaces: the ER and the cytoplasmic label pools (the
        # cytoplasm density itself is the background of the whole cell, nucleus included)
        (None, -d_c * fn, None, None, -dm_c * fn, cyto_extra),
        ("er", -d_er * fn, gmap.get("er"), None, -dm_er * fn, None),
    ]
    if "nucleoli" in gmap and (field_maps.plate > 0).any():
        # fibrillarin coats mitotic chromosomes (the perichromosomal layer): label only
        entries.append(
            (
                None,
                d * field_maps.plate,
                None,
                None,
                None,
                {"nucleoli": PERICHROMOSOMAL_NUCLEOLI * gmap["nucleoli"]},
            )
        )
    canvas.layers(region, field_maps.nucleus_bottom_um, field_maps.nucleus_top_um, entries)
    # the nuclear envelope: thin shells on the top and bottom surfaces of the nucleus
    sn = np.sqrt(1.0 + gradient_magnitude(field_maps.nucleus_half_thickness_um, px) ** 2)
    capn = np.minimum(np.float32(ENVELOPE_SHELL_UM) * sn, field_maps.nucleus_half_thickness_um)
    env = field_maps.envelope * fn
    if (env > 0).any():
        ge = gmap.get("nuclear_envelope")
        canvas.layer(
            "nuclear_envelope",
            region,
            env,
            field_maps.nucleus_top_um - capn,
            field_maps.nucleus_top_um,
            gain=ge,
        )
        canvas.layer(
            "nuclear_envelope",
            region,
            env,
            field_maps.nucleus_bottom_um,
            field_maps.nucleus_bottom_um + capn,
            gain=ge,
        )


# ---------------------------------------------------------------------------------------
# Building a specimen
# ---------------------------------------------------------------------------------------


def masks_and_cells(canvas, field_maps, drawn) -> list[CellInfo]:
    """Instance masks (2D footprints or 3D volumes) and the CellInfo list."""
    px = canvas.px
    cm2 = np.where(field_maps.footprint >= 0.5, field_maps.owner, 0).astype(np.int32)
    nm2 = np.where((field_maps.nucleus >= 0.5) & (cm2 > 0), field_maps.owner, 0).astype(np.int32)
    if canvas.is3d:
        zc = canvas.zc[:, None, None]
        h = np.float32(0.5 * canvas.dz)

        def inside(z0, z1):
            return (np.minimum(z1, zc + h) - np.maximum(z0, zc - h)) >= h

        canvas.cell_mask = np.where(
            inside(field_maps.cell_bottom_um, field_maps.cell_top_um), cm2, 0
        ).astype(np.int32)
        canvas.nucleus_mask = np.where(
            inside(field_maps.nucleus_bottom_um, field_maps.nucleus_top_um)
            & (canvas.cell_mask > 0),
            nm2,
            0,
        ).astype(np.int32)
    else:
        canvas.cell_mask = cm2
        canvas.nucleus_mask = nm2
    n_id = max([pl.id for pl, _ in drawn], default=0) + 1
    yy = np.arange(cm2.shape[0], dtype=np.float64)[:, None] * px
    xx = np.arange(cm2.shape[1], dtype=np.float64)[None, :] * px

    def centroids(lab):
        cnt = np.bincount(lab.ravel(), minlength=n_id)
        sy = np.bincount(lab.ravel(), np.broadcast_to(yy, lab.shape).ravel(), minlength=n_id)
        sx = np.bincount(lab.ravel(), np.broadcast_to(xx, lab.shape).ravel(), minlength=n_id)
        return cnt, sy, sx

    cc, cy_, cx_ = centroids(cm2)
    nc, ny_, nx_ = centroids(nm2)
    cells = []
    for pl, gains in drawn:
        i = pl.id
        if cc[i] == 0:
            continue
        cells.append(
            CellInfo(
                id=i,
                cell_type=pl.cell_type,
                state=pl.state,
                centroid_um=(float(cy_[i] / cc[i]), float(cx_[i] / cc[i])),
                nucleus_centroid_um=(float(ny_[i] / nc[i]), float(nx_[i] / nc[i]))
                if nc[i]
                else None,
                area_um2=float(cc[i] * px * px),
                expression=dict(gains),
                parent=pl.parent,
                progress=pl.progress,
            )
        )
    return cells
