"""The optical path map redraws exactly the specimen that simulate_field imaged."""

import numpy as np
import pytest

from coursekit.crossmodality import optical_path_map, phase_map
from coursekit.microscope import field as field_module
from coursekit.microscope import simulate_field


def _captured_opd(shape, **kwargs):
    """The OPD simulate_field itself computed, captured from its specimen."""
    seen = {}
    original = field_module.build_specimen

    def spy(*args, **kw):
        seen["spec"] = original(*args, **kw)
        seen["origin"] = kw["origin_um"]
        return seen["spec"]

    field_module.build_specimen = spy
    try:
        fld = simulate_field(shape, **kwargs)
    finally:
        field_module.build_specimen = original
    px = fld.metadata["pixel_size_um"]
    oy, ox = (int(round(v / px)) for v in seen["origin"])
    opd = seen["spec"].optical_path_um(fld.metadata["delta_n"])
    return fld, opd[oy : oy + shape[0], ox : ox + shape[1]]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": 3},
        {"seed": 5, "cell_types": "fibroblast", "n_cells": 3, "states": "dead"},
        {"seed": 7, "delta_n": {"dna": 0.0}, "drop_cells": (1,), "shift_um": (1.5, -2.0)},
    ],
)
def test_optical_path_map_is_the_simulated_one(kwargs):
    fld, expected = _captured_opd((80, 96), labels=("dna", "membrane"), **kwargs)
    got = optical_path_map((80, 96), **kwargs)
    assert got.shape == (80, 96) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    # the path is in the cells and nowhere else
    assert got[fld.cell_mask == 0].max() < 0.05 * got.max()


def test_phase_map_scales_with_wavelength():
    opd = optical_path_map((64, 64), seed=1, n_cells=2)
    phi = phase_map((64, 64), seed=1, n_cells=2, wavelength_um=0.5)
    np.testing.assert_allclose(phi, 2 * np.pi / 0.5 * opd, rtol=1e-5)


def test_bad_shapes_and_wavelengths_are_refused():
    with pytest.raises(ValueError, match="phase_from_ri"):
        optical_path_map((8, 64, 64), seed=0)
    with pytest.raises(ValueError, match="wavelength_um"):
        phase_map((64, 64), seed=0, wavelength_um=0)
