"""The specimen: a generative model of cell organization.

A field of view holds cells on a coverslip. Each cell is drawn from a *cell type* profile
(:class:`CellType`, plain data, so a new type is a few lines) in a *state* (interphase,
the four stages of mitosis, or dead). Every cell is built from structures named after the
Allen Cell Collection lines (``LABELS``), each a density in ``[0, 1]`` on the field's grid,
plus a cytoplasm density and refractile granules that change the refractive index but carry
no label.

Two things come out of every structure:

- its **density**, which sets the refractive index ``n = n_medium + sum_s DELTA_N[s] *
  density_s`` and so everything the transmitted-light images show;
- its **label intensity** (what a fluorescent tag shows): the density times a per-cell
  expression level (mosaic expression, some cells not expressing at all) times a per-object
  brightness, plus label-only features with no optical density at all (a diffuse unbound
  pool, bright puncta). These are what no model can predict from transmitted light: the
  course uses them to separate "hard to learn" from "impossible to know".

Geometry is "2.5D": at each pixel a structure occupies a height range ``[z0, z1]`` above the
coverslip with a density that may vary with height (chromatin texture, the ER network).
A 3D field voxelizes these ranges exactly (partial volumes at the edges); a 2D field keeps
two maps per structure: the density in the focal slab (what is in focus) and the projected
path length ``integral density dz`` in micrometres (what the phase of the light sees). Thin
structures (mitochondria, filaments, adhesions, puncta) are polylines of points splatted
onto the grid and blurred to their physical width.

Each cell is drawn only inside its bounding box, with its own random generator, so that
removing a cell (``drop_cells``) leaves every other cell bit-identical.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from coursekit._validation import check_choice, check_positive

__all__ = [
    "LABELS",
    "STRUCTURES",
    "STATES",
    "MITOTIC_STATES",
    "DELTA_N",
    "EXPRESSION",
    "LABEL_EXTRAS",
    "DEFAULT_STATE_PROBABILITIES",
    "CellType",
    "CELL_TYPES",
    "CellPlan",
    "CellInfo",
    "Specimen",
    "plan_cells",
    "build_specimen",
]

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
_SPLAT_SIGMA_UM = {
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
_XS = {
    "mitochondria": math.pi / 4 * 0.40 * 0.40,
    "microtubules": 0.25 * 0.25,
    "stress_fibre": math.pi / 4 * 0.35 * 0.30,
    "focal_adhesions": 0.5 * 0.15,
    "neurite_mt": 0.3 * 0.3,
}


# ---------------------------------------------------------------------------------------
# Cell types
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellType:
    """A cell-type profile: the parameters cells of this type are drawn from.

    Lengths in micrometres. Counts are means for a cell of average size (they scale with
    the cell's area).

    Parameters
    ----------
    name : str
        The type's name (the key in :data:`CELL_TYPES`).
    diameter_um : float
        Mean long-axis diameter of the cell footprint (the soma for neurons).
    size_cv : float
        Coefficient of variation of the cell size (lognormal).
    aspect : float
        Mean ratio of the long to the short axis of the footprint.
    irregularity : float
        Amplitude of the random low-order harmonics of the outline (0: ellipse).
    height_um : float
        Height of the cell over the nucleus (its tallest point).
    body_height_um : float
        Height of the cell body away from the nucleus (lamella for flat cells; close to
        ``height_um`` for columnar cells).
    edge_sharpness : float
        Exponent of the height profile (high: flat top and steep sides, as cells packed in
        a colony; 1 to 2: dome or tapering lamella).
    nucleus_fraction : float
        Nucleus long-axis diameter over cell long-axis diameter.
    nucleus_aspect : float
        Nucleus long to short axis ratio.
    nucleus_height_um : float
        Nucleus thickness along z.
    nucleus_offset : float
        Random offset of the nucleus from the cell centre, fraction of the cell radius.
    colony : bool
        Cells grow in a packed colony (neighbours share boundaries) rather than scattered.
    coverage : float
        Fraction of the field covered by cells of this type when ``n_cells`` is not given.
    alignment : float
        Spread (radians) of cell orientations around a common direction; ``None``-like
        large values (``>= 3``) give random orientations.
    nucleoli : tuple of int
        Minimum and maximum number of nucleoli.
    nucleolus_radius_um : float
        Mean nucleolus radius.
    n_mitochondria, mito_length_um : int, float
        Number of mitochondria and their mean length.
    n_microtubules : int
        Number of microtubules growing from the centrosome.
    n_stress_fibres : int
        Number of basal stress fibres.
    fibre_alignment : float
        Spread (radians) of stress-fibre directions around the cell's long axis.
    n_focal_adhesions : int
        Focal adhesions besides those at the ends of stress fibres.
    junction_actin : float
        Density of the apical actin belt at cell-cell junctions (epithelia).
    n_granules : float
        Mean number of refractile granules (lipid droplets, vesicles).
    neurites : tuple of int
        Minimum and maximum number of neurites (0 for non-neuronal cells).
    neurite_length_um, neurite_width_um : float
        Mean neurite length and width.
    rounded_radius_um : float
        Radius of the rounded cell in mitosis.
    focus_um : float
        Default focal plane above the coverslip for 2D fields (mid-nucleus).

    Examples
    --------
    A new type is a few lines:

    >>> from dataclasses import replace
    >>> keratocyte = replace(CELL_TYPES["fibroblast"], name="keratocyte", aspect=0.4,
    ...                      n_stress_fibres=6)
    >>> CELL_TYPES["keratocyte"] = keratocyte  # now usable in simulate_field
    >>> del CELL_TYPES["keratocyte"]
    """

    name: str
    diameter_um: float
    size_cv: float = 0.12
    aspect: float = 1.2
    irregularity: float = 0.06
    height_um: float = 6.0
    body_height_um: float = 4.0
    edge_sharpness: float = 2.0
    nucleus_fraction: float = 0.5
    nucleus_aspect: float = 1.2
    nucleus_height_um: float = 4.0
    nucleus_offset: float = 0.1
    colony: bool = False
    coverage: float = 0.5
    alignment: float = 3.2
    nucleoli: tuple[int, int] = (1, 3)
    nucleolus_radius_um: float = 0.8
    n_mitochondria: int = 60
    mito_length_um: float = 1.8
    n_microtubules: int = 50
    n_stress_fibres: int = 4
    fibre_alignment: float = 0.5
    n_focal_adhesions: int = 8
    junction_actin: float = 0.0
    n_granules: float = 4.0
    neurites: tuple[int, int] = (0, 0)
    neurite_length_um: float = 30.0
    neurite_width_um: float = 1.4
    rounded_radius_um: float = 8.0
    focus_um: float = 3.0


CELL_TYPES: dict[str, CellType] = {
    # hiPS-like: small, tall, packed in colonies, a large nucleus with big nucleoli
    "epithelial": CellType(
        name="epithelial",
        diameter_um=15.0,
        size_cv=0.12,
        aspect=1.2,
        irregularity=0.05,
        height_um=10.0,
        body_height_um=9.0,
        edge_sharpness=6.0,
        nucleus_fraction=0.62,
        nucleus_aspect=1.15,
        nucleus_height_um=6.0,
        nucleus_offset=0.08,
        colony=True,
        coverage=0.85,
        nucleoli=(1, 3),
        nucleolus_radius_um=1.0,
        n_mitochondria=40,
        mito_length_um=2.0,
        n_microtubules=44,
        n_stress_fibres=2,
        fibre_alignment=1.0,
        n_focal_adhesions=4,
        junction_actin=0.8,
        n_granules=3.0,
        rounded_radius_um=7.5,
        focus_um=4.5,
    ),
    # spread, elongated, flat, with many aligned stress fibres and a small nucleus
    "fibroblast": CellType(
        name="fibroblast",
        diameter_um=48.0,
        size_cv=0.15,
        aspect=3.2,
        irregularity=0.16,
        height_um=4.5,
        body_height_um=0.9,
        edge_sharpness=1.6,
        nucleus_fraction=0.27,
        nucleus_aspect=1.5,
        nucleus_height_um=3.2,
        nucleus_offset=0.1,
        colony=False,
        coverage=0.8,
        alignment=0.45,
        nucleoli=(2, 4),
        nucleolus_radius_um=0.8,
        n_mitochondria=150,
        mito_length_um=2.6,
        n_microtubules=90,
        n_stress_fibres=24,
        fibre_alignment=0.22,
        n_focal_adhesions=24,
        n_granules=8.0,
        rounded_radius_um=10.0,
        focus_um=1.0,
    ),
    # a soma with neurites ending in growth cones
    "neuron": CellType(
        name="neuron",
        diameter_um=13.0,
        size_cv=0.12,
        aspect=1.25,
        irregularity=0.05,
        height_um=7.0,
        body_height_um=5.0,
        edge_sharpness=2.0,
        nucleus_fraction=0.6,
        nucleus_aspect=1.15,
        nucleus_height_um=5.0,
        nucleus_offset=0.08,
        colony=False,
        coverage=0.15,
        nucleoli=(1, 2),
        nucleolus_radius_um=0.9,
        n_mitochondria=45,
        mito_length_um=1.5,
        n_microtubules=30,
        n_stress_fibres=0,
        n_focal_adhesions=4,
        n_granules=3.0,
        neurites=(3, 6),
        neurite_length_um=34.0,
        neurite_width_um=1.4,
        rounded_radius_um=7.0,
        focus_um=1.5,
    ),
}


# ---------------------------------------------------------------------------------------
# Cells: plans and info
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellPlan:
    """Where a cell is and what it is, before it is drawn.

    Parameters
    ----------
    id : int
        Instance label (>= 1) in the masks.
    cell_type : str
        A key of :data:`CELL_TYPES`.
    state : str
        One of :data:`STATES`.
    center_um : tuple of float
        ``(y, x)`` of the cell centre in micrometres from the field's top-left pixel.
    angle : float
        Orientation of the long axis (radians, from +x towards +y).
    scale : float
        Size multiplier (lengths).
    seed : tuple of int
        Entropy of the cell's own random generator (its shape, organelles and expression).
    progress : float
        Position within the state, 0 to 1 (chromatin condensation in prophase, chromatid
        separation in anaphase, furrowing in telophase).
    spindle_angle : float
        Direction of the mitotic spindle (radians).
    parent : int or None
        Id of the mother cell for daughters of a division.
    expression_seed : tuple of int, optional
        Entropy of the cell's expression levels (default ``seed``): a cell keeps its levels
        through mitosis, and daughters inherit their mother's.
    """

    id: int
    cell_type: str
    state: str
    center_um: tuple[float, float]
    angle: float
    scale: float
    seed: tuple[int, ...]
    progress: float = 0.5
    spindle_angle: float = 0.0
    parent: int | None = None
    expression_seed: tuple[int, ...] | None = None


@dataclass(frozen=True)
class CellInfo:
    """A drawn cell.

    Attributes
    ----------
    id : int
        Instance label in ``cell_mask`` and ``nucleus_mask``.
    cell_type, state : str
    centroid_um : tuple of float
        ``(y, x)`` centroid of the cell's footprint inside the field, micrometres (the
        planned centre when the cell lies outside the field).
    nucleus_centroid_um : tuple of float or None
        ``(y, x)`` centroid of the nucleus (chromosomes in mitosis) inside the field.
    area_um2 : float
        Footprint area inside the field.
    expression : dict of str to float
        Expression level of each label in this cell (0: not expressing).
    parent : int or None
        Mother cell id (daughters in a time-lapse).
    progress : float
        Position within the state (0 to 1).
    """

    id: int
    cell_type: str
    state: str
    centroid_um: tuple[float, float]
    nucleus_centroid_um: tuple[float, float] | None
    area_um2: float
    expression: dict = field(default_factory=dict)
    parent: int | None = None
    progress: float = 0.5


@dataclass(eq=False)
class Specimen:
    """Structure densities, label intensities and instance masks of a field.

    Attributes
    ----------
    shape : tuple of int
        ``(Y, X)`` for a 2D field (one focal plane) or ``(Z, Y, X)``.
    pixel_size_um, z_step_um : float
        Grid spacing (``z_step_um`` is the slab spacing for 3D; for 2D it is unused).
    focus_um : float
        2D: height of the focal plane above the coverslip. 3D: height of plane 0 is
        ``-coverslip_um`` and plane ``k`` is at ``k * z_step_um - coverslip_um``.
    slab_um : float
        2D: thickness of the focal slab the ``densities`` and ``labels`` average over.
    coverslip_um : float
        3D: the coverslip surface lies this far above plane 0 (plane 0 is at height
        ``-coverslip_um``).
    densities : dict of str to ndarray
        One float32 map per :data:`STRUCTURES` entry, in ``[0, 1]``: 2D the mean density in
        the focal slab ``(Y, X)``; 3D the voxel density ``(Z, Y, X)``.
    path_um : dict of str to ndarray or None
        2D only: projected path length ``integral density dz`` in micrometres, ``(Y, X)``
        (what the phase of transmitted light sees).
    labels : dict of str to ndarray
        Label intensity (density x expression x brightness + label-only features), same
        layout as ``densities``; only the labels asked for.
    label_path_um : dict of str to ndarray or None
        2D only: projected label intensity (micrometres), for the out-of-focus haze.
    cell_mask, nucleus_mask : ndarray of int32
        Instance labels, 0 = background: ``(Y, X)`` footprints for 2D (the nucleus mask is
        the projected nucleus, the chromosomes in mitosis, the fragments of a dead cell),
        ``(Z, Y, X)`` volumes for 3D.
    cells : list of CellInfo
    """

    shape: tuple[int, ...]
    pixel_size_um: float
    z_step_um: float
    focus_um: float
    slab_um: float
    coverslip_um: float
    densities: dict
    path_um: dict | None
    labels: dict
    label_path_um: dict | None
    cell_mask: np.ndarray
    nucleus_mask: np.ndarray
    cells: list

    @property
    def ndim(self) -> int:
        """2 for a focal plane, 3 for a volume."""
        return len(self.shape)

    def optical_path_um(self, delta_n: Mapping[str, float] | None = None) -> np.ndarray:
        """Optical path difference ``sum_s delta_n[s] * path_um[s]`` (2D fields).

        Parameters
        ----------
        delta_n : dict, optional
            Refractive-index increments (default :data:`DELTA_N`).

        Returns
        -------
        numpy.ndarray
            float32 ``(Y, X)`` in micrometres; the phase is ``2 pi / wavelength`` times it.
        """
        if self.path_um is None:
            raise ValueError("optical_path_um is for 2D specimens; use the densities in 3D")
        dn = dict(DELTA_N) if delta_n is None else {**DELTA_N, **delta_n}
        out = np.zeros(self.shape, np.float32)
        for name, p in self.path_um.items():
            if dn.get(name, 0.0):
                out += np.float32(dn[name]) * p
        return out


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def _rng_for(*entropy: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(e) for e in entropy]))


def _soft(rho, radius_px):
    """Anti-aliased inside indicator of ``rho < 1`` with a one-pixel transition."""
    return np.clip((1.0 - rho) * radius_px + 0.5, 0.0, 1.0)


def _harmonics(rng, k_max, amplitude):
    """Random outline harmonics ``(k, [cos, sin])`` with amplitudes falling as 1/k."""
    if amplitude <= 0:
        return None
    k = np.arange(2, k_max + 1)
    amp = amplitude * rng.standard_normal((k.size, 2)) * (2.0 / k)[:, None]
    return np.concatenate([k[:, None].astype(float), amp], axis=1)


def _ellipse_rho(y, x, cy, cx, a, b, angle, harm=None):
    """Normalized radius of an (irregular) ellipse: < 1 inside. Returns (rho, u, v)."""
    c, s = math.cos(angle), math.sin(angle)
    dy = y - cy
    dx = x - cx
    u = dx * c + dy * s
    v = dy * c - dx * s
    un = u / a
    vn = v / b
    rho = np.sqrt(un * un + vn * vn)
    if harm is not None:
        # outline harmonics cos(k phi), sin(k phi) by the Chebyshev recursion (no trig)
        inv = np.float32(1.0) / np.maximum(rho, np.float32(1e-6))
        c1 = un * inv
        s1 = vn * inv
        ck, sk = c1 * c1 - s1 * s1, np.float32(2.0) * c1 * s1  # k = 2
        cp, sp = c1, s1
        two_c = np.float32(2.0) * c1
        rb = np.ones_like(rho)
        for _k, ca, sa in harm:
            rb += np.float32(ca) * ck + np.float32(sa) * sk
            ck, cp = two_c * ck - cp, ck
            sk, sp = two_c * sk - sp, sk
        rho = rho / np.maximum(rb, np.float32(0.3))
    return rho, u, v


def _ring_radius(harm, phi):
    """Outline radius factor of the harmonics at angles ``phi`` (array)."""
    rb = np.ones_like(phi)
    if harm is not None:
        for k, ca, sa in harm:
            rb += ca * np.cos(k * phi) + sa * np.sin(k * phi)
    return np.maximum(rb, 0.3)


def _nonzero(gain) -> bool:
    """A label gain worth drawing: an array, or a non-zero number."""
    if gain is None:
        return False
    return np.ndim(gain) > 0 or gain != 0


def _grad_mag(a, spacing):
    gy, gx = np.gradient(a, spacing)
    return np.sqrt(gy * gy + gx * gx)


def _blur_xy(a, s, truncate=2.5):
    """Gaussian blur (sigma ``s`` pixels, truncated at ``truncate`` sigma, reflecting
    borders) over the last two axes; the common 3-tap case without scipy's overhead."""
    r = int(truncate * s + 0.5)
    if r != 1:
        return ndimage.gaussian_filter(a, (0,) * (a.ndim - 2) + (s, s), truncate=truncate)
    e = math.exp(-0.5 / (s * s))
    w0, w1 = np.float32(1.0 / (1.0 + 2.0 * e)), np.float32(e / (1.0 + 2.0 * e))
    t = a * w0
    t[..., 1:, :] += w1 * a[..., :-1, :]
    t[..., :-1, :] += w1 * a[..., 1:, :]
    t[..., 0, :] += w1 * a[..., 0, :]
    t[..., -1, :] += w1 * a[..., -1, :]
    o = t * w0
    o[..., 1:] += w1 * t[..., :-1]
    o[..., :-1] += w1 * t[..., 1:]
    o[..., 0] += w1 * t[..., 0]
    o[..., -1] += w1 * t[..., -1]
    return o


