"""One field of view through the virtual microscope: the course's one entry point.

:func:`simulate_field` draws a specimen (:mod:`coursekit.microscope.specimen`), forms the
transmitted-light image from its refractive index (:mod:`coursekit.microscope.optics`),
forms every fluorescence target from its label intensities (widefield Gaussian PSF, haze,
background) and records everything with a camera (:mod:`coursekit.microscope.camera`).
Every target comes twice: ``recorded`` (photon shot noise, read noise, integer counts) and
``clean`` (the same image without noise), so that the course can measure the noise
ceiling and hallucinations against the truth.

A 2D field is one focal plane: the transmitted light is a small stack of bright-field (or
phase-contrast, or DIC) planes around focus, computed from the projected optical path of
the specimen (thin-object approximation, fast); the fluorescence is the in-focus slab plus
out-of-focus haze. A 3D field is a z-stack: the transmitted light is propagated slice by
slice through the refractive-index volume (multi-slice), and the fluorescence volume is
blurred by the 3D PSF.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from coursekit._validation import check_choice, check_int, check_positive
from coursekit.microscope import optics
from coursekit.microscope.camera import Camera, _record_channels
from coursekit.microscope.specimen import (
    DELTA_N,
    LABELS,
    STRUCTURES,
    _blur_xy,
    _check_labels,
    _check_shape,
    build_specimen,
)

__all__ = ["Field", "simulate_field", "MODALITIES", "DEFAULT_PHOTONS"]

MODALITIES = ("brightfield", "phase_contrast", "dic")

# Expected photons per pixel from a label at intensity 1 in focus (before the camera's
# quantum efficiency). Chosen so that the noise ceilings span the range of real data:
# bright, well-sampled DNA stains near 0.99, dim tagged proteins lower.
DEFAULT_PHOTONS = {
    "dna": 400.0,
    "nucleoli": 300.0,
    "nuclear_envelope": 250.0,
    "membrane": 250.0,
    "mitochondria": 600.0,
    "er": 250.0,
    "microtubules": 500.0,
    "actin": 300.0,
    "focal_adhesions": 600.0,
    "dead": 300.0,
}

# Emission wavelengths (um) of the labels' fluorophores: Hoechst / DAPI blue, FPs green,
# the live/dead stain red.
EMISSION_UM = {lab: 0.52 for lab in LABELS}
EMISSION_UM["dna"] = 0.46
EMISSION_UM["dead"] = 0.62

# Weak absorption, proportional to the optical path difference (dense material also absorbs
# a little), so that bright field is not exactly zero-contrast in focus.
_ABSORPTION_PER_PHASE = 0.02


@dataclass(eq=False, repr=False)
class Field:
    """A simulated field of view.

    Attributes
    ----------
    transmitted : numpy.ndarray
        float32 camera counts (ADU). 2D fields: ``(n_planes, Y, X)``, the planes at
        ``metadata["defocus_um"]``; 3D fields: ``(Z, Y, X)``.
    transmitted_clean : numpy.ndarray
        The same without camera noise (expected counts).
    modality : str
        ``"brightfield"``, ``"phase_contrast"`` or ``"dic"``.
    recorded : dict of str to numpy.ndarray
        Noisy fluorescence targets, float32 counts (ADU), ``(Y, X)`` or ``(Z, Y, X)``.
    clean : dict of str to numpy.ndarray
        Noise-free targets (blurred, with background and camera offset), same shapes.
    cell_mask, nucleus_mask : numpy.ndarray
        int32 instance labels (0 = background), ``(Y, X)`` or ``(Z, Y, X)``.
    cells : list of CellInfo
    metadata : dict
        Pixel sizes, wavelengths, numerical apertures, refractive indices, ``delta_n``,
        camera, seed, ... (everything needed to redo or describe the simulation).

    Examples
    --------
    >>> f = simulate_field((64, 64), seed=0, n_cells=1, labels=("dna",))
    >>> f.input_stack().shape, f.target("dna").shape
    ((3, 64, 64), (64, 64))
    """

    transmitted: np.ndarray
    transmitted_clean: np.ndarray
    modality: str
    recorded: dict
    clean: dict
    cell_mask: np.ndarray
    nucleus_mask: np.ndarray
    cells: list
    metadata: dict = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        """2 for a focal plane, 3 for a z-stack."""
        return self.cell_mask.ndim

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels simulated in this field."""
        return tuple(self.recorded)

    def input_stack(self, clean: bool = False) -> np.ndarray:
        """The transmitted-light input with a channel axis first.

        Parameters
        ----------
        clean : bool
            Return the noise-free version.

        Returns
        -------
        numpy.ndarray
            float32 ``(n_planes, Y, X)`` for 2D fields (one channel per focal plane),
            ``(1, Z, Y, X)`` for 3D fields.
        """
        img = self.transmitted_clean if clean else self.transmitted
        return img if self.ndim == 2 else img[None]

    def target(self, label: str, clean: bool = False) -> np.ndarray:
        """One fluorescence target.

        Parameters
        ----------
        label : str
            One of the simulated labels (:attr:`labels`).
        clean : bool
            Return the noise-free image instead of the recorded one.

        Returns
        -------
        numpy.ndarray
            float32 counts, ``(Y, X)`` or ``(Z, Y, X)``.
        """
        check_choice(label, "label", LABELS)
        if label not in self.recorded:
            raise ValueError(
                f"label {label!r} was not simulated in this field; it has "
                f"{', '.join(map(repr, self.recorded))} (pass labels=... to simulate_field)"
            )
        return (self.clean if clean else self.recorded)[label]

    def channels(self) -> tuple[np.ndarray, list[str]]:
        """Every image of the field as one float32 array with channel names.

        Returns
        -------
        (numpy.ndarray, list of str)
            ``(C, Y, X)`` or ``(C, Z, Y, X)``: the transmitted planes (2D) or stack (3D),
            every recorded label, every clean label, then the two masks.
        """
        chans, names = [], []
        if self.ndim == 2:
            for dz, plane in zip(self.metadata.get("defocus_um", []), self.transmitted):
                chans.append(plane)
                names.append(f"{self.modality}_dz{dz:+.2f}um")
        else:
            chans.append(self.transmitted)
            names.append(self.modality)
        for lab, img in self.recorded.items():
            chans.append(img)
            names.append(lab)
        for lab, img in self.clean.items():
            chans.append(img)
            names.append(f"{lab}_clean")
        chans.append(self.cell_mask.astype(np.float32))
        names.append("cell_mask")
        chans.append(self.nucleus_mask.astype(np.float32))
        names.append("nucleus_mask")
        return np.stack(chans).astype(np.float32, copy=False), names

    def to_ome_tiff(self, path) -> Path:
        """Save every channel to one OME-TIFF with channel names and pixel sizes.

        Parameters
        ----------
        path : str or os.PathLike
            Output file (``.ome.tif``).

        Returns
        -------
        pathlib.Path
            The path written. Read it back with :func:`coursekit.io.read_image`; Fiji,
            napari and bioio open it too.
        """
        from coursekit.io import write_ome_tiff

        data, names = self.channels()
        px = float(self.metadata["pixel_size_um"])
        if self.ndim == 2:
            axes, sizes = "CYX", (px, px)
        else:
            axes, sizes = "CZYX", (float(self.metadata["z_step_um"]), px, px)
        return write_ome_tiff(path, data, axes=axes, pixel_size_um=sizes, channel_names=names)

    def __repr__(self) -> str:
        shp = "x".join(map(str, self.cell_mask.shape))
        if self.ndim == 2:
            tl = f"{self.modality} {self.transmitted.shape[0]} planes"
        else:
            tl = f"{self.modality} stack"
        return (
            f"Field({self.ndim}D {shp}, {tl}, {len(self.cells)} cells, "
            f"labels={list(self.recorded)}, seed={self.metadata.get('seed')})"
        )


