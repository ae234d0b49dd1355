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

    Fetches ``"isl_condition_blue"`` (16 PNG files, 28.7 MB, every file with a verified
    sha256) on first use; later calls read the checked files from the cache and need no
    network. Works offline from a local folder (``data_dir=`` a folder holding
    ``isl_condition_blue/<file>``, e.g. a read-only classroom copy: nothing is written
    there when every file matches) or from a local web server (``base_url=`` serving
    ``<base>/isl_condition_blue/<file>``); the hashes are checked either way.

    Parameters
    ----------
    registry, data_dir, base_url, progress
        As for :func:`~coursekit.datasets.fetch` (``$COURSEKIT_DATA_DIR``,
        ``$COURSEKIT_DATA_BASE_URL`` and ``$COURSEKIT_DOWNLOAD_DEADLINE`` apply).

    Returns
    -------
    phase : numpy.ndarray
        Shape ``(13, 1024, 1024)`` = (Z, Y, X), dtype uint16 (the raw 16-bit camera values,
        0 to 65535; not normalized), phase contrast, focal planes ``z_depth`` 0 to 12 in
        that order (the source states no z step). 26 MiB.
    targets : dict of str to numpy.ndarray
        ``{"DAPI": nuclei, "MAP2": dendrites, "NFH": axons}`` in that order, each
        ``(1024, 1024)`` = (Y, X) uint16, confocal maximum projections registered
        pixel-to-pixel to ``phase``. They carry an offset (minimum about 11,000 to 14,000)
        and a few saturated pixels (value 65535: about 0.3 % of DAPI). The pixel size is
        not stated by the source. New arrays on every call (safe to modify).

    Raises
    ------
    DownloadError
        When files are missing from the cache and cannot be downloaded (offline).
    HashMismatchError
        When a file does not match its verified sha256.
    RuntimeError
        When the files do not make up the 13 planes and 3 targets (a damaged registry).

    Examples
    --------
    >>> phase, targets = load_isl_sample()  # doctest: +SKIP
    >>> phase.shape, phase.dtype, targets["DAPI"].shape  # doctest: +SKIP
    ((13, 1024, 1024), dtype('uint16'), (1024, 1024))
    >>> phase, targets = load_isl_sample(data_dir="/srv/course-data")  # doctest: +SKIP
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
    if sorted(slices) != list(range(ISL_Z_PLANES)) or sorted(targets) != sorted(ISL_TARGETS):
        raise RuntimeError(
            f"the isl_condition_blue files are incomplete: z-slices {sorted(slices)}, "
            f"targets {sorted(targets)}"
        )
    phase = np.stack([slices[z] for z in range(ISL_Z_PLANES)])
    for what, arr in [("phase", phase), *targets.items()]:
        if arr.dtype != np.uint16:
            raise RuntimeError(f"{what}: expected 16-bit images, got {arr.dtype}")
    return phase, {k: targets[k] for k in ISL_TARGETS}
