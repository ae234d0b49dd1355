"""Hallucination maps, probes and uncertainty on synthetic cases with a known answer."""

import importlib.util

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from coursekit.hallucination import (  # noqa: E402
    PROBE_NAMES,
    Probe,
    ensemble_uncertainty,
    fit_scale,
    hallucination_map,
    hallucination_scores,
    make_probes,
    mc_dropout_uncertainty,
    miss_map,
    plot_probe,
    plot_uncertainty,
    run_probes,
    signal_levels,
    to_truth_scale,
    uncertainty_calibration,
)

SHAPE = (48, 48)


def disk(cy, cx, r, shape=SHAPE):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


@pytest.fixture
def truth():
    """Two bright nuclei (value 10) on a background of 2."""
    t = np.full(SHAPE, 2.0)
    t[disk(12, 12, 6)] = 10.0
    t[disk(34, 30, 7)] = 10.0
    return t


# --------------------------------------------------------------------------- maps
def test_added_blob_is_hallucinated_exactly_there(truth):
    blob = disk(36, 10, 4)
    pred = truth.copy()
    pred[blob] = 8.0
    h = hallucination_map(pred, truth, scale="none")
    assert h.dtype == np.float32 and h.shape == truth.shape
    np.testing.assert_array_equal(h > 0, blob)
    np.testing.assert_allclose(h[blob], 6.0)  # 8 above a background of 2
    assert not miss_map(pred, truth, scale="none").any()
    s = hallucination_scores(pred, truth, scale="none")
    assert s["hallucinated_mass_fraction"] > 0
    assert s["missed_mass_fraction"] == 0.0 and s["missed_area_fraction"] == 0.0
    n_blob, n_signal = blob.sum(), (truth > 2).sum()
    assert s["hallucinated_area_fraction"] == pytest.approx(n_blob / (n_blob + n_signal))
    assert s["false_positive_rate"] == pytest.approx(n_blob / (truth == 2).sum())
    expected = 6.0 * n_blob / (6.0 * n_blob + 8.0 * n_signal)
    assert s["hallucinated_mass_fraction"] == pytest.approx(expected)
    assert s["hallucinated_mass"] == pytest.approx(6.0 * n_blob)


def test_missing_blob_shows_in_the_miss_map(truth):
    gone = disk(34, 30, 7)
    pred = truth.copy()
    pred[gone] = 2.0
    m = miss_map(pred, truth, scale="none")
    np.testing.assert_array_equal(m > 0, gone)
    np.testing.assert_allclose(m[gone], 8.0)
    assert not hallucination_map(pred, truth, scale="none").any()
    s = hallucination_scores(pred, truth, scale="none")
    assert s["missed_mass_fraction"] == pytest.approx(gone.sum() / (truth > 2).sum())
    assert s["hallucinated_mass_fraction"] == 0.0


@pytest.mark.parametrize("scale", ["none", "affine"])
def test_perfect_prediction_scores_zero(truth, scale):
    s = hallucination_scores(truth, truth, scale=scale)
    for k in ("hallucinated_mass_fraction", "false_positive_rate", "missed_mass_fraction"):
        assert s[k] == pytest.approx(0.0, abs=1e-12)
    assert not hallucination_map(truth, truth, scale=scale).any()
    assert not miss_map(truth, truth, scale=scale).any()


def test_affine_scale_brings_a_prediction_in_other_units_to_the_truth(truth):
    pred = (truth - 2.0) / 8.0 * 3.0 - 1.0  # z-score-like units
    s = hallucination_scores(pred, truth)  # default scale="affine"
    assert s["scale_a"] == pytest.approx(8.0 / 3.0) and s["scale_b"] > 0
    assert s["hallucinated_mass"] == pytest.approx(0, abs=1e-9)
    assert s["missed_mass"] == pytest.approx(0, abs=1e-9)
    scaled, ab = to_truth_scale(pred, truth)
    np.testing.assert_allclose(scaled, truth, atol=1e-9)
    assert ab == pytest.approx(fit_scale(pred, truth))
    # the same in (1, Y, X) with a channel axis
    assert not hallucination_map(pred[None], truth).any()


