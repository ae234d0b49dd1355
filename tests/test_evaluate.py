"""The evaluation table, its summary and the bar chart with the noise ceiling."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from coursekit.metrics.evaluate import METRICS, evaluate, plot_scores, summarize  # noqa: E402
from coursekit.metrics.similarity import fit_affine, nrmse, pearson_r, psnr, ssim  # noqa: E402

CAMERA = {"gain": 2.0, "offset": 100.0, "read_noise_e": 1.5}


def make_field(seed, shape=(32, 32), level=200.0):
    """A clean image in ADU, its noisy recording and an imperfect prediction (other units)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    clean = np.full(shape, CAMERA["offset"])
    for _ in range(4):
        cy, cx = rng.uniform(4, shape[0] - 4, 2)
        clean = clean + level * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12.0)
    electrons = rng.poisson((clean - CAMERA["offset"]) / CAMERA["gain"])
    read = rng.normal(0, CAMERA["read_noise_e"], shape)
    recorded = CAMERA["offset"] + CAMERA["gain"] * (electrons + read)
    prediction = (clean - 100.0) / 50.0 + 0.2 * rng.standard_normal(shape)
    return prediction.astype(np.float32), recorded.astype(np.float32), clean.astype(np.float32)


@pytest.fixture(scope="module")
def fields():
    return {
        "dna": [make_field(0), make_field(1), make_field(2)],
        "membrane": [make_field(3, level=60.0), make_field(4, level=60.0), make_field(5)],
    }


def split(fields):
    preds = {k: [f[0] for f in v] for k, v in fields.items()}
    recs = {k: [f[1] for f in v] for k, v in fields.items()}
    cleans = {k: [f[2] for f in v] for k, v in fields.items()}
    return preds, recs, cleans


def scaled(pred, target):
    a, b = fit_affine(target, pred)
    return a * pred.astype(np.float64) + b


def test_table_values_match_direct_calls(fields):
    preds, recs, cleans = split(fields)
    table = evaluate(preds, recs, clean=cleans, field_ids=["a", "b", "c"])
    assert list(table.columns) == ["structure", "field", *METRICS]
    assert len(table) == 6
    assert table["structure"].tolist() == ["dna"] * 3 + ["membrane"] * 3
    assert table["field"].tolist() == ["a", "b", "c"] * 2
    for _, row in table.iterrows():
        i = ["a", "b", "c"].index(row["field"])
        p, r, c = fields[row["structure"]][i]
        assert row["pearson_recorded"] == pytest.approx(pearson_r(r, p))
        assert row["pearson_clean"] == pytest.approx(pearson_r(c, p))
        assert row["nrmse_recorded"] == pytest.approx(nrmse(r, scaled(p, r)))
        assert row["ssim_recorded"] == pytest.approx(ssim(r, scaled(p, r)))
        assert row["psnr_recorded"] == pytest.approx(psnr(r, scaled(p, r)))
        assert row["nrmse_clean"] == pytest.approx(nrmse(c, scaled(p, c)))
        assert row["ssim_clean"] == pytest.approx(ssim(c, scaled(p, c)))
        assert row["psnr_clean"] == pytest.approx(psnr(c, scaled(p, c)))
    # no camera, no ceiling
    assert table["c_max"].isna().all() and table["r_over_cmax"].isna().all()


def test_noise_ceiling_comes_from_recorded_image_and_calibration(fields):
    ceiling = pytest.importorskip("coursekit.metrics.ceiling")
    preds, recs, cleans = split(fields)
    table = evaluate(preds, recs, clean=cleans, camera=CAMERA)
    for _, row in table.iterrows():
        p, r, _ = fields[row["structure"]][row["field"]]
        expected = ceiling.noise_ceiling(r, gain=2.0, offset=100.0, read_noise_adu=3.0)
        assert row["c_max"] == pytest.approx(expected)
        assert row["r_over_cmax"] == pytest.approx(row["pearson_recorded"] / expected)
    # C_max is near the correlation of the clean with the noisy image (what it estimates)
    for s in fields:
        for _p, r, c in fields[s]:
            got = table.loc[table.structure.eq(s), "c_max"].to_numpy()
            assert np.any(np.abs(got - pearson_r(r, c)) < 0.05)
    # never computed from the clean image: changing the clean target leaves it unchanged
    other = {k: [2 * c for c in v] for k, v in cleans.items()}
    assert evaluate(preds, recs, clean=other, camera=CAMERA)["c_max"].tolist() == pytest.approx(
        table["c_max"].tolist()
    )


