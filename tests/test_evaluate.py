"""The evaluation table, its summary and the bar chart with the noise ceiling."""

import matplotlib

matplotlib.use("Agg")

import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from coursekit.metrics.evaluate import (  # noqa: E402
    BASELINE_METRICS,
    METRICS,
    TARGET_COLUMNS,
    evaluate,
    summarize,
)
from coursekit.metrics.plot import plot_scores  # noqa: E402
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
    assert list(table.columns) == ["structure", "field", *METRICS, *TARGET_COLUMNS]
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
    # no camera, and 32 x 32 images are too small to estimate the noise: no ceiling, and why
    assert table["c_max"].isna().all() and table["r_over_cmax"].isna().all()
    assert table["c_max_note"].str.contains("not estimated: .*usable pixels").all()
    strict = evaluate(preds, recs, ceiling="camera")
    assert strict["c_max_note"].str.contains("no camera calibration: pass camera=").all()


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
    t = evaluate({"dna": p}, {"dna": r}, camera={"dna": None}, ceiling="camera")
    assert np.isnan(t.loc[0, "c_max"])
    assert "no calibration for this structure" in t.loc[0, "c_max_note"]
    with pytest.raises(KeyError, match="no calibration for structure 'dna'"):
        evaluate({"dna": p}, {"dna": r}, camera={"membrane": CAMERA})
    with pytest.raises(ValueError, match="expected a calibration with 'gain'"):
        evaluate({"dna": p}, {"dna": r}, camera={"dna": {"gain": 2.0}})
    with pytest.raises(ValueError, match="unknown ceiling 'calibrated'"):
        evaluate({"dna": p}, {"dna": r}, camera=CAMERA, ceiling="calibrated")


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


# --------------------------------------------------------------------------- baseline
def test_baseline_scores_the_input_rescaled_to_the_target(fields):
    preds, recs, cleans = split(fields)
    rng = np.random.default_rng(9)
    # an "input" in other units, e.g. a transmitted-light plane: one per field
    inputs = [-3.0 * c + 0.5 + 40 * rng.standard_normal(c.shape) for _p, _r, c in fields["dna"]]
    table = evaluate(preds, recs, clean=cleans, camera=CAMERA, baseline=inputs)
    assert list(table.columns) == [
        "structure",
        "field",
        *METRICS,
        *TARGET_COLUMNS,
        *BASELINE_METRICS,
    ]
    for _, row in table.iterrows():
        _p, r, c = fields[row["structure"]][row["field"]]
        x = inputs[row["field"]]
        # rescaled onto the target, an inverted contrast scores |r| (this input is inverted)
        r_rec = pearson_r(target=r, prediction=x)
        assert row["baseline_pearson_recorded"] == pytest.approx(abs(r_rec))
        assert row["baseline_pearson_clean"] == pytest.approx(
            abs(pearson_r(target=c, prediction=x))
        )
        a, b = fit_affine(target=r, prediction=x)  # always rescaled: the input has other units
        assert row["baseline_nrmse_recorded"] == pytest.approx(nrmse(r, a * x + b))
        assert row["baseline_ssim_recorded"] == pytest.approx(ssim(r, a * x + b))
        assert row["baseline_r_over_cmax"] == pytest.approx(
            row["baseline_pearson_recorded"] / row["c_max"]
        )
    # the scores of the predictions do not change with a baseline
    plain = evaluate(preds, recs, clean=cleans, camera=CAMERA)
    pd.testing.assert_frame_equal(plain, table[plain.columns])
    # a dict per structure; a multi-plane input is refused with a hint
    p, r, _ = fields["dna"][0]
    t = evaluate({"dna": p}, {"dna": r}, baseline={"dna": inputs[0]})
    assert t.loc[0, "baseline_pearson_recorded"] == pytest.approx(abs(pearson_r(r, inputs[0])))
    with pytest.raises(ValueError, match=r"3 channels or planes: pick the one.*input\[k\]"):
        evaluate({"dna": p}, {"dna": r}, baseline=np.stack([inputs[0]] * 3))
    with pytest.raises(KeyError, match="baseline has no image for structure 'dna'"):
        evaluate({"dna": p}, {"dna": r}, baseline={"membrane": inputs[0]})


