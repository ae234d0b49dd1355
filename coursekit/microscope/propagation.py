"""Scalar wave propagation shared by the transmitted-light modalities: frequency grids,
partially coherent illumination, pupils and transfer functions, thin-object imaging and
multi-slice propagation through a thick object. Private machinery of
:mod:`coursekit.microscope.optics`, which builds bright field, phase contrast and DIC on it."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import scipy.fft as sfft

__all__ = ["illumination_frequencies"]


def _as_planes(values, name: str) -> tuple[float, ...]:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a number or a 1D sequence of numbers, got {values!r}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite values, got {values!r}")
    return tuple(float(v) for v in arr)


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