def test_camera_forms_and_masks(fields):
    ceiling = pytest.importorskip("coursekit.metrics.ceiling")
    p, r, _ = fields["dna"][0]
    mask = np.zeros(r.shape, bool)
    mask[4:28, 4:28] = True
    expected = ceiling.noise_ceiling(r, gain=2.0, offset=100.0, read_noise_adu=3.0, mask=mask)
    forms = [
        CAMERA,
        {"gain": 2.0, "offset": 100.0, "read_noise_adu": 3.0},
        {"dna": CAMERA},
    ]
    camera_mod = pytest.importorskip("coursekit.microscope.camera")
    forms.append(camera_mod.Camera(gain=2.0, offset=100.0, read_noise_e=1.5))
    for cam in forms:
        t = evaluate({"dna": p}, {"dna": r}, camera=cam, mask=mask)
        assert t.loc[0, "c_max"] == pytest.approx(expected)
        assert t.loc[0, "pearson_recorded"] == pytest.approx(pearson_r(r, p, mask=mask))
    t = evaluate({"dna": p}, {"dna": r}, camera={"dna": None})
    assert np.isnan(t.loc[0, "c_max"])
    with pytest.raises(KeyError, match="no calibration for structure 'dna'"):
        evaluate({"dna": p}, {"dna": r}, camera={"membrane": CAMERA})
    with pytest.raises(ValueError, match="expected a calibration with 'gain'"):
        evaluate({"dna": p}, {"dna": r}, camera={"dna": {"gain": 2.0}})


def test_single_field_channel_axis_and_rescale_none(fields):
    p, r, c = fields["dna"][0]
    t1 = evaluate({"dna": p}, {"dna": r}, clean={"dna": c})
    t2 = evaluate({"dna": p[None]}, {"dna": r}, clean={"dna": c})  # (1, Y, X) from a model
    pd.testing.assert_frame_equal(t1, t2)
    assert t1["field"].tolist() == [0]
    t3 = evaluate({"dna": p}, {"dna": r}, rescale="none")
    assert t3.loc[0, "nrmse_recorded"] == pytest.approx(nrmse(r, p))
    assert t3.loc[0, "pearson_recorded"] == pytest.approx(t1.loc[0, "pearson_recorded"])
    assert np.isnan(t3.loc[0, "pearson_clean"])


def test_constant_prediction_gives_nan_and_a_warning(fields):
    _, r, _ = fields["dna"][0]
    with pytest.warns(UserWarning, match="structure 'dna', field 0.*constant"):
        t = evaluate({"dna": np.zeros_like(r)}, {"dna": r})
    assert np.isnan(t.loc[0, "pearson_recorded"])
    assert t.loc[0, "nrmse_recorded"] == pytest.approx(1.0)  # the best constant is the mean


def test_evaluate_errors(fields):
    p, r, c = fields["dna"][0]
    with pytest.raises(TypeError, match="expected a dict mapping a structure name"):
        evaluate(p, {"dna": r})
    with pytest.raises(KeyError, match="recorded has no target for structure 'dna'"):
        evaluate({"dna": p}, {"membrane": r})
    with pytest.raises(ValueError, match="2 predicted fields but 1 recorded"):
        evaluate({"dna": [p, p]}, {"dna": [r]})
    with pytest.raises(ValueError, match="field_ids has 3 names"):
        evaluate({"dna": p}, {"dna": r}, field_ids=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"prediction shape \(16, 16\) differs"):
        evaluate({"dna": p[:16, :16]}, {"dna": r})
    with pytest.raises(ValueError, match="unknown rescale"):
        evaluate({"dna": p}, {"dna": r}, rescale="zscore")
    with pytest.raises(TypeError, match="mask: expected a boolean array"):
        evaluate({"dna": p}, {"dna": r}, mask=np.ones(r.shape, int))