def _freq2(shape, spacing):
    """Squared spatial frequency (cycles/um)^2 on an rfftn grid."""
    freqs = [np.fft.fftfreq(n, d=s) for n, s in zip(shape[:-1], spacing[:-1])]
    freqs.append(np.fft.rfftfreq(shape[-1], d=spacing[-1]))
    k2 = np.zeros([f.size for f in freqs], np.float32)
    for ax, f in enumerate(freqs):
        sh = [1] * len(freqs)
        sh[ax] = f.size
        k2 = k2 + (f.astype(np.float32) ** 2).reshape(sh)
    return k2


@functools.lru_cache(maxsize=32)
def _bandpass_filter(shape, spacing, lo_um, hi_um):
    """Difference of two Gaussian low-passes on an rfftn grid (cached: fields share it)."""
    k2 = _freq2(shape, spacing)
    c = np.float32(-2 * math.pi**2)
    s_lo = lo_um / 2.5
    s_hi = hi_um / 2.5
    filt = np.exp(c * k2 * np.float32(s_lo**2)) - np.exp(c * k2 * np.float32(s_hi**2))
    filt.flags.writeable = False
    return filt


def _bandpass(spec, shape, spacing, lo_um, hi_um):
    """Unit-variance noise with structure between ``lo_um`` and ``hi_um`` from a white
    noise spectrum (difference of Gaussian low-passes), float32, periodic."""
    filt = _bandpass_filter(tuple(shape), tuple(spacing), float(lo_um), float(hi_um))
    out = sfft.irfftn(spec * filt, s=shape, workers=1).astype(np.float32, copy=False)
    out /= out.std() + np.float32(1e-12)
    return out


# ---------------------------------------------------------------------------------------
# The canvas: accumulators for layers and points
# ---------------------------------------------------------------------------------------


