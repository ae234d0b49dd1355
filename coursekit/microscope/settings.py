"""The settings of :func:`~coursekit.microscope.field.simulate_field`, grouped as a reader
looks for them: the optics, the light, the camera; their validation from the keywords;
and the memory a field needs (checked before any work)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from coursekit._validation import check_choice, check_int, check_positive
from coursekit.microscope import imaging, optics
from coursekit.microscope.camera import Camera
from coursekit.microscope.specimen import DELTA_N, LABELS, STRUCTURES
from coursekit.microscope.specimen import check_shape as _check_shape

__all__ = [
    "MODALITIES",
    "DEFAULT_PHOTONS",
    "EMISSION_UM",
    "OpticsSettings",
    "IlluminationSettings",
    "RecordingSettings",
    "estimate_memory_gb",
]

MODALITIES = ("brightfield", "phase_contrast", "dic")

# Expected photons per pixel from a label at intensity 1 in focus (before the camera's
# quantum efficiency). Set so that the noise ceilings C_max of default fields span the
# range of real live-cell data, where dyes are bright and endogenously tagged proteins
# (one tagged allele, imaged live at low light to spare the cells) are dim: the dyes (DNA,
# membrane, the dead-cell stain) at C_max ~0.95 to 0.99, the tagged proteins at ~0.5 to
# 0.85, the sparse and thin ones (microtubules, focal adhesions) lowest, so that a chart
# of scores with the ceiling drawn on every bar (Ounkomol et al. 2018, Nat Methods
# 15:917, Fig. 2) shows different ceilings for different structures. Solved from the
# clean images of ten 256 x 256 default fields for these median ceilings: dna 0.985, membrane 0.97, nucleoli 0.85, nuclear envelope 0.80,
# ER 0.80, mitochondria 0.75, actin 0.72, microtubules 0.65, focal adhesions 0.55;
# tests/test_field.py pins the measured ranges.
DEFAULT_PHOTONS = {
    "dna": 160.0,
    "nucleoli": 85.0,
    "nuclear_envelope": 70.0,
    "membrane": 110.0,
    "mitochondria": 190.0,
    "er": 30.0,
    "microtubules": 60.0,
    "actin": 32.0,
    "focal_adhesions": 270.0,
    "dead": 600.0,
}

# Emission wavelengths (um) of the labels' fluorophores: Hoechst / DAPI blue, FPs green,
# the live/dead stain red.
EMISSION_UM = {lab: 0.52 for lab in LABELS}
EMISSION_UM["dna"] = 0.46
EMISSION_UM["dead"] = 0.62


@dataclass(frozen=True)
class OpticsSettings:
    """The microscope: sampling, wavelengths, apertures, the transmitted-light technique
    and its focal planes. Filled from :func:`simulate_field`'s keywords (see there)."""

    modality: str
    n_planes: int
    defocus_step_um: float
    pixel_size_um: float
    z_step_um: float
    wavelength_um: float
    na_objective: float
    na_condenser: float
    na_fluorescence: float
    n_medium: float
    n_illumination: int

    @property
    def defocus_um(self) -> list[float]:
        """2D fields: the transmitted-light planes' defocus, centred on focus (um)."""
        n = self.n_planes
        return [float((k - (n - 1) / 2) * self.defocus_step_um) for k in range(n)]

    def psf_sigmas_um(self, label: str) -> tuple[float, float]:
        """``(sigma_z, sigma_xy)`` of the fluorescence PSF of ``label``'s fluorophore."""
        return optics.fluorescence_psf_sigmas(
            EMISSION_UM[label], self.na_fluorescence, self.n_medium
        )


@dataclass(frozen=True)
class IlluminationSettings:
    """The light: transmitted-light and fluorescence photon budgets, background, haze."""

    transmitted_photons: float
    photons: dict  # label -> photons per pixel at intensity 1
    background_photons: float
    haze: float


@dataclass(frozen=True)
class RecordingSettings:
    """The camera and its noise: which camera, how shot noise is drawn, which frame."""

    camera: Camera
    shot_noise: str
    frame: int


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


# Peak memory of simulate_field per pixel of the padded grid, measured with tracemalloc
# (512 x 512 and 1024 x 1024 2D fields, 32 x 256 x 256 3D fields): a fixed part (the
# specimen's structure maps, the drawing maps and their temporaries) and a part per label.
# The estimate adds 15 % for what the measurement does not see (allocator slack).
_BYTES_PER_PIXEL_2D = (490.0, 19.0)
_BYTES_PER_VOXEL_3D = (150.0, 10.0)
_MEMORY_SLACK = 1.15