def test_signal_levels_and_default_threshold(truth):
    lv = signal_levels(truth)
    assert lv["background"] == 2.0 and lv["peak"] == 10.0
    assert lv["threshold"] == pytest.approx(2.8)
    assert signal_levels(truth, fraction=0.5)["threshold"] == pytest.approx(6.0)
    # a faint prediction below the threshold is not counted as hallucination
    pred = truth.copy()
    pred[disk(36, 10, 4)] = 2.5
    assert not hallucination_map(pred, truth, scale="none").any()
    assert hallucination_map(pred, truth, scale="none", threshold=2.2).any()


def test_empty_truth_needs_a_reference_calibration(truth):
    empty = np.full(SHAPE, 2.0)
    pred = empty.copy()
    pred[disk(20, 20, 5)] = 6.0
    with pytest.raises(ValueError, match="constant.*reference field"):
        hallucination_map(pred, empty, scale="none")
    with pytest.raises(ValueError, match="constant truth.*fit_scale"):
        hallucination_map(pred, empty, threshold=2.8)
    lv = signal_levels(truth)
    h = hallucination_map(pred, empty, scale=(1.0, 0.0), threshold=lv["threshold"])
    np.testing.assert_array_equal(h > 0, disk(20, 20, 5))
    s = hallucination_scores(pred, empty, scale="none", threshold=lv["threshold"])
    assert s["hallucinated_mass_fraction"] == 1.0 and s["missed_mass_fraction"] == 0.0


def test_mask_restricts_maps(truth):
    pred = truth.copy()
    pred[disk(36, 10, 4)] = 8.0
    mask = np.zeros(SHAPE, bool)
    mask[:, 24:] = True  # the blob is outside
    assert not hallucination_map(pred, truth, scale="none", mask=mask).any()


def test_map_input_errors(truth):
    with pytest.raises(ValueError, match="same shape"):
        hallucination_map(truth[:10], truth)
    with pytest.raises(ValueError, match="unknown scale 'zscore'"):
        hallucination_map(truth, truth, scale="zscore")
    with pytest.raises(TypeError, match="pair"):
        hallucination_map(truth, truth, scale=(1.0,))
    with pytest.raises(ValueError, match="below the background"):
        hallucination_map(truth, truth, threshold=1.0, background=2.0)
    with pytest.raises(ValueError, match=r"fraction: expected a number in \(0, 1\]"):
        signal_levels(truth, fraction=0)


# --------------------------------------------------------------------------- run_probes
def synthetic_probes(truth):
    """Probes whose input carries the answer in channel 0 (so a 'model' can be a formula)."""
    blank_truth = np.full(SHAPE, 2.0)
    painted = np.zeros(SHAPE)
    painted[disk(20, 20, 5)] = 8.0  # the model will paint this on the blank field
    removed = truth.copy()
    region = disk(34, 30, 7)
    removed[region] = 2.0
    return {
        "reference": Probe("reference", np.stack([truth, truth]), truth, "ref"),
        "blank": Probe("blank", np.stack([2.0 + painted, painted]), blank_truth, "blank"),
        # the model still paints the removed cell: its input shows it
        "cell_removed": Probe(
            "cell_removed", np.stack([truth, truth]), removed, "cell removed", region=region
        ),
    }


def model_in_other_units(x):
    return 0.5 * x[:1] - 1.0  # (C, Y, X) -> (1, Y, X), units of 0.5 * truth - 1


def test_run_probes_calibrates_on_the_reference(truth):
    probes = synthetic_probes(truth)
    table, preds = run_probes(model_in_other_units, probes, return_predictions=True)
    assert table["probe"].tolist() == ["reference", "blank", "cell_removed"]
    t = table.set_index("probe")
    assert t.loc["reference", "scale_a"] == pytest.approx(2.0)
    assert t.loc["reference", "scale_b"] == pytest.approx(2.0)
    assert t["threshold"].tolist() == pytest.approx([2.8] * 3)
    assert t.loc["reference", "pearson_truth"] == pytest.approx(1.0)
    assert t.loc["reference", "hallucinated_mass_fraction"] == pytest.approx(0, abs=1e-9)
    assert np.isnan(t.loc["blank", "pearson_truth"])  # constant truth
    assert t.loc["blank", "hallucinated_mass_fraction"] == pytest.approx(1.0)
    n = disk(20, 20, 5).sum()
    assert t.loc["blank", "false_positive_rate"] == pytest.approx(n / np.prod(SHAPE))
    assert t.loc["cell_removed", "region_painted_fraction"] == pytest.approx(1.0)
    assert t.loc["cell_removed", "hallucinated_mass_fraction"] > 0
    assert np.isnan(t.loc["blank", "region_painted_fraction"])
    assert preds["blank"].shape == SHAPE


