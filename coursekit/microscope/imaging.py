"""Image formation: from a drawn specimen to the photons that reach the camera.

The steps of :func:`~coursekit.microscope.field.simulate_field`, in the order the light
meets them:

1. :func:`refractive_index` - the specimen's structure densities become a refractive index
   (3D) or its projection, the optical path difference (2D, thin-object approximation);
2. :func:`transmitted_light` - the microscope images that phase object (bright field,
   phase contrast or DIC; :mod:`coursekit.microscope.optics`);
3. :func:`fluorescence` - every label's intensity is blurred by the fluorescence PSF, with
   the out-of-focus haze and the background added;
4. the camera (:mod:`coursekit.microscope.camera`) records all channels at once.

Each function takes the settings groups of :mod:`coursekit.microscope.settings`
(:class:`~coursekit.microscope.settings.OpticsSettings`,
:class:`~coursekit.microscope.settings.IlluminationSettings`) and works on the field padded
by a margin; :class:`Grid` says where the field lies in it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from coursekit.microscope import optics
from coursekit.microscope.specimen import blur_xy

__all__ = [
    "Grid",
    "refractive_index",
    "optical_path_difference",
    "transmitted_light",
    "fluorescence",
    "focal_slab_um",
]

# Weak absorption, proportional to the optical path difference (dense material also absorbs
# a little), so that bright field is not exactly zero-contrast in focus.
ABSORPTION_PER_PHASE = 0.02

# Emission wavelength (um) of the reference fluorophore (green FPs) whose axial PSF sets the
# thickness of the 2D focal slab.
REFERENCE_EMISSION_UM = 0.52

# Out-of-focus fluorescence spreads over a few micrometres around the labelled material.
HAZE_SPREAD_UM = 2.0
# the haze blur is computed on blocks of this many pixels (it is far wider than a block)
HAZE_BLOCK_PX = 4

# PSF blurs are truncated at this many standard deviations
PSF_TRUNCATE = 3.0


@dataclass(frozen=True)
class Grid:
    """The field inside the padded grid the specimen and the optics are computed on.

    Attributes
    ----------
    shape : tuple of int
        The field's shape, ``(Y, X)`` or ``(Z, Y, X)``.
    padded_shape : tuple of int
        The padded grid's shape (FFT-friendly ``Y`` and ``X``).
    crop : tuple of slice
        The field's rows and columns in the padded grid.
    """

    shape: tuple
    padded_shape: tuple
    crop: tuple

    @classmethod
    def around(cls, shape, margin_px: int) -> Grid:
        """A grid padded by at least ``margin_px`` per side (to a size FFTs handle fast)."""
        Y, X = shape[-2:]
        PY, PX = _pad_len(Y, margin_px), _pad_len(X, margin_px)
        oy, ox = (PY - Y) // 2, (PX - X) // 2
        return cls(
            shape=tuple(shape),
            padded_shape=(*shape[:-2], PY, PX),
            crop=(slice(oy, oy + Y), slice(ox, ox + X)),
        )

    @property
    def origin_px(self) -> tuple[int, int]:
        """``(row, column)`` of the field's top-left pixel in the padded grid."""
        return self.crop[0].start, self.crop[1].start


def _pad_len(n: int, margin: int) -> int:
    """A padded length >= n + 2 * margin that FFTs handle fast."""
    if margin <= 0:
        return n
    return sfft.next_fast_len(n + 2 * margin, real=True)


def focal_slab_um(na_fluorescence: float, n_medium: float) -> float:
    """Thickness of the 2D focal slab: as thick as the fluorescence PSF is long (the slab
    with the same area as the axial Gaussian of the reference fluorophore)."""
    sigma_z, _ = optics.fluorescence_psf_sigmas(REFERENCE_EMISSION_UM, na_fluorescence, n_medium)
    return math.sqrt(2 * math.pi) * sigma_z


# ---------------------------------------------------------------------------------------
# 1. refractive index
# ---------------------------------------------------------------------------------------


def refractive_index(specimen, delta_n, settings) -> np.ndarray:
    """The specimen's refractive index as the transmitted light sees it.

    Parameters
    ----------
    specimen : Specimen
        The drawn specimen (on the padded grid).
    delta_n : dict of str to float
        Refractive-index increment of every structure.
    settings : OpticsSettings

    Returns
    -------
    numpy.ndarray
        2D specimens: the optical path difference to the medium, float32 ``(Y, X)`` in
        micrometres (thin-object approximation: ``sum_s delta_n[s] * path_um[s]``).
        3D specimens: the refractive index, float32 ``(Z, Y, X)``.
    """
    if specimen.ndim == 2:
        return specimen.optical_path_um(delta_n)
    return optics.refractive_index(specimen.densities, delta_n, n_medium=settings.n_medium)