def estimate_memory_gb(shape, *, n_labels: int = len(LABELS), margin_px: int = 7) -> float:
    """Peak memory (GB) :func:`simulate_field` needs for a field.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)``.
    n_labels : int
        Number of fluorescent labels simulated.
    margin_px : int
        As in :func:`simulate_field`.

    Returns
    -------
    float
        Gigabytes (1e9 bytes), measured per pixel plus a 15 % margin.

    Examples
    --------
    >>> round(estimate_memory_gb((4096, 4096)), 1)
    14.6
    """
    shp = _check_shape(shape)
    n_labels = check_int(n_labels, "n_labels", minimum=1)
    grid = imaging.Grid.around(shp, check_int(margin_px, "margin_px", minimum=0))
    n_px = float(np.prod(grid.padded_shape, dtype=np.float64))
    fixed, per_label = _BYTES_PER_PIXEL_2D if len(shp) == 2 else _BYTES_PER_VOXEL_3D
    return n_px * (fixed + per_label * n_labels) * _MEMORY_SLACK / 1e9


def _default_memory_limit_gb() -> float:
    """80 % of this machine's memory (8 GB where the system does not say)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 8.0
    return 0.8 * total / 1e9


def _check_memory(shape, n_labels, margin_px, limit_gb) -> None:
    """Refuse, before any work, a field whose estimated memory exceeds the limit."""
    if limit_gb is None:
        limit_gb, where = _default_memory_limit_gb(), "80 % of this machine's memory"
    else:
        limit_gb, where = check_positive(limit_gb, "memory_limit_gb"), "memory_limit_gb"
    need = estimate_memory_gb(shape, n_labels=n_labels, margin_px=margin_px)
    if need > limit_gb:
        raise MemoryError(
            f"simulate_field: a {tuple(shape)} field with {n_labels} labels needs about "
            f"{_format_gb(need)} of memory, over the limit of {limit_gb:.3g} GB ({where}); "
            "simulate a smaller shape (tile a large area into fields of 256 to 1024 pixels), "
            "fewer labels, or pass memory_limit_gb=... if this machine has the memory"
        )


def _format_gb(gb: float) -> str:
    for unit, scale in (("PB", 1e6), ("TB", 1e3)):
        if gb >= scale:
            return f"{gb / scale:.3g} {unit}"
    return f"{gb:.3g} GB"


def _check_optics(modality, ndim, **values) -> OpticsSettings:
    check_choice(modality, "modality", MODALITIES)
    if ndim == 3 and modality == "dic":
        raise ValueError(
            "modality 'dic' is only available for 2D fields; use 'brightfield' or 'phase_contrast'"
        )
    na_objective = check_positive(values["na_objective"], "na_objective")
    na_fluorescence = values["na_fluorescence"]
    return OpticsSettings(
        modality=modality,
        n_planes=check_int(values["n_planes"], "n_planes", minimum=1),
        defocus_step_um=check_positive(
            values["defocus_step_um"], "defocus_step_um", allow_zero=True
        ),
        pixel_size_um=check_positive(values["pixel_size_um"], "pixel_size_um"),
        z_step_um=check_positive(values["z_step_um"], "z_step_um"),
        wavelength_um=check_positive(values["wavelength_um"], "wavelength_um"),
        na_objective=na_objective,
        na_condenser=check_positive(values["na_condenser"], "na_condenser", allow_zero=True),
        na_fluorescence=na_objective
        if na_fluorescence is None
        else check_positive(na_fluorescence, "na_fluorescence"),
        n_medium=check_positive(values["n_medium"], "n_medium"),
        n_illumination=values["n_illumination"],  # checked by the optics
    )


def _check_recording(camera, shot_noise, frame) -> RecordingSettings:
    check_choice(shot_noise, "shot_noise", ("poisson", "gaussian"))
    cam = Camera() if camera is None else camera
    if not isinstance(cam, Camera):
        raise TypeError(
            f"camera: expected a coursekit.microscope.camera.Camera, got {type(cam).__name__}"
        )
    return RecordingSettings(
        camera=cam, shot_noise=shot_noise, frame=check_int(frame, "frame", minimum=0)
    )
