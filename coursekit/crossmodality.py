"""Physical targets for cross-modality lectures: the optical path and phase of a 2D field.

The virtual microscope computes the optical path difference (OPD) of every 2D field to
image it in transmitted light, but a :class:`~coursekit.microscope.Field` does not keep
it. :func:`optical_path_map` redraws the same specimen (same seed, same arguments, same
padding as :func:`~coursekit.microscope.simulate_field`) and returns that map, so that a
lecture can train a network from bright field to a *physical* quantity (quantitative
phase, or dry mass, which is proportional to it).

Examples
--------
>>> from coursekit.crossmodality import optical_path_map
>>> opd = optical_path_map((64, 64), seed=0, n_cells=1)
>>> opd.shape, bool(opd.max() > 0)
((64, 64), True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = ["optical_path_map", "phase_map", "DRY_MASS_PG_PER_UM3_PER_OPD"]

#: Specific refraction increment of protein, about 0.18 um^3/pg (Barer 1952; Zangle &
#: Teitell 2014, Nat Methods 11:1221): dry mass surface density (pg/um^2) = OPD (um) / 0.18.
DRY_MASS_PG_PER_UM3_PER_OPD = 1 / 0.18


def optical_path_map(
    shape,
    *,
    seed: int,
    cell_types=("epithelial",),
    n_cells: int | None = None,
    states=None,
    pixel_size_um: float = 0.3,
    delta_n: Mapping[str, float] | None = None,
    drop_cells=(),
    margin_px: int = 7,
    shift_um: tuple[float, float] = (0.0, 0.0),
    focus_um: float | None = None,
) -> np.ndarray:
    """The optical path difference of the field ``simulate_field(shape, seed=seed, ...)``.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` in pixels (2D fields only: a 3D field's refractive index is a volume;
        project it with :func:`coursekit.microscope.optics.phase_from_ri`).
    seed, cell_types, n_cells, states, pixel_size_um, delta_n, drop_cells, margin_px, shift_um, focus_um
        The same values as given to :func:`~coursekit.microscope.simulate_field` (the
        labels, modality and camera do not change the specimen).

    Returns
    -------
    numpy.ndarray
        float32 ``(Y, X)``, micrometres: ``sum_s delta_n[s] * path_s`` over the
        structures, 0 in the medium. The phase delay is ``2 pi / wavelength`` times it.

    Examples
    --------
    >>> opd = optical_path_map((64, 64), seed=0, n_cells=1)
    >>> float(opd.min()) >= 0.0
    True
    """
    from coursekit.microscope import optics
    from coursekit.microscope.field import _check_delta_n, _pad_len
    from coursekit.microscope.specimen import build_specimen

    try:
        shp = tuple(int(s) for s in shape)
    except TypeError as exc:
        raise TypeError(f"shape: expected (Y, X) in pixels, got {shape!r}") from exc
    if len(shp) != 2 or min(shp) < 1:
        raise ValueError(
            f"shape: expected a 2D (Y, X) shape in pixels, got {shape!r}; for a 3D field use "
            "coursekit.microscope.optics.phase_from_ri on its refractive index"
        )
    Y, X = shp
    px = float(pixel_size_um)
    PY, PX = _pad_len(Y, margin_px), _pad_len(X, margin_px)
    oy, ox = (PY - Y) // 2, (PX - X) // 2
    # the focal slab as simulate_field sets it (it moves labels, not the specimen's path)
    sz_ref, _ = optics.fluorescence_psf_sigmas(0.52, 0.8, optics.N_MEDIUM)
    spec = build_specimen(
        (PY, PX),
        seed=seed,
        cell_types=cell_types,
        n_cells=n_cells,
        states=states,
        pixel_size_um=px,
        focus_um=focus_um,
        slab_um=math.sqrt(2 * math.pi) * sz_ref,
        labels=("dna",),  # labels do not change the specimen, only what is drawn of it
        drop_cells=drop_cells,
        field_um=(Y * px, X * px),
        origin_um=(oy * px, ox * px),
        shift_um=shift_um,
    )
    opd = spec.optical_path_um(_check_delta_n(delta_n))
    return np.ascontiguousarray(opd[oy : oy + Y, ox : ox + X], dtype=np.float32)


def phase_map(shape, *, seed: int, wavelength_um: float = 0.55, **specimen_kwargs) -> np.ndarray:
    """The phase delay (radians) of a 2D field: ``2 pi / wavelength * optical_path_map``.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)``.
    seed : int
    wavelength_um : float
        Vacuum wavelength of the transmitted light (the simulator's default, 0.55 um).
    **specimen_kwargs
        As for :func:`optical_path_map`.

    Returns
    -------
    numpy.ndarray
        float32 ``(Y, X)`` in radians.

    Examples
    --------
    >>> phi = phase_map((64, 64), seed=0, n_cells=1)
    >>> phi.dtype.name
    'float32'
    """
    if not float(wavelength_um) > 0:
        raise ValueError(f"wavelength_um: expected a positive wavelength, got {wavelength_um!r}")
    opd = optical_path_map(shape, seed=seed, **specimen_kwargs)
    return (2 * np.pi / float(wavelength_um) * opd).astype(np.float32)