def optical_path_difference(index, settings, grid: Grid) -> np.ndarray:
    """The optical path difference to the medium through the whole specimen, cropped to
    the field: float32 ``(Y, X)`` in micrometres (``integral (n - n_medium) dz``)."""
    if index.ndim == 2:
        return np.array(index[grid.crop], dtype=np.float32)
    excess = index[(slice(None), *grid.crop)] - np.float32(settings.n_medium)
    return (excess.sum(axis=0, dtype=np.float64) * settings.z_step_um).astype(np.float32)


# ---------------------------------------------------------------------------------------
# 2. transmitted light
# ---------------------------------------------------------------------------------------


def transmitted_light(index, settings, transmitted_photons: float, grid: Grid) -> np.ndarray:
    """Expected transmitted-light photons per pixel, cropped to the field.

    Parameters
    ----------
    index : numpy.ndarray
        :func:`refractive_index`'s result: the optical path difference (2D) or the
        refractive-index volume (3D).
    settings : OpticsSettings
    transmitted_photons : float
        Photons per pixel of the background (no specimen).
    grid : Grid

    Returns
    -------
    numpy.ndarray
        float32 ``(n_planes, Y, X)`` at ``settings.defocus_um`` (2D) or ``(Z, Y, X)``.
    """
    s = settings
    if index.ndim == 2:
        phase = (2 * np.pi / s.wavelength_um) * index
        amplitude = np.exp(-ABSORPTION_PER_PHASE * phase).astype(np.float32)
        common = dict(
            amplitude=amplitude,
            pixel_size_um=s.pixel_size_um,
            wavelength_um=s.wavelength_um,
            na_objective=s.na_objective,
            n_medium=s.n_medium,
        )
        defocus = s.defocus_um
        if s.modality == "brightfield":
            img = optics.brightfield_thin(
                phase,
                na_condenser=s.na_condenser,
                defocus_um=tuple(defocus),
                n_illumination=s.n_illumination,
                **common,
            )
        elif s.modality == "phase_contrast":
            img = np.stack(
                [optics.phase_contrast_thin(phase, defocus_um=d, **common) for d in defocus]
            )
        else:
            img = np.stack(
                [
                    optics.dic_thin(
                        phase,
                        na_condenser=s.na_condenser,
                        defocus_um=d,
                        n_illumination=s.n_illumination,
                        **common,
                    )
                    for d in defocus
                ]
            )
    else:
        voxel = (s.z_step_um, s.pixel_size_um, s.pixel_size_um)
        if s.modality == "brightfield":
            img = optics.brightfield_stack(
                index,
                voxel_size_um=voxel,
                wavelength_um=s.wavelength_um,
                na_objective=s.na_objective,
                na_condenser=s.na_condenser,
                n_medium=s.n_medium,
                n_illumination=s.n_illumination,
            )
        else:
            img = optics.phase_contrast_stack(
                index,
                voxel_size_um=voxel,
                wavelength_um=s.wavelength_um,
                na_objective=s.na_objective,
                n_medium=s.n_medium,
            )
    img = np.clip(img[(slice(None), *grid.crop)], 0.0, None)
    img *= np.float32(transmitted_photons)
    return img


# ---------------------------------------------------------------------------------------
# 3. fluorescence
# ---------------------------------------------------------------------------------------


def fluorescence(specimen, labels, settings, illumination, grid: Grid, out=None) -> np.ndarray:
    """Expected fluorescence photons per pixel of every label, cropped to the field.

    In-focus light is the label intensity blurred by the PSF of its emission wavelength
    (2D: the lateral PSF of the focal slab; 3D: the 3D PSF); out-of-focus light adds a wide
    haze of the labelled material outside the slab; then the photon budget of each label
    and the background.

    Parameters
    ----------
    specimen : Specimen
    labels : tuple of str
    settings : OpticsSettings
    illumination : IlluminationSettings
    grid : Grid
    out : numpy.ndarray, optional
        float32 ``(len(labels), *grid.shape)`` to write into.

    Returns
    -------
    numpy.ndarray
        float32 ``(C, Y, X)`` or ``(C, Z, Y, X)``, one channel per label.
    """
    s = settings
    px, dz = s.pixel_size_um, s.z_step_um
    ndim = len(grid.shape)
    n_labels = len(labels)
    if out is None:
        out = np.empty((n_labels, *grid.shape), np.float32)
    psf = {lab: s.psf_sigmas_um(lab) for lab in labels}
    if ndim == 2:  # the in-focus PSF: one blur for all labels of the same emission
        for sigma_xy in sorted({psf[lab][1] for lab in labels}):
            idx = [i for i, lab in enumerate(labels) if psf[lab][1] == sigma_xy]
            stack = np.stack([specimen.labels[labels[i]] for i in idx])
            blurred = blur_xy(stack, sigma_xy / px, truncate=PSF_TRUNCATE)
            out[idx] = blurred[(slice(None), *grid.crop)]
    else:
        for i, lab in enumerate(labels):
            out[i] = _blur3d(specimen.labels[lab], psf[lab], (dz, px, px))[(Ellipsis, *grid.crop)]
    if illumination.haze > 0:  # the haze of every label at once (one wide blur of a stack)
        if ndim == 2:
            stack = np.stack([specimen.label_path_um[lab] for lab in labels])
            stack -= np.stack([specimen.labels[lab] for lab in labels]) * np.float32(
                specimen.slab_um
            )
            np.clip(stack, 0.0, np.inf, out=stack)
        else:
            stack = np.stack([specimen.labels[lab].sum(axis=0) for lab in labels])
            stack *= np.float32(dz)
        hazes = _haze(stack, HAZE_SPREAD_UM / px, grid.crop)
        hazes *= np.float32(illumination.haze)
        out += hazes if ndim == 2 else hazes[:, None]
    np.clip(out, 0.0, np.inf, out=out)
    budget = np.array([illumination.photons[lab] for lab in labels], np.float32)
    out *= budget.reshape((n_labels,) + (1,) * ndim)
    out += np.float32(illumination.background_photons)
    return out