def test_run_probes_accepts_a_torch_model_and_a_dict(truth):
    probes = synthetic_probes(truth)
    conv = nn.Conv2d(2, 1, 1)
    with torch.no_grad():
        conv.weight[:] = torch.tensor([0.5, 0.0]).view(1, 2, 1, 1)
        conv.bias[:] = -1.0
    t1 = run_probes(conv, probes)
    t2 = run_probes({"dna": model_in_other_units}, probes)
    np.testing.assert_allclose(
        t1["hallucinated_mass_fraction"], t2["hallucinated_mass_fraction"], atol=1e-6
    )
    with pytest.raises(KeyError, match="no predictor for label 'dna'"):
        run_probes({"membrane": model_in_other_units}, probes)
    with pytest.raises(ValueError, match="no reference field"):
        run_probes(model_in_other_units, {"blank": probes["blank"]})
    with pytest.raises(TypeError, match="predictor: expected a function"):
        run_probes(42, probes)


# --------------------------------------------------------------------------- uncertainty
def test_ensemble_of_identical_predictors_has_zero_spread():
    x = np.random.default_rng(0).random((2, 16, 16)).astype(np.float32)
    mean, std = ensemble_uncertainty([model_in_other_units] * 3, x)
    assert mean.shape == (1, 16, 16) and mean.dtype == np.float32
    assert not std.any()
    np.testing.assert_allclose(mean, model_in_other_units(x), rtol=1e-6)
    mean, std = ensemble_uncertainty([lambda v: v, lambda v: v + 2.0], x)
    np.testing.assert_allclose(std, np.sqrt(2.0), rtol=1e-6)  # sample std (ddof=1) of (v, v+2)
    with pytest.raises(ValueError, match="at least 2 predictors"):
        ensemble_uncertainty([model_in_other_units], x)
    with pytest.raises(ValueError, match="predictor 1 returned shape"):
        ensemble_uncertainty([lambda v: v, lambda v: v[:1]], x)


def test_calibration_of_a_perfect_and_a_random_uncertainty():
    rng = np.random.default_rng(0)
    err = rng.standard_normal((64, 64))
    good = uncertainty_calibration(np.abs(err), err, top_fraction=0.1)
    assert good["spearman"] == pytest.approx(1.0)
    assert good["pearson"] == pytest.approx(1.0)
    assert good["top_error_overlap"] == 1.0
    assert good["ratio"] > 3
    bad = uncertainty_calibration(rng.random((64, 64)), err, top_fraction=0.1)
    assert abs(bad["spearman"]) < 0.06 and abs(bad["pearson"]) < 0.06
    assert 0.8 < bad["ratio"] < 1.25
    assert bad["top_error_overlap"] < 0.2
    flat = uncertainty_calibration(np.ones((8, 8)), err[:8, :8])
    assert np.isnan(flat["spearman"]) and np.isnan(flat["ratio"])
    with pytest.raises(ValueError, match=r"top_fraction: expected a number in \(0, 1\)"):
        uncertainty_calibration(np.abs(err), err, top_fraction=1.0)
    with pytest.raises(ValueError, match="same shape"):
        uncertainty_calibration(np.abs(err), err[:5])


