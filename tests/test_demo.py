"""`make demo` end to end, with a tiny training budget: every artefact is written and the
numbers in the summary are consistent with the files."""

import json

import numpy as np
import pandas as pd
import pytest

from coursekit.demo import run_demo
from coursekit.io import read_image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = run_demo(out, steps=3, seed=0, device="cpu", progress=False)
    return out, summary


def test_demo_writes_every_artefact(demo):
    out, summary = demo
    for name in (
        "field_overview.png",
        "loss_curve.png",
        "prediction.png",
        "scores.png",
        "scores.csv",
        "hallucination_probes.csv",
        "heldout_field_prediction.ome.tif",
        "dna_model.pt",
        "summary.json",
    ):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "summary.json").read_text()) == summary


def test_demo_numbers_agree_with_its_files(demo):
    out, summary = demo
    table = pd.read_csv(out / "scores.csv")
    assert summary["scores"]["pearson_clean"] == pytest.approx(table["pearson_clean"].mean())
    assert 0.9 < summary["scores"]["c_max"] <= 1.0
    assert summary["training"]["steps"] >= 1
    # the tiled prediction of the held-out field is the one-pass prediction
    assert summary["tiled_prediction"]["max_abs_difference_to_one_pass"] < 1e-4
    img = read_image(out / "heldout_field_prediction.ome.tif")
    assert img.axes == "CYX" and img.shape == (4, 512, 512)
    assert img.channel_names == ["brightfield", "dna_recorded", "dna_clean", "dna_predicted"]
    assert np.isfinite(img.data).all()
    probes = pd.read_csv(out / "hallucination_probes.csv")
    assert set(probes["probe"]) >= {"blank", "noise", "cell_removed", "other_modality"}
