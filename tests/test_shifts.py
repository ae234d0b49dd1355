"""Shifted test sets: each named shift changes exactly the setting it names."""

import numpy as np
import pytest

from coursekit.microscope.specimen import CELL_TYPES
from coursekit.shifts import IN_DISTRIBUTION, SHIFTS, shift_settings, shifted_test_sets


@pytest.fixture(scope="module")
def sets():
    return shifted_test_sets(1, (48, 48), seed=20_000, labels=("dna",))


def test_every_shift_changes_its_setting(sets):
    assert list(sets) == list(SHIFTS) and list(sets)[0] == IN_DISTRIBUTION
    ref = sets[IN_DISTRIBUTION][0].metadata
    meta = {name: fields[0].metadata for name, fields in sets.items()}
    assert {c.cell_type for c in sets["another cell type (neurons)"][0].cells} == {"neuron"}
    assert sets["another modality (phase contrast)"][0].modality == "phase_contrast"
    assert meta["another magnification (0.45 um pixels)"]["pixel_size_um"] == 0.45
    assert meta["focus 2 um higher"]["focus_um"] == pytest.approx(ref["focus_um"] + 2.0)
    assert ref["focus_um"] == pytest.approx(CELL_TYPES["epithelial"].focus_um)
    dim = meta["20x fewer photons (input)"]["transmitted_photons"]
    assert dim == pytest.approx(ref["transmitted_photons"] / 20)
    # the same specimen where only the imaging changed: same cells, same fluorescence
    same = sets["focus 2 um higher"][0]
    assert np.array_equal(same.cell_mask, sets[IN_DISTRIBUTION][0].cell_mask)
    # every input has the training input's channels
    assert {f[0].input_stack().shape[0] for f in sets.values()} == {3}


def test_unknown_shift():
    with pytest.raises(ValueError, match="unknown shift 'colour'"):
        shift_settings("colour")
    with pytest.raises(ValueError, match="n_fields"):
        shifted_test_sets(0, (32, 32), seed=0)