# ---------------------------------------------------------------------------------------


def _check_per_label(value, name, labels, default) -> dict[str, float]:
    """A number for every label, or a dict overriding some labels' defaults."""
    if value is None:
        return {lab: float(default[lab]) for lab in labels}
    if isinstance(value, Mapping):
        out = {lab: float(default[lab]) for lab in labels}
        for k, v in value.items():
            check_choice(k, "label", LABELS)
            out[k] = check_positive(v, f"{name}[{k!r}]", allow_zero=True)
        return {lab: out[lab] for lab in labels}
    v = check_positive(value, name, allow_zero=True)
    return {lab: v for lab in labels}


def _check_delta_n(delta_n) -> dict[str, float]:
    dn = dict(DELTA_N)
    if delta_n is None:
        return dn
    if not isinstance(delta_n, Mapping):
        raise TypeError(
            f"delta_n: expected a dict of structure -> float, got {type(delta_n).__name__}"
        )
    for k, v in delta_n.items():
        check_choice(k, "structure", STRUCTURES)
        try:
            fv = float(v)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"delta_n[{k!r}]: expected a number, got {v!r}") from exc
        if not math.isfinite(fv):
            raise ValueError(f"delta_n[{k!r}]: expected a finite number, got {v!r}")
        dn[k] = fv
    return dn


