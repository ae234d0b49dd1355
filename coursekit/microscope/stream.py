"""Moved to :mod:`coursekit.models.stream` (torch data code lives with the models); this name
keeps ``coursekit.microscope.stream`` and ``coursekit.microscope.PatchStream`` working."""

from coursekit.models.stream import PatchStream, field_seed, simulated_pairs  # noqa: F401

__all__ = ["PatchStream", "simulated_pairs", "field_seed"]
