"""The in silico labeling sample (Christiansen et al. 2018) as arrays."""

from __future__ import annotations

import os
import re

import numpy as np

from coursekit.datasets.fetch import fetch

__all__ = ["load_isl_sample"]

#: the 13 phase-contrast focal planes and the three confocal targets of the sample
ISL_Z_PLANES = 13
ISL_TARGETS = ("DAPI", "MAP2", "NFH")


def load_isl_sample(
    *,
    registry=None,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The in silico labeling sample as arrays: a phase-contrast z-stack and its targets.

    Fetches ``"isl_condition_blue"`` (28.7 MB, verified sha256) on first use.

    Parameters
    ----------
    registry, data_dir, base_url, progress
        As for :func:`fetch`.

    Returns
    -------
    phase : numpy.ndarray
        ``(13, 1024, 1024)`` uint16, phase contrast, z-slices 0 to 12 in order.
    targets : dict of str to numpy.ndarray
        ``{"DAPI": nuclei, "MAP2": dendrites, "NFH": axons}``, each ``(1024, 1024)`` uint16,
        confocal maximum projections registered to ``phase``. Pixel size not stated by
        the source.

    Examples
    --------
    >>> phase, targets = load_isl_sample()  # doctest: +SKIP
    >>> phase.shape, phase.dtype, targets["DAPI"].shape  # doctest: +SKIP
    ((13, 1024, 1024), dtype('uint16'), (1024, 1024))
    """
    from coursekit.io import read_image

    paths = fetch(
        "isl_condition_blue",
        registry=registry,
        data_dir=data_dir,
        base_url=base_url,
        progress=progress,
    )
    slices: dict[int, np.ndarray] = {}
    targets: dict[str, np.ndarray] = {}
    for path in paths:
        z = re.search(r"z_depth-(\d+),channel-PHASE_CONTRAST", path.name)
        target = re.search(r"channel-([A-Z0-9]+)_CONFOCAL", path.name)
        if z:
            slices[int(z.group(1))] = read_image(path).data
        elif target:
            targets[target.group(1)] = read_image(path).data
    if sorted(slices) != list(range(13)) or sorted(targets) != ["DAPI", "MAP2", "NFH"]:
        raise RuntimeError(
            f"the isl_condition_blue files are incomplete: z-slices {sorted(slices)}, "
            f"targets {sorted(targets)}"
        )
    phase = np.stack([slices[z] for z in range(13)])
    for what, arr in [("phase", phase), *targets.items()]:
        if arr.dtype != np.uint16:
            raise RuntimeError(f"{what}: expected 16-bit images, got {arr.dtype}")
    return phase, {k: targets[k] for k in ("DAPI", "MAP2", "NFH")}