def _pad_len(n: int, margin: int) -> int:
    """A padded length >= n + 2 * margin that FFTs handle fast."""
    if margin <= 0:
        return n
    return sfft.next_fast_len(n + 2 * margin, real=True)


@functools.lru_cache(maxsize=16)
def _haze_ops(n: int, sigma_px: float, lo: int, hi: int, k: int = 4):
    """Matrices of the separable haze along one axis of length ``n``: ``D`` (nb, n) the
    mean over blocks of ``k`` pixels (the last block padded by repeating the edge) and
    ``B`` (hi - lo, nb) the Gaussian blur of the blocks (``sigma_px / k``, nearest edges,
    truncated at 3 sigma) followed by linear interpolation from the block centres back to
    the pixels ``lo:hi``."""
    nb = -(-n // k)
    D = np.zeros((nb, n))
    D[np.arange(n) // k, np.arange(n)] = 1.0 / k
    D[nb - 1, n - 1] += (nb * k - n) / k
    G = ndimage.gaussian_filter1d(np.eye(nb), sigma_px / k, axis=0, mode="nearest", truncate=3.0)
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
    computed on 4 x 4 blocks and interpolated back (the blur is far wider than a block);
    only the pixels ``crop`` (a pair of slices) when given. Separable: four small matrix
    products."""
    Y, X = img.shape[-2:]
    if crop is None:
        crop = (slice(0, Y), slice(0, X))
    Dy, By = _haze_ops(Y, float(sigma_px), crop[0].start, crop[0].stop)
    Dx, Bx = _haze_ops(X, float(sigma_px), crop[1].start, crop[1].stop)
    a = np.asarray(img, np.float32)
    sm = np.matmul(Dy, np.matmul(a, Dx.T))
    return np.matmul(By, np.matmul(sm, Bx.T))


def simulate_field(
    shape,
    *,
    seed: int,
    cell_types=("epithelial",),
    n_cells: int | None = None,
    states=None,
    modality: str = "brightfield",
    n_planes: int = 3,
    defocus_step_um: float = 1.0,
    labels=None,
    pixel_size_um: float = 0.3,
    z_step_um: float = 0.5,
    wavelength_um: float = 0.55,
    na_objective: float = 0.4,
    na_condenser: float = 0.2,
    na_fluorescence: float | None = 0.8,
    n_medium: float = optics.N_MEDIUM,
    camera: Camera | None = None,
    delta_n: Mapping[str, float] | None = None,
    drop_cells=(),
    photons=None,
    transmitted_photons: float = 2000.0,
    background_photons: float = 8.0,
    haze: float = 0.04,
    focus_um: float | None = None,
    coverslip_um: float = 1.0,
    n_illumination: int = 5,
    shot_noise: str = "gaussian",
    margin_px: int = 7,
    plans=None,
    shift_um: tuple[float, float] = (0.0, 0.0),
    frame: int = 0,
) -> Field:
    """Simulate one field of view: transmitted light, fluorescence targets and masks.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` for one focal plane or ``(Z, Y, X)`` for a z-stack.
    seed : int
        Random seed: the same seed gives bit-identical arrays.
    cell_types : str or sequence of str
        Cell types (keys of :data:`~coursekit.microscope.specimen.CELL_TYPES`):
        ``"epithelial"`` (hiPS-like colony), ``"fibroblast"``, ``"neuron"``.
    n_cells : int, optional
        Number of cells (default: a typical density for the cell types).
    states : None, str, sequence or dict
        Cell states: None for a mix (mostly interphase, a few mitotic and dead cells), one
        of ``"interphase"``, ``"prophase"``, ``"metaphase"``, ``"anaphase"``,
        ``"telophase"``, ``"dead"``, a list of them, or a dict of probabilities.
    modality : {"brightfield", "phase_contrast", "dic"}
        Transmitted-light technique (DIC for 2D fields only).
    n_planes : int
        2D fields: number of transmitted-light planes, centred on focus.
    defocus_step_um : float
        2D fields: distance between those planes (um).
    labels : sequence of str, optional
        Fluorescent labels to simulate (default all of
        :data:`~coursekit.microscope.specimen.LABELS`).
    pixel_size_um, z_step_um : float
        Sampling in the sample plane and along z (um).
    wavelength_um : float
        Transmitted-light wavelength (um).
    na_objective, na_condenser : float
        Numerical apertures of the objective and the condenser.
    na_fluorescence : float or None
        NA of the fluorescence objective (default 0.8: a sharp PSF, 0.15 um wide and
        2 um deep, as in the fluorescence data sets the course imitates). ``None`` uses
        ``na_objective`` (one objective for both; at NA 0.4 the PSF is 8 um deep, so 2D
        targets become projections of the cell).
    n_medium : float
        Refractive index of the medium.
    camera : Camera, optional
        The camera for every channel (default ``Camera()``).
    delta_n : dict, optional
        Overrides of :data:`~coursekit.microscope.specimen.DELTA_N` (refractive-index
        increment per structure), e.g. ``{"dna": 0.0}`` gives DNA no optical signature.
    drop_cells : sequence of int
        Cell ids to remove; every other cell is drawn exactly as with the same seed
        (hallucination probes).
    photons : float or dict, optional
        Expected photons per pixel for label intensity 1 in focus (default
        :data:`DEFAULT_PHOTONS`); a dict overrides some labels.
    transmitted_photons : float
        Photons per pixel of the transmitted-light background.
    background_photons : float
        Fluorescence background (autofluorescence, medium) in photons per pixel.
    haze : float
        Out-of-focus fluorescence, per micrometre of labelled material outside the focal
        slab, spread over a few micrometres.
    focus_um : float, optional
        2D fields: focal plane above the coverslip (default: mid-nucleus of the cell type).
    coverslip_um : float
        3D fields: the coverslip surface is this far above plane 0.
    n_illumination : int
        Illumination angles sampling the condenser (partial coherence).
    shot_noise : {"gaussian", "poisson"}
        Photon shot noise: its Gaussian approximation (default: the same mean and variance,
        and so the same noise ceiling, five times faster; it misses only the skew of very
        low counts) or exact Poisson sampling (``"poisson"``).
    margin_px : int
        The specimen and the optics are computed on a field padded by this many pixels per
        side (to an FFT-friendly size) and cropped, so that cells cut by the border do not
        wrap around (the optics is periodic).
    plans : sequence of CellPlan, optional
        Explicit cells (see :func:`~coursekit.microscope.specimen.plan_cells`), e.g. to
        follow the same cells through a time-lapse; ``cell_types``, ``n_cells`` and
        ``states`` are then ignored.
    shift_um : tuple of float
        Stage position: the specimen appears moved by ``(dy, dx)`` micrometres.
    frame : int
        Time-lapse frame index: a different camera-noise realization per frame.

    Returns
    -------
    Field

    Raises
    ------
    ValueError
        For a shape that is not 2D or 3D, non-positive sizes, or an unknown label, cell
        type, state, modality or structure (the message lists the valid choices).

    Examples
    --------
    >>> f = simulate_field((128, 128), seed=0, labels=("dna", "membrane"))
    >>> f.transmitted.shape, sorted(f.recorded)
    ((3, 128, 128), ['dna', 'membrane'])
    >>> g = simulate_field((128, 128), seed=0, labels=("dna", "membrane"))
    >>> bool((f.recorded["dna"] == g.recorded["dna"]).all())
    True
    """
    shp = _check_shape(shape)
    check_choice(modality, "modality", MODALITIES)
    labs = _check_labels(labels)
    is3d = len(shp) == 3
    if is3d and modality == "dic":
        raise ValueError(
            "modality 'dic' is only available for 2D fields; use 'brightfield' or 'phase_contrast'"
        )
    n_pl = check_int(n_planes, "n_planes", minimum=1)
    step = check_positive(defocus_step_um, "defocus_step_um", allow_zero=True)
    px = check_positive(pixel_size_um, "pixel_size_um")
    dz = check_positive(z_step_um, "z_step_um")
    lam = check_positive(wavelength_um, "wavelength_um")
    na_o = check_positive(na_objective, "na_objective")
    na_c = check_positive(na_condenser, "na_condenser", allow_zero=True)
    na_f = na_o if na_fluorescence is None else check_positive(na_fluorescence, "na_fluorescence")
    n_m = check_positive(n_medium, "n_medium")
    t_ph = check_positive(transmitted_photons, "transmitted_photons")
    bg = check_positive(background_photons, "background_photons", allow_zero=True)
    hz = check_positive(haze, "haze", allow_zero=True)
    margin = check_int(margin_px, "margin_px", minimum=0)
    check_choice(shot_noise, "shot_noise", ("poisson", "gaussian"))
    cam = Camera() if camera is None else camera
    if not isinstance(cam, Camera):
        raise TypeError(
            f"camera: expected a coursekit.microscope.camera.Camera, got {type(cam).__name__}"
        )
    dn = _check_delta_n(delta_n)
    ph = _check_per_label(photons, "photons", labs, DEFAULT_PHOTONS)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed: expected a non-negative integer, got {seed!r}")
    seed = int(seed)

    # -- the specimen, on a padded field ---------------------------------------------
    Y, X = shp[-2:]
    PY, PX = _pad_len(Y, margin), _pad_len(X, margin)
    oy, ox = (PY - Y) // 2, (PX - X) // 2
    pshape = (*shp[:-2], PY, PX)
    crop = (slice(oy, oy + Y), slice(ox, ox + X))
    # the fluorescence PSF (the 2D focal slab is as thick as the PSF is long)
    psf = {lab: optics.fluorescence_psf_sigmas(EMISSION_UM[lab], na_f, n_m) for lab in labs}
    sz_ref, _ = optics.fluorescence_psf_sigmas(0.52, na_f, n_m)
    slab = math.sqrt(2 * math.pi) * sz_ref
    spec = build_specimen(
        pshape,
        seed=seed,
        cell_types=cell_types,
        n_cells=n_cells,
        states=states,
        pixel_size_um=px,
        z_step_um=dz,
        focus_um=focus_um,
        slab_um=slab,
        coverslip_um=coverslip_um,
        labels=labs,
        drop_cells=drop_cells,
        plans=plans,
        field_um=(Y * px, X * px),
        origin_um=(oy * px, ox * px),
        shift_um=shift_um,
    )

    # -- transmitted light -------------------------------------------------------------
    defocus = [float((k - (n_pl - 1) / 2) * step) for k in range(n_pl)]
    if not is3d:
        opl = spec.optical_path_um(dn)
        phase = (2 * np.pi / lam) * opl
        amp = np.exp(-_ABSORPTION_PER_PHASE * phase).astype(np.float32)
        common = dict(
            amplitude=amp, pixel_size_um=px, wavelength_um=lam, na_objective=na_o, n_medium=n_m
        )
        if modality == "brightfield":
            img = optics.brightfield_thin(
                phase,
                na_condenser=na_c,
                defocus_um=tuple(defocus),
                n_illumination=n_illumination,
                **common,
            )
        elif modality == "phase_contrast":
            img = np.stack(
                [optics.phase_contrast_thin(phase, defocus_um=d, **common) for d in defocus]
            )
        else:
            img = np.stack(
                [
                    optics.dic_thin(
                        phase,
                        na_condenser=na_c,
                        defocus_um=d,
                        n_illumination=n_illumination,
                        **common,
                    )
                    for d in defocus
                ]
            )
    else:
        ri = optics.refractive_index(spec.densities, dn, n_medium=n_m)
        vox = (dz, px, px)
        if modality == "brightfield":
            img = optics.brightfield_stack(
                ri,
                voxel_size_um=vox,
                wavelength_um=lam,
                na_objective=na_o,
                na_condenser=na_c,
                n_medium=n_m,
                n_illumination=n_illumination,
            )
        else:
            img = optics.phase_contrast_stack(
                ri, voxel_size_um=vox, wavelength_um=lam, na_objective=na_o, n_medium=n_m
            )
        del ri
    img = np.clip(img[(slice(None), *crop)], 0.0, None)
    img *= np.float32(t_ph)
    frame = check_int(frame, "frame", minimum=0)

    # -- fluorescence ------------------------------------------------------------------
    # every label's expected photons in one stack (C, Y, X) or (C, Z, Y, X), cropped
    nl = len(labs)
    n0 = img.shape[0] if not is3d else 1
    chans = np.empty((n0 + nl, *shp), np.float32)  # transmitted light, then the labels
    chans[:n0] = img if not is3d else img[None]
    del img
    photons_all = chans[n0:]
    if not is3d:  # the in-focus PSF: one blur for all labels of the same emission
        for sxy in sorted({psf[lab][1] for lab in labs}):
            idx = [i for i, lab in enumerate(labs) if psf[lab][1] == sxy]
            stack = np.stack([spec.labels[labs[i]] for i in idx])
            out = _blur_xy(stack, sxy / px, truncate=3.0)
            photons_all[idx] = out[(slice(None), *crop)]
    else:
        for i, lab in enumerate(labs):
            photons_all[i] = _blur3d(spec.labels[lab], psf[lab], (dz, px, px))[(Ellipsis, *crop)]
    if hz > 0:  # the haze of every label at once (one wide blur of a stack)
        far_px = 2.0 / px  # out-of-focus light spreads over a few micrometres
        if not is3d:
            stack = np.stack([spec.label_path_um[lab] for lab in labs])
            stack -= np.stack([spec.labels[lab] for lab in labs]) * np.float32(slab)
            np.clip(stack, 0.0, np.inf, out=stack)
        else:
            stack = np.stack([spec.labels[lab].sum(axis=0) for lab in labs])
            stack *= np.float32(dz)
        hazes = _haze(stack, far_px, crop)
        hazes *= np.float32(hz)
        photons_all += hazes if not is3d else hazes[:, None]
    np.clip(photons_all, 0.0, np.inf, out=photons_all)
    photons_all *= np.array([ph[lab] for lab in labs], np.float32).reshape((nl,) + (1,) * len(shp))
    photons_all += np.float32(bg)
    # the camera records the transmitted light and every label in one pass, each channel
    # with its own noise stream
    groups = [(n0, 0)] + [(1, 1 + LABELS.index(lab)) for lab in labs]
    rngs = [(_noise_rng(seed, c, frame), n) for n, c in groups]
    clean_all, rec_all = _record_channels(chans, cam, rngs, shot_noise=shot_noise)
    del chans, photons_all
    if not is3d:
        trans_clean, trans = clean_all[:n0], rec_all[:n0]
    else:
        trans_clean, trans = clean_all[0], rec_all[0]
    clean = {lab: clean_all[n0 + i] for i, lab in enumerate(labs)}
    recorded = {lab: rec_all[n0 + i] for i, lab in enumerate(labs)}

    cell_mask = np.ascontiguousarray(spec.cell_mask[(Ellipsis, *crop)])
    nucleus_mask = np.ascontiguousarray(spec.nucleus_mask[(Ellipsis, *crop)])
    # centroids in the field's frame (the specimen was drawn with a margin)
    cm2 = cell_mask.max(axis=0) if is3d else cell_mask
    nm2 = nucleus_mask.max(axis=0) if is3d else nucleus_mask
    n_id = int(max([c.id for c in spec.cells], default=0)) + 1
    yy = np.broadcast_to(np.arange(Y, dtype=np.float64)[:, None] * px, (Y, X)).ravel()
    xx = np.broadcast_to(np.arange(X, dtype=np.float64)[None, :] * px, (Y, X)).ravel()
    cc = np.bincount(cm2.ravel(), minlength=n_id)
    cy_, cx_ = (np.bincount(cm2.ravel(), w, minlength=n_id) for w in (yy, xx))
    nc = np.bincount(nm2.ravel(), minlength=n_id)
    ny_, nx_ = (np.bincount(nm2.ravel(), w, minlength=n_id) for w in (yy, xx))
    cells = []
    for c in spec.cells:
        i = c.id
        if cc[i] == 0:
            continue
        cells.append(
            replace(
                c,
                centroid_um=(float(cy_[i] / cc[i]), float(cx_[i] / cc[i])),
                nucleus_centroid_um=(float(ny_[i] / nc[i]), float(nx_[i] / nc[i]))
                if nc[i]
                else None,
                area_um2=float(cc[i] * px * px),
            )
        )
    meta = {
        "seed": seed,
        "shape": shp,
        "ndim": len(shp),
        "cell_types": sorted({c.cell_type for c in cells}) or list(np.atleast_1d(cell_types)),
        "modality": modality,
        "pixel_size_um": px,
        "z_step_um": dz,
        "defocus_um": defocus if not is3d else None,
        "focus_um": spec.focus_um if not is3d else None,
        "coverslip_um": coverslip_um if is3d else None,
        "wavelength_um": lam,
        "emission_um": {lab: EMISSION_UM[lab] for lab in labs},
        "na_objective": na_o,
        "na_condenser": na_c,
        "na_fluorescence": na_f,
        "n_medium": n_m,
        "delta_n": dn,
        "psf_sigma_um": {lab: {"z": psf[lab][0], "xy": psf[lab][1]} for lab in labs},
        "focal_slab_um": slab if not is3d else None,
        "camera": cam.to_dict(),
        "photons": ph,
        "transmitted_photons": t_ph,
        "background_photons": bg,
        "haze": hz,
        "shot_noise": shot_noise,
        "n_illumination": n_illumination,
        "margin_px": margin,
        "drop_cells": sorted(int(c) for c in drop_cells),
        "shift_um": (float(shift_um[0]), float(shift_um[1])),
        "frame": frame,
    }
    return Field(
        transmitted=np.ascontiguousarray(trans),
        transmitted_clean=np.ascontiguousarray(trans_clean),
        modality=modality,
        recorded={k: np.ascontiguousarray(v) for k, v in recorded.items()},
        clean={k: np.ascontiguousarray(v) for k, v in clean.items()},
        cell_mask=cell_mask,
        nucleus_mask=nucleus_mask,
        cells=cells,
        metadata=meta,
    )


def _noise_rng(seed: int, channel: int, frame: int = 0) -> np.random.Generator:
    """One independent noise stream per channel and frame (so asking for fewer labels, or
    dropping a cell, leaves the other channels' noise streams unchanged)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 3, channel, frame]))


@functools.lru_cache(maxsize=16)
def _zblur_matrix(Z: int, sz: float, dz: float) -> np.ndarray:
    """The axial PSF blur of ``Z`` planes as a (Z, Z) matrix: a Fourier-domain Gaussian,
    zero-padded to avoid wrap-around between the top and bottom planes."""
    pad = int(math.ceil(3 * sz / dz))
    n = sfft.next_fast_len(Z + 2 * pad, real=True)
    spec = sfft.rfft(np.eye(Z), n=n, axis=0)
    k = np.fft.rfftfreq(n, d=dz)
    spec *= np.exp(-2 * (np.pi * sz * k) ** 2)[:, None]
    m = sfft.irfft(spec, n=n, axis=0)[:Z].astype(np.float32)
    m.setflags(write=False)
    return m


def _blur3d(vol, sigma_um, voxel_um):
    """3D Gaussian PSF blur: 3-tap (or Gaussian) in xy, and along z (the PSF is long:
    several planes) one small matrix product over the planes."""
    sz, sxy = sigma_um
    dz, dy, dx = voxel_um
    if dy == dx:
        out = _blur_xy(vol, sxy / dy, truncate=3.0)
    else:
        out = ndimage.gaussian_filter(vol, (0, sxy / dy, sxy / dx), truncate=3.0)
    Z = vol.shape[0]
    m = _zblur_matrix(Z, float(sz), float(dz))
    return np.matmul(m, out.reshape(Z, -1)).reshape(vol.shape)
