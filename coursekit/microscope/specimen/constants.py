"""Names, states and the literature values behind the specimen: refractive-index
increments (with their sources), expression, label-only features and thin-structure sizes."""

from __future__ import annotations

import math

LABELS = (
    "dna",
    "nucleoli",
    "nuclear_envelope",
    "membrane",
    "mitochondria",
    "er",
    "microtubules",
    "actin",
    "focal_adhesions",
    "dead",
)
"""The fluorescent labels, after the Allen Cell Collection (Hoechst, FBL, LMNB1, CAAX,
TOMM20, SEC61B, TUBA1B, ACTB, PXN) and a live/dead nuclear stain."""

STRUCTURES = LABELS + ("cytoplasm", "granules")
"""Everything with a density: the labelled structures, the cytoplasm (the unlabelled
background of the whole cell, cytosol and nucleoplasm: not a label) and granules (lipid
droplets / vesicles: refractile, unlabelled)."""

STATES = ("interphase", "prophase", "metaphase", "anaphase", "telophase", "dead")
MITOTIC_STATES = ("prophase", "metaphase", "anaphase", "telophase")

DEFAULT_STATE_PROBABILITIES = {
    "interphase": 0.80,
    "prophase": 0.04,
    "metaphase": 0.04,
    "anaphase": 0.03,
    "telophase": 0.03,
    "dead": 0.06,
}

# ---------------------------------------------------------------------------------------
# Refractive-index contrast per structure
# ---------------------------------------------------------------------------------------
#
# DELTA_N[s] is the refractive-index increment of structure s at density 1, dimensionless.
# It is *additive*: the cytoplasm density is the cell's unlabelled background (cytosol and
# nucleoplasm, everywhere inside the cell) and every structure adds its increment on top.
# So setting a structure's increment to 0 removes exactly its optical signature (the
# structure becomes as dense as its surroundings), and the increments below are excesses
# over the cytoplasm. The medium is culture medium, n = 1.337.
#
# Sources (measured values, then what we chose and why):
# - Whole cells: n = 1.36 to 1.39 (HeLa, by tomographic phase microscopy; Choi et al. 2007,
#   Nat Methods 4:717). Cytoplasm about 1.36 to 1.37 (Beuthan et al. 1996, Phys Med Biol
#   41:369; Liu et al. 2016, Lab Chip 16:634, a review). -> cytoplasm +0.025 (n = 1.362).
# - Nucleus: within about 0.01 of the cytoplasm. Older measurements put it above
#   (1.38 to 1.41; Beuthan et al. 1996), most recent ones slightly below (Schuermann et al.
#   2016, J Biophotonics 9:1068, "Cell nuclei have lower refractive index and mass density
#   than cytoplasm"; Steelman et al. 2017, J Biophotonics 10:1714); condensed chromatin
#   is denser. We take the nucleus slightly above the cytoplasm so that the DNA increment
#   alone carries its signature: chromatin density 0.35 to 0.65 in interphase (texture) and
#   1 for mitotic chromosomes and pyknotic nuclei -> dna +0.015 (interphase nucleus n = 1.367
#   to 1.372, textured; condensed chromatin 1.377, as dense as it looks in phase contrast).
# - Nucleoli: the densest compartment, n about 1.38 to 1.39 (Choi et al. 2007; Schuermann
#   et al. 2016; reviewed in Park, Depeursinge & Popescu 2018, Nat Photonics 12:578)
#   -> nucleoli +0.025 (n = 1.385; they also displace most chromatin).
# - Lipid membranes: bilayer n = 1.46 to 1.48 (Beuthan et al. 1996), but 5 nm thick; one
#   drawn shell is one pixel (0.3 um) and holds the apposed bilayers of neighbouring cells
#   and the cortex: volume fraction ~0.05 -> membrane +0.006. (Most of what makes the cell
#   outline visible is the cytoplasm ending there.)
# - Nuclear envelope: two bilayers, the lamina and peripheral heterochromatin in one
#   shell -> nuclear_envelope +0.010.
# - Mitochondria: n = 1.40 to 1.42 (Haseda et al. 2015, Biomed Opt Express 6:859; Beuthan
#   et al. 1996), i.e. ~0.04 above the cytoplasm, but 0.3 to 0.5 um wide (smaller than the
#   resolution) -> mitochondria +0.030.
# - ER: membrane-rich reticulum and sheets, moderately dense -> er +0.012.
# - Thin filaments: protein n ~1.6 but microtubules are 25 nm and actin 7 nm wide: a
#   filament fills well under 1 % of a voxel -> microtubules +0.002, actin +0.004 (stress
#   fibres are bundles, so a little more), focal adhesions (150 nm plaques) +0.004.
# - "dead" is a stain, not a structure: 0. A model predicts it from the shrunken, dense
#   (dna) nucleus of a dead cell, not from the stain.
# - Granules (lipid droplets, vesicles): n up to 1.48 (Park et al. 2018) but small ->
#   granules +0.06. Visible in transmitted light, in no label.
#
# With these values the ranking of what a model can predict from transmitted light follows
# Ounkomol et al. 2018 (Nat Methods 15:917): DNA, nucleoli, nuclear envelope and membrane
# well (large, dense, or at a sharp boundary); mitochondria and ER moderately; microtubules,
# actin and focal adhesions poorly.
DELTA_N = {
    "dna": 0.015,
    "nucleoli": 0.025,
    "nuclear_envelope": 0.010,
    "membrane": 0.006,
    "mitochondria": 0.030,
    "er": 0.012,
    "microtubules": 0.002,
    "actin": 0.004,
    "focal_adhesions": 0.004,
    "dead": 0.0,
    "cytoplasm": 0.025,
    "granules": 0.060,
}

