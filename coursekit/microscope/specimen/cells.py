"""What a cell is before it is drawn (:class:`CellPlan`), after (:class:`CellInfo`), and the
drawn field (:class:`Specimen`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from coursekit.microscope.specimen.constants import DELTA_N


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
