"""The course's scientific claims, measured: a short CPU training run on the virtual
microscope gives a useful DNA model, and what a model can predict follows the
refractive-index contrast of the structure (Ounkomol et al. 2018's ranking, made causal).

Thresholds were measured on 2 CPU cores with these seeds and budgets (the runs are
deterministic on the CPU) and set with a margin below the measured values; the measured
values are in the comments.
"""

import numpy as np
import pytest
import torch

from coursekit.experiments import heldout_fields, score_fields, train_on_simulator
from coursekit.microscope import DELTA_N
from coursekit.models import UNet

pytestmark = pytest.mark.slow

STEPS = 150  # about 25 s on 2 CPU cores, batch 8 of 3 x 64 x 64
HELDOUT_SEED = 10_000  # far from the training streams' field seeds


@pytest.fixture(scope="module", autouse=True)
def _two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dna_fields():
    return heldout_fields(3, (256, 256), seed=HELDOUT_SEED, labels=("dna",))


def test_short_training_gives_a_useful_dna_model(dna_fields):
    model, history = train_on_simulator(("dna",), steps=STEPS, seed=0, progress=False, device="cpu")
    assert history.steps[-1] == STEPS
    table = score_fields(model, dna_fields, ("dna",), device="cpu")
    r_clean = table["pearson_clean"].mean()
    print(table[["structure", "field", "pearson_clean", "pearson_recorded", "c_max"]])
    # measured 0.84 (r against the recorded target 0.84, noise ceiling C_max 0.995)
    assert r_clean >= 0.70, table
    assert (table["c_max"] > table["pearson_recorded"]).all()

    # the same architecture untrained is no DNA model: training, not the input, did this
    torch.manual_seed(0)
    untrained = UNet(3, 1)
    r_untrained = score_fields(untrained, dna_fields, ("dna",), device="cpu")["pearson_clean"]
    assert np.abs(r_untrained).mean() < r_clean - 0.3


def test_prediction_falls_with_refractive_index_contrast():
    """Nucleoli have no place in the cell that context alone gives away: with their
    refractive-index contrast set to zero nothing in the transmitted light shows them, and
    a model trained the same way on the same cells predicts them clearly worse."""
    r = {}
    for scale in (1.0, 0.0):
        delta_n = {"nucleoli": DELTA_N["nucleoli"] * scale}
        model, _ = train_on_simulator(
            ("nucleoli",), steps=STEPS, seed=0, progress=False, device="cpu", delta_n=delta_n
        )
        fields = heldout_fields(
            3, (256, 256), seed=HELDOUT_SEED, labels=("nucleoli",), delta_n=delta_n
        )
        r[scale] = score_fields(model, fields, ("nucleoli",), device="cpu")["pearson_clean"].mean()
    print("nucleoli r against the clean target by delta_n scale:", r)
    # measured 0.57 with the literature delta_n and 0.44 without it
    assert r[1.0] - r[0.0] >= 0.06, r