# Per-cell expression: lognormal with mean 1 and this sigma (of the log), and a probability
# that a cell does not express the tag at all (mosaic lines, silenced cells). Dyes (Hoechst,
# the live/dead stain) stain every cell, with a smaller spread.
EXPRESSION = {
    "dna": (0.15, 0.0),
    "nucleoli": (0.35, 0.05),
    "nuclear_envelope": (0.35, 0.05),
    "membrane": (0.40, 0.08),
    "mitochondria": (0.35, 0.05),
    "er": (0.35, 0.05),
    "microtubules": (0.35, 0.05),
    "actin": (0.35, 0.05),
    "focal_adhesions": (0.40, 0.08),
    "dead": (0.20, 0.0),
}

# Label-only features (no refractive index): the unbound pool of the tagged protein spread
# through a compartment, and bright puncta (aggregates, vesicles, Cajal bodies). Mean number
# of puncta per cell, and the compartment they live in.
LABEL_EXTRAS = {
    "dna": {"diffuse": 0.0, "compartment": "nucleus", "spots": 0.0},
    "nucleoli": {"diffuse": 0.04, "compartment": "nucleus", "spots": 2.0},
    "nuclear_envelope": {"diffuse": 0.015, "compartment": "cytoplasm", "spots": 1.0},
    "membrane": {"diffuse": 0.02, "compartment": "cytoplasm", "spots": 5.0},
    "mitochondria": {"diffuse": 0.01, "compartment": "cytoplasm", "spots": 1.0},
    "er": {"diffuse": 0.03, "compartment": "cytoplasm", "spots": 2.0},
    "microtubules": {"diffuse": 0.04, "compartment": "cytoplasm", "spots": 2.0},
    "actin": {"diffuse": 0.06, "compartment": "cytoplasm", "spots": 4.0},
    "focal_adhesions": {"diffuse": 0.015, "compartment": "cytoplasm", "spots": 1.0},
    "dead": {"diffuse": 0.0, "compartment": "nucleus", "spots": 0.0},
}

# Thin structures drawn as splatted points: blur (standard deviation, um) in xy and z that
# gives them their physical width (and anti-aliases them).
SPLAT_SIGMA_UM = {
    "mitochondria": (0.16, 0.20),
    "microtubules": (0.10, 0.12),
    "actin": (0.12, 0.12),
    "focal_adhesions": (0.15, 0.08),
    "granules": (0.15, 0.15),
    "nucleoli": (0.15, 0.15),
    "dna": (0.15, 0.15),
    "membrane": (0.15, 0.15),
    "er": (0.15, 0.15),
    "nuclear_envelope": (0.15, 0.15),
    "dead": (0.15, 0.15),
    "cytoplasm": (0.3, 0.3),
}

# cross-sections (um^2) of the thin structures, so that a point of a polyline carries a
# physical volume: step length x cross-section
CROSS_SECTION_UM2 = {
    "mitochondria": math.pi / 4 * 0.40 * 0.40,
    "microtubules": 0.25 * 0.25,
    "stress_fibre": math.pi / 4 * 0.35 * 0.30,
    "focal_adhesions": 0.5 * 0.15,
    "neurite_mt": 0.3 * 0.3,
}


# ---------------------------------------------------------------------------------------
# Cell types
# ---------------------------------------------------------------------------------------