def test_summarize(fields):
    preds, recs, cleans = split(fields)
    table = evaluate(preds, recs, clean=cleans)
    summary = summarize(table)
    assert summary.index.tolist() == ["dna", "membrane"]
    assert summary["n_fields"].tolist() == [3, 3]
    for s in ["dna", "membrane"]:
        vals = table.loc[table.structure == s, "pearson_recorded"]
        assert summary.loc[s, "pearson_recorded_mean"] == pytest.approx(vals.mean())
        assert summary.loc[s, "pearson_recorded_std"] == pytest.approx(vals.std(ddof=1))
    assert "ssim_clean_mean" in summary and "field_mean" not in summary


def test_plot_scores_bars_and_ceiling_markers():
    table = pd.DataFrame(
        {
            "structure": ["membrane", "membrane", "dna", "dna", "actin", "actin"],
            "field": [0, 1, 0, 1, 0, 1],
            "pearson_recorded": [0.6, 0.7, 0.85, 0.95, 0.2, 0.3],
            "c_max": [0.9, 0.92, 0.97, 0.99, 0.5, 0.6],
        }
    )
    ax = plot_scores(table)
    bars = ax.patches
    assert len(bars) == 3  # one bar per structure
    assert [t.get_text() for t in ax.get_xticklabels()] == ["dna", "membrane", "actin"]
    heights = [b.get_height() for b in bars]
    assert heights == pytest.approx([0.9, 0.65, 0.25])  # sorted by mean score
    ceilings = [c for c in ax.collections if isinstance(c, LineCollection)]
    ceilings = [c for c in ceilings if c.get_label() == "noise ceiling C_max"]
    assert len(ceilings) == 1
    segs = ceilings[0].get_segments()
    assert len(segs) == 3
    for seg, bar, cmax in zip(segs, bars, [0.98, 0.91, 0.55]):
        (x0, y0), (x1, y1) = seg
        assert y0 == pytest.approx(cmax) and y1 == pytest.approx(cmax)
        assert x0 == pytest.approx(bar.get_x()) and x1 == pytest.approx(
            bar.get_x() + bar.get_width()
        )
    assert "Pearson r" in ax.get_ylabel() and ax.get_xlabel() == "structure"
    # one dot per field
    dots = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert sum(len(ln.get_xdata()) for ln in dots) == 6
    plt.close("all")


def test_plot_scores_other_metric_has_no_ceiling_and_given_axes():
    table = pd.DataFrame(
        {
            "structure": ["a", "b"],
            "field": [0, 0],
            "pearson_recorded": [0.5, 0.6],
            "nrmse_recorded": [0.3, 0.7],
            "c_max": [0.9, 0.9],
        }
    )
    _, ax0 = plt.subplots()
    ax = plot_scores(table, ax=ax0, metric="nrmse_recorded")
    assert ax is ax0
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]  # lower NRMSE first
    assert not [c for c in ax.collections if c.get_label() == "noise ceiling C_max"]
    ax = plot_scores(table, ceiling=False)
    assert not [c for c in ax.collections if c.get_label() == "noise ceiling C_max"]
    with pytest.raises(ValueError, match="unknown metric 'r2'"):
        plot_scores(table, metric="r2")
    plt.close("all")


def test_plot_scores_from_evaluate(fields):
    pytest.importorskip("coursekit.metrics.ceiling")
    preds, recs, cleans = split(fields)
    table = evaluate(preds, recs, clean=cleans, camera=CAMERA)
    ax = plot_scores(table)
    assert len(ax.patches) == 2
    seg_heights = sorted(
        s[0][1]
        for c in ax.collections
        if c.get_label() == "noise ceiling C_max"
        for s in c.get_segments()
    )
    expected = sorted(table.groupby("structure")["c_max"].mean())
    assert seg_heights == pytest.approx(expected)
    plt.close("all")
