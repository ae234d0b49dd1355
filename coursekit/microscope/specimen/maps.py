"""Field-wide maps: every cell writes its geometry and parameters on the pixels it owns;
the densities are then evaluated once over the whole field (few large arrays instead of
many small ones)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from coursekit.microscope.specimen.geometry import ellipse_rho, outline_harmonics, soft_inside

# Default chromatin density of an interphase nucleus (before texture): 0.48 of the DNA
# increment, so that the textured interphase chromatin spans about 0.35 to 0.65 (see
# DELTA_N["dna"] in constants).
INTERPHASE_DNA_LEVEL = 0.48

# Outline irregularity of nuclei: harmonics up to order 4 with amplitude 0.03 (a look).
NUCLEUS_HARMONICS_ORDER = 4
NUCLEUS_HARMONICS_AMPLITUDE = 0.03


def _full(shape, value, dtype=np.float32):
    return np.full(shape, value, dtype)


@dataclass(eq=False)
class FieldMaps:
    """Per-pixel parameters of the cell bodies and nuclei, written by each cell on the
    pixels it owns and rendered once (:func:`~.render.render_bodies_and_nuclei`).

    Every map is float32 ``(Y, X)`` except ``owner`` (int32 ``(Y, X)``) and the two
    nucleolus maps, which are ``(Z, Y, X)`` in 3D. Heights are micrometres above the
    coverslip. Build one with :meth:`empty`.
    """

    # cell body
    footprint: np.ndarray  # soft footprint of the cell, 0 to 1
    cell_bottom_um: np.ndarray
    cell_top_um: np.ndarray
    cytoplasm: np.ndarray  # cytoplasm density (1 everywhere inside a cell)
    # nucleus (or chromosome plates, or nuclear fragments)
    nucleus: np.ndarray  # soft footprint of the nucleus
    nucleus_bottom_um: np.ndarray
    nucleus_top_um: np.ndarray
    nucleus_half_thickness_um: np.ndarray
    nucleus_rho: np.ndarray  # normalized radius in the nucleus' outline (< 1 inside)
    nucleus_center_z_um: np.ndarray
    nucleus_half_height_um: np.ndarray
    nucleus_semi_minor_um: np.ndarray
    dna_level: np.ndarray  # mean chromatin density before texture
    condense: np.ndarray  # 0 to 1: chromatin condensing into threads (prophase, telophase)
    plate: np.ndarray  # 1 for mitotic chromosomes
    dead: np.ndarray  # 1 for the nuclear fragments of a dead cell
    envelope: np.ndarray  # nuclear envelope density
    # ER: footprint * clip(er_base + er_network * network + er_sheet, 0, 1)
    er_base: np.ndarray
    er_network: np.ndarray
    er_sheet: np.ndarray
    # actin
    cortex_actin: np.ndarray  # cortex strength
    junction_actin: np.ndarray  # apical junctional belt (epithelia)
    ring_actin: np.ndarray  # contractile ring (anaphase, telophase)
    growth_cone: np.ndarray  # growth cones (neurons)
    # for the thin structures traced after all cells are drawn
    body_rho: np.ndarray  # the cell body's footprint metric
    microtubule_height_um: np.ndarray  # height of the microtubules of spread cells
    owner: np.ndarray  # id of the cell owning each pixel (0: background)
    nucleolus_exclusion: np.ndarray  # nucleoli exclude chromatin ((Z, Y, X) in 3D)
    perinucleolar_rim: np.ndarray  # perinucleolar chromatin ((Z, Y, X) in 3D)

    @classmethod
    def empty(cls, canvas) -> FieldMaps:
        """Maps for a canvas, every pixel at its background value."""
        yx = canvas.YX
        volume = canvas.shape if canvas.is3d else yx
        zeros = dict.fromkeys(
            (
                "footprint",
                "cell_bottom_um",
                "cell_top_um",
                "nucleus",
                "nucleus_bottom_um",
                "nucleus_top_um",
                "nucleus_half_thickness_um",
                "nucleus_center_z_um",
                "condense",
                "plate",
                "dead",
                "envelope",
                "er_base",
                "er_network",
                "er_sheet",
                "junction_actin",
                "ring_actin",
                "growth_cone",
                "microtubule_height_um",
            ),
            0.0,
        )
        ones = dict.fromkeys(
            ("cytoplasm", "nucleus_half_height_um", "nucleus_semi_minor_um", "cortex_actin"), 1.0
        )
        # outside any outline (rho >= 1); 2 keeps divisions by it finite
        outside = dict.fromkeys(("nucleus_rho", "body_rho"), 2.0)
        values = {**zeros, **ones, **outside, "dna_level": INTERPHASE_DNA_LEVEL}
        return cls(
            **{k: _full(yx, v) for k, v in values.items()},
            owner=np.zeros(yx, np.int32),
            nucleolus_exclusion=np.zeros(volume, np.float32),
            perinucleolar_rim=np.zeros(volume, np.float32),
        )

    def put(self, cell, mask, **values):
        """Write ``values`` (map name -> array over the cell's box, or a number) where
        ``mask`` is true in the cell's box."""
        for name, value in values.items():
            np.copyto(getattr(self, name)[cell.box], value, where=mask, casting="unsafe")

    def cropped(self, box, is3d: bool) -> FieldMaps:
        """The maps cropped to ``box`` (a pair of slices), as views."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v[:, box[0], box[1]] if (is3d and v.ndim == 3) else v[box]
        return FieldMaps(**out)


@dataclass(eq=False)
class NucleusGeometry:
    """A nucleus (or chromosome plate, or nuclear fragment) over a cell's box: its outline
    metric, soft footprint and height range (micrometres above the coverslip)."""

    rho: np.ndarray  # normalized radius (< 1 inside)
    footprint: np.ndarray
    half_thickness_um: np.ndarray
    bottom_um: np.ndarray
    top_um: np.ndarray
    center_z_um: float
    half_height_um: float
    semi_major_um: float
    semi_minor_um: float
    center_y_um: float = 0.0
    center_x_um: float = 0.0
    angle: float = 0.0


def nucleus_geometry(
    canvas,
    cell,
    cell_footprint,
    center_y_um,
    center_x_um,
    semi_major_um,
    semi_minor_um,
    angle,
    half_height_um,
    center_z_um,
    irregular=True,
) -> NucleusGeometry:
    """An (irregular) ellipsoidal nucleus inside ``cell_footprint``."""
    harmonics = (
        outline_harmonics(cell.rng, NUCLEUS_HARMONICS_ORDER, NUCLEUS_HARMONICS_AMPLITUDE)
        if irregular
        else None
    )
    rho, _, _ = ellipse_rho(
        cell.y_um,
        cell.x_um,
        center_y_um,
        center_x_um,
        semi_major_um,
        semi_minor_um,
        angle,
        harmonics,
    )
    half = half_height_um * np.sqrt(np.clip(1.0 - rho * rho, 0.0, 1.0))
    return NucleusGeometry(
        rho=rho,
        footprint=soft_inside(rho, semi_minor_um / canvas.px) * cell_footprint,
        half_thickness_um=half,
        bottom_um=center_z_um - half,
        top_um=center_z_um + half,
        center_z_um=center_z_um,
        half_height_um=half_height_um,
        semi_major_um=semi_major_um,
        semi_minor_um=semi_minor_um,
        center_y_um=center_y_um,
        center_x_um=center_x_um,
        angle=angle,
    )


def put_nucleus(field_maps, cell, nucleus, **params):
    """Write a nucleus into the maps where it is denser than what is there already."""
    m = (nucleus.footprint > 0) & (nucleus.footprint > field_maps.nucleus[cell.box])
    field_maps.put(
        cell,
        m,
        nucleus=nucleus.footprint,
        nucleus_bottom_um=nucleus.bottom_um,
        nucleus_top_um=nucleus.top_um,
        nucleus_half_thickness_um=nucleus.half_thickness_um,
        nucleus_rho=nucleus.rho,
        nucleus_center_z_um=nucleus.center_z_um,
        nucleus_half_height_um=nucleus.half_height_um,
        nucleus_semi_minor_um=nucleus.semi_minor_um,
        **params,
    )


class FieldBox:
    """The field (or the box ``box`` of it) as one 'cell box' for the field-wide layers."""

    def __init__(self, canvas, top_um, box=None):
        Y, X = canvas.YX
        self.box = (slice(0, Y), slice(0, X)) if box is None else box
        self.row0, self.col0 = self.box[0].start, self.box[1].start
        if canvas.is3d:
            k1 = min(int(math.ceil((top_um + canvas.coverslip) / canvas.dz)) + 2, canvas.shape[0])
            self.planes = slice(0, max(k1, 1))
            self.heights_um = canvas.zc[self.planes][:, None, None]
        else:
            self.planes = None
            self.heights_um = np.float32(canvas.focus)
