"""Cell-type profiles: the parameters the cells of a type are drawn from."""

from __future__ import annotations

from dataclasses import dataclass


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
