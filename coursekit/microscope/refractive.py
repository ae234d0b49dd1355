"""The specimen as a refractive-index map: densities to refractive index, and the phase
delay of a thin (projected) object. Lengths in micrometres, wavelengths in vacuum; see
:mod:`coursekit.microscope.optics` for the sign conventions."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from coursekit._validation import check_array, check_positive, describe

__all__ = ["N_MEDIUM", "refractive_index", "phase_from_ri", "phase_disk"]

N_MEDIUM = 1.337  # cell culture medium


# ---------------------------------------------------------------------------
# refractive index and phantoms
# ---------------------------------------------------------------------------


def refractive_index(
    densities: Mapping[str, np.ndarray],
    delta_n: Mapping[str, float],
    n_medium: float = N_MEDIUM,
) -> np.ndarray:
    """Refractive index from structure densities.

    ``n = n_medium + sum_s delta_n[s] * density_s``.

    Parameters
    ----------
    densities : dict of str to ndarray
        One density map per structure, all with the same shape (2D ``(Y, X)`` or 3D
        ``(Z, Y, X)``), usually in ``[0, 1]``. Boolean masks are accepted.
    delta_n : dict of str to float
        Refractive-index increment of each structure at density 1 (e.g. 0.02 for
        nucleoli). Must have an entry for every key of ``densities``; extra entries are
        ignored.
    n_medium : float
        Refractive index of the surrounding medium (1.337 for culture medium).

    Returns
    -------
    numpy.ndarray
        float32, same shape as the densities.

    Raises
    ------
    ValueError
        For no densities, mismatched shapes or a structure without a ``delta_n`` entry.

    Examples
    --------
    >>> import numpy as np
    >>> nucleus = np.zeros((4, 4), np.float32); nucleus[1:3, 1:3] = 1
    >>> n = refractive_index({"dna": nucleus}, {"dna": 0.01})
    >>> round(float(n.max() - n.min()), 4)
    0.01
    """
    if not isinstance(densities, Mapping):
        raise TypeError(f"densities: expected a dict of name -> array, got {describe(densities)}")
    if not isinstance(delta_n, Mapping):
        raise TypeError(f"delta_n: expected a dict of name -> float, got {describe(delta_n)}")
    if len(densities) == 0:
        raise ValueError("densities: expected at least one structure, got an empty dict")
    n_m = check_positive(n_medium, "n_medium")
    missing = [name for name in densities if name not in delta_n]
    if missing:
        known = ", ".join(map(repr, delta_n)) or "none"
        raise ValueError(
            f"no delta_n for structure(s) {', '.join(map(repr, missing))}; delta_n has {known}"
        )
    out = None
    shape = None
    first = None
    for name, density in densities.items():
        d = check_array(density, f"densities[{name!r}]", allow_int=True)
        dn = float(delta_n[name])
        if not math.isfinite(dn):
            raise ValueError(f"delta_n[{name!r}]: expected a finite number, got {delta_n[name]!r}")
        if shape is None:
            shape, first = d.shape, name
            out = np.full(shape, n_m, dtype=np.float32)
        elif d.shape != shape:
            raise ValueError(
                f"all densities must have the same shape: {first!r} has {shape}, {name!r} has "
                f"{d.shape}"
            )
        if dn != 0.0:
            out += np.float32(dn) * d.astype(np.float32, copy=False)
    return out


def phase_from_ri(
    ri_volume,
    *,
    dz_um: float,
    wavelength_um: float = 0.55,
    n_medium: float = N_MEDIUM,
) -> np.ndarray:
    """Projected phase delay of a thick object (thin-object approximation).

    ``phi(y, x) = 2 pi / wavelength * sum_z (n(z, y, x) - n_medium) * dz``.

    Parameters
    ----------
    ri_volume : ndarray, shape (Z, Y, X)
        Refractive index.
    dz_um : float
        Slice thickness in micrometres.
    wavelength_um : float
        Vacuum wavelength in micrometres.
    n_medium : float
        Refractive index of the medium.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(Y, X)``, radians (positive where the object is denser).

    Examples
    --------
    >>> import numpy as np
    >>> ri = np.full((10, 8, 8), 1.337, np.float32); ri[:, 2:6, 2:6] = 1.347
    >>> phi = phase_from_ri(ri, dz_um=0.5, wavelength_um=0.5)
    >>> round(float(phi.max()), 3)  # 2 pi * 0.01 * 5 um / 0.5 um
    0.628
    """
    ri = check_array(ri_volume, "ri_volume", ndim=3)
    dz = check_positive(dz_um, "dz_um")
    lam = check_positive(wavelength_um, "wavelength_um")
    n_m = check_positive(n_medium, "n_medium")
    opd = (ri.astype(np.float32, copy=False) - np.float32(n_m)).sum(axis=0, dtype=np.float64) * dz
    return (2.0 * np.pi / lam * opd).astype(np.float32)


def phase_disk(
    shape: tuple[int, int],
    *,
    radius_px: float,
    phase_rad: float,
    center: tuple[float, float] | None = None,
    profile: str = "flat",
    edge_px: float = 1.0,
) -> np.ndarray:
    """A disk-shaped phase phantom for tests and lectures.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)``.
    radius_px : float
        Disk radius in pixels.
    phase_rad : float
        Peak phase in radians (positive: denser than the medium).
    center : tuple of float, optional
        ``(y, x)`` in pixels; the image centre by default.
    profile : {"flat", "sphere"}
        ``"flat"``: a uniform disk (a thin slab); ``"sphere"``: the projection of a uniform
        sphere, ``phase_rad * sqrt(1 - r**2 / radius**2)``.
    edge_px : float
        Width of the linear anti-aliased edge of the flat disk in pixels (0 for a hard edge).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(Y, X)``, radians.

    Examples
    --------
    >>> p = phase_disk((64, 64), radius_px=8, phase_rad=0.1)
    >>> p.shape, float(p.max())
    ((64, 64), 0.10000000149011612)
    """
    if len(shape) != 2:
        raise ValueError(f"shape: expected (Y, X), got {shape!r}")
    ny, nx = (int(s) for s in shape)
    if ny < 1 or nx < 1:
        raise ValueError(f"shape: expected positive sizes, got {shape!r}")
    r0 = check_positive(radius_px, "radius_px")
    edge = check_positive(edge_px, "edge_px", allow_zero=True)
    cy, cx = ((ny - 1) / 2.0, (nx - 1) / 2.0) if center is None else (float(c) for c in center)
    yy, xx = np.ogrid[:ny, :nx]
    r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    if profile == "flat":
        if edge > 0:
            w = np.clip((r0 - r) / edge + 0.5, 0.0, 1.0)
        else:
            w = (r <= r0).astype(np.float64)
    elif profile == "sphere":
        w = np.sqrt(np.clip(1.0 - (r / r0) ** 2, 0.0, None))
    else:
        raise ValueError(f"unknown profile {profile!r}; expected one of 'flat', 'sphere'")
    return (float(phase_rad) * w).astype(np.float32)
