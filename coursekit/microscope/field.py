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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from coursekit._validation import check_choice, check_int, check_positive
from coursekit.microscope import imaging, optics
from coursekit.microscope.camera import Camera, _record_channels
from coursekit.microscope.settings import (
    DEFAULT_PHOTONS,
    EMISSION_UM,
    MODALITIES,
    IlluminationSettings,
    OpticsSettings,
    RecordingSettings,
    _check_delta_n,
    _check_memory,
    _check_optics,
    _check_per_label,
    _check_recording,
    estimate_memory_gb,
)
from coursekit.microscope.specimen import (
    CELL_TYPES,
    LABELS,
    MITOTIC_STATES,
    STATES,
    build_specimen,
)
from coursekit.microscope.specimen import (
    check_labels as _check_labels,
)
from coursekit.microscope.specimen import (
    check_shape as _check_shape,
)
from coursekit.microscope.specimen.perturb import check_perturb

__all__ = [
    "Field",
    "simulate_field",
    "MODALITIES",
    "DEFAULT_PHOTONS",
    "OpticsSettings",
    "IlluminationSettings",
    "RecordingSettings",
    "estimate_memory_gb",
]


# Refractive increment of cell dry mass (proteins, nucleic acids, lipids): 0.18 to 0.21
# um^3/pg = mL/g (Barer 1952, Nature 169:366; Popescu et al. 2008, Am J Physiol Cell
# Physiol 295:C538 use 0.2; Zangle & Teitell 2014, Nat Methods 11:1221 review 0.18-0.19).
REFRACTIVE_INCREMENT_UM3_PER_PG = 0.19

