"""The virtual microscope: specimen, optics, camera, fields, time-lapses and patch streams."""

from importlib import import_module

# name -> submodule; imported on first use so that `import coursekit.microscope` stays fast
# (the patch stream needs torch)
_EXPORTS = {
    "simulate_field": "field",
    "Field": "field",
    "MODALITIES": "field",
    "estimate_memory_gb": "field",
    "simulate_timelapse": "timelapse",
    "TimeLapse": "timelapse",
    "PatchStream": "stream",
    "simulated_pairs": "stream",
    "LABELS": "specimen",
    "STRUCTURES": "specimen",
    "STATES": "specimen",
    "DELTA_N": "specimen",
    "CELL_TYPES": "specimen",
    "CellType": "specimen",
    "CellPlan": "specimen",
    "CellInfo": "specimen",
    "Specimen": "specimen",
    "build_specimen": "specimen",
    "plan_cells": "specimen",
}
_SUBMODULES = (
    "specimen",
    "optics",
    "imaging",
    "camera",
    "settings",
    "field",
    "timelapse",
    "stream",
)

__all__ = [*_EXPORTS, *_SUBMODULES]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