class TinyNet(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout2d(p)
        self.out = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        return self.out(self.drop(torch.relu(self.bn(self.conv(x)))))


def test_mc_dropout_identical_passes_have_zero_spread():
    torch.manual_seed(0)
    net = TinyNet(0.5)
    with torch.no_grad():
        net.out.weight.zero_()  # the dropped features do not reach the output
    x = np.random.default_rng(0).random((1, 12, 12)).astype(np.float32)
    mean, std = mc_dropout_uncertainty(net, x, n_samples=6, progress=False)
    assert mean.shape == (1, 12, 12) and not std.any(), "identical passes must have zero spread"
    with pytest.raises(ValueError, match="no dropout layers with p > 0"):
        mc_dropout_uncertainty(TinyNet(0.0), x, n_samples=6)


def test_mc_dropout_spread_keeps_batch_norm_in_eval_and_restores_modes():
    torch.manual_seed(0)
    net = TinyNet(0.5)
    net.bn.running_mean += 0.3  # not the initial values, to notice any update
    before = {k: v.clone() for k, v in net.bn.state_dict().items()}
    net.train()
    x = np.random.default_rng(1).random((1, 12, 12)).astype(np.float32)
    state = torch.get_rng_state()
    mean, std = mc_dropout_uncertainty(net, x, n_samples=10, seed=3, batch_size=3)
    assert std.max() > 0
    for k, v in net.bn.state_dict().items():  # running statistics untouched
        assert torch.equal(v, before[k]), k
    assert all(m.training for m in net.modules())  # modes restored
    assert torch.equal(torch.get_rng_state(), state)  # global RNG untouched
    mean2, std2 = mc_dropout_uncertainty(net, torch.from_numpy(x), n_samples=10, seed=3)
    np.testing.assert_allclose(mean, mean2, atol=1e-6)  # same seed, same masks
    np.testing.assert_allclose(std, std2, atol=1e-6)


def test_mc_dropout_errors():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1))
    x = np.ones((1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="no dropout layers"):
        mc_dropout_uncertainty(net, x)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        mc_dropout_uncertainty(lambda v: v, x)
    with pytest.raises(ValueError, match="n_samples: expected an integer >= 2"):
        mc_dropout_uncertainty(TinyNet(0.1), x, n_samples=1)


# --------------------------------------------------------------------------- figures
def test_plot_probe_and_plot_uncertainty(truth):
    probes = synthetic_probes(truth)
    table, preds = run_probes(model_in_other_units, probes, return_predictions=True)
    row = table.set_index("probe").loc["blank"]
    axes = plot_probe(probes["blank"], preds["blank"], calibration=row)
    assert len(axes) == 4 and "blank" in axes[0].get_title()
    overlay = axes[3].get_images()[0].get_array()
    np.testing.assert_array_equal(np.all(overlay == (1.0, 0.0, 1.0), axis=-1), disk(20, 20, 5))
    axes = plot_uncertainty(truth[None], np.ones((1, *SHAPE)), truth=truth)
    assert len(axes) == 4 and axes[3].get_xlabel() == "uncertainty (std)"
    assert len(plot_uncertainty(truth, truth)) == 2
    plt.close("all")


# --------------------------------------------------------------------------- make_probes
needs_microscope = pytest.mark.skipif(
    importlib.util.find_spec("coursekit.microscope.field") is None,
    reason="coursekit.microscope.field (simulate_field) is not there yet",
)


@needs_microscope
def test_make_probes_from_the_virtual_microscope():
    probes = make_probes((64, 64), seed=0, n_planes=3)
    assert tuple(probes) == PROBE_NAMES
    ref = probes["reference"]
    assert ref.input.shape == (3, 64, 64) and ref.truth.shape == (64, 64)
    for p in probes.values():
        assert p.input.shape == ref.input.shape and p.truth.shape == ref.truth.shape
        assert p.description.endswith((".", "?")) and p.input.dtype == np.float32
    blank = probes["blank"]
    # empty medium: uniform illumination (camera counts), only camera noise around it
    plane_means = blank.input.mean(axis=(1, 2))
    np.testing.assert_allclose(plane_means, plane_means.mean(), rtol=0.01)
    assert (blank.input.std(axis=(1, 2)) / plane_means).max() < 0.1
    assert np.ptp(blank.truth) <= 1e-6 * (1 + float(np.abs(blank.truth).max()))
    noise = probes["noise"]
    np.testing.assert_allclose(
        noise.input.mean(axis=(1, 2)), ref.input.mean(axis=(1, 2)), rtol=0.01
    )
    np.testing.assert_allclose(noise.input.std(axis=(1, 2)), ref.input.std(axis=(1, 2)), rtol=0.05)
    np.testing.assert_array_equal(noise.truth, blank.truth)
    removed = probes["cell_removed"]
    assert removed.region is not None and removed.region.any()
    assert not np.array_equal(removed.truth, ref.truth)
    np.testing.assert_allclose(probes["other_modality"].truth, ref.truth)
    assert not np.allclose(probes["other_modality"].input, ref.input)
    np.testing.assert_allclose(probes["no_signature"].truth, ref.truth)
    table = run_probes(lambda x: x[1:2], probes)
    assert len(table) == len(PROBE_NAMES)


def fake_simulate_field(
    shape,
    *,
    seed,
    cell_types=("epithelial",),
    modality="brightfield",
    n_planes=3,
    delta_n=None,
    drop_cells=(),
    labels=None,
):
    """A stand-in for the virtual microscope with the documented interface."""
    from types import SimpleNamespace

    rng = np.random.default_rng(seed)
    n = 3 if cell_types[0] == "epithelial" else 2
    radius = 8 if cell_types[0] == "epithelial" else 5
    centres = rng.uniform(radius, min(shape) - radius, (n, 2))
    dn = {"dna": 0.02, "mitochondria": 0.01, **(delta_n or {})}
    cell_mask = np.zeros(shape, np.int32)
    clean = {lab: np.full(shape, 100.0, np.float32) for lab in labels}
    phase = np.zeros(shape)
    cells = []
    for i, (cy, cx) in enumerate(centres, start=1):
        cells.append(SimpleNamespace(id=i, cell_type=cell_types[0], state="interphase"))
        if i in drop_cells:
            continue
        d = disk(cy, cx, radius + i, shape)  # sizes differ: cell 3 is the largest
        cell_mask[d] = i
        nucleus = disk(cy, cx, radius // 2, shape)
        for lab in labels:
            clean[lab][nucleus] += 500.0
        phase[nucleus] += dn["dna"] * 50
    sign = 1.0 if modality == "brightfield" else -1.0
    transmitted = np.stack([1.0 + sign * (k - 1) * phase for k in range(n_planes)])
    return SimpleNamespace(
        transmitted=transmitted.astype(np.float32),
        clean=clean,
        recorded=clean,
        cell_mask=cell_mask,
        nucleus_mask=cell_mask,
        cells=cells,
        modality=modality,
        metadata={"camera": {"gain": 2.0, "offset": 100.0, "read_noise_e": 1.5}},
    )


def test_make_probes_logic_with_a_stand_in_microscope(monkeypatch):
    import sys
    from types import ModuleType

    fake = ModuleType("coursekit.microscope.field")
    calls = []

    def sim(shape, **kw):
        calls.append(kw)
        return fake_simulate_field(shape, **kw)

    fake.simulate_field = sim
    monkeypatch.setitem(sys.modules, "coursekit.microscope.field", fake)
    probes = make_probes((40, 40), seed=5, n_planes=3)
    assert tuple(probes) == PROBE_NAMES
    assert all(c["seed"] == 5 and "dna" in c["labels"] for c in calls)
    ref = probes["reference"]
    np.testing.assert_array_equal(probes["blank"].input, 1.0)  # no cells, plain light
    assert np.ptp(probes["blank"].truth) == 0
    noise = probes["noise"]
    np.testing.assert_allclose(
        noise.input.mean(axis=(1, 2)), ref.input.mean(axis=(1, 2)), atol=0.05
    )
    np.testing.assert_allclose(noise.input.std(axis=(1, 2)), ref.input.std(axis=(1, 2)), rtol=0.1)
    removed = probes["cell_removed"]
    assert removed.metadata["removed_cell"] == 3  # the largest cell
    assert (
        removed.region.sum()
        == (fake_simulate_field((40, 40), seed=5, labels=["dna"]).cell_mask == 3).sum()
    )
    assert (removed.truth[removed.region] <= ref.truth[removed.region]).all()
    assert probes["other_cell_type"].metadata["cell_type"] == "fibroblast"
    assert calls[-2]["modality"] == "phase_contrast"
    assert calls[-1]["delta_n"] == {"dna": 0.0}
    np.testing.assert_array_equal(probes["no_signature"].input, 1.0)  # dna was all it showed
    np.testing.assert_array_equal(probes["no_signature"].truth, ref.truth)
    assert "Probe(name='reference'" in repr(ref)
    # another label without signature: the probe's label and truth follow it
    probes = make_probes((40, 40), seed=5, no_signature_label="mitochondria")
    assert probes["no_signature"].label == "mitochondria"
    assert calls[-1]["delta_n"] == {"mitochondria": 0.0}
    with pytest.raises(ValueError, match="cannot calibrate the 'dna' predictions.*constant"):
        run_probes(lambda x: x[1:2], probes)  # the in-focus plane shows nothing
    table = run_probes({"dna": lambda x: x[2:3], "mitochondria": lambda x: x[0:1]}, probes)
    assert table["label"].tolist()[-1] == "mitochondria"
    assert table.set_index("probe").loc["blank", "hallucinated_mass"] == 0.0
