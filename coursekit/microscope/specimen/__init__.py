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

from coursekit.microscope.specimen.build import build_specimen, check_labels, check_shape
from coursekit.microscope.specimen.cell_types import CELL_TYPES, CellType
from coursekit.microscope.specimen.cells import CellInfo, CellPlan, Specimen
from coursekit.microscope.specimen.constants import (
    DEFAULT_STATE_PROBABILITIES,
    DELTA_N,
    EXPRESSION,
    LABEL_EXTRAS,
    LABELS,
    MITOTIC_STATES,
    STATES,
    STRUCTURES,
)
from coursekit.microscope.specimen.geometry import blur_xy
from coursekit.microscope.specimen.organelles import draw_expression
from coursekit.microscope.specimen.planning import plan_cells

# The package's modules, by job:
#   constants        labels, structures, states, delta_n (with sources), expression, sizes
#   cell_types       CellType profiles and CELL_TYPES
#   cells            CellPlan, CellInfo, Specimen
#   planning         plan_cells: which cells, where, in which state
#   geometry         small geometry and random-texture helpers
#   canvas           the accumulators of densities and label intensities (layers, points)
#   footprint        pass 1: each cell's box, footprint and ownership of pixels
#   maps             the field-wide maps every cell writes its parameters into
#   organelles       mitochondria, microtubules, actin, adhesions, puncta, nucleoli
#   tracing          thin structures traced for all cells at once
#   cell_interphase  whole interphase / prophase cells (and neurites)
#   cell_mitotic     whole metaphase / anaphase / telophase cells
#   cell_dead        whole dead cells
#   render           the maps rendered to densities, label intensities and masks
#   build            build_specimen

# names other coursekit modules imported from the single-file specimen module
_check_shape = check_shape
_check_labels = check_labels
_blur_xy = blur_xy
_expression = draw_expression

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