def test_plot_scores_draws_the_baseline_beside_each_bar(fields):
    preds, recs, cleans = split(fields)
    inputs = [
        c + 60 * np.random.default_rng(1).standard_normal(c.shape) for _p, _r, c in fields["dna"]
    ]
    table = evaluate(preds, recs, clean=cleans, camera=CAMERA, baseline=inputs)
    ax = plot_scores(table)
    bars = ax.patches
    assert len(bars) == 4  # a model bar and a baseline bar per structure
    model = [b for b in bars if not b.get_hatch()]
    base = [b for b in bars if b.get_hatch()]
    assert len(model) == len(base) == 2
    order = [t.get_text() for t in ax.get_xticklabels()]
    means = table.groupby("structure")["baseline_pearson_recorded"].mean()
    assert [b.get_height() for b in base] == pytest.approx([means[s] for s in order])
    for m, b in zip(model, base):
        assert b.get_x() == pytest.approx(m.get_x() + m.get_width()), "baseline beside its model"
    (ceil,) = [c for c in ax.collections if c.get_label() == "noise ceiling C_max"]
    for seg, m, b in zip(ceil.get_segments(), model, base):  # C_max spans both bars
        (x0, _), (x1, _) = seg
        assert x0 == pytest.approx(m.get_x()) and x1 == pytest.approx(b.get_x() + b.get_width())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "input (baseline)" in legend and "noise ceiling C_max" in legend
    # switched off, or without baseline columns: the old chart
    assert len(plot_scores(table, baseline=False).patches) == 2
    plt.close("all")


# --------------------------------------------------------------------------- saturation
def test_saturated_target_pixels_are_flagged(fields):
    p, r, _ = fields["dna"][0]
    counts = np.round(r).astype(np.uint16)
    counts.flat[:10] = 65535  # 10 of 1024 pixels clipped
    with pytest.warns(UserWarning, match=r"0.98 % of the recorded target's pixels are saturated"):
        t = evaluate({"dna": p}, {"dna": counts}, camera=CAMERA)
    assert t.loc[0, "saturated_fraction"] == pytest.approx(10 / 1024)
    assert "0.98 % of target pixels saturated" in t.loc[0, "c_max_note"]
    # a float image with integer values at 4095 (12-bit): found without a dtype
    r12 = np.minimum(np.round(r), 4095).astype(np.float32)
    r12.flat[:3] = 4095
    with pytest.warns(UserWarning, match="saturated .at 4095."):
        t = evaluate({"dna": p}, {"dna": r12})
    assert t.loc[0, "saturated_fraction"] == pytest.approx(3 / 1024)
    # the camera's bit depth decides when given; an explicit level overrides
    with pytest.warns(UserWarning, match="saturated .at 300."):
        evaluate({"dna": p}, {"dna": r}, saturation=300.0)
    # nothing clipped: no warning, 0; unknown level: NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = evaluate({"dna": p}, {"dna": np.round(r).astype(np.uint16)}, camera=CAMERA)
        assert t.loc[0, "saturated_fraction"] == 0.0
        assert np.isnan(evaluate({"dna": p}, {"dna": r + 0.5})["saturated_fraction"][0])


# --------------------------------------------------------------------------- C_max without camera
def test_ceiling_from_the_image_when_there_is_no_camera():
    from coursekit.metrics.ceiling import noise_ceiling
    from coursekit.microscope.camera import Camera, expected_counts, record

    cam = Camera()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:192, :192]
    photons = 2.0 + 60 * (np.sin(xx / 9.0) * np.cos(yy / 7.0)) ** 2
    recorded = record(photons, cam, rng=rng)
    pred = expected_counts(photons, cam)
    auto = evaluate({"dna": pred}, {"dna": recorded})
    assert auto.loc[0, "c_max_note"].startswith("estimated from the image")
    c_camera = noise_ceiling(recorded, camera=cam)
    assert abs(auto.loc[0, "c_max"] - c_camera) < 0.01
    # with a camera, "auto" uses it; "image" insists on the estimate
    with_cam = evaluate({"dna": pred}, {"dna": recorded}, camera=cam)
    assert (
        with_cam.loc[0, "c_max"] == pytest.approx(c_camera) and with_cam.loc[0, "c_max_note"] == ""
    )
    forced = evaluate({"dna": pred}, {"dna": recorded}, camera=cam, ceiling="image")
    assert forced.loc[0, "c_max"] == pytest.approx(auto.loc[0, "c_max"])


def test_real_isl_sample_ceiling_and_saturation():
    """On the real ISL sample (no calibration): C_max from the image, saturation flagged."""
    from _shared import ISL_DIR

    pngs = sorted(ISL_DIR.glob("*channel-DAPI_CONFOCAL*.png")) if ISL_DIR.is_dir() else []
    if not pngs:
        pytest.skip(f"the ISL sample is not at {ISL_DIR}")
    from coursekit.io import read_image

    dapi = np.asarray(read_image(pngs[0]).data)[:512, :512]
    pred = dapi.astype(np.float32) + 1.0  # any prediction: only the target's columns matter
    with pytest.warns(UserWarning, match="saturated .at 65535."):
        t = evaluate({"dna": pred}, {"dna": dapi})
    assert 0 < t.loc[0, "saturated_fraction"] < 0.01
    note = t.loc[0, "c_max_note"]
    assert note.startswith(("estimated from the image", "not estimated")), note
    if note.startswith("estimated"):
        assert 0.999 < t.loc[0, "c_max"] <= 1.0, "confocal DAPI is far above its noise"