class _Canvas:
    """Accumulates structure densities and label intensities on a 2D or 3D grid."""

    def __init__(self, shape, px, dz, focus, slab, coverslip, labels, seed, shift_um=(0.0, 0.0)):
        self.shape = tuple(shape)
        self.is3d = len(shape) == 3
        self.px = float(px)
        self.dz = float(dz)
        self.focus = float(focus)
        self.slab = float(slab)
        self.coverslip = float(coverslip)
        self.labels = tuple(labels)
        self.seed = int(seed)
        self.YX = self.shape[-2:]
        if self.is3d:
            self.zc = (np.arange(self.shape[0]) * self.dz - self.coverslip).astype(np.float32)
            self.acc = {s: np.zeros(self.shape, np.float32) for s in STRUCTURES}
            self.lab = {lab: np.zeros(self.shape, np.float32) for lab in self.labels}
            self.path = None
            self.lab_path = None
        else:
            self.acc = {s: np.zeros(self.YX, np.float32) for s in STRUCTURES}
            self.path = {s: np.zeros(self.YX, np.float32) for s in STRUCTURES}
            self.lab = {lab: np.zeros(self.YX, np.float32) for lab in self.labels}
            self.lab_path = {lab: np.zeros(self.YX, np.float32) for lab in self.labels}
        # name -> chunks (y, x, z, structure weights or None, label weights or None)
        self._pts: dict[str, list] = {}
        self._defer: dict[str, list] = {}
        self._noise: dict[str, np.ndarray] = {}
        self._white: dict[int, np.ndarray] = {}
        self.shift_um = (float(shift_um[0]), float(shift_um[1]))
        self.cell_mask = np.zeros(self.shape, np.int32)
        self.nucleus_mask = np.zeros(self.shape, np.int32)

    # -- shared random textures (field-level, independent of which cells are drawn) --
    _NOISE_SPECS = {
        # name: (white-noise source, smallest scale um, largest scale um)
        "chromatin": (0, 0.5, 1.4),
        "chromatin_coarse": (0, 1.5, 4.0),
        "er": (1, 0.7, 2.2),
        "granular": (1, 0.35, 0.9),
        "chromosome": (1, 0.35, 0.9),
    }

    def noise(self, name):
        if name not in self._noise:
            src, lo, hi = self._NOISE_SPECS[name]
            shp = self.shape if self.is3d else self.YX
            spacing = (self.dz, self.px, self.px) if self.is3d else (self.px, self.px)
            if src not in self._white:
                rng = _rng_for(self.seed, 2, src)
                # white noise drawn directly in Fourier space (its rfftn half-spectrum)
                half = (*shp[:-1], shp[-1] // 2 + 1)
                spec = rng.standard_normal((*half, 2), dtype=np.float32).view(np.complex64)
                spec = spec.reshape(half)
                if any(self.shift_um):  # textures move with the stage (time-lapse drift)
                    ky = np.fft.fftfreq(shp[-2], d=self.px)[:, None]
                    kx = np.fft.rfftfreq(shp[-1], d=self.px)[None, :]
                    ramp = np.exp(-2j * np.pi * (ky * self.shift_um[0] + kx * self.shift_um[1]))
                    spec *= ramp.astype(np.complex64)
                self._white[src] = spec
            same = [k for k in self._noise if self._NOISE_SPECS[k] == (src, lo, hi)]
            if same:  # the same band of the same source (granular, chromosome)
                self._noise[name] = self._noise[same[0]]
            else:
                self._noise[name] = _bandpass(self._white[src], shp, spacing, lo, hi)
        return self._noise[name]

    # -- a cell's local view ----------------------------------------------------------
    def texture(self, name, g):
        """Noise field over the cell's box: (nz, bh, bw) in 3D, (bh, bw) in 2D."""
        n = self.noise(name)
        if self.is3d:
            return n[g.zs, g.sl[0], g.sl[1]]
        return n[g.sl]

    # -- layers -----------------------------------------------------------------------
    def layer(self, struct, g, d, z0, z1, *, gain=None, label=None, d_mean=None, extra=None):
        """Add density ``d`` between heights ``z0`` and ``z1`` (um) over the cell's box.

        ``struct`` may be None for a label-only layer; ``label`` defaults to ``struct``
        and receives ``d * gain``. ``extra`` maps more labels to gains (label-only copies of
        the same layer, e.g. the unbound pools of several proteins in the cytoplasm). ``d``
        may vary with height (3D arrays over the cell's planes; evaluated at the focal plane
        in 2D); ``d_mean`` is its mean along z (used for the 2D path length).
        """
        self.layers(g, z0, z1, [(struct, d, gain, label, d_mean, extra)])

    def layers(self, g, z0, z1, entries):
        """Several layers sharing one height range: ``(struct, d, gain, label, d_mean,
        extra)`` tuples as in :meth:`layer` (the overlap with the grid is computed once)."""
        sl = g.sl
        if self.is3d:
            zc = self.zc[g.zs][:, None, None]
            h = 0.5 * self.dz
            ov = np.minimum(z1, zc + h) - np.maximum(z0, zc - h)
            np.clip(ov, 0.0, self.dz, out=ov)
            ov *= np.float32(1.0 / self.dz)
            thick = None
        else:
            h = 0.5 * self.slab
            # (np.clip with an infinite bound is the fastest one-sided clamp of large arrays)
            ov = np.clip(z1, -np.inf, self.focus + h)
            ov -= np.clip(z0, self.focus - h, np.inf)
            np.clip(ov, 0.0, self.slab, out=ov)
            ov *= np.float32(1.0 / self.slab)
            thick = z1 - z0
            np.clip(thick, 0.0, np.inf, out=thick)
        for struct, d, gain, label, d_mean, extra in entries:
            if label is None and struct in LABELS:
                label = struct
            outs = {}
            if label is not None and label in self.lab and _nonzero(gain):
                outs[label] = gain
            if extra:
                for lab_name, gn in extra.items():
                    if lab_name in self.lab and _nonzero(gn):
                        outs[lab_name] = outs[lab_name] + gn if lab_name in outs else gn
            if struct is None and not outs:
                continue
            val = d * ov
            if self.is3d:
                if struct is not None:
                    self.acc[struct][g.zs, sl[0], sl[1]] += val
                for lab_name, gn in outs.items():
                    self.lab[lab_name][g.zs, sl[0], sl[1]] += val * gn
            else:
                pth = (d if d_mean is None else d_mean) * thick
                if struct is not None:
                    self.acc[struct][sl] += val
                    self.path[struct][sl] += pth
                for lab_name, gn in outs.items():
                    gn = np.float32(gn) if np.ndim(gn) == 0 else gn
                    self.lab[lab_name][sl] += val * gn
                    self.lab_path[lab_name][sl] += pth * gn

    # -- points -----------------------------------------------------------------------
    def points(self, struct, y, x, z, vol, *, gain=None, label=None):
        """Add point masses (um, um, um, um^3) of a thin structure.

        ``struct`` None: label-only points (``label`` required). ``gain`` scalar or per
        point: label intensity per unit density.
        """
        if label is None and struct in LABELS:
            label = struct
        want_label = label is not None and label in self.lab and gain is not None
        y = np.asarray(y, np.float32)
        yshape = y.shape
        y = y.ravel()
        if y.size == 0:
            return
        x = np.asarray(x, np.float32).ravel()

        def flat(v):
            v = np.asarray(v, np.float32)
            if v.size == y.size:
                return v.reshape(-1)
            if v.size == 1:
                return np.full(y.shape, v.reshape(-1)[0], np.float32)
            return np.broadcast_to(v, yshape).reshape(-1)

        if struct is None and not want_label:
            return
        z = flat(z)
        vol = flat(vol)
        name = struct if struct is not None else label
        wl = flat(gain) * vol if want_label else None
        if struct is not None and want_label and label != struct:
            self._pts.setdefault(struct, []).append((y, x, z, vol, None))
            self._pts.setdefault(label, []).append((y, x, z, None, wl))
            return
        self._pts.setdefault(name, []).append((y, x, z, vol if struct is not None else None, wl))

    def add_points(self, name, y, x, z, vol, w_label):
        """Add points of the thin structure ``name`` (flat arrays; ``z`` and ``vol`` may
        be scalars) with their label weights ``w_label`` (gain x volume)."""
        y = np.asarray(y, np.float32).ravel()
        n = y.size
        if n == 0:
            return
        x = np.asarray(x, np.float32).ravel()

        def flat(v):
            v = np.asarray(v, np.float32)
            return np.full(n, v, np.float32) if v.ndim == 0 else v.ravel()

        z = flat(z)
        wl = flat(w_label) if name in self.lab else None
        self._pts.setdefault(name, []).append((y, x, z, flat(vol), wl))

    def defer(self, kind, cid, params):
        """Keep a cell's random parameters of thin structures, traced for all cells at
        once by :func:`_flush_deferred`."""
        self._defer.setdefault(kind, []).append((cid, params))

    def _splat(self, y, x, z, w, sigma, blur=True):
        """3D: trilinear splatting of point volumes onto the grid (2D: :meth:`_splat2d`)."""
        Y, X = self.YX
        fy = y / np.float32(self.px)
        fx = x / np.float32(self.px)
        iy = np.floor(fy).astype(np.int64)
        ix = np.floor(fx).astype(np.int64)
        ty = fy - iy
        tx = fx - ix
        corners_y = (iy, iy + 1)
        corners_x = (ix, ix + 1)
        wy_ = (1 - ty, ty)
        wx_ = (1 - tx, tx)
        Z = self.shape[0]
        fz = (z + np.float32(self.coverslip)) / np.float32(self.dz)
        iz = np.floor(fz).astype(np.int64)
        tz = fz - iz
        w = w / np.float32(self.px * self.px * self.dz)
        idx_l, w_l = [], []
        for zz, wz in ((iz, 1 - tz), (iz + 1, tz)):
            okz = (zz >= 0) & (zz < Z)
            for yy, wy in zip(corners_y, wy_):
                oky = okz & (yy >= 0) & (yy < Y)
                for xx, wx in zip(corners_x, wx_):
                    ok = oky & (xx >= 0) & (xx < X)
                    idx_l.append(((zz * Y + yy) * X + xx)[ok])
                    w_l.append((w * wz * wy * wx)[ok])
        size = Z * Y * X
        out = np.bincount(np.concatenate(idx_l), np.concatenate(w_l), minlength=size)
        out = out.reshape(self.shape).astype(np.float32)
        if not blur:
            return out
        sz = sigma[1] / self.dz
        sxy = sigma[0] / self.px
        return ndimage.gaussian_filter(out, (sz, sxy, sxy), truncate=2.5)

    def _splat2d(self, name, y, x, z, ws, wl, sigma):
        """2D: bilinear splatting of the structure weights ``ws`` (focal-slab density and
        path length, blurred to the structure's width) and the label weights ``wl`` (not
        blurred: the PSF is much wider), sharing one set of indices."""
        Y, X = self.YX
        W = X + 2  # a one-pixel ring catches corners just outside the field (dropped)
        S = (Y + 2) * W
        fy = y * np.float32(1.0 / self.px)
        fx = x * np.float32(1.0 / self.px)
        iy = np.floor(fy)
        ix = np.floor(fx)
        ok = (iy >= -1) & (iy < Y) & (ix >= -1) & (ix < X)
        if not ok.all():
            fy, fx, iy, ix, z = fy[ok], fx[ok], iy[ok], ix[ok], z[ok]
            ws = None if ws is None else ws[ok]
            wl = None if wl is None else wl[ok]
        ty = fy - iy
        tx = fx - ix
        base = (iy.astype(np.intp) + 1) * W + (ix.astype(np.intp) + 1)
        idx = np.concatenate([base, base + 1, base + W, base + (W + 1)])
        cw = np.concatenate([(1 - ty) * (1 - tx), (1 - ty) * tx, ty * (1 - tx), ty * tx])
        # small objects: the axial PSF itself (a Gaussian with the same area as the slab)
        sig = self.slab / math.sqrt(2 * math.pi)
        dzf = (z - np.float32(self.focus)) * np.float32(1.0 / sig)
        g_foc = np.exp(np.float32(-0.5) * dzf * dzf) * np.float32(1.0 / self.slab)
        inv_a = np.float32(1.0 / (self.px * self.px))
        maps = []
        for w in (ws, wl):
            if w is not None:
                wp = w * inv_a
                maps += [np.tile(wp * g_foc, 4) * cw, np.tile(wp, 4) * cw]
        K = len(maps)
        if K == 0:
            return
        allidx = np.concatenate([idx + k * S for k in range(K)])
        out = np.bincount(allidx, np.concatenate(maps), minlength=K * S)
        out = out.reshape(K, Y + 2, W)[:, 1:-1, 1:-1].astype(np.float32)
        k = 0
        if ws is not None:
            img = _blur_xy(out[0:2], sigma[0] / self.px)
            self.acc[name] += img[0]
            self.path[name] += img[1]
            k = 2
        if wl is not None:
            self.lab[name] += out[k]
            self.lab_path[name] += out[k + 1]

    def finish_points(self):
        for name, chunks in self._pts.items():
            y = np.concatenate([c[0] for c in chunks])
            x = np.concatenate([c[1] for c in chunks])
            z = np.concatenate([c[2] for c in chunks])
            ws = wl = None
            if any(c[3] is not None for c in chunks):
                ws = np.concatenate(
                    [c[3] if c[3] is not None else np.zeros_like(c[0]) for c in chunks]
                )
            if name in self.lab and any(c[4] is not None for c in chunks):
                wl = np.concatenate(
                    [c[4] if c[4] is not None else np.zeros_like(c[0]) for c in chunks]
                )
            sigma = _SPLAT_SIGMA_UM.get(name, (0.15, 0.15))
            if not self.is3d:
                self._splat2d(name, y, x, z, ws, wl, sigma)
                continue
            # label intensities are blurred later by the PSF, which is much wider than the
            # structures: only the densities (refractive index) need their physical width
            if ws is not None:
                self.acc[name] += self._splat(y, x, z, ws, sigma, blur=True)
            if wl is not None:
                self.lab[name] += self._splat(y, x, z, wl, sigma, blur=False)
        self._pts.clear()


# ---------------------------------------------------------------------------------------
# Planning: where the cells are
# ---------------------------------------------------------------------------------------


def _check_states(states) -> dict[str, float]:
    if states is None:
        return dict(DEFAULT_STATE_PROBABILITIES)
    if isinstance(states, str):
        check_choice(states, "state", STATES)
        return {states: 1.0}
    if isinstance(states, Mapping):
        probs = {}
        for k, v in states.items():
            check_choice(k, "state", STATES)
            p = float(v)
            if not math.isfinite(p) or p < 0:
                raise ValueError(f"states[{k!r}]: expected a non-negative probability, got {v!r}")
            probs[k] = p
        if sum(probs.values()) <= 0:
            raise ValueError("states: the probabilities must not all be zero")
        return probs
    if isinstance(states, Sequence):
        if len(states) == 0:
            raise ValueError("states: expected at least one state")
        for s in states:
            check_choice(s, "state", STATES)
        return {s: 1.0 for s in states}
    raise TypeError(
        f"states: expected None, a state name, a list of states or a dict of probabilities, "
        f"got {type(states).__name__}"
    )


def _check_cell_types(cell_types) -> tuple[str, ...]:
    if isinstance(cell_types, str):
        cell_types = (cell_types,)
    if isinstance(cell_types, CellType):
        cell_types = (cell_types,)
    try:
        names = []
        for ct in cell_types:
            if isinstance(ct, CellType):
                CELL_TYPES.setdefault(ct.name, ct)
                ct = ct.name
            check_choice(ct, "cell type", CELL_TYPES)
            names.append(ct)
    except TypeError as exc:
        raise TypeError(
            f"cell_types: expected a cell type name or a sequence of names, got {cell_types!r}"
        ) from exc
    if not names:
        raise ValueError(f"cell_types: expected at least one of {', '.join(map(repr, CELL_TYPES))}")
    return tuple(names)


def _dart_throw(rng, n, sampler, min_dist, existing, max_tries=40):
    """Up to ``n`` points from ``sampler(k)`` at least ``min_dist`` apart (sequentially)."""
    pts = np.zeros((len(existing) + n, 2))
    m = len(existing)
    if m:
        pts[:m] = np.asarray(existing, float)
    out = []
    tries = 0
    d2min = min_dist * min_dist
    while len(out) < n and tries < max_tries:
        cand = sampler(max(4 * (n - len(out)), 16))
        # distances of the candidates to the points so far and to each other, at once
        m0 = m
        if m0:
            d_old = (pts[None, :m0, 0] - cand[:, 0:1]) ** 2 + (
                pts[None, :m0, 1] - cand[:, 1:2]
            ) ** 2
            bad = (d_old.min(axis=1) < d2min).tolist()
        else:
            bad = [False] * len(cand)
        d_new = (cand[None, :, 0] - cand[:, 0:1]) ** 2 + (cand[None, :, 1] - cand[:, 1:2]) ** 2
        d_new = d_new.tolist()
        taken: list[int] = []
        for i in range(len(cand)):
            if len(out) >= n:
                break
            if bad[i]:
                continue
            row = d_new[i]
            if any(row[j] < d2min for j in taken):
                continue
            taken.append(i)
            pts[m] = cand[i]
            m += 1
            out.append((float(cand[i, 0]), float(cand[i, 1])))
        tries += 1
    return out


def plan_cells(
    field_um: tuple[float, float],
    *,
    seed: int,
    cell_types=("epithelial",),
    n_cells: int | None = None,
    states=None,
) -> list[CellPlan]:
    """Place cells in a field: types, states, positions, orientations and sizes.

    Parameters
    ----------
    field_um : tuple of float
        ``(height, width)`` of the field in micrometres.
    seed : int
        Random seed. The plan only depends on the seed and the arguments, and every cell
        gets its own seed, so the same cell is drawn the same way in any field.
    cell_types : str or sequence of str
        Keys of :data:`CELL_TYPES`. Colony types form one packed colony; other types are
        scattered. With several types the cells are shared out evenly.
    n_cells : int, optional
        Number of cells (default: enough to cover each type's ``coverage`` of the field).
    states : None, str, sequence or dict
        State of the cells: None for the default mix (mostly interphase, a few mitotic and
        dead cells), a state name, a list (uniform choice) or a dict of probabilities.

    Returns
    -------
    list of CellPlan
        Ids 1, 2, ... in order.

    Examples
    --------
    >>> plans = plan_cells((76.8, 76.8), seed=0, cell_types="fibroblast", n_cells=3)
    >>> [p.cell_type for p in plans]
    ['fibroblast', 'fibroblast', 'fibroblast']
    """
    names = _check_cell_types(cell_types)
    probs = _check_states(states)
    H, W = (float(v) for v in field_um)
    rng = _rng_for(seed, 0)
    st_names = list(probs)
    st_p = np.array([probs[s] for s in st_names], float)
    st_p /= st_p.sum()
    st_cdf = st_p.cumsum()  # as Generator.choice(p=...) draws: one uniform, the cdf
    st_cdf /= st_cdf[-1]
    area = H * W
    if n_cells is not None:
        if isinstance(n_cells, bool) or not isinstance(n_cells, (int, np.integer)):
            raise TypeError(f"n_cells: expected an integer, got {n_cells!r}")
        if n_cells < 0:
            raise ValueError(f"n_cells: expected a non-negative integer, got {n_cells}")
        counts = [
            n_cells // len(names) + (1 if i < n_cells % len(names) else 0)
            for i in range(len(names))
        ]
    else:
        counts = []
        for nm in names:
            ct = CELL_TYPES[nm]
            a_cell = math.pi / 4 * ct.diameter_um**2 / ct.aspect
            if ct.neurites[1] > 0:
                a_cell *= 3.0  # neurites take room
            counts.append(max(1, int(round(area / len(names) * ct.coverage / a_cell))))
    centres: list[tuple[float, float]] = []
    plans: list[CellPlan] = []
    # colonies first (they are dense), then scattered cells avoid them
    order = sorted(range(len(names)), key=lambda i: not CELL_TYPES[names[i]].colony)
    placed: dict[int, list] = {}
    for i in order:
        ct = CELL_TYPES[names[i]]
        n = counts[i]
        d = ct.diameter_um / math.sqrt(ct.aspect)  # area-equivalent diameter
        if n == 0:
            placed[i] = []
            continue
        if ct.colony:
            # one colony, centred somewhere in the field, big enough for n cells
            r_col = math.sqrt(n * d * d / 0.80) / 2 * 1.05
            cy = rng.uniform(0.25, 0.75) * H
            cx = rng.uniform(0.25, 0.75) * W
            harm = _harmonics(rng, 5, 0.12)

            def sampler(k, cy=cy, cx=cx, r_col=r_col, harm=harm):
                phi = rng.uniform(0, 2 * math.pi, k)
                r = r_col * np.sqrt(rng.uniform(0, 1, k)) * _ring_radius(harm, phi)
                return np.stack([cy + r * np.sin(phi), cx + r * np.cos(phi)], 1)

            pts = _dart_throw(rng, n, sampler, 0.82 * d, [])
            if len(pts) < n:  # a crowded colony: relax the spacing
                pts += _dart_throw(rng, n - len(pts), sampler, 0.6 * d, pts)
        else:
            margin = -0.05 * min(H, W)  # centres inside the field: cells are seen whole-ish

            def sampler(k, margin=margin):
                return np.stack(
                    [rng.uniform(-margin, H + margin, k), rng.uniform(-margin, W + margin, k)], 1
                )

            spacing = 0.85 * d if ct.neurites[1] == 0 else 2.2 * d
            if ct.aspect > 2:
                spacing = 0.5 * ct.diameter_um
            pts = _dart_throw(rng, n, sampler, spacing, centres)
            if len(pts) < n:
                pts += _dart_throw(rng, n - len(pts), sampler, 0.5 * spacing, centres + pts)
        placed[i] = pts
        centres += pts
    common_angle = rng.uniform(0, math.pi)
    next_id = 1
    for i in range(len(names)):
        ct = CELL_TYPES[names[i]]
        for cy, cx in placed[i]:
            if ct.alignment < 3:
                angle = common_angle + ct.alignment * rng.standard_normal()
            else:
                angle = rng.uniform(0, math.pi)
            scale = float(np.exp(ct.size_cv * rng.standard_normal() - ct.size_cv**2 / 2))
            state = st_names[int(np.searchsorted(st_cdf, rng.random(), side="right"))]
            plans.append(
                CellPlan(
                    id=next_id,
                    cell_type=ct.name,
                    state=state,
                    center_um=(float(cy), float(cx)),
                    angle=float(angle),
                    scale=scale,
                    seed=(int(seed), 1, next_id),
                    progress=float(rng.uniform(0.1, 0.9)),
                    spindle_angle=float(rng.uniform(0, math.pi)),
                )
            )
            next_id += 1
    return plans


# ---------------------------------------------------------------------------------------
# Geometry (pass 1): each cell's box, footprint metric and who owns which pixel
# ---------------------------------------------------------------------------------------


class _Geom:
    """A cell's local frame: its box in the field, coordinates (um) and footprint."""

    def __init__(self, plan, ct, rng):
        self.plan = plan
        self.ct = ct
        self.rng = rng


def _set_box(g, cv, y_lo, y_hi, x_lo, x_hi, z_hi):
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


def _crop(g, cv, keep):
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


class _Sub:
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


def _neurite_paths(rng, ct, cy, cx, a, b, angle, s):
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


def _geometry(plan: CellPlan, cv: _Canvas):
    """Pass 1: the cell's box and its footprint metric ``rho`` (< 1 inside)."""
    ct = CELL_TYPES[plan.cell_type]
    g = _Geom(plan, ct, _rng_for(*plan.seed))
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
        harm = _harmonics(rng, 6, ct.irregularity)
        g.kind = "spread"
        g.a, g.b, g.angle, g.harm = a, b, plan.angle, harm
        ext = a * (1.05 + 2.5 * ct.irregularity) + 2 * cv.px
        lo_y, hi_y, lo_x, hi_x = cy - ext, cy + ext, cx - ext, cx + ext
        if ct.neurites[1] > 0 and st == "interphase":
            paths, tips = _neurite_paths(rng, ct, cy, cx, a, b, plan.angle, s)
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
            g.harm = _harmonics(rng, 10, 0.10)  # blebs
            g.a = g.b = R
        elif st == "metaphase":
            g.harm = _harmonics(rng, 4, 0.02)
            g.a = g.b = R
        elif st == "anaphase":
            g.harm = _harmonics(rng, 4, 0.02)
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
    if not _set_box(g, cv, lo_y, hi_y, lo_x, hi_x, z_hi):
        return None
    y, x = g.y, g.x
    if g.kind == "telophase":
        ca, sa = math.cos(g.angle), math.sin(g.angle)
        r1, u1, v1 = _ellipse_rho(
            y, x, cy + g.lobe_d * sa, cx + g.lobe_d * ca, g.lobe_r, g.lobe_r, 0.0
        )
        r2, _, _ = _ellipse_rho(
            y, x, cy - g.lobe_d * sa, cx - g.lobe_d * ca, g.lobe_r, g.lobe_r, 0.0
        )
        g.rho_lobes = (r1, r2)
        g.rho = np.minimum(r1, r2)
        _, g.u, g.v = _ellipse_rho(y, x, cy, cx, 1.0, 1.0, g.angle)
    else:
        g.rho, g.u, g.v = _ellipse_rho(y, x, cy, cx, g.a, g.b, g.angle, g.harm)
    g.rho_body = g.rho
    if g.neur is not None:
        _neurite_rho(g, cv)
    g.prio = 1.0 if g.kind == "spread" else 0.55
    return g


def _neurite_rho(g, cv):
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
        sub = _Sub(g, cv, ccy, ccx, 3.5)
        if sub.empty:
            continue
        r, _, _ = _ellipse_rho(sub.y, sub.x, ccy, ccx, 1.3, 2.4, th)
        rho_c[sub.loc] = np.minimum(rho_c[sub.loc], r)
        cones.append((ccy, ccx, th))
    g.rho_neurite = rho_n
    g.rho_cone = rho_c
    g.cones = cones
    g.rho = np.minimum(np.minimum(g.rho, rho_n), rho_c)


# ---------------------------------------------------------------------------------------
# Drawing (pass 2)
# ---------------------------------------------------------------------------------------


def _lookup(g, arr, y, x, px):
    """Values of a box map at points (um); 0 outside the box."""
    iy = np.rint(y / px).astype(np.int64) - g.y0
    ix = np.rint(x / px).astype(np.int64) - g.x0
    bh, bw = arr.shape
    ok = (iy >= 0) & (iy < bh) & (ix >= 0) & (ix < bw)
    out = np.zeros(y.shape, np.float32)
    out[ok] = arr[iy[ok], ix[ok]]
    return out


def _sample(g, rng, w, k, px):
    """``k`` random positions (um) with probability proportional to the box map ``w``.

    The cumulative distribution of a weight map is cached on the cell (the same map is
    sampled for mitochondria, granules and puncta).
    """
    k = int(k)
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    cache = g.__dict__.setdefault("_cdf", {})
    c = cache.get(id(w))
    if c is None or c[0] is not w:
        c = (w, np.cumsum(w.ravel(), dtype=np.float64))
        cache[id(w)] = c
    c = c[1]
    u = rng.uniform(0, 1, k)
    jy = rng.uniform(-0.5, 0.5, k)
    jx = rng.uniform(-0.5, 0.5, k)
    if c[-1] <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    idx = np.minimum(np.searchsorted(c, u * c[-1], side="right"), c.size - 1)
    bw = w.shape[1]
    iy, ix = np.divmod(idx, bw)
    y = ((g.y0 + iy + jy) * px).astype(np.float32)
    x = ((g.x0 + ix + jx) * px).astype(np.float32)
    return y, x, idx


_EXPR_SIGMA = np.array([EXPRESSION[lab][0] for lab in LABELS])
_EXPR_OFF = np.array([EXPRESSION[lab][1] for lab in LABELS])


def _expression(rng) -> dict[str, float]:
    """Per-cell expression level of every label (lognormal, mean 1; 0 when silent)."""
    z = rng.standard_normal(len(LABELS))
    u = rng.uniform(size=len(LABELS))
    v = np.exp(_EXPR_SIGMA * z - 0.5 * _EXPR_SIGMA * _EXPR_SIGMA)
    v[u < _EXPR_OFF] = 0.0
    return dict(zip(LABELS, v.tolist()))


def _lognormal(rng, sigma, size=None):
    return np.exp(sigma * rng.standard_normal(size) - 0.5 * sigma * sigma)


def _granules(cv, g, rng, w, zlo, zhi, mean, px):
    n = int(rng.poisson(mean))
    y, x, idx = _sample(g, rng, w, n, px)
    r = rng.uniform(0.2, 0.45, n)
    frac = rng.uniform(0.2, 0.8, n)
    if idx.size == 0:
        return
    z = zlo.ravel()[idx] + frac * (zhi.ravel()[idx] - zlo.ravel()[idx])
    cv.points("granules", y, x, z, 4.0 / 3.0 * math.pi * r**3)


def _mito(cv, g, rng, gains, w, zlo, zhi, n, length, cy, cx, px, radial=0.7, wiggle=0.25):
    """Mitochondria: short curved tubules, oriented roughly radially.

    The cell draws its random parameters; the tubules of all cells are traced at once
    (:func:`_flush_deferred`)."""
    n = int(n)
    y0, x0, idx = _sample(g, rng, w, n, px)
    m = y0.size
    if m == 0:
        return
    L = length * _lognormal(rng, 0.4, m)
    npt = 10
    step = L / (npt - 1)
    th0 = np.arctan2(y0 - cy, x0 - cx) + radial * rng.standard_normal(m) * 2.0
    dth = wiggle * rng.standard_normal((m, npt))
    frac = rng.uniform(0.15, 0.85, m)
    bright = _lognormal(rng, 0.3, m)
    zl = zlo.ravel()[idx]
    z = zl + frac * (zhi.ravel()[idx] - zl)
    cv.defer(
        "mito",
        g.plan.id,
        (y0, x0, step, th0, dth, z, gains["mitochondria"] * bright),
    )


def _astral(cv, g, rng, gains, cyc, cxc, zcen, n, max_len, px, zmid, theta=None, wiggle=0.05):
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
    cv.defer(
        "astral", g.plan.id, (cyc, cxc, float(zcen), bool(zmid), th0, dth, gains["microtubules"])
    )


def _centrosome_spot(cv, rng, gains, cy, cx, z):
    k = 12
    y = cy + 0.25 * rng.standard_normal(k)
    x = cx + 0.25 * rng.standard_normal(k)
    zz = z + 0.25 * rng.standard_normal(k)
    cv.points("microtubules", y, x, zz, 0.02, gain=gains["microtubules"])


def _focal_adhesion(cv, rng, gains, y_end, x_end, th, length, px, cid=0):
    """Elongated basal plaques ending at (y_end, x_end), pointing along ``th``."""
    n = np.size(y_end)
    if n == 0:
        return
    bright = _lognormal(rng, 0.35, n)
    cv.defer("fa", cid, (y_end, x_end, th, length, gains["focal_adhesions"] * bright))


def _stress_fibres(cv, g, rng, gains, n, cy, cx, a, b, angle, spread, px, fa=True):
    n = int(n)
    if n <= 0:
        return
    th = angle + spread * rng.standard_normal(n)
    off = rng.uniform(-0.8, 0.8, n) * b
    thick = rng.uniform(0.5, 1.3, n)
    fa_len = rng.uniform(1.0, 2.6, (n, 2))
    zf = 0.25 + 0.08 * rng.standard_normal(n)
    fa_bright = _lognormal(rng, 0.35, (n, 2)) if fa else None
    cy_ = cy + off * np.cos(angle)
    cx_ = cx - off * np.sin(angle)
    cv.defer(
        "fibre",
        g.plan.id,
        (cy_, cx_, th, float(a), thick, fa_len, zf, gains["actin"], fa_bright, gains),
    )


def _peripheral_fas(cv, g, rng, gains, n, cy, cx, px, lo=0.72, hi=0.95):
    w = ((g.rho >= lo) & (g.rho <= hi) & (g.f > 0.5)).astype(np.float32)
    y, x, _ = _sample(g, rng, w, n, px)
    m = y.size
    ln = rng.uniform(0.7, 2.0, n)[:m]
    if m == 0:
        return
    th = np.arctan2(y - cy, x - cx)
    _focal_adhesion(cv, rng, gains, y, x, th, ln, px)


def _owned(cv, M, arr, y, x, cid):
    """Values of the field map ``arr`` at points (um) on pixels owned by cell ``cid`` (per
    point); 0 elsewhere and outside the field."""
    Y, X = cv.YX
    px = cv.px
    iy = np.rint(y / px).astype(np.intp)
    ix = np.rint(x / px).astype(np.intp)
    ok = (iy >= 0) & (iy < Y) & (ix >= 0) & (ix < X)
    flat = np.where(ok, iy * X + ix, 0)
    ok &= M.owner.ravel()[flat] == cid
    return np.where(ok, arr.ravel()[flat], np.float32(0.0))


def _rows(entries, k):
    """Concatenate field ``k`` of deferred entries, and the per-row cell ids."""
    return np.concatenate([np.atleast_1d(e[1][k]) for e in entries])


def _flush_deferred(cv, M):
    """Trace the thin structures whose parameters the cells drew (all cells at once)."""
    d = cv._defer
    # -- mitochondria -------------------------------------------------------------------
    ent = d.pop("mito", None)
    if ent:
        cid = np.concatenate([np.full(len(e[1][0]), e[0], np.int32) for e in ent])
        y0, x0, step, th0, z, gm = (_rows(ent, k) for k in (0, 1, 2, 3, 5, 6))
        dth = np.concatenate([e[1][4] for e in ent])
        th = th0[:, None] + np.cumsum(dth, axis=1)
        yy = np.cumsum(step[:, None] * np.sin(th), axis=1)
        xx = np.cumsum(step[:, None] * np.cos(th), axis=1)
        yy += (y0 - 0.5 * yy[:, -1])[:, None]
        xx += (x0 - 0.5 * xx[:, -1])[:, None]
        keep = _owned(cv, M, M.f, yy, xx, cid[:, None]) > 0.5
        rows = np.broadcast_to(np.arange(yy.shape[0])[:, None], yy.shape)[keep]
        vol = (step * _XS["mitochondria"])[rows]
        cv.add_points("mitochondria", yy[keep], xx[keep], z[rows], vol, gm[rows] * vol)
    # -- astral microtubules ------------------------------------------------------------
    ent = d.pop("astral", None)
    if ent:
        step = 0.35
        ns = [len(e[1][4]) for e in ent]
        ms = [e[1][5].shape[1] for e in ent]
        mmax = max(ms)
        N = sum(ns)
        dth = np.zeros((N, mmax))
        r = 0
        for e, n, m in zip(ent, ns, ms):
            dth[r : r + n, :m] = e[1][5]
            r += n
        rep = np.array(ns)
        cid = np.repeat(np.array([e[0] for e in ent], np.int32), rep)
        cy = np.repeat(np.array([e[1][0] for e in ent]), rep)
        cx = np.repeat(np.array([e[1][1] for e in ent]), rep)
        zc = np.repeat(np.array([e[1][2] for e in ent], np.float32), rep)
        usemap = np.repeat(np.array([e[1][3] for e in ent]), rep)
        gain = np.repeat(np.array([e[1][6] for e in ent], np.float32), rep)
        lens = np.repeat(np.array(ms), rep)
        th = np.concatenate([np.atleast_1d(e[1][4]) for e in ent])[:, None] + np.cumsum(dth, axis=1)
        y = cy[:, None] + np.cumsum(step * np.sin(th), axis=1)
        x = cx[:, None] + np.cumsum(step * np.cos(th), axis=1)
        valid = np.arange(mmax)[None, :] < lens[:, None]
        inside = (_owned(cv, M, M.f, y, x, cid[:, None]) > 0.45) & valid
        alive = np.logical_and.accumulate(inside, axis=1)
        rows = np.broadcast_to(np.arange(N)[:, None], y.shape)[alive]
        ya, xa = y[alive], x[alive]
        zm = np.maximum(_owned(cv, M, M.zmid, ya, xa, cid[rows]), np.float32(0.2))
        z = np.where(usemap[rows], zm, zc[rows])
        vol = np.float32(step * _XS["microtubules"])
        cv.add_points("microtubules", ya, xa, z, vol, gain[rows] * vol)
    # -- stress fibres, with focal adhesions at their ends ------------------------------
    ent = d.pop("fibre", None)
    if ent:
        step = 0.25
        ns = [len(e[1][0]) for e in ent]
        rep = np.array(ns)
        ms = np.array([int(2.6 * e[1][3] / step) + 1 for e in ent])
        mmax = int(ms.max())
        cid = np.repeat(np.array([e[0] for e in ent], np.int32), rep)
        a = np.repeat(np.array([e[1][3] for e in ent]), rep)
        lens = np.repeat(ms, rep)
        cy_, cx_, th, thick, zf = (_rows(ent, k) for k in (0, 1, 2, 4, 6))
        fa_len = np.concatenate([e[1][5] for e in ent])
        ga = np.repeat(np.array([e[1][7] for e in ent]), rep)
        t = np.arange(mmax)[None, :] * step - 1.3 * a[:, None]
        y = cy_[:, None] + np.sin(th)[:, None] * t
        x = cx_[:, None] + np.cos(th)[:, None] * t
        valid = np.arange(mmax)[None, :] < lens[:, None]
        cidc = cid[:, None]
        inside = valid & (_owned(cv, M, M.f, y, x, cidc) > 0.5)
        inside &= _owned(cv, M, M.rb, y, x, cidc) < 0.93
        has = inside.any(axis=1)
        first = np.argmax(inside, axis=1)
        last = mmax - 1 - np.argmax(inside[:, ::-1], axis=1)
        trim = int(0.6 / step)
        first = first + trim
        last = last - trim
        ok = has & (last - first > int(2.0 / step))
        idx = np.arange(mmax)[None, :]
        sel = ok[:, None] & (idx >= first[:, None]) & (idx <= last[:, None])
        rows = np.broadcast_to(np.arange(y.shape[0])[:, None], y.shape)[sel]
        vol = (step * _XS["stress_fibre"] * thick)[rows]
        # stress fibres are the brightest actin structures (bundles of many filaments)
        gf = (1.6 * ga * np.minimum(thick, 1.0))[rows]
        cv.add_points("actin", y[sel], x[sel], zf[rows], vol, gf * vol)
        hasfa = np.repeat(np.array([e[1][8] is not None for e in ent]), rep)
        r = np.nonzero(ok & hasfa)[0]
        if r.size:
            br = np.concatenate(
                [e[1][8] if e[1][8] is not None else np.zeros((n, 2)) for e, n in zip(ent, ns)]
            )
            gfa = np.repeat(np.array([e[1][9]["focal_adhesions"] for e in ent]), rep)
            ye = np.concatenate([y[r, last[r]], y[r, first[r]]])
            xe = np.concatenate([x[r, last[r]], x[r, first[r]]])
            the = np.concatenate([th[r], th[r] + math.pi])
            ln = np.concatenate([fa_len[r, 0], fa_len[r, 1]])
            gg = np.concatenate([gfa[r] * br[r, 0], gfa[r] * br[r, 1]])
            cv.defer("fa", 0, (ye, xe, the, ln, gg))
    # -- focal adhesions ----------------------------------------------------------------
    ent = d.pop("fa", None)
    if ent:
        y_end, x_end, th, length, gn = (_rows(ent, k) for k in range(5))
        k = 7
        tt = np.linspace(0, 1, k)[None, :] * length[:, None]
        y = y_end[:, None] - np.sin(th)[:, None] * tt
        x = x_end[:, None] - np.cos(th)[:, None] * tt
        vol = np.broadcast_to((length / (k - 1) * _XS["focal_adhesions"])[:, None], y.shape)
        w = vol * gn[:, None]
        cv.add_points("focal_adhesions", y.ravel(), x.ravel(), 0.1, vol.ravel(), w.ravel())
    # -- nucleoli (2D) ---------------------------------------------------------------------
    ent = d.pop("nucleolus", None)
    if ent:
        _flush_nucleoli(cv, M, [e[1] for e in ent])
    # -- label-only puncta ----------------------------------------------------------------
    ent = d.pop("spots", None)
    if ent:
        by_lab: dict[str, list] = {}
        for lab, e in ent:
            by_lab.setdefault(lab, []).append(e)
        for lab, es in by_lab.items():
            y, x, z, wl = (np.concatenate([e[k] for e in es]).astype(np.float32) for k in range(4))
            cv._pts.setdefault(lab, []).append((y, x, z, None, wl))
    d.clear()


def _flush_nucleoli(cv, M, ent):
    """2D: draw every cell's nucleoli at once, on windows padded to a common size; each
    entry is (field window, the cell's nucleus footprint over it, parameters)."""
    px = cv.px
    Y, X = cv.YX
    K = len(ent)
    H = max(e[0][0].stop - e[0][0].start for e in ent)
    W = max(e[0][1].stop - e[0][1].start for e in ent)
    fn = np.zeros((K, H, W), np.float32)
    y0 = np.empty(K, np.intp)
    x0 = np.empty(K, np.intp)
    for k, (sl, fw, _) in enumerate(ent):
        fn[k, : fw.shape[0], : fw.shape[1]] = fw
        y0[k], x0[k] = sl[0].start, sl[1].start
    ly, lx, ra, rb, lang, zl, rz, fade, gain = (
        np.array([e[2][i] for e in ent], np.float32).reshape(K, 1, 1) for i in range(9)
    )
    hk = np.array([e[1].shape[0] for e in ent])[:, None, None]
    wk = np.array([e[1].shape[1] for e in ent])[:, None, None]
    ar_h = np.arange(H)[None, :, None]
    ar_w = np.arange(W)[None, None, :]
    iy = y0[:, None, None] + ar_h
    ix = x0[:, None, None] + ar_w
    ok = (ar_h < hk) & (ar_w < wk)  # inside each window (not its padding)
    flat = (np.minimum(iy, Y - 1) * X + np.minimum(ix, X - 1)).astype(np.intp)
    flat = np.broadcast_to(flat, (K, H, W))
    # the nucleolus' normalized radius (ellipse)
    c, s_ = np.cos(lang), np.sin(lang)
    dy = iy.astype(np.float32) * np.float32(px) - ly
    dx = ix.astype(np.float32) * np.float32(px) - lx
    u = (dx * c + dy * s_) / ra
    v = (dy * c - dx * s_) / rb
    rl2 = u * u + v * v
    rl = np.sqrt(rl2)
    rbp = rb * np.float32(1.0 / px)
    fl = np.clip((1.0 - rl) * rbp + 0.5, 0.0, 1.0) * fn
    tl = rz * np.sqrt(np.clip(1.0 - rl2, 0.0, 1.0))
    gl = cv.noise("granular").ravel()[flat]
    lvl = np.float32(0.85) * (1.0 - fade)
    dl = fl * (lvl + np.float32(0.12) * gl)
    # the layer between zl - tl and zl + tl, seen by the focal slab (as _Canvas.layers)
    h = 0.5 * cv.slab
    ov = np.minimum(zl + tl, np.float32(cv.focus + h)) - np.maximum(
        zl - tl, np.float32(cv.focus - h)
    )
    np.clip(ov, 0.0, cv.slab, out=ov)
    val = dl * ov * np.float32(1.0 / cv.slab)
    pth = fl * lvl * (2.0 * tl)
    maps = [val, pth]
    if "nucleoli" in cv.lab:
        maps += [val * gain, pth * gain]
    sel = ok & (fl > 0)
    idx = flat[sel]
    S = Y * X
    nm = len(maps)
    out = np.bincount(
        np.concatenate([idx + m * S for m in range(nm)]),
        np.concatenate([m_[sel] for m_ in maps]),
        minlength=nm * S,
    ).reshape(nm, Y, X)
    cv.acc["nucleoli"] += out[0]
    cv.path["nucleoli"] += out[1]
    if nm == 4:
        cv.lab["nucleoli"] += out[2]
        cv.lab_path["nucleoli"] += out[3]
    # nucleoli exclude chromatin; a rim of perinucleolar chromatin around them
    rl3 = np.sqrt(rl2 + ((np.float32(cv.focus) - zl) / rz) ** 2)
    ex = np.clip((1.0 - rl3) * rbp + 0.5, 0.0, 1.0) * (1.0 - fade)
    rim = np.exp(-(((rl3 - 1.0) * rb * np.float32(1 / 0.35)) ** 2)) * (rl3 > 1.0)
    okf = np.broadcast_to(ok, (K, H, W))
    fi = flat[okf]
    np.maximum.at(M.excl.ravel(), fi, ex[okf].astype(np.float32))
    np.maximum.at(M.nrim.ravel(), fi, rim[okf].astype(np.float32))


_SPOTS_LABELS = tuple(lab for lab in LABELS if LABEL_EXTRAS[lab]["spots"] > 0)
_SPOTS_MEAN = np.array([LABEL_EXTRAS[lab]["spots"] for lab in _SPOTS_LABELS])


def _spots(cv, g, rng, gains, w_cyto, w_nuc, zlo, zhi, zlo_n, zhi_n, s):
    """Label-only puncta (no refractive index): aggregates, vesicles, nuclear bodies."""
    px = cv.px
    n_spots = rng.poisson(_SPOTS_MEAN * (s * s)).tolist()
    counts = dict(zip(_SPOTS_LABELS, n_spots))
    for comp, w, lo_m, hi_m in (("cytoplasm", w_cyto, zlo, zhi), ("nucleus", w_nuc, zlo_n, zhi_n)):
        labs = [lab for lab in counts if LABEL_EXTRAS[lab]["compartment"] == comp]
        n = sum(counts[lab] for lab in labs)
        y, x, idx = _sample(g, rng, w, n, px)
        frac = rng.uniform(0.15, 0.85, n)
        bright = _lognormal(rng, 0.6, n) * 2.0
        if idx.size < n or n == 0:
            continue
        z = lo_m.ravel()[idx] + frac * (hi_m.ravel()[idx] - lo_m.ravel()[idx])
        w = bright * 0.12
        k = 0
        for lab in labs:
            c = counts[lab]
            if c and lab in cv.lab and gains[lab] > 0:
                j = slice(k, k + c)
                cv.defer("spots", lab, (y[j], x[j], z[j], gains[lab] * w[j]))
            k += c


# ---------------------------------------------------------------------------------------
# Field-wide maps: every cell writes its geometry and parameters (on the pixels it owns);
# the densities are then evaluated once over the whole field (fast: few large arrays
# instead of many small ones)
# ---------------------------------------------------------------------------------------

_MAP_DEFAULTS = {
    # cell body
    "f": 0.0,  # soft footprint
    "z0c": 0.0,  # bottom of the cell (um above the coverslip)
    "z1c": 0.0,  # top of the cell
    "cyto": 1.0,  # cytoplasm density
    # nucleus (or chromosomes, or nuclear fragments)
    "fn": 0.0,
    "z0n": 0.0,
    "z1n": 0.0,
    "tn": 0.0,  # half thickness
    "rhon": 2.0,  # normalized radius (< 1 inside)
    "nzc": 0.0,  # centre height
    "ncz": 1.0,  # half height
    "nbn": 1.0,  # short semi-axis (um)
    "dna_level": 0.48,
    "condense": 0.0,
    "plate": 0.0,  # 1 for mitotic chromosomes
    "dead": 0.0,  # 1 for the nuclear fragments of a dead cell
    "env": 0.0,  # nuclear envelope density
    # ER: f * clip(er_a + er_b * network + er_c, 0, 1)
    "er_a": 0.0,
    "er_b": 0.0,
    "er_c": 0.0,
    # actin
    "actin": 1.0,  # cortex strength
    "junction": 0.0,  # apical junctional belt
    "ring": 0.0,  # contractile ring
    "cone": 0.0,  # growth cones
    # for the thin structures traced after all cells are drawn
    "rb": 2.0,  # the cell body's footprint metric (rho_body)
    "zmid": 0.0,  # height of the microtubules of spread cells
}


class _Maps:
    def __init__(self, cv):
        for k, v in _MAP_DEFAULTS.items():
            setattr(self, k, np.full(cv.YX, v, np.float32))
        sh = cv.shape if cv.is3d else cv.YX
        self.excl = np.zeros(sh, np.float32)  # nucleoli exclude chromatin
        self.nrim = np.zeros(sh, np.float32)  # perinucleolar chromatin
        self.owner = np.zeros(cv.YX, np.int32)

    def put(self, g, mask, **vals):
        for k, v in vals.items():
            np.copyto(getattr(self, k)[g.sl], v, where=mask, casting="unsafe")


class _Nuc:
    """A nucleus (or chromosome plate, or nuclear fragment): footprint and height range."""


def _nucleus_geometry(cv, g, f, ncy, ncx, an, bn, nang, cz, zc, harm=True):
    nu = _Nuc()
    nharm = _harmonics(g.rng, 4, 0.03) if harm else None
    nu.rhon, _, _ = _ellipse_rho(g.y, g.x, ncy, ncx, an, bn, nang, nharm)
    nu.fn = _soft(nu.rhon, bn / cv.px) * f
    nu.t = cz * np.sqrt(np.clip(1.0 - nu.rhon * nu.rhon, 0.0, 1.0))
    nu.z0n = zc - nu.t
    nu.z1n = zc + nu.t
    nu.ncy, nu.ncx, nu.an, nu.bn, nu.nang, nu.cz, nu.zc = ncy, ncx, an, bn, nang, cz, zc
    return nu


def _put_nucleus(M, g, nu, **params):
    """Write a nucleus into the maps where it is denser than what is there already."""
    m = (nu.fn > 0) & (nu.fn > M.fn[g.sl])
    M.put(
        g,
        m,
        fn=nu.fn,
        z0n=nu.z0n,
        z1n=nu.z1n,
        tn=nu.t,
        rhon=nu.rhon,
        nzc=nu.zc,
        ncz=nu.cz,
        nbn=nu.bn,
        **params,
    )


def _nucleoli(cv, M, g, nu, gains, *, scale=1.0, fade=0.0):
    """1 to 4 dense nucleoli inside a nucleus (drawn directly; they also exclude chromatin)."""
    px = cv.px
    rng = g.rng
    ct = g.ct
    zz = g.zz
    gran = cv.texture("granular", g) if cv.is3d else None
    nn = int(rng.integers(ct.nucleoli[0], ct.nucleoli[1] + 1))
    for _ in range(nn):
        r = (
            ct.nucleolus_radius_um
            * math.sqrt(g.plan.scale)
            * math.exp(0.25 * rng.standard_normal())
        )
        r *= scale
        rr = 0.5 * math.sqrt(rng.uniform())
        ph = rng.uniform(0, 2 * math.pi)
        uu, vv = rr * nu.an * math.cos(ph), rr * nu.bn * math.sin(ph)
        ly = nu.ncy + uu * math.sin(nu.nang) + vv * math.cos(nu.nang)
        lx = nu.ncx + uu * math.cos(nu.nang) - vv * math.sin(nu.nang)
        zl = nu.zc + float(np.clip(0.3 * rng.standard_normal(), -0.4, 0.4)) * nu.cz
        asp = math.exp(0.15 * rng.standard_normal())
        lang = rng.uniform(0, math.pi)
        bright = float(_lognormal(rng, 0.3))
        if r < 0.2:
            continue
        ra, rb, rz = r * math.sqrt(asp), r / math.sqrt(asp), 0.85 * r
        sub = _Sub(g, cv, ly, lx, max(ra, rb) + 1.0)
        if sub.empty:
            continue
        if not cv.is3d:  # 2D: drawn for all cells at once (_flush_deferred)
            params = (ly, lx, ra, rb, lang, zl, rz, fade, gains["nucleoli"] * bright)
            cv.defer("nucleolus", g.plan.id, (sub.sl, nu.fn[sub.loc].copy(), params))
            continue
        rl, _, _ = _ellipse_rho(sub.y, sub.x, ly, lx, ra, rb, lang)
        fl = _soft(rl, rb / px) * nu.fn[sub.loc]
        tl = rz * np.sqrt(np.clip(1.0 - rl * rl, 0.0, 1.0))
        gl = gran[..., sub.loc[0], sub.loc[1]]
        lvl = 0.85 * (1.0 - fade)
        dl = fl * (lvl + 0.12 * gl)
        cv.layer(
            "nucleoli",
            sub,
            dl,
            zl - tl,
            zl + tl,
            gain=gains["nucleoli"] * bright,
            d_mean=fl * np.float32(lvl),
        )
        rl3 = np.sqrt(rl * rl + ((zz - zl) / rz) ** 2)
        if cv.is3d:
            e = M.excl[sub.zs, sub.sl[0], sub.sl[1]]
            nr = M.nrim[sub.zs, sub.sl[0], sub.sl[1]]
        else:
            e = M.excl[sub.sl]
            nr = M.nrim[sub.sl]
        np.maximum(e, _soft(rl3, rb / px) * (1.0 - fade), out=e)
        np.maximum(nr, np.exp(-(((rl3 - 1.0) * rb / 0.35) ** 2)) * (rl3 > 1.0), out=nr)


def _draw_spread(cv, M, g, gains):
    """Interphase and prophase cells (and neurons)."""
    ct, rng, plan = g.ct, g.rng, g.plan
    px = cv.px
    s = plan.scale
    pro = plan.state == "prophase"
    prog = plan.progress
    cy, cx = plan.center_um
    a, b, ang = g.a, g.b, g.angle
    a0 = 0.5 * ct.diameter_um * s  # nominal size (colony cells are carved by neighbours)
    f = g.f
    # -- nucleus geometry -------------------------------------------------------------
    an = min(0.5 * ct.nucleus_fraction * ct.diameter_um * s, 0.85 * a)
    bn = min(an / max(ct.nucleus_aspect * math.exp(0.1 * rng.standard_normal()), 1.0), 0.8 * b)
    an = max(an, bn)
    ou = float(np.clip(ct.nucleus_offset * rng.standard_normal(), -1, 1)) * max(a0 - an, 0.0) * 0.8
    ov = float(np.clip(ct.nucleus_offset * rng.standard_normal(), -1, 1)) * max(b - bn, 0.0) * 0.5
    ncy = cy + ou * math.sin(ang) + ov * math.cos(ang)
    ncx = cx + ou * math.cos(ang) - ov * math.sin(ang)
    nang = ang + 0.15 * rng.standard_normal()
    cz = 0.5 * ct.nucleus_height_um * math.sqrt(s) * (1.08 if pro else 1.0)
    zc = 0.5 + cz
    nu = _nucleus_geometry(cv, g, f, ncy, ncx, an, bn, nang, cz, zc)
    fn, z0n, z1n, rhon = nu.fn, nu.z0n, nu.z1n, nu.rhon
    # -- height of the cell: body profile, a dome over the nucleus --------------------
    rn2 = rhon * np.float32(1 / 1.4)
    body = (ct.body_height_um * math.sqrt(s) * (1.15 if pro else 1.0)) * np.sqrt(
        np.clip(1.0 - g.rho_body**ct.edge_sharpness, 0.0, 1.0)
    )
    # the cell rises smoothly over the nucleus (no cliff where the dome meets the body)
    dome = (zc + cz + 0.8) * np.clip(1.0 - rn2 * rn2, 0.0, 1.0) ** 0.6
    z1c = np.maximum(body, dome)
    cone = None
    if g.neur is not None:
        tube = 1.1 * np.sqrt(np.clip(1.0 - g.rho_neurite**2, 0.0, 1.0))
        cone = _soft(g.rho_cone, 1.3 / px)
        z1c = np.maximum(z1c, np.maximum(tube, 0.5 * np.sqrt(np.clip(1.0 - g.rho_cone**2, 0, 1))))
    z1c = np.maximum(z1c, (z1n + 0.3) * (fn > 0.01))
    z1c = np.where(f > 0, np.maximum(z1c, 0.3), 0.0).astype(np.float32)
    z0c = np.zeros_like(z1c)
    # -- ER parameters: a reticulum densest around the nucleus -------------------------
    dpos = np.clip((rhon - 1.0) * bn, 0.0, None)
    decay = np.exp(-dpos / max(0.35 * a0, 3.0))
    sheet = np.exp(-((dpos / 1.0) ** 2))
    mask = f > 0
    M.put(
        g,
        mask,
        f=f,
        z0c=z0c,
        z1c=z1c,
        er_a=0.08 * decay,
        er_b=0.95 * decay,
        er_c=0.25 * sheet,
        actin=1.0,
        junction=ct.junction_actin,
        owner=plan.id,
    )
    if cone is not None:
        M.put(g, mask, cone=0.6 * cone * f)
    cond = (0.3 + 0.6 * prog) if pro else 0.0
    _put_nucleus(M, g, nu, dna_level=0.48, condense=cond, env=1.0, plate=0.0, dead=0.0)
    _nucleoli(
        cv,
        M,
        g,
        nu,
        gains,
        scale=(1.0 - 0.5 * prog) if pro else 1.0,
        fade=0.6 * prog if pro else 0.0,
    )
    # -- organelles in the cytoplasm --------------------------------------------------
    thick_c = np.maximum(z1c - z0c - fn * (z1n - z0n), 0.0)
    over = fn > 0.5
    zlo = np.where(over, z1n, z0c)
    zhi = z1c
    w_cyto = f * (f > 0.5) * thick_c * (0.3 + decay)
    nscale = s * s
    _mito(
        cv,
        g,
        rng,
        gains,
        w_cyto,
        zlo,
        zhi,
        ct.n_mitochondria * nscale,
        ct.mito_length_um,
        ncy,
        ncx,
        px,
    )
    # microtubules from the centrosome, next to the nucleus on the side of the cell centre
    dy, dx = cy - ncy, cx - ncx
    dn = math.hypot(dy, dx)
    phi_c = math.atan2(dy, dx) if dn > 0.5 else rng.uniform(0, 2 * math.pi)
    cu, cvv = math.cos(phi_c - nang), math.sin(phi_c - nang)
    rdir = 1.0 / math.sqrt((cu / an) ** 2 + (cvv / bn) ** 2)
    M.put(g, mask, rb=g.rho_body, zmid=np.where(over, 0.5 * (z1n + z1c), 0.45 * z1c))
    n_mt = ct.n_microtubules * s
    max_len = 1.3 * a
    if pro:  # two centrosomes separating around the nucleus
        for sgn in (-1.0, 1.0):
            ph = phi_c + sgn * (0.5 + 1.2 * prog)
            ry = ncy + (rdir + 0.7) * math.sin(ph)
            rx = ncx + (rdir + 0.7) * math.cos(ph)
            _astral(cv, g, rng, gains, ry, rx, zc, n_mt / 2, max_len, px, True)
            _centrosome_spot(cv, rng, gains, ry, rx, zc)
    else:
        csy = ncy + (rdir + 0.7) * math.sin(phi_c)
        csx = ncx + (rdir + 0.7) * math.cos(phi_c)
        _astral(cv, g, rng, gains, csy, csx, zc, n_mt, max_len, px, True)
        _centrosome_spot(cv, rng, gains, csy, csx, zc)
    # actin stress fibres with focal adhesions at their ends, and peripheral adhesions
    fib = ct.n_stress_fibres * nscale * (0.4 if pro else 1.0)
    _stress_fibres(cv, g, rng, gains, fib, cy, cx, a0, b, ang, ct.fibre_alignment, px)
    n_fa = int(round(ct.n_focal_adhesions * nscale * (0.5 if pro else 1.0)))
    _peripheral_fas(cv, g, rng, gains, n_fa, cy, cx, px)
    if g.neur is not None:
        _draw_neurites(cv, g, rng, gains, px)
    _granules(cv, g, rng, w_cyto, zlo, zhi, ct.n_granules * nscale, px)
    _spots(cv, g, rng, gains, w_cyto, fn * (fn > 0.5), zlo, zhi, z0n, z1n, s)
    return fn


def _draw_neurites(cv, g, rng, gains, px):
    """Microtubule bundles and mitochondria along neurites; adhesions in growth cones."""
    paths, tips, width = g.neur
    for py, pxs, th in paths:
        m = py.size
        k = 5
        off = 0.18 * width * rng.standard_normal((k, 1))
        yy = py[None, :] + off * np.cos(th)[None, :]
        xx = pxs[None, :] - off * np.sin(th)[None, :]
        keep = _lookup(g, g.f, yy, xx, px) > 0.3
        cv.points(
            "microtubules",
            yy[keep],
            xx[keep],
            0.55,
            0.5 * _XS["neurite_mt"],
            gain=gains["microtubules"],
        )
        nm = int(rng.poisson(m * 0.5 / 4.0))  # a mitochondrion every ~4 um
        if nm:
            j = rng.integers(0, m, nm)
            ln = rng.uniform(0.8, 2.0, nm)
            t = np.linspace(-0.5, 0.5, 8)[None, :] * ln[:, None]
            my = py[j][:, None] + np.sin(th[j])[:, None] * t
            mx = pxs[j][:, None] + np.cos(th[j])[:, None] * t
            vol = np.broadcast_to((ln / 7 * _XS["mitochondria"])[:, None], my.shape)
            cv.points("mitochondria", my, mx, 0.5, vol, gain=gains["mitochondria"])
    for ccy, ccx, th in g.cones:
        n = 3
        ang = th + rng.uniform(-1.0, 1.0, n)
        ye = ccy + 1.6 * np.sin(ang)
        xe = ccx + 1.6 * np.cos(ang)
        _focal_adhesion(cv, rng, gains, ye, xe, ang, rng.uniform(0.6, 1.2, n), px)


def _plate(g, cv, cyp, cxp, a_p, b_p, c_p, zc, ang, curve=0.0):
    """A chromosome plate: a knobby flattened ellipsoid, as a _Nuc."""
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
    nu = _Nuc()
    nu.rhon = rho
    nu.fn = _soft(rho, a_p / cv.px) * g.f
    nu.t = c_p * np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0))
    nu.z0n = zc - nu.t
    nu.z1n = zc + nu.t
    nu.zc, nu.cz, nu.bn = zc, c_p, a_p
    return nu


