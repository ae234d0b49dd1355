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

import math

import numpy as np
from scipy import ndimage

from coursekit._validation import check_array, check_int, check_positive

# the refractive-index map and the wave propagation live in their own modules; their
# public names stay importable from here
from coursekit.microscope.propagation import (
    _as_planes,
    _background,
    _cis,
    _image_stack,
    _image_thin,
    illumination_frequencies,
)
from coursekit.microscope.refractive import N_MEDIUM, phase_disk, phase_from_ri, refractive_index  # noqa: F401

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