# Per-pixel state codes of Field.state_map: 0 is background.
STATE_CODES = {state: i + 1 for i, state in enumerate(STATES)}
COARSE_STATE_CODES = {
    "interphase": 1,
    **{state: 2 for state in MITOTIC_STATES},
    "dead": 3,
}


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
    optical_path_um : numpy.ndarray
        float32 ``(Y, X)``: the optical path difference to the medium through the whole
        specimen, ``integral (n - n_medium) dz`` in micrometres (what quantitative phase
        imaging measures; :meth:`phase` in radians, :meth:`dry_mass` in pg/um^2). Noise-free.
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
    optical_path_um: np.ndarray | None = None

    @property
    def ndim(self) -> int:
        """2 for a focal plane, 3 for a z-stack."""
        return self.cell_mask.ndim

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels simulated in this field."""
        return tuple(self.recorded)

    def phase(self) -> np.ndarray:
        """The specimen's phase delay at the transmitted-light wavelength.

        Returns
        -------
        numpy.ndarray
            float32 ``(Y, X)`` in radians: ``2 pi / wavelength * optical_path_um``.
        """
        lam = float(self.metadata["wavelength_um"])
        return (np.float32(2 * np.pi / lam) * self.optical_path_um).astype(np.float32)

    def dry_mass(self, refractive_increment: float = REFRACTIVE_INCREMENT_UM3_PER_PG) -> np.ndarray:
        """Dry-mass surface density: the optical path difference over the refractive
        increment of protein (Barer 1952; Popescu et al. 2008).

        Parameters
        ----------
        refractive_increment : float
            ``alpha`` in um^3/pg (= mL/g), 0.18 to 0.21 for proteins and nucleic acids
            (default 0.19).

        Returns
        -------
        numpy.ndarray
            float32 ``(Y, X)`` in pg/um^2; summed over a cell's pixels times the pixel area
            it gives the cell's dry mass in pg (:meth:`cell_dry_mass`).
        """
        alpha = check_positive(refractive_increment, "refractive_increment")
        return (self.optical_path_um / np.float32(alpha)).astype(np.float32)

    def cell_dry_mass(
        self, refractive_increment: float = REFRACTIVE_INCREMENT_UM3_PER_PG
    ) -> dict[int, float]:
        """Dry mass (pg) of every cell in view: its footprint's dry mass (the part inside
        the field; a cell cut by the border weighs less)."""
        density = self.dry_mass(refractive_increment).astype(np.float64)
        footprint = self.cell_mask.max(axis=0) if self.ndim == 3 else self.cell_mask
        px = float(self.metadata["pixel_size_um"])
        n = int(footprint.max()) + 1
        sums = np.bincount(footprint.ravel(), density.ravel(), minlength=n) * px * px
        return {c.id: float(sums[c.id]) for c in self.cells}

    def paint(self, values, background=0, dtype=None) -> np.ndarray:
        """Paint a per-cell value on every pixel of the cell (an image of cell attributes).

        Parameters
        ----------
        values : dict of int to number, or str
            Cell id -> value, or the name of a :class:`CellInfo` attribute that is a number.
        background : number
            Value of pixels outside every cell (and of cells missing from ``values``).
        dtype : numpy dtype, optional
            Default: int16 for integer values, float32 otherwise.

        Returns
        -------
        numpy.ndarray
            Shaped as :attr:`cell_mask`.
        """
        if isinstance(values, str):
            values = {c.id: getattr(c, values) for c in self.cells}
        if dtype is None:
            ints = all(isinstance(v, (int, np.integer)) for v in values.values())
            dtype = np.int16 if ints and isinstance(background, (int, np.integer)) else np.float32
        table = np.full(int(self.cell_mask.max()) + 1, background, dtype=dtype)
        for cell_id, v in values.items():
            if 0 < cell_id < table.size:
                table[cell_id] = v
        table[0] = background
        return table[self.cell_mask]

    def state_map(self, coarse: bool = False) -> np.ndarray:
        """Per-pixel cell state, for classifying what cells are doing.

        Parameters
        ----------
        coarse : bool
            False: codes ``STATE_CODES`` (1 interphase, 2 prophase, ..., 6 dead). True:
            ``COARSE_STATE_CODES`` (1 interphase, 2 dividing: prophase to telophase, 3 dead).

        Returns
        -------
        numpy.ndarray
            int16, shaped as :attr:`cell_mask`, 0 outside cells.
        """
        codes = COARSE_STATE_CODES if coarse else STATE_CODES
        return self.paint({c.id: codes[c.state] for c in self.cells})

    def cell_type_map(self) -> np.ndarray:
        """Per-pixel cell type: ``1 + index`` in ``metadata["cell_type_codes"]`` (the
        sorted names of :data:`~coursekit.microscope.specimen.CELL_TYPES`), 0 outside."""
        codes = {name: i + 1 for i, name in enumerate(self.metadata["cell_type_codes"])}
        return self.paint({c.id: codes[c.cell_type] for c in self.cells})

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
# simulate_field
# ---------------------------------------------------------------------------------------


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
    memory_limit_gb: float | None = None,
    perturb=None,
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
    perturb : dict, optional
        A drug-like change of one or more structures in every cell: ``{structure:
        {"amount": a, "size": s}}`` multiplies the number of objects and their size, e.g.
        ``{"mitochondria": {"size": 0.35, "amount": 2.5}}`` (fragmentation, as with an
        uncoupler) or ``{"microtubules": {"amount": 0.15}}`` (nocodazole). Cells keep their
        positions and shapes (a model trained on untreated fields can be tested on treated
        ones); see :mod:`~coursekit.microscope.specimen.perturb`.
    memory_limit_gb : float, optional
        Refuse fields whose estimated peak memory (:func:`estimate_memory_gb`) exceeds
        this (default: 80 % of the machine's memory), before any work.

    Returns
    -------
    Field

    Raises
    ------
    ValueError
        For a shape that is not 2D or 3D, non-positive sizes, a negative seed, no labels,
        an unknown label, cell type, state, modality, structure or ``drop_cells`` id (the
        message lists the valid choices), or more cells than fit in the field.
    MemoryError
        For a field whose estimated memory exceeds ``memory_limit_gb`` (the message gives
        the estimate and the limit).

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
    labs = _check_labels(labels)
    optics_settings = _check_optics(
        modality,
        len(shp),
        n_planes=n_planes,
        defocus_step_um=defocus_step_um,
        pixel_size_um=pixel_size_um,
        z_step_um=z_step_um,
        wavelength_um=wavelength_um,
        na_objective=na_objective,
        na_condenser=na_condenser,
        na_fluorescence=na_fluorescence,
        n_medium=n_medium,
        n_illumination=n_illumination,
    )
    light = IlluminationSettings(
        transmitted_photons=check_positive(transmitted_photons, "transmitted_photons"),
        photons=_check_per_label(photons, "photons", labs, DEFAULT_PHOTONS),
        background_photons=check_positive(
            background_photons, "background_photons", allow_zero=True
        ),
        haze=check_positive(haze, "haze", allow_zero=True),
    )
    recording = _check_recording(camera, shot_noise, frame)
    dn = _check_delta_n(delta_n)
    perturbation = check_perturb(perturb)
    seed = check_int(seed, "seed", minimum=0)
    grid = imaging.Grid.around(shp, check_int(margin_px, "margin_px", minimum=0))
    _check_memory(shp, len(labs), margin_px, memory_limit_gb)

    # specimen -> refractive index -> transmitted light -> fluorescence -> camera
    specimen = _draw_specimen(
        grid,
        optics_settings,
        seed=seed,
        cell_types=cell_types,
        n_cells=n_cells,
        states=states,
        focus_um=focus_um,
        coverslip_um=coverslip_um,
        labels=labs,
        drop_cells=drop_cells,
        plans=plans,
        shift_um=shift_um,
        perturb=perturbation,
    )
    index = imaging.refractive_index(specimen, dn, optics_settings)
    opd = imaging.optical_path_difference(index, optics_settings, grid)
    transmitted = imaging.transmitted_light(index, optics_settings, light.transmitted_photons, grid)
    del index
    # the camera records the transmitted light and every label in one pass: one stack
    n_transmitted = transmitted.shape[0] if len(shp) == 2 else 1
    photons_all = np.empty((n_transmitted + len(labs), *shp), np.float32)
    photons_all[:n_transmitted] = transmitted if len(shp) == 2 else transmitted[None]
    del transmitted
    imaging.fluorescence(
        specimen, labs, optics_settings, light, grid, out=photons_all[n_transmitted:]
    )
    clean_all, recorded_all = _record(photons_all, labs, n_transmitted, recording, seed)
    del photons_all
    return _assemble_field(
        specimen,
        grid,
        clean_all,
        recorded_all,
        n_transmitted,
        labs,
        optics_settings=optics_settings,
        light=light,
        recording=recording,
        delta_n=dn,
        seed=seed,
        cell_types=cell_types,
        coverslip_um=coverslip_um,
        margin_px=margin_px,
        drop_cells=drop_cells,
        shift_um=shift_um,
        perturb=perturbation,
        optical_path_um=opd,
    )


def _draw_specimen(grid, settings, *, seed, labels, **specimen_kwargs):
    """The specimen on the padded grid, its cells planned for the field inside it."""
    px = settings.pixel_size_um
    Y, X = grid.shape[-2:]
    oy, ox = grid.origin_px
    return build_specimen(
        grid.padded_shape,
        seed=seed,
        pixel_size_um=px,
        z_step_um=settings.z_step_um,
        slab_um=imaging.focal_slab_um(settings.na_fluorescence, settings.n_medium),
        labels=labels,
        field_um=(Y * px, X * px),
        origin_um=(oy * px, ox * px),
        **specimen_kwargs,
    )


def _record(photons_all, labels, n_transmitted, recording, seed):
    """Clean and recorded counts of every channel; each channel (the transmitted planes
    together, then each label) draws its noise from its own stream."""
    groups = [(n_transmitted, 0)] + [(1, 1 + LABELS.index(lab)) for lab in labels]
    rngs = [(_noise_rng(seed, c, recording.frame), n) for n, c in groups]
    return _record_channels(photons_all, recording.camera, rngs, shot_noise=recording.shot_noise)


def _assemble_field(
    specimen,
    grid,
    clean_all,
    recorded_all,
    n_transmitted,
    labels,
    *,
    optics_settings,
    light,
    recording,
    delta_n,
    seed,
    cell_types,
    coverslip_um,
    margin_px,
    drop_cells,
    shift_um,
    perturb,
    optical_path_um,
) -> Field:
    """The Field: images cropped to the field, masks, cells in the field's frame and the
    metadata that describes the simulation."""
    shp = grid.shape
    is3d = len(shp) == 3
    s = optics_settings
    px = s.pixel_size_um
    if not is3d:
        trans_clean, trans = clean_all[:n_transmitted], recorded_all[:n_transmitted]
    else:
        trans_clean, trans = clean_all[0], recorded_all[0]
    clean = {lab: clean_all[n_transmitted + i] for i, lab in enumerate(labels)}
    recorded = {lab: recorded_all[n_transmitted + i] for i, lab in enumerate(labels)}
    cell_mask = np.ascontiguousarray(specimen.cell_mask[(Ellipsis, *grid.crop)])
    nucleus_mask = np.ascontiguousarray(specimen.nucleus_mask[(Ellipsis, *grid.crop)])
    cells = _cells_in_field(specimen.cells, cell_mask, nucleus_mask, px)
    psf = {lab: s.psf_sigmas_um(lab) for lab in labels}
    meta = {
        "seed": seed,
        "shape": shp,
        "ndim": len(shp),
        "cell_types": sorted({c.cell_type for c in cells}) or list(np.atleast_1d(cell_types)),
        "modality": s.modality,
        "pixel_size_um": px,
        "z_step_um": s.z_step_um,
        "defocus_um": s.defocus_um if not is3d else None,
        "focus_um": specimen.focus_um if not is3d else None,
        "coverslip_um": coverslip_um if is3d else None,
        "wavelength_um": s.wavelength_um,
        "emission_um": {lab: EMISSION_UM[lab] for lab in labels},
        "na_objective": s.na_objective,
        "na_condenser": s.na_condenser,
        "na_fluorescence": s.na_fluorescence,
        "n_medium": s.n_medium,
        "delta_n": delta_n,
        "psf_sigma_um": {lab: {"z": psf[lab][0], "xy": psf[lab][1]} for lab in labels},
        "focal_slab_um": specimen.slab_um if not is3d else None,
        "camera": recording.camera.to_dict(),
        "photons": light.photons,
        "transmitted_photons": light.transmitted_photons,
        "background_photons": light.background_photons,
        "haze": light.haze,
        "shot_noise": recording.shot_noise,
        "n_illumination": s.n_illumination,
        "margin_px": int(margin_px),
        "drop_cells": sorted(int(c) for c in drop_cells),
        "shift_um": (float(shift_um[0]), float(shift_um[1])),
        "frame": recording.frame,
        "perturb": perturb,
        "cell_type_codes": sorted(CELL_TYPES),
        "state_codes": dict(STATE_CODES),
        "refractive_increment_um3_per_pg": REFRACTIVE_INCREMENT_UM3_PER_PG,
    }
    return Field(
        transmitted=np.ascontiguousarray(trans),
        transmitted_clean=np.ascontiguousarray(trans_clean),
        modality=s.modality,
        recorded={k: np.ascontiguousarray(v) for k, v in recorded.items()},
        clean={k: np.ascontiguousarray(v) for k, v in clean.items()},
        cell_mask=cell_mask,
        nucleus_mask=nucleus_mask,
        cells=cells,
        metadata=meta,
        optical_path_um=np.ascontiguousarray(optical_path_um),
    )


def _cells_in_field(specimen_cells, cell_mask, nucleus_mask, px) -> list:
    """The cells seen in the field, with centroids and areas in the field's frame (the
    specimen was drawn with a margin)."""
    is3d = cell_mask.ndim == 3
    Y, X = cell_mask.shape[-2:]
    cm2 = cell_mask.max(axis=0) if is3d else cell_mask
    nm2 = nucleus_mask.max(axis=0) if is3d else nucleus_mask
    n_id = int(max([c.id for c in specimen_cells], default=0)) + 1
    yy = np.broadcast_to(np.arange(Y, dtype=np.float64)[:, None] * px, (Y, X)).ravel()
    xx = np.broadcast_to(np.arange(X, dtype=np.float64)[None, :] * px, (Y, X)).ravel()
    cc = np.bincount(cm2.ravel(), minlength=n_id)
    cy_, cx_ = (np.bincount(cm2.ravel(), w, minlength=n_id) for w in (yy, xx))
    nc = np.bincount(nm2.ravel(), minlength=n_id)
    ny_, nx_ = (np.bincount(nm2.ravel(), w, minlength=n_id) for w in (yy, xx))
    cells = []
    for c in specimen_cells:
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
    return cells


def _noise_rng(seed: int, channel: int, frame: int = 0) -> np.random.Generator:
    """One independent noise stream per channel and frame (so asking for fewer labels, or
    dropping a cell, leaves the other channels' noise streams unchanged)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 3, channel, frame]))