def _rounded_heights(g, f, rz, zc, px):
    hh = rz * np.sqrt(np.clip(1.0 - g.rho * g.rho, 0.0, 1.0))
    z1c = np.where(f > 0, np.maximum(zc + hh, 0.3), 0.0).astype(np.float32)
    z0c = np.where(f > 0, np.clip(zc - hh, 0.0, None), 0.0).astype(np.float32)
    z0c = np.maximum(np.minimum(z0c, z1c - 0.2), 0.0)
    return z0c, z1c


def _draw_mitotic(cv, M, g, gains):
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
    z0c, z1c = _rounded_heights(g, f, rz, zc, px)
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
            nu = _plate(g, cv, pcy, pcx, a_p, b_p, c_p, zc, ang, curve)
            _put_nucleus(M, g, nu, dna_level=0.9, condense=0.0, env=0.0, plate=1.0, dead=0.0)
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
            vol = np.broadcast_to((seg * _XS["microtubules"])[:, None], yy.shape)
            cv.points("microtubules", yy, xx, zt, vol, gain=gains["microtubules"])
            th = ang + (0.0 if sgn > 0 else math.pi) + rng.uniform(-1.3, 1.3, int(12 * s))
            _astral(cv, g, rng, gains, poy, pox, zc, th.size, 0.8 * R, px, False, theta=th)
            _centrosome_spot(cv, rng, gains, poy, pox, zc)
        if st == "anaphase":  # interpolar microtubules in the midzone
            k = int(14 * s)
            vk = rng.normal(0, 0.18 * R, k)
            span = 0.5 * plates[0][2] + 1.0 + 0.42 * R * p
            t = np.linspace(-1, 1, 30)[None, :] * span
            yy = cy + t * sa + vk[:, None] * ca
            xx = cx + t * ca - vk[:, None] * sa
            vol = 2 * span / 29 * _XS["microtubules"]
            cv.points("microtubules", yy, xx, zc, vol, gain=gains["microtubules"])
    else:  # telophase: two daughter nuclei re-forming, a midbody
        for sgn in (-1.0, 1.0):
            dcy = cy + sgn * (g.lobe_d + 0.1 * g.lobe_r) * sa
            dcx = cx + sgn * (g.lobe_d + 0.1 * g.lobe_r) * ca
            nu = _nucleus_geometry(
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
            _put_nucleus(
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
        vol = 1.5 * g.lobe_d / 23 * _XS["microtubules"]
        cv.points("microtubules", yy, xx, zc * 0.8, vol, gain=gains["microtubules"])
        for sgn in (-1.0, 1.0):
            ccy = cy + sgn * (g.lobe_d + 0.45 * g.lobe_r) * sa
            ccx = cx + sgn * (g.lobe_d + 0.45 * g.lobe_r) * ca
            _astral(cv, g, rng, gains, ccy, ccx, zc, int(14 * s), 0.6 * g.lobe_r, px, False)
    thick = np.maximum(z1c - z0c, 0.0)
    w_cyto = f * (f > 0.5) * thick * (1.0 - 0.8 * spindle) * (1.0 - nuc2d)
    nscale = s * s
    _mito(
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
        _peripheral_fas(cv, g, rng, gains, 3, cy, cx, px, lo=0.0, hi=0.45)
    _granules(cv, g, rng, w_cyto, z0c, z1c, ct.n_granules * nscale, px)
    _spots(cv, g, rng, gains, w_cyto, w_cyto, z0c, z1c, z0c, z1c, s)
    return nuc2d


def _draw_dead(cv, M, g, gains):
    """A dead cell: shrunken, rounded, blebbing, with a fragmented dense nucleus."""
    ct, rng, plan = g.ct, g.rng, g.plan
    px = cv.px
    s = plan.scale
    cy, cx = plan.center_um
    R = g.R
    f = g.f
    zc = 0.85 * R
    z0c, z1c = _rounded_heights(g, f, R, zc, px)
    M.put(
        g,
        f > 0,
        f=f,
        z0c=z0c,
        z1c=z1c,
        er_a=0.0,
        er_b=0.4,
        er_c=0.0,
        actin=0.8,
        junction=0.0,
        owner=plan.id,
    )
    nfrag = int(rng.integers(1, 5))
    nuc2d = np.zeros_like(f)
    for _ in range(nfrag):  # pyknosis and karyorrhexis: dense nuclear fragments
        rf = 0.55 * R * rng.uniform(0.6, 1.0) / nfrag ** (1 / 3)
        ph = rng.uniform(0, 2 * math.pi)
        rr = (0.0 if nfrag == 1 else 0.35 * R) * rng.uniform(0.5, 1.0)
        fy, fx = cy + rr * math.sin(ph), cx + rr * math.cos(ph)
        fz = float(np.clip(zc + 0.15 * R * rng.standard_normal(), rf + 0.1, None))
        bf = rf * rng.uniform(0.8, 1.0)
        nu = _nucleus_geometry(cv, g, f, fy, fx, rf, bf, rng.uniform(0, math.pi), bf, fz)
        _put_nucleus(M, g, nu, dna_level=0.95, condense=0.0, env=0.0, plate=0.0, dead=1.0)
        nuc2d = np.maximum(nuc2d, nu.fn)
    thick = np.maximum(z1c - z0c, 0.0)
    w = f * (f > 0.5) * thick
    # fragmented, clumped mitochondria; actin clumps; many refractile granules
    _mito(
        cv,
        g,
        rng,
        gains,
        w,
        z0c,
        z1c,
        ct.n_mitochondria * s * s * 0.6,
        0.35,
        cy,
        cx,
        px,
        radial=3.0,
    )
    k = int(rng.integers(2, 6))
    y, x, idx = _sample(g, rng, w, k, px)
    if idx.size:
        z = 0.5 * (z0c.ravel()[idx] + z1c.ravel()[idx])
        cv.points("actin", y, x, z, 0.08, gain=gains["actin"])
    _granules(cv, g, rng, w, z0c, z1c, 3 * ct.n_granules * s * s, px)
    _spots(cv, g, rng, gains, w, w, z0c, z1c, z0c, z1c, s)
    return nuc2d


class _Full:
    """The field (or the box ``sl`` of it) as one 'cell box' for the field-wide layers."""

    def __init__(self, cv, z_hi, sl=None):
        Y, X = cv.YX
        self.sl = (slice(0, Y), slice(0, X)) if sl is None else sl
        self.y0, self.x0 = self.sl[0].start, self.sl[1].start
        if cv.is3d:
            k1 = min(int(math.ceil((z_hi + cv.coverslip) / cv.dz)) + 2, cv.shape[0])
            self.zs = slice(0, max(k1, 1))
            self.zz = cv.zc[self.zs][:, None, None]
        else:
            self.zs = None
            self.zz = np.float32(cv.focus)


def _contacts(owner):
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


def _bbox(keep, margin):
    """Slices of the rows and columns where ``keep`` is true, widened by ``margin``."""
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, keep.shape[0])),
        slice(max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, keep.shape[1])),
    )


