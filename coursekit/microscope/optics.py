"""Image formation: from refractive index to transmitted-light and fluorescence images.

Everything here is computed from physics, nothing is drawn by hand:

- :func:`refractive_index` turns structure densities into a refractive-index map,
  ``n = n_medium + sum_s delta_n[s] * density_s``;
- :func:`phase_from_ri` projects it into the phase delay of a thin object;
- :func:`brightfield_thin` and :func:`brightfield_stack` form bright-field images of a thin
  (projected) or thick (multi-slice) object with partially coherent illumination;
- :func:`phase_contrast_thin` and :func:`phase_contrast_stack` do the same through a
  Zernike phase ring, so halos and shade-off appear by themselves;
- :func:`dic_thin` forms a differential interference contrast image (sheared interference);
- :func:`fluorescence_psf_sigmas` and :func:`blur` give the Gaussian approximation of the
  widefield fluorescence point-spread function.

Conventions
-----------
Lengths, wavelengths and pixel sizes are in micrometres; spatial frequencies in cycles per
micrometre. Wavelengths are vacuum wavelengths. A plane wave travelling along +z is
``exp(+i k z)`` (time factor ``exp(-i w t)``), so an object that is optically denser than
the medium has a *positive* phase ``phi = 2 pi / wavelength * integral (n - n_medium) dz``
and transmits ``t = amplitude * exp(+i phi)``. A positive defocus ``dz`` images the plane
``dz`` micrometres *beyond* the object along the direction of the light; a positive (denser)
phase object acts as a weak converging lens, so it looks bright at ``+dz`` and dark at
``-dz`` and is nearly invisible in focus.

All images are intensities relative to the background (an empty field gives exactly 1).
Computation uses float32 / complex64 and single-threaded FFTs (``scipy.fft``, ``workers=1``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from coursekit._validation import check_array, check_int, check_positive, describe

__all__ = [
    "refractive_index",
    "phase_from_ri",
    "phase_disk",
    "brightfield_thin",
    "brightfield_stack",
    "phase_contrast_thin",
    "phase_contrast_stack",
    "dic_thin",
    "illumination_frequencies",
    "fluorescence_psf_sigmas",
    "blur",
]

N_MEDIUM = 1.337  # cell culture medium


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def _check_optics(
    wavelength_um, na_objective, n_medium, na_condenser=None
) -> tuple[float, float, float, float]:
    lam = check_positive(wavelength_um, "wavelength_um")
    n_m = check_positive(n_medium, "n_medium")
    if n_m < 1.0:
        raise ValueError(f"n_medium: expected a refractive index >= 1, got {n_medium!r}")
    na_o = check_positive(na_objective, "na_objective")
    if na_o >= n_m:
        raise ValueError(
            f"na_objective must be smaller than n_medium ({n_m}), got {na_objective!r}: "
            "a numerical aperture cannot exceed the refractive index light travels in"
        )
    na_c = 0.0
    if na_condenser is not None:
        na_c = check_positive(na_condenser, "na_condenser", allow_zero=True)
        if na_c >= n_m:
            raise ValueError(
                f"na_condenser must be smaller than n_medium ({n_m}), got {na_condenser!r}"
            )
    return lam, na_o, n_m, na_c


def _check_n_illumination(n_illumination) -> int:
    return check_int(n_illumination, "n_illumination", minimum=1)


def _as_planes(values, name: str) -> tuple[float, ...]:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a number or a 1D sequence of numbers, got {values!r}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite values, got {values!r}")
    return tuple(float(v) for v in arr)


def _check_phase(phase, amplitude) -> tuple[np.ndarray, np.ndarray | None]:
    phase = check_array(phase, "phase", ndim=2, allow_int=True)
    if amplitude is not None:
        amplitude = check_array(amplitude, "amplitude", ndim=2, allow_int=True)
        if amplitude.shape != phase.shape:
            raise ValueError(
                f"phase and amplitude must have the same shape, got {phase.shape} and "
                f"{amplitude.shape}"
            )
        if (amplitude < 0).any():
            raise ValueError("amplitude: expected non-negative transmission amplitudes")
    return phase, amplitude


def _check_voxel(voxel_size_um) -> tuple[float, float, float]:
    try:
        dz, dy, dx = (float(v) for v in voxel_size_um)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"voxel_size_um: expected three numbers (dz, dy, dx) in micrometres, got "
            f"{voxel_size_um!r}"
        ) from exc
    for v, n in ((dz, "dz"), (dy, "dy"), (dx, "dx")):
        check_positive(v, f"voxel_size_um ({n})")
    return dz, dy, dx


def _check_ri_volume(ri_volume) -> np.ndarray:
    ri = check_array(ri_volume, "ri_volume", ndim=3)
    if float(ri.min()) < 1.0 - 1e-6:
        raise ValueError(
            f"ri_volume: expected refractive indices (>= 1), got a minimum of {float(ri.min())}; "
            "pass absolute refractive indices, e.g. from refractive_index(...)"
        )
    return ri


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


# ---------------------------------------------------------------------------
# Fourier-optics machinery
# ---------------------------------------------------------------------------


def _cis(x: np.ndarray) -> np.ndarray:
    """exp(i x) for a real array, as complex64 (cos and sin in float32 are fast)."""
    x = np.asarray(x, dtype=np.float32)
    out = np.empty(x.shape, dtype=np.complex64)
    out.real = np.cos(x)
    out.imag = np.sin(x)
    return out


def _abs2(z: np.ndarray) -> np.ndarray:
    """|z|**2; a contiguous complex64 ``z`` is overwritten (squared in place)."""
    if z.dtype == np.complex64 and z.flags.c_contiguous:
        v = z.view(np.float32)
        np.multiply(v, v, out=v)
        return v[..., 0::2] + v[..., 1::2]
    return z.real * z.real + z.imag * z.imag


@functools.lru_cache(maxsize=32)
def _freq_grid(shape: tuple[int, int], spacing: tuple[float, float]):
    fy = sfft.fftfreq(shape[0], d=spacing[0])[:, None]
    fx = sfft.fftfreq(shape[1], d=spacing[1])[None, :]
    fy.setflags(write=False)
    fx.setflags(write=False)
    return fy, fx


@functools.lru_cache(maxsize=64)
def illumination_frequencies(
    radius_per_um: float, n: int, kind: str = "disk"
) -> tuple[tuple[float, float], ...]:
    """Spatial frequencies ``(fy, fx)`` of the plane waves that model the illumination.

    Partially coherent (Koehler) illumination is approximated by ``n`` mutually incoherent
    plane waves, each carrying the same power.

    Parameters
    ----------
    radius_per_um : float
        ``NA_condenser / wavelength`` in cycles per micrometre (the annulus radius for
        ``kind="annulus"``).
    n : int
        Number of plane waves.
    kind : {"disk", "annulus"}
        ``"disk"`` fills the condenser aperture: one axial wave for ``n == 1``, two opposite
        waves for ``n == 2``, the centre plus a ring of ``n - 1`` waves (at the radius that
        splits the disk into equal areas) up to ``n == 10``, a sunflower pattern beyond.
        ``"annulus"`` puts ``n`` waves evenly on a circle (phase-contrast illumination).

    Returns
    -------
    tuple of (float, float)
    """
    r = float(radius_per_um)
    n = int(n)
    if r <= 0 or (n == 1 and kind == "disk"):
        return ((0.0, 0.0),)
    if kind == "annulus":
        ang = 2 * np.pi * (np.arange(n) + 0.5) / n
        return tuple((float(r * np.sin(a)), float(r * np.cos(a))) for a in ang)
    if kind != "disk":
        raise ValueError(f"unknown illumination kind {kind!r}; expected 'disk' or 'annulus'")
    if n == 2:
        rr = r / np.sqrt(2.0)
        return ((0.0, float(rr)), (0.0, float(-rr)))
    if n <= 10:
        # the centre wave represents the central disk of area 1/n; the ring waves sit at the
        # radius that halves the area of the remaining annulus
        rr = r * np.sqrt((1.0 + 1.0 / n) / 2.0)
        ang = 2 * np.pi * np.arange(n - 1) / (n - 1)
        return ((0.0, 0.0),) + tuple((float(rr * np.sin(a)), float(rr * np.cos(a))) for a in ang)
    golden = np.pi * (3.0 - np.sqrt(5.0))
    k = np.arange(n)
    rad = r * np.sqrt((k + 0.5) / n)
    return tuple(
        (float(a * np.sin(golden * i)), float(a * np.cos(golden * i))) for i, a in zip(k, rad)
    )


def _pupil_values(rho: np.ndarray, spec: tuple) -> np.ndarray:
    """Complex pupil transmission at radial spatial frequency ``rho`` (cycles/um)."""
    kind = spec[0]
    cutoff = spec[1]
    p = (rho <= cutoff).astype(np.complex64)
    if kind == "phase_ring":
        _, _, r_ring, width, amp, ring_phase = spec
        if r_ring > 0:
            in_ring = np.abs(rho - r_ring) <= width / 2.0
        else:
            in_ring = rho <= width / 2.0
        # the ring advances the light that crosses it by ring_phase: exp(-i ring_phase)
        p[in_ring & (rho <= cutoff)] = np.complex64(amp * np.exp(-1j * ring_phase))
    elif kind != "plain":  # pragma: no cover - internal
        raise ValueError(kind)
    return p


def _transfer_uncached(
    shape: tuple[int, int],
    spacing: tuple[float, float],
    k_medium: float,
    f0: tuple[float, float],
    distances: tuple[float, ...],
    pupil: tuple,
    extra: tuple | None = None,
) -> np.ndarray:
    """Pupil x defocus (x optional DIC shear) in the frame of one tilted plane wave.

    Returns complex64 ``(n_planes, Y, X)`` evaluated at the physical frequencies ``g + f0``.
    """
    fy, fx = _freq_grid(shape, spacing)
    gy = fy + f0[0]
    gx = fx + f0[1]
    rho2 = gy * gy + gx * gx
    rho = np.sqrt(rho2)
    p = _pupil_values(rho, pupil)
    if extra is not None:  # DIC: -i sin(pi f.s - bias/2), in units where background = 1
        _, sy, sx, bias = extra
        p = p * (-1j * np.sin(np.pi * (gy * sy + gx * sx) - bias / 2.0)).astype(np.complex64)
    kz = np.sqrt(np.maximum(k_medium**2 - rho2, 0.0))
    kz0 = math.sqrt(max(k_medium**2 - f0[0] ** 2 - f0[1] ** 2, 0.0))
    dk = (kz - kz0).astype(np.float32)
    out = np.empty((len(distances),) + tuple(shape), dtype=np.complex64)
    for i, d in enumerate(distances):
        if d == 0.0:
            out[i] = p
        else:
            np.multiply(p, _cis(np.float32(2 * np.pi * d) * dk), out=out[i])
    return out


_transfer_cached = functools.lru_cache(maxsize=40)(_transfer_uncached)


def _transfer(shape, spacing, k_medium, f0, distances, pupil, extra=None) -> np.ndarray:
    # cache small transfer arrays (<= 2 MB each, <= 80 MB in all): repeated fields reuse them
    if len(distances) * shape[0] * shape[1] <= 4 * 256 * 256:
        out = _transfer_cached(shape, spacing, k_medium, f0, distances, pupil, extra)
        out.setflags(write=False)
        return out
    return _transfer_uncached(shape, spacing, k_medium, f0, distances, pupil, extra)


def _image_thin(
    transmission: np.ndarray,
    spacing: tuple[float, float],
    k_medium: float,
    f0s: Sequence[tuple[float, float]],
    distances: tuple[float, ...],
    pupil: tuple,
    extra: tuple | None = None,
) -> np.ndarray:
    """Incoherent sum over illumination waves of |field|^2, for a thin object."""
    shape = transmission.shape
    spectrum = sfft.fft2(transmission, workers=1)
    acc = np.zeros((len(distances),) + shape, dtype=np.float32)
    for f0 in f0s:
        h = _transfer(shape, spacing, k_medium, f0, distances, pupil, extra)
        field = sfft.ifft2(h * spectrum, axes=(-2, -1), workers=1, overwrite_x=True)
        acc += _abs2(field)
    acc *= np.float32(1.0 / len(f0s))
    return acc


def _background(f0s, distances, pupil, extra, k_medium) -> float:
    """Intensity of an empty field (used to normalize phase contrast and DIC)."""
    vals = []
    for f0 in f0s:
        h = _transfer_uncached((1, 1), (1.0, 1.0), k_medium, f0, (0.0,), pupil, extra)
        vals.append(float(np.abs(h[0, 0, 0]) ** 2))
    return float(np.mean(vals))


def _multislice_exit(
    ri: np.ndarray,
    voxel: tuple[float, float, float],
    wavelength: float,
    n_medium: float,
    f0s: Sequence[tuple[float, float]],
) -> tuple[np.ndarray, float]:
    """Propagate tilted plane waves through a refractive-index volume (beam propagation).

    Each z slice is a thin phase screen at the slice centre ``z_i = i * dz``; between
    screens the field propagates through the medium with the angular spectrum method
    (evanescent waves decay). Slices without any index contrast are skipped (their
    propagation distances merge).

    Returns the spectra ``(n_angles, Y, X)`` of the field at plane ``z_ref`` and ``z_ref``.
    """
    dz, dy, dx = voxel
    shape = ri.shape[1:]
    spacing = (dy, dx)
    k_medium = n_medium / wavelength
    k0dz = np.float32(2.0 * np.pi / wavelength * dz)
    fy, fx = _freq_grid(shape, spacing)
    n_ang = len(f0s)

    # per-angle kz - kz(f0) and evanescent decay
    dks = []
    for f0 in f0s:
        gy = fy + f0[0]
        gx = fx + f0[1]
        rho2 = gy * gy + gx * gx
        arg = k_medium**2 - rho2
        kz = np.sqrt(np.maximum(arg, 0.0))
        kz0 = math.sqrt(max(k_medium**2 - f0[0] ** 2 - f0[1] ** 2, 0.0))
        kappa = np.sqrt(np.maximum(-arg, 0.0))
        dks.append(((kz - kz0).astype(np.float32), kappa.astype(np.float32)))

    prop_cache: dict[float, np.ndarray] = {}

    def propagator(d: float) -> np.ndarray:
        if d not in prop_cache:
            h = np.empty((n_ang,) + shape, np.complex64)
            for a, (dk, kappa) in enumerate(dks):
                h[a] = _cis(np.float32(2 * np.pi * d) * dk)
                h[a] *= np.exp(np.float32(-2 * np.pi * d) * kappa)
            prop_cache[d] = h
        return prop_cache[d]

    n_m = np.float32(n_medium)
    spectrum = None  # None: still the (uniform) incident wave
    z_ref = 0.0
    for i in range(ri.shape[0]):
        contrast = ri[i] - n_m
        if not contrast.any():
            continue
        screen = _cis(k0dz * contrast)
        z = i * dz
        if spectrum is None:
            # the incident wave is uniform in every tilted frame: one FFT for all angles
            spectrum = np.broadcast_to(sfft.fft2(screen, workers=1), (n_ang,) + shape).copy()
        else:
            spectrum *= propagator(z - z_ref)
            field = sfft.ifft2(spectrum, axes=(-2, -1), workers=1, overwrite_x=True)
            field *= screen
            spectrum = sfft.fft2(field, axes=(-2, -1), workers=1, overwrite_x=True)
        z_ref = z
    if spectrum is None:
        spectrum = np.zeros((n_ang,) + shape, np.complex64)
        spectrum[:, 0, 0] = shape[0] * shape[1]
    return spectrum, z_ref


def _image_stack(
    ri_volume,
    voxel_size_um,
    wavelength_um,
    n_medium,
    focal_planes_um,
    f0s,
    pupil,
) -> np.ndarray:
    dz, dy, dx = voxel_size_um
    ri = ri_volume
    if focal_planes_um is None:
        planes = tuple(float(i * dz) for i in range(ri.shape[0]))
    else:
        planes = _as_planes(focal_planes_um, "focal_planes_um")
    spectra, z_ref = _multislice_exit(ri, (dz, dy, dx), wavelength_um, n_medium, f0s)
    shape = ri.shape[1:]
    k_medium = n_medium / wavelength_um
    distances = tuple(p - z_ref for p in planes)
    out = np.zeros((len(planes),) + shape, dtype=np.float32)
    for a, f0 in enumerate(f0s):
        h = _transfer(shape, (dy, dx), k_medium, f0, distances, pupil)
        for p in range(len(planes)):
            field = sfft.ifft2(h[p] * spectra[a], workers=1, overwrite_x=True)
            out[p] += _abs2(field)
    out *= np.float32(1.0 / len(f0s))
    return out


# ---------------------------------------------------------------------------
# bright field
# ---------------------------------------------------------------------------


def brightfield_thin(
    phase,
    *,
    amplitude=None,
    pixel_size_um: float,
    wavelength_um: float = 0.55,
    na_objective: float = 0.4,
    na_condenser: float = 0.2,
    defocus_um=(0.0,),
    n_medium: float = N_MEDIUM,
    n_illumination: int = 5,
) -> np.ndarray:
    """Bright-field images of a thin object at one or several defocus distances.

    The object transmits ``t = amplitude * exp(i phase)``. For each of ``n_illumination``
    mutually incoherent plane waves inside the condenser aperture (partially coherent
    Koehler illumination), the transmitted field is propagated by the angular spectrum
    method to each defocus plane, low-pass filtered by the objective pupil (cut-off
    ``na_objective / wavelength``) and its intensity added. Tilts are handled in the frame of
    each wave (the object spectrum is computed once; pupil and propagator are evaluated at
    the shifted frequencies), so one inverse FFT is done per (wave, plane).

    A weak pure phase object is nearly invisible in focus and its contrast flips sign
    between ``+dz`` and ``-dz`` (positive phase: bright at ``+dz``). A larger condenser NA
    blurs the defocus contrast (less coherent light).

    Parameters
    ----------
    phase : ndarray, shape (Y, X)
        Phase delay in radians (positive where the object is optically denser).
    amplitude : ndarray, shape (Y, X), optional
        Amplitude transmission (1: transparent, ``sqrt(0.9)`` for 10 % absorption).
    pixel_size_um : float
        Pixel size in micrometres (in the sample plane).
    wavelength_um : float
        Vacuum wavelength in micrometres.
    na_objective, na_condenser : float
        Numerical apertures. ``na_condenser == 0`` or ``n_illumination == 1`` gives coherent
        axial illumination; ``na_condenser > na_objective`` adds dark-field light.
    defocus_um : float or sequence of float
        Distances of the imaged planes from the object, along the light.
    n_medium : float
        Refractive index of the medium the light propagates in.
    n_illumination : int
        Number of plane waves sampling the condenser aperture (see
        :func:`illumination_frequencies`); cost grows linearly.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n_defocus, Y, X)``, intensity relative to the incident light
        (an empty field is exactly 1).

    Notes
    -----
    The field is periodic (FFT): objects near an edge interact with the opposite edge. The
    intensity is band-limited to ``2 * na_objective / wavelength``; choose
    ``pixel_size_um <= wavelength / (4 * na_objective)`` to avoid aliasing.

    Examples
    --------
    >>> phi = phase_disk((128, 128), radius_px=8, phase_rad=0.1, profile="sphere")
    >>> img = brightfield_thin(phi, pixel_size_um=0.25, defocus_um=(-2.0, 0.0, 2.0))
    >>> img.shape
    (3, 128, 128)
    >>> inside = phi > 0
    >>> [round(float(plane[inside].mean()), 3) for plane in img]  # dark, invisible, bright
    [0.991, 1.0, 1.008]
    """
    phase, amplitude = _check_phase(phase, amplitude)
    px = check_positive(pixel_size_um, "pixel_size_um")
    lam, na_o, n_m, na_c = _check_optics(wavelength_um, na_objective, n_medium, na_condenser)
    n_ill = _check_n_illumination(n_illumination)
    distances = _as_planes(defocus_um, "defocus_um")
    t = _cis(phase)
    if amplitude is not None:
        t *= amplitude.astype(np.float32, copy=False)
    f0s = illumination_frequencies(na_c / lam, n_ill, "disk")
    return _image_thin(t, (px, px), n_m / lam, f0s, distances, ("plain", na_o / lam))


def brightfield_stack(
    ri_volume,
    *,
    voxel_size_um,
    wavelength_um: float = 0.55,
    na_objective: float = 0.4,
    na_condenser: float = 0.2,
    n_medium: float = N_MEDIUM,
    focal_planes_um=None,
    n_illumination: int = 5,
) -> np.ndarray:
    """Bright-field z-stack of a thick object by multi-slice (beam) propagation.

    Each tilted illumination wave crosses the volume slice by slice: every z slice is a thin
    phase screen ``exp(i 2 pi / wavelength (n - n_medium) dz)`` located at the slice centre,
    and the field propagates between screens through the medium (angular spectrum). The
    field leaving the object is then propagated (back) to each focal plane as the objective
    sees it, filtered by the pupil, and the intensities of all waves are added.

    Parameters
    ----------
    ri_volume : ndarray, shape (Z, Y, X)
        Refractive index (absolute, e.g. 1.337 to 1.40). The light travels along +z
        (increasing slice index).
    voxel_size_um : tuple of float
        ``(dz, dy, dx)`` in micrometres.
    wavelength_um, na_objective, na_condenser, n_medium, n_illumination
        As in :func:`brightfield_thin`.
    focal_planes_um : float or sequence of float, optional
        z positions of the focal planes in micrometres, in the volume's frame where slice
        ``i`` is centred at ``z = i * dz``. Default: every slice centre (a z-stack with the
        same Z as the volume). Planes outside the volume are allowed.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n_planes, Y, X)``, intensity relative to the incident light.

    Examples
    --------
    >>> import numpy as np
    >>> ri = np.full((8, 64, 64), 1.337, np.float32)
    >>> ri[4] += phase_disk((64, 64), radius_px=6, phase_rad=0.02)  # a thin slab
    >>> stack = brightfield_stack(ri, voxel_size_um=(0.5, 0.25, 0.25))
    >>> stack.shape
    (8, 64, 64)
    """
    ri = _check_ri_volume(ri_volume)
    dz, dy, dx = _check_voxel(voxel_size_um)
    lam, na_o, n_m, na_c = _check_optics(wavelength_um, na_objective, n_medium, na_condenser)
    n_ill = _check_n_illumination(n_illumination)
    f0s = illumination_frequencies(na_c / lam, n_ill, "disk")
    return _image_stack(
        ri.astype(np.float32, copy=False),
        (dz, dy, dx),
        lam,
        n_m,
        focal_planes_um,
        f0s,
        ("plain", na_o / lam),
    )


# ---------------------------------------------------------------------------
# phase contrast
# ---------------------------------------------------------------------------


def _phase_ring_setup(
    wavelength_um,
    na_objective,
    n_medium,
    ring_phase,
    ring_transmission,
    ring_radius_frac,
    ring_width_frac,
    ring_width_um_inv,
    n_illumination,
):
    lam, na_o, n_m, _ = _check_optics(wavelength_um, na_objective, n_medium)
    ring_t = check_positive(ring_transmission, "ring_transmission")
    if ring_t > 1:
        raise ValueError(
            f"ring_transmission: expected an intensity transmission in (0, 1], got "
            f"{ring_transmission!r}"
        )
    phi = float(ring_phase)
    if not math.isfinite(phi):
        raise ValueError(f"ring_phase: expected a finite number, got {ring_phase!r}")
    r_frac = check_positive(ring_radius_frac, "ring_radius_frac", allow_zero=True)
    cutoff = na_o / lam
    if ring_width_um_inv is not None:
        width = check_positive(ring_width_um_inv, "ring_width_um_inv")
    else:
        width = check_positive(ring_width_frac, "ring_width_frac") * cutoff
    r_ring = r_frac * cutoff
    if r_ring + width / 2 > cutoff * (1 + 1e-9):
        raise ValueError(
            "the phase ring must fit in the objective pupil: ring_radius_frac + ring width / 2 "
            f"= {(r_ring + width / 2) / cutoff:.3g} of the pupil radius (> 1)"
        )
    n_ill = _check_n_illumination(n_illumination)
    if r_ring > 0:
        f0s = illumination_frequencies(r_ring, n_ill, "annulus")
    else:
        f0s = ((0.0, 0.0),)
    pupil = ("phase_ring", cutoff, r_ring, width, math.sqrt(ring_t), phi)
    return lam, n_m, f0s, pupil, ring_t


def phase_contrast_thin(
    phase,
    *,
    amplitude=None,
    pixel_size_um: float,
    wavelength_um: float = 0.55,
    na_objective: float = 0.4,
    ring_phase: float = np.pi / 2,
    ring_transmission: float = 0.25,
    ring_radius_frac: float = 0.6,
    ring_width_frac: float = 0.15,
    ring_width_um_inv: float | None = None,
    n_illumination: int = 8,
    n_medium: float = N_MEDIUM,
    defocus_um: float = 0.0,
    normalize: bool = True,
) -> np.ndarray:
    """Zernike phase-contrast image of a thin object.

    Physics: an annular condenser aperture illuminates the object with a cone of plane
    waves; the light that the object does not diffract (the zero order of each wave) lands
    on a phase ring in the objective pupil that advances it by ``ring_phase`` and attenuates
    its intensity to ``ring_transmission``. For a weak phase object ``t ~ 1 + i phi``, the
    diffracted part ``i phi`` is then in phase (or anti-phase) with the attenuated direct
    light, so phase becomes intensity: ``I ~ a**2 - 2 a phi sin(ring_phase)`` with
    ``a = sqrt(ring_transmission)``. With the default ``ring_phase = +pi/2`` (positive, or
    dark, phase contrast) objects denser than the medium look *dark*. Because the ring has a
    finite width, the low spatial frequencies diffracted by large objects also cross the
    ring and lose their contrast: the interior of large objects fades towards the
    background (shade-off) and a bright halo surrounds dense objects. Both appear here by
    themselves, not by design.

    Parameters
    ----------
    phase : ndarray, shape (Y, X)
        Phase delay in radians (positive: denser than the medium).
    amplitude : ndarray, shape (Y, X), optional
        Amplitude transmission.
    pixel_size_um : float
        Pixel size in micrometres.
    wavelength_um, na_objective, n_medium : float
        As in :func:`brightfield_thin`.
    ring_phase : float
        Phase advance of the light crossing the ring, radians. ``+pi/2``: positive (dark)
        phase contrast; ``-pi/2``: negative (bright) phase contrast.
    ring_transmission : float
        Intensity transmission of the ring, in ``(0, 1]`` (0.25 by default; real rings
        transmit 10 to 30 %).
    ring_radius_frac : float
        Ring radius as a fraction of the pupil radius ``na_objective / wavelength``; the
        illumination annulus matches it (condenser NA = ``ring_radius_frac * na_objective``).
        0 gives axial illumination and a central phase dot.
    ring_width_frac : float
        Ring width as a fraction of the pupil radius. Wider rings give wider, stronger halos
        around smaller objects... narrower rings give halos that spread further.
    ring_width_um_inv : float, optional
        Ring width in cycles per micrometre; overrides ``ring_width_frac``.
    n_illumination : int
        Number of plane waves on the illumination annulus.
    defocus_um : float
        Defocus in micrometres (as in :func:`brightfield_thin`).
    normalize : bool
        Divide by the background intensity (the ring transmission) so that an empty field is
        1; otherwise intensities are relative to the incident light.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(Y, X)``.

    Examples
    --------
    >>> phi = phase_disk((128, 128), radius_px=8, phase_rad=0.3)
    >>> pc = phase_contrast_thin(phi, pixel_size_um=0.25)
    >>> bool(pc[64, 64] < 1.0)  # a dense object is dark in positive phase contrast
    True
    """
    phase, amplitude = _check_phase(phase, amplitude)
    px = check_positive(pixel_size_um, "pixel_size_um")
    lam, n_m, f0s, pupil, ring_t = _phase_ring_setup(
        wavelength_um,
        na_objective,
        n_medium,
        ring_phase,
        ring_transmission,
        ring_radius_frac,
        ring_width_frac,
        ring_width_um_inv,
        n_illumination,
    )
    distances = _as_planes(defocus_um, "defocus_um")
    if len(distances) != 1:
        raise ValueError(f"defocus_um: expected one number, got {defocus_um!r}")
    t = _cis(phase)
    if amplitude is not None:
        t *= amplitude.astype(np.float32, copy=False)
    out = _image_thin(t, (px, px), n_m / lam, f0s, distances, pupil)[0]
    if normalize:
        out *= np.float32(1.0 / _background(f0s, (0.0,), pupil, None, n_m / lam))
    return out


def phase_contrast_stack(
    ri_volume,
    *,
    voxel_size_um,
    wavelength_um: float = 0.55,
    na_objective: float = 0.4,
    ring_phase: float = np.pi / 2,
    ring_transmission: float = 0.25,
    ring_radius_frac: float = 0.6,
    ring_width_frac: float = 0.15,
    ring_width_um_inv: float | None = None,
    n_illumination: int = 8,
    n_medium: float = N_MEDIUM,
    focal_planes_um=None,
    normalize: bool = True,
) -> np.ndarray:
    """Zernike phase-contrast z-stack of a thick object (multi-slice propagation).

    The object is traversed as in :func:`brightfield_stack`, then imaged through the phase
    ring of :func:`phase_contrast_thin` at each focal plane.

    Parameters
    ----------
    ri_volume : ndarray, shape (Z, Y, X)
        Refractive index.
    voxel_size_um : tuple of float
        ``(dz, dy, dx)`` in micrometres.
    focal_planes_um : float or sequence of float, optional
        As in :func:`brightfield_stack` (default: every slice centre).
    Other parameters
        As in :func:`phase_contrast_thin`.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n_planes, Y, X)`` (background 1 when ``normalize``).

    Examples
    --------
    >>> import numpy as np
    >>> ri = np.full((4, 64, 64), 1.337, np.float32)
    >>> ri[1:3] += phase_disk((64, 64), radius_px=6, phase_rad=0.02)
    >>> phase_contrast_stack(ri, voxel_size_um=(0.5, 0.25, 0.25)).shape
    (4, 64, 64)
    """
    ri = _check_ri_volume(ri_volume)
    dz, dy, dx = _check_voxel(voxel_size_um)
    lam, n_m, f0s, pupil, ring_t = _phase_ring_setup(
        wavelength_um,
        na_objective,
        n_medium,
        ring_phase,
        ring_transmission,
        ring_radius_frac,
        ring_width_frac,
        ring_width_um_inv,
        n_illumination,
    )
    out = _image_stack(
        ri.astype(np.float32, copy=False), (dz, dy, dx), lam, n_m, focal_planes_um, f0s, pupil
    )
    if normalize:
        out *= np.float32(1.0 / _background(f0s, (0.0,), pupil, None, n_m / lam))
    return out


# ---------------------------------------------------------------------------
# DIC
# ---------------------------------------------------------------------------


def dic_thin(
    phase,
    *,
    amplitude=None,
    pixel_size_um: float,
    wavelength_um: float = 0.55,
    na_objective: float = 0.4,
    na_condenser: float = 0.2,
    shear_um: float = 0.2,
    shear_angle_deg: float = 45.0,
    bias_rad: float = np.pi / 2,
    defocus_um: float = 0.0,
    n_medium: float = N_MEDIUM,
    n_illumination: int = 5,
    normalize: bool = True,
) -> np.ndarray:
    """Differential interference contrast (Nomarski) image of a thin object.

    Two copies of the image field, sheared by ``shear_um`` along ``shear_angle_deg`` and
    given a relative phase ``bias_rad``, interfere:
    ``E = (E(r - s/2) exp(i bias/2) - E(r + s/2) exp(-i bias/2)) / 2``. For a weak phase
    object ``I ~ sin^2((bias - s . grad(phi)) / 2)``: a relief ("shadow-cast") image of the
    phase gradient along the shear. Partially coherent illumination as in
    :func:`brightfield_thin`.

    Parameters
    ----------
    phase, amplitude, pixel_size_um, wavelength_um, na_objective, na_condenser, n_medium,
    n_illumination
        As in :func:`brightfield_thin`.
    shear_um : float
        Shear distance in micrometres (typically below the resolution, 0.1 to 0.3).
    shear_angle_deg : float
        Shear direction, degrees counter-clockwise from +x (towards -y, image rows down).
    bias_rad : float
        Bias retardation between the two beams (0: extinction, pi/2: medium grey).
    defocus_um : float
        Defocus in micrometres.
    normalize : bool
        Divide by the background so that an empty field is 1.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(Y, X)``.

    Examples
    --------
    >>> phi = phase_disk((64, 64), radius_px=8, phase_rad=0.5)
    >>> dic_thin(phi, pixel_size_um=0.25).shape
    (64, 64)
    """
    phase, amplitude = _check_phase(phase, amplitude)
    px = check_positive(pixel_size_um, "pixel_size_um")
    lam, na_o, n_m, na_c = _check_optics(wavelength_um, na_objective, n_medium, na_condenser)
    n_ill = _check_n_illumination(n_illumination)
    s = check_positive(shear_um, "shear_um")
    ang = math.radians(float(shear_angle_deg))
    bias = float(bias_rad)
    if not math.isfinite(bias):
        raise ValueError(f"bias_rad: expected a finite number, got {bias_rad!r}")
    distances = _as_planes(defocus_um, "defocus_um")
    if len(distances) != 1:
        raise ValueError(f"defocus_um: expected one number, got {defocus_um!r}")
    # shear vector (sy, sx), image rows point down so "counter-clockwise" is -y
    extra = ("dic", -s * math.sin(ang), s * math.cos(ang), bias)
    t = _cis(phase)
    if amplitude is not None:
        t *= amplitude.astype(np.float32, copy=False)
    f0s = illumination_frequencies(na_c / lam, n_ill, "disk")
    pupil = ("plain", na_o / lam)
    out = _image_thin(t, (px, px), n_m / lam, f0s, distances, pupil, extra)[0]
    if normalize:
        bg = _background(f0s, (0.0,), pupil, extra, n_m / lam)
        if bg > 0:
            out *= np.float32(1.0 / bg)
    return out


# ---------------------------------------------------------------------------
# fluorescence
# ---------------------------------------------------------------------------


def fluorescence_psf_sigmas(
    wavelength_um: float = 0.52, na: float = 0.8, n_medium: float = N_MEDIUM
) -> tuple[float, float]:
    """Standard deviations of the Gaussian approximation of a widefield 3D PSF.

    Uses the least-squares Gaussian fit to the non-paraxial widefield PSF of Zhang, Zerubia
    & Olivo-Marin (2007), *Gaussian approximations of fluorescence microscope point-spread
    function models*, Applied Optics 46(10):1819, with ``alpha = arcsin(NA / n)``,
    ``k = 2 pi / wavelength``, ``c = cos(alpha)``::

        sigma_xy = 1 / (n k) * [(4 - 7 c^1.5 + 3 c^3.5) / (7 (1 - c^1.5))]^(-1/2)
        sigma_z  = 5 sqrt(7) (1 - c^1.5)
                   / (sqrt(6) n k [4 c^5 - 25 c^3.5 + 42 c^2.5 - 25 c^1.5 + 4]^(1/2))

    which tend to the paraxial ``sigma_xy = sqrt(2) / (k NA)`` (about ``0.225 lambda / NA``)
    and ``sigma_z = 2 sqrt(6) n / (k NA^2)`` at small NA.

    Parameters
    ----------
    wavelength_um : float
        Emission wavelength in micrometres.
    na : float
        Numerical aperture of the objective (``< n_medium``).
    n_medium : float
        Refractive index of the immersion / sample medium.

    Returns
    -------
    (float, float)
        ``(sigma_z_um, sigma_xy_um)`` in micrometres.

    Examples
    --------
    >>> sz, sxy = fluorescence_psf_sigmas(0.52, 0.8, 1.33)
    >>> round(sxy, 3), round(sz, 2)
    (0.145, 0.76)
    """
    lam = check_positive(wavelength_um, "wavelength_um")
    n = check_positive(n_medium, "n_medium")
    na_ = check_positive(na, "na")
    if na_ >= n:
        raise ValueError(f"na must be smaller than n_medium ({n}), got {na!r}")
    k = 2.0 * np.pi / lam
    c = math.cos(math.asin(na_ / n))
    if 1.0 - c < 1e-6:  # tiny NA: paraxial limit (avoids 0/0)
        return 2.0 * math.sqrt(6.0) * n / (k * na_**2), math.sqrt(2.0) / (k * na_)
    c15, c25, c35, c5 = c**1.5, c**2.5, c**3.5, c**5
    sigma_xy = 1.0 / (n * k) * ((4 - 7 * c15 + 3 * c35) / (7 * (1 - c15))) ** -0.5
    sigma_z = (
        5.0
        * math.sqrt(7.0)
        * (1 - c15)
        / (math.sqrt(6.0) * n * k * math.sqrt(4 * c5 - 25 * c35 + 42 * c25 - 25 * c15 + 4))
    )
    return float(sigma_z), float(sigma_xy)


def blur(
    volume,
    *,
    sigma_um,
    voxel_size_um,
    truncate: float = 3.0,
    mode: str = "reflect",
) -> np.ndarray:
    """Anisotropic Gaussian blur in physical units (the fluorescence PSF).

    Parameters
    ----------
    volume : ndarray, shape (Y, X) or (Z, Y, X)
        Image or volume (e.g. fluorophore density).
    sigma_um : float or tuple of float
        Gaussian standard deviation(s) in micrometres: one number (isotropic), one per axis,
        or for a 3D volume ``(sigma_z, sigma_xy)`` as returned by
        :func:`fluorescence_psf_sigmas`. 0 leaves an axis unblurred.
    voxel_size_um : float or tuple of float
        Pixel / voxel size in micrometres: one number or one per axis (``(dz, dy, dx)``).
    truncate : float
        Kernel half-width in standard deviations.
    mode : str
        Boundary handling of :func:`scipy.ndimage.gaussian_filter` ("reflect", "constant",
        "nearest", "wrap", ...).

    Returns
    -------
    numpy.ndarray
        float32, same shape as ``volume``. The sum is preserved (away from the borders).

    Examples
    --------
    >>> import numpy as np
    >>> v = np.zeros((9, 32, 32), np.float32); v[4, 16, 16] = 1
    >>> b = blur(v, sigma_um=(0.6, 0.15), voxel_size_um=(0.3, 0.1, 0.1))
    >>> round(float(b.sum()), 3)
    1.0
    """
    vol = check_array(volume, "volume", ndim=(2, 3), allow_int=True)
    nd = vol.ndim

    def per_axis(value, name):
        vals = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if vals.ndim != 1:
            raise ValueError(f"{name}: expected a number or a sequence, got {value!r}")
        if vals.size == 1:
            vals = np.repeat(vals, nd)
        elif nd == 3 and vals.size == 2 and name == "sigma_um":
            vals = np.array([vals[0], vals[1], vals[1]])
        if vals.size != nd:
            raise ValueError(f"{name}: expected 1 or {nd} values for a {nd}D volume, got {value!r}")
        if not np.isfinite(vals).all():
            raise ValueError(f"{name}: expected finite values, got {value!r}")
        return vals

    sig = per_axis(sigma_um, "sigma_um")
    vox = per_axis(voxel_size_um, "voxel_size_um")
    if (sig < 0).any():
        raise ValueError(f"sigma_um: expected non-negative values, got {sigma_um!r}")
    if (vox <= 0).any():
        raise ValueError(f"voxel_size_um: expected positive values, got {voxel_size_um!r}")
    check_positive(truncate, "truncate")
    sigma_px = tuple(float(s) for s in sig / vox)
    vol = vol.astype(np.float32, copy=False)
    if not any(sigma_px):
        return vol.copy()
    return ndimage.gaussian_filter(vol, sigma=sigma_px, truncate=truncate, mode=mode).astype(
        np.float32, copy=False
    )