@functools.lru_cache(maxsize=16)
def _haze_ops(n: int, sigma_px: float, lo: int, hi: int, k: int = HAZE_BLOCK_PX):
    """Matrices of the separable haze along one axis of length ``n``: ``D`` (nb, n) the
    mean over blocks of ``k`` pixels (the last block padded by repeating the edge) and
    ``B`` (hi - lo, nb) the Gaussian blur of the blocks (``sigma_px / k``, nearest edges,
    truncated at 3 sigma) followed by linear interpolation from the block centres back to
    the pixels ``lo:hi``."""
    nb = -(-n // k)
    D = np.zeros((nb, n))
    D[np.arange(n) // k, np.arange(n)] = 1.0 / k
    D[nb - 1, n - 1] += (nb * k - n) / k
    G = ndimage.gaussian_filter1d(
        np.eye(nb), sigma_px / k, axis=0, mode="nearest", truncate=PSF_TRUNCATE
    )
    pos = (np.arange(n) + 0.5) / k - 0.5
    i0 = np.clip(np.floor(pos).astype(int), 0, nb - 1)
    i1 = np.minimum(i0 + 1, nb - 1)
    w = np.clip(pos - i0, 0.0, 1.0)
    W = np.zeros((n, nb))
    np.add.at(W, (np.arange(n), i0), 1.0 - w)
    np.add.at(W, (np.arange(n), i1), w)
    D32 = D.astype(np.float32)
    B32 = (W @ G)[lo:hi].astype(np.float32)
    D32.setflags(write=False)
    B32.setflags(write=False)
    return D32, B32


def _haze(img, sigma_px, crop=None):
    """Wide Gaussian blur over the last two axes of a smooth image (or a stack of them),
    computed on blocks and interpolated back (the blur is far wider than a block); only
    the pixels ``crop`` (a pair of slices) when given. Separable: four small matrix
    products."""
    Y, X = img.shape[-2:]
    if crop is None:
        crop = (slice(0, Y), slice(0, X))
    Dy, By = _haze_ops(Y, float(sigma_px), crop[0].start, crop[0].stop)
    Dx, Bx = _haze_ops(X, float(sigma_px), crop[1].start, crop[1].stop)
    a = np.asarray(img, np.float32)
    sm = np.matmul(Dy, np.matmul(a, Dx.T))
    return np.matmul(By, np.matmul(sm, Bx.T))


@functools.lru_cache(maxsize=16)
def _zblur_matrix(n_planes: int, sigma_z_um: float, z_step_um: float) -> np.ndarray:
    """The axial PSF blur of ``n_planes`` planes as a matrix: a Fourier-domain Gaussian,
    zero-padded to avoid wrap-around between the top and bottom planes."""
    pad = int(math.ceil(PSF_TRUNCATE * sigma_z_um / z_step_um))
    n = sfft.next_fast_len(n_planes + 2 * pad, real=True)
    spec = sfft.rfft(np.eye(n_planes), n=n, axis=0)
    k = np.fft.rfftfreq(n, d=z_step_um)
    spec *= np.exp(-2 * (np.pi * sigma_z_um * k) ** 2)[:, None]
    m = sfft.irfft(spec, n=n, axis=0)[:n_planes].astype(np.float32)
    m.setflags(write=False)
    return m


def _blur3d(volume, sigma_um, voxel_um):
    """3D Gaussian PSF blur: 3-tap (or Gaussian) in xy, and along z (the PSF is long:
    several planes) one small matrix product over the planes."""
    sigma_z, sigma_xy = sigma_um
    dz, dy, dx = voxel_um
    if dy == dx:
        out = blur_xy(volume, sigma_xy / dy, truncate=PSF_TRUNCATE)
    else:
        out = ndimage.gaussian_filter(
            volume, (0, sigma_xy / dy, sigma_xy / dx), truncate=PSF_TRUNCATE
        )
    n_planes = volume.shape[0]
    m = _zblur_matrix(n_planes, float(sigma_z), float(dz))
    return np.matmul(m, out.reshape(n_planes, -1)).reshape(volume.shape)