class _MapsView:
    """The field-wide maps cropped to a box (views)."""

    def __init__(self, M, sl, is3d):
        for k, v in M.__dict__.items():
            if is3d and k in ("excl", "nrim"):
                setattr(self, k, v[:, sl[0], sl[1]])
            else:
                setattr(self, k, v[sl])


def _render(cv, M, gmap):
    """Evaluate the cell-body and nucleus densities over the field (the box holding all
    cells, with a margin for the gradients of the footprint), once."""
    px = cv.px
    keep = M.f > 0
    if not keep.any():
        return
    sl = _bbox(keep, 2)
    M = _MapsView(M, sl, cv.is3d)
    gmap = {k: v[sl] for k, v in gmap.items()}
    z_hi = float(M.z1c.max())
    G = _Full(cv, z_hi, sl)
    if cv.is3d:

        def tex(name):
            return cv.noise(name)[G.zs, sl[0], sl[1]]
    else:

        def tex(name):
            return cv.noise(name)[sl]

    f, z0c, z1c = M.f, M.z0c, M.z1c
    # lateral membrane: the outline of the footprint and the contacts between cells
    gy, gx = np.gradient(f)
    edge = np.sqrt(gy * gy + gx * gx) * np.float32(1.3)
    edge = np.maximum(edge, np.float32(0.8) * _contacts(M.owner))
    np.clip(edge, 0.0, 1.0, out=edge)
    thick = np.clip(z1c - z0c, 0.0, np.inf)
    # -- the cell column: cytoplasm, ER, lateral membrane and cortex ------------------
    gran = tex("granular")
    d_c = f * M.cyto
    dm_c = d_c * np.float32(0.92)
    d_c = d_c * (np.float32(0.92) + np.float32(0.05) * gran)
    net = np.exp(-((tex("er") * np.float32(1 / 0.28)) ** 2))
    d_er = f * np.clip(M.er_a + M.er_b * net + M.er_c, 0.0, 1.0)
    dm_er = f * (M.er_a + np.float32(0.23) * M.er_b + M.er_c)
    cyto_extra = {
        lab: gmap[lab] * np.float32(LABEL_EXTRAS[lab]["diffuse"])
        for lab in cv.labels
        if LABEL_EXTRAS[lab]["compartment"] == "cytoplasm" and LABEL_EXTRAS[lab]["diffuse"] > 0
    }
    actin_lat = np.clip(np.float32(0.9) * M.actin * edge, -np.inf, 1.0) + M.ring * f
    # the cortex is as dense as drawn, but its fluorescence is patchy (label only: local
    # enrichment, bleaching, fluorophore brightness), which no transmitted light shows
    ga = gmap.get("actin")
    ga_cortex = None
    if ga is not None:
        patch = np.exp(np.float32(0.9) * tex("chromatin_coarse") - np.float32(0.405))
        ga_cortex = {"actin": np.float32(0.55) * ga * patch}
    cv.layers(
        G,
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
    s_top = np.sqrt(1.0 + _grad_mag(z1c, px) ** 2)
    cap = np.minimum(np.float32(0.35) * s_top, thick)
    cv.layers(
        G,
        z1c - cap,
        z1c,
        [
            ("membrane", f, gmap.get("membrane"), None, None, None),
            ("actin", np.float32(0.35) * M.actin * f, None, None, None, ga_cortex),
        ],
    )
    s_bot = np.sqrt(1.0 + _grad_mag(z0c, px) ** 2)
    capb = np.minimum(np.float32(0.35) * s_bot, thick)
    cv.layers(
        G,
        z0c,
        z0c + capb,
        [
            ("membrane", f, gmap.get("membrane"), None, None, None),
            ("actin", np.float32(0.25) * M.actin * f, None, None, None, ga_cortex),
        ],
    )
    if (M.junction > 0).any():
        lo = np.maximum(z1c - 2.2, z0c)
        hi = np.maximum(z1c - 0.7, z0c)
        cv.layers(G, lo, hi, [("actin", M.junction * edge, None, None, None, ga_cortex)])
    if (M.cone > 0).any():
        z0 = np.zeros_like(M.cone)
        cv.layer("actin", G, M.cone, z0, z0 + np.float32(0.45), gain=gmap.get("actin"))
    # -- nuclei: chromatin texture, condensed chromosomes, dead fragments -------------
    if not (M.fn > 0).any():
        return
    # the nuclei: a smaller box
    s2 = _bbox(M.fn > 0, 2)
    M = _MapsView(M, s2, cv.is3d)
    gmap = {k: v[s2] for k, v in gmap.items()}
    e2 = (Ellipsis, *s2)
    d_c, dm_c, d_er, dm_er = d_c[e2], dm_c[e2], d_er[e2], dm_er[e2]
    cyto_extra = {k: v[e2] for k, v in cyto_extra.items()}
    sl = tuple(slice(a.start + b.start, a.start + b.stop) for a, b in zip(sl, s2))
    G = _Full(cv, z_hi, sl)
    fn = M.fn
    zz = G.zz
    excl = M.excl[G.zs] if cv.is3d else M.excl
    nrim = M.nrim[G.zs] if cv.is3d else M.nrim
    rho3 = np.sqrt(M.rhon * M.rhon + ((zz - M.nzc) / M.ncz) ** 2)
    rim = np.exp(-((np.clip(1.0 - rho3, 0, None) * M.nbn * np.float32(2.0)) ** 2)) * (rho3 <= 1.0)
    tf = tex("chromatin")
    d = M.dna_level + np.float32(0.11) * tf + np.float32(0.08) * tex("chromatin_coarse")
    d += np.float32(0.2) * rim
    d = d * (1.0 - np.float32(0.85) * excl) + np.float32(0.15) * nrim
    if (M.condense > 0).any():
        threads = np.exp(-((tex("chromosome") * np.float32(1 / 0.55)) ** 2))
        d = (1.0 - M.condense) * d + M.condense * (np.float32(0.12) + np.float32(0.88) * threads)
    special = (M.plate > 0) | (M.dead > 0)
    if special.any():
        knob = np.clip(np.float32(0.8) + np.float32(0.3) * tex("chromosome"), 0.4, 1.0)
        dead_d = np.clip(np.float32(0.92) + np.float32(0.08) * tf, 0.0, 1.0)
        d = np.where(M.plate > 0, knob, d)
        d = np.where(M.dead > 0, dead_d, d)
    d = np.clip(d, 0.03, 1.0) * fn
    dmean = fn * np.where(special, M.dna_level, M.dna_level + 0.1 + 0.1 * M.condense)
    normal = fn * (1.0 - M.plate) * (1.0 - M.dead)
    nuc_extra = {
        lab: gmap[lab] * np.float32(LABEL_EXTRAS[lab]["diffuse"])
        for lab in cv.labels
        if LABEL_EXTRAS[lab]["compartment"] == "nucleus" and LABEL_EXTRAS[lab]["diffuse"] > 0
    }
    entries = [
        ("dna", d, gmap.get("dna"), None, dmean, None),
        ("dead", fn * M.dead, gmap.get("dead"), None, None, None),
        (None, normal, None, None, None, nuc_extra),
        # what the nucleus displaces: the ER and the cytoplasmic label pools (the
        # cytoplasm density itself is the background of the whole cell, nucleus included)
        (None, -d_c * fn, None, None, -dm_c * fn, cyto_extra),
        ("er", -d_er * fn, gmap.get("er"), None, -dm_er * fn, None),
    ]
    if "nucleoli" in gmap and (M.plate > 0).any():
        # fibrillarin coats mitotic chromosomes (the perichromosomal layer): label only
        entries.append((None, d * M.plate, None, None, None, {"nucleoli": 0.25 * gmap["nucleoli"]}))
    cv.layers(G, M.z0n, M.z1n, entries)
    # the nuclear envelope: thin shells on the top and bottom surfaces of the nucleus
    sn = np.sqrt(1.0 + _grad_mag(M.tn, px) ** 2)
    capn = np.minimum(np.float32(0.3) * sn, M.tn)
    env = M.env * fn
    if (env > 0).any():
        ge = gmap.get("nuclear_envelope")
        cv.layer("nuclear_envelope", G, env, M.z1n - capn, M.z1n, gain=ge)
        cv.layer("nuclear_envelope", G, env, M.z0n, M.z0n + capn, gain=ge)


# ---------------------------------------------------------------------------------------
# Building a specimen
# ---------------------------------------------------------------------------------------


def _check_shape(shape) -> tuple[int, ...]:
    try:
        shp = tuple(int(v) for v in shape)
        if any(float(v) != int(v) for v in shape):
            raise ValueError
    except (TypeError, ValueError) as exc:
        raise TypeError(f"shape: expected a tuple of 2 or 3 integers, got {shape!r}") from exc
    if len(shp) not in (2, 3):
        raise ValueError(
            f"shape: expected (Y, X) for a 2D field or (Z, Y, X) for a 3D field, got {shape!r} "
            f"({len(shp)} dimensions)"
        )
    if any(v <= 0 for v in shp):
        raise ValueError(f"shape: expected positive sizes, got {shape!r}")
    if min(shp[-2:]) < 8:
        raise ValueError(f"shape: expected at least 8 x 8 pixels in (Y, X), got {shape!r}")
    return shp


def _check_labels(labels) -> tuple[str, ...]:
    if labels is None:
        return LABELS
    if isinstance(labels, str):
        labels = (labels,)
    out = []
    for lab in labels:
        check_choice(lab, "label", LABELS)
        if lab not in out:
            out.append(lab)
    return tuple(out)


def build_specimen(
    shape,
    *,
    seed: int,
    cell_types=("epithelial",),
    n_cells: int | None = None,
    states=None,
    pixel_size_um: float = 0.3,
    z_step_um: float = 0.5,
    focus_um: float | None = None,
    slab_um: float = 1.0,
    coverslip_um: float = 1.0,
    labels=None,
    drop_cells=(),
    plans: Sequence[CellPlan] | None = None,
    field_um: tuple[float, float] | None = None,
    origin_um: tuple[float, float] = (0.0, 0.0),
    shift_um: tuple[float, float] = (0.0, 0.0),
) -> Specimen:
    """Draw a field of cells: structure densities, label intensities and masks.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` for one focal plane or ``(Z, Y, X)`` for a volume.
    seed : int
        Random seed (same seed: bit-identical specimen).
    cell_types, n_cells, states
        See :func:`plan_cells`.
    pixel_size_um, z_step_um : float
        Grid spacing in micrometres.
    focus_um : float, optional
        2D: focal plane height above the coverslip (default: the mean ``focus_um`` of the
        cell types, mid-nucleus).
    slab_um : float
        2D: thickness of the focal slab that the in-focus densities average over (the
        depth of field; the field uses the fluorescence PSF's).
    coverslip_um : float
        3D: the coverslip surface lies this far above plane 0.
    labels : sequence of str, optional
        Labels to compute intensities for (default all :data:`LABELS`); densities of all
        structures are always computed (they set the refractive index).
    drop_cells : sequence of int
        Ids of cells not to draw; every other cell stays bit-identical (their footprints are
        decided with all cells present, so the dropped cell leaves background behind).
    plans : sequence of CellPlan, optional
        Explicit cells (e.g. a time-lapse); then ``cell_types``, ``n_cells`` and ``states``
        are ignored.
    field_um, origin_um : tuple of float, optional
        Plan the cells for a field of this size (um) whose top-left corner sits at
        ``origin_um`` in the grid (default: the whole grid). Used to draw a margin around
        the field without changing where the cells are.
    shift_um : tuple of float
        Move the whole specimen (cells and textures) by ``(dy, dx)`` micrometres: a stage
        drift in a time-lapse.

    Returns
    -------
    Specimen

    Examples
    --------
    >>> sp = build_specimen((128, 128), seed=1, n_cells=4)
    >>> sp.densities["dna"].shape, int(sp.cell_mask.max()) <= 4
    ((128, 128), True)
    """
    shp = _check_shape(shape)
    px = check_positive(pixel_size_um, "pixel_size_um")
    dz = check_positive(z_step_um, "z_step_um")
    slab = check_positive(slab_um, "slab_um")
    cov = float(coverslip_um)
    labs = _check_labels(labels)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed: expected a non-negative integer, got {seed!r}")
    drop = set()
    for c in drop_cells:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"drop_cells: expected integer cell ids, got {c!r}")
        drop.add(int(c))
    if field_um is None:
        field_um = (shp[-2] * px, shp[-1] * px)
    if plans is None:
        plans = plan_cells(
            field_um, seed=int(seed), cell_types=cell_types, n_cells=n_cells, states=states
        )
    else:
        plans = list(plans)
        for pl in plans:
            check_choice(pl.cell_type, "cell type", CELL_TYPES)
            check_choice(pl.state, "state", STATES)
    oy = float(origin_um[0]) + float(shift_um[0])
    ox = float(origin_um[1]) + float(shift_um[1])
    if oy or ox:
        plans = [replace(p, center_um=(p.center_um[0] + oy, p.center_um[1] + ox)) for p in plans]
    types_used = sorted({pl.cell_type for pl in plans}) or list(_check_cell_types(cell_types))
    if focus_um is None:
        focus = float(np.mean([CELL_TYPES[t].focus_um for t in types_used]))
    else:
        focus = float(focus_um)
    cv = _Canvas(shp, px, dz, focus, slab, cov, labs, int(seed), shift_um)
    # pass 1: geometry of every planned cell, and the ownership of every pixel
    geoms = []
    best = np.full(cv.YX, np.inf, np.float32)
    owner = np.zeros(cv.YX, np.int32)
    for pl in plans:
        g = _geometry(pl, cv)
        if g is None:
            continue
        c = g.rho * np.float32(g.prio)
        reach = g.rho < 1.0 + 2.0 / max(g.rpx, 1.0)
        b = best[g.sl]
        m = reach & (c < b)
        b[m] = c[m]
        owner[g.sl][m] = pl.id
        geoms.append(g)
    # pass 2: each kept cell writes its maps and draws its thin structures
    M = _Maps(cv)
    drawn = []
    for g in geoms:
        pl = g.plan
        if pl.id in drop:
            continue
        f = _soft(g.rho, g.rpx) * (owner[g.sl] == pl.id)
        if not (f > 0.5).any():
            continue
        loc = _crop(g, cv, f > 0)
        g.f = f[loc].astype(np.float32)
        # expression from its own stream: the same in every state of the cell
        gains = _expression(_rng_for(*(pl.expression_seed or pl.seed), 99))
        if pl.state != "dead":
            gains["dead"] = 0.0
        if g.kind == "spread":
            _draw_spread(cv, M, g, gains)
        elif g.kind == "dead":
            _draw_dead(cv, M, g, gains)
        else:
            _draw_mitotic(cv, M, g, gains)
        drawn.append((pl, gains))
    _flush_deferred(cv, M)
    # per-pixel expression level of every label (the owner cell's)
    n_id = max([pl.id for pl, _ in drawn], default=0) + 1
    gmap = {}
    for lab in labs:
        table = np.zeros(n_id, np.float32)
        for pl, gains in drawn:
            table[pl.id] = gains[lab]
        gmap[lab] = table[M.owner]
    _render(cv, M, gmap)
    cv.finish_points()
    cells = _masks_and_cells(cv, M, drawn)
    # densities in [0, 1]; intensities and path lengths non-negative
    # (in place: the canvas' accumulators are not used again)
    dens = {k: np.clip(v, 0.0, 1.0, out=v) for k, v in cv.acc.items()}
    labs_out = {k: np.clip(v, 0.0, np.inf, out=v) for k, v in cv.lab.items()}
    path = (
        None if cv.path is None else {k: np.clip(v, 0.0, np.inf, out=v) for k, v in cv.path.items()}
    )
    lpath = (
        None
        if cv.lab_path is None
        else {k: np.clip(v, 0.0, np.inf, out=v) for k, v in cv.lab_path.items()}
    )
    return Specimen(
        shape=shp,
        pixel_size_um=px,
        z_step_um=dz,
        focus_um=focus,
        slab_um=slab,
        coverslip_um=cov,
        densities=dens,
        path_um=path,
        labels=labs_out,
        label_path_um=lpath,
        cell_mask=cv.cell_mask,
        nucleus_mask=cv.nucleus_mask,
        cells=cells,
    )


def _masks_and_cells(cv, M, drawn) -> list[CellInfo]:
    """Instance masks (2D footprints or 3D volumes) and the CellInfo list."""
    px = cv.px
    cm2 = np.where(M.f >= 0.5, M.owner, 0).astype(np.int32)
    nm2 = np.where((M.fn >= 0.5) & (cm2 > 0), M.owner, 0).astype(np.int32)
    if cv.is3d:
        zc = cv.zc[:, None, None]
        h = np.float32(0.5 * cv.dz)

        def inside(z0, z1):
            return (np.minimum(z1, zc + h) - np.maximum(z0, zc - h)) >= h

        cv.cell_mask = np.where(inside(M.z0c, M.z1c), cm2, 0).astype(np.int32)
        cv.nucleus_mask = np.where(inside(M.z0n, M.z1n) & (cv.cell_mask > 0), nm2, 0).astype(
            np.int32
        )
    else:
        cv.cell_mask = cm2
        cv.nucleus_mask = nm2
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
