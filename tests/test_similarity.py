"""Similarity metrics against independent references (scipy, numpy formulas, skimage)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import pearsonr
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from coursekit.metrics.similarity import fit_affine, nrmse, pearson_r, psnr, ssim

RNG = np.random.default_rng(42)


def pair(shape=(24, 20), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.random(shape).astype(dtype)
    p = (t + 0.3 * rng.standard_normal(shape)).astype(dtype)
    return p, t


# --------------------------------------------------------------------------- Pearson r
@pytest.mark.parametrize("shape", [(24, 20), (5, 16, 12)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pearson_matches_scipy(shape, dtype):
    p, t = pair(shape, dtype)
    ref = pearsonr(p.ravel().astype(np.float64), t.ravel().astype(np.float64)).statistic
    assert pearson_r(t, p) == pytest.approx(ref, abs=1e-12)
    assert isinstance(pearson_r(t, p), float)


def test_pearson_accumulates_in_float64():
    # A large offset and many pixels: float32 accumulation would lose the signal.
    rng = np.random.default_rng(1)
    s = rng.standard_normal(400_000)
    t = (1e4 + s).astype(np.float32)
    p = (1e4 + s + 0.5 * rng.standard_normal(s.size)).astype(np.float32)
    ref = pearsonr(p.astype(np.float64), t.astype(np.float64)).statistic
    assert pearson_r(t, p) == pytest.approx(ref, abs=1e-9)


def test_pearson_perfect_and_anti():
    _, t = pair()
    assert pearson_r(t, t) == 1.0
    assert pearson_r(t, -t) == -1.0


def test_pearson_masked_equals_subset():
    p, t = pair()
    mask = np.zeros(t.shape, bool)
    mask[3:15, 2:9] = True
    ref = pearsonr(p[mask], t[mask]).statistic
    assert pearson_r(t, p, mask=mask) == pytest.approx(ref, abs=1e-12)


def test_pearson_constant_input_raises_clear_error():
    _, t = pair()
    with pytest.raises(ValueError, match="prediction is constant.*undefined"):
        pearson_r(t, np.full_like(t, 3.0))
    with pytest.raises(ValueError, match="target is constant"):
        pearson_r(np.zeros_like(t), t)
    p = t.copy()
    mask = np.zeros(t.shape, bool)
    mask[0, :5] = True
    p[mask] = 1.0
    with pytest.raises(ValueError, match="constant inside the mask"):
        pearson_r(t, p, mask=mask)


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
images = arrays(np.float64, st.tuples(st.integers(2, 8), st.integers(2, 8)), elements=finite)


def _usable(x):
    return np.ptp(x) > 1e-6 * (1 + np.abs(x).max())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    data=st.data(),
    a=st.floats(0.01, 100).flatmap(lambda v: st.sampled_from([v, -v])),
    b=st.floats(-1e3, 1e3),
)
def test_pearson_invariances(data, a, b):
    x = data.draw(images)
    y = data.draw(arrays(np.float64, x.shape, elements=finite))
    assume(_usable(x) and _usable(y))
    r = pearson_r(y, x)
    assert -1.0 <= r <= 1.0
    assert pearson_r(x, y) == pytest.approx(r, abs=1e-9)  # symmetric
    expected = r if a > 0 else -r  # invariant to a*x+b with a>0, sign flips with a<0
    assert pearson_r(y, a * x + b) == pytest.approx(expected, abs=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_pearson_masked_equals_unmasked_on_subset(data):
    x = data.draw(images)
    y = data.draw(arrays(np.float64, x.shape, elements=finite))
    mask = data.draw(arrays(bool, x.shape))
    assume(mask.sum() >= 2)
    assume(_usable(x[mask]) and _usable(y[mask]))
    assert pearson_r(y, x, mask=mask) == pytest.approx(pearson_r(y[mask], x[mask]), abs=1e-12)


# --------------------------------------------------------------------------- NRMSE
def test_nrmse_against_numpy_formulas():
    p, t = pair()
    rmse = np.sqrt(np.mean((p - t) ** 2))
    assert nrmse(t, p) == pytest.approx(rmse / t.std())  # default: "std"
    assert nrmse(t, p, normalization="std") == pytest.approx(rmse / t.std())
    assert nrmse(t, p, normalization="range") == pytest.approx(rmse / (t.max() - t.min()))
    assert nrmse(t, p, normalization="mean") == pytest.approx(rmse / t.mean())
    assert nrmse(t, p, normalization="euclidean") == pytest.approx(rmse / np.sqrt(np.mean(t**2)))


def test_nrmse_matches_skimage_where_conventions_agree():
    p, t = pair()
    for ours, theirs in (("range", "min-max"), ("mean", "mean"), ("euclidean", "euclidean")):
        ref = normalized_root_mse(t, p, normalization=theirs)
        assert nrmse(t, p, normalization=ours) == pytest.approx(ref)


def test_nrmse_mean_prediction_scores_one_and_perfect_zero():
    _, t = pair()
    assert nrmse(t, np.full_like(t, t.mean())) == pytest.approx(1.0)
    assert nrmse(t, t) == 0.0


def test_nrmse_masked():
    p, t = pair()
    mask = t > 0.5
    assert nrmse(t, p, mask=mask) == pytest.approx(
        np.sqrt(np.mean((p[mask] - t[mask]) ** 2)) / t[mask].std()
    )


def test_nrmse_errors():
    p, t = pair()
    with pytest.raises(ValueError, match="unknown normalization 'minmax'"):
        nrmse(t, p, normalization="minmax")
    with pytest.raises(ValueError, match="target is constant.*normalization='std'"):
        nrmse(np.ones_like(t), p)
    with pytest.raises(ValueError, match="target's mean is 0"):
        nrmse(np.zeros_like(t), p, normalization="mean")


# --------------------------------------------------------------------------- PSNR
def test_psnr_against_numpy_formula():
    p, t = pair()
    mse = np.mean((p - t) ** 2)
    assert psnr(t, p) == pytest.approx(10 * np.log10((t.max() - t.min()) ** 2 / mse))
    assert psnr(t, p, data_range=2.0) == pytest.approx(10 * np.log10(4.0 / mse))
    mask = t > 0.3
    mse_m = np.mean((p[mask] - t[mask]) ** 2)
    ref = 10 * np.log10((t.max() - t.min()) ** 2 / mse_m)
    assert psnr(t, p, mask=mask) == pytest.approx(ref)


def test_psnr_perfect_is_inf_and_bad_range():
    _, t = pair()
    assert psnr(t, t) == float("inf")
    with pytest.raises(ValueError, match="data_range"):
        psnr(t, t, data_range=0)
    with pytest.raises(ValueError, match="target is constant.*data_range"):
        psnr(np.ones_like(t), t)


# --------------------------------------------------------------------------- SSIM
@pytest.mark.parametrize("shape", [(32, 32), (7, 24, 24), (5, 16, 16)])
def test_ssim_identical_is_one(shape):
    _, t = pair(shape)
    assert ssim(t, t) == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_skimage_with_default_data_range():
    p, t = pair((32, 28))
    ref = structural_similarity(p, t, data_range=t.max() - t.min())
    assert ssim(t, p) == pytest.approx(ref)
    assert ssim(t, p, data_range=5.0) == pytest.approx(structural_similarity(p, t, data_range=5.0))
    assert ssim(t, p) < 1.0


def test_ssim_3d_uses_a_3d_window():
    p, t = pair((9, 20, 20))
    assert ssim(t, p) == pytest.approx(structural_similarity(p, t, data_range=np.ptp(t)))


def test_ssim_mask_all_true_equals_unmasked_and_mask_selects():
    p, t = pair((32, 32))
    assert ssim(t, p, mask=np.ones(t.shape, bool)) == pytest.approx(ssim(t, p))
    _, smap = structural_similarity(p, t, data_range=np.ptp(t), full=True)
    mask = np.zeros(t.shape, bool)
    mask[10:20, 5:25] = True
    assert ssim(t, p, mask=mask) == pytest.approx(smap[mask].mean())


def test_ssim_too_small_images():
    with pytest.raises(ValueError, match="at least 3 pixels"):
        ssim(np.ones((2, 16, 16)), np.ones((2, 16, 16)), data_range=1.0)
    with pytest.raises(ValueError, match="expected a 2D or 3D array"):
        ssim(np.arange(16.0), np.ones(16))


# --------------------------------------------------------------------------- validation
METRICS = [pearson_r, nrmse, psnr, ssim]


@pytest.mark.parametrize("metric", METRICS)
def test_bad_inputs_raise_clear_errors(metric):
    p, t = pair((16, 16))
    with pytest.raises(ValueError, match=r"same shape, got \(16, 16\) \(target\) and \(16, 15\)"):
        metric(target=t, prediction=p[:, :15])
    with pytest.raises(TypeError, match="prediction: expected a floating-point array"):
        metric(target=t, prediction=np.ones((16, 16), np.int64))
    bad = t.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="target: expected finite values, got 1 NaN"):
        metric(target=bad, prediction=p)
    with pytest.raises(TypeError, match="target: expected an array, got None"):
        metric(target=None, prediction=p)
    with pytest.raises(ValueError, match="non-empty"):
        metric(target=np.zeros((0, 16)), prediction=np.zeros((0, 16)))
    with pytest.raises(TypeError, match="mask: expected a boolean array.*cell_mask > 0"):
        metric(target=t, prediction=p, mask=np.ones((16, 16), np.int32))
    with pytest.raises(ValueError, match=r"mask must have the image's shape \(16, 16\)"):
        metric(target=t, prediction=p, mask=np.ones((8, 8), bool))
    one = np.zeros((16, 16), bool)
    one[3, 3] = True
    with pytest.raises(ValueError, match="at least 2 true pixels, got 1"):
        metric(target=t, prediction=p, mask=one)


@pytest.mark.parametrize("metric", [*METRICS, fit_affine])
def test_target_comes_first_like_skimage(metric):
    """Positional (target, prediction) and keyword calls agree; the order matters."""
    p, t = pair((16, 16))
    p = 3.0 * p + 1.0  # another scale, so that swapping the two changes every score
    assert metric(t, p) == metric(target=t, prediction=p) == metric(prediction=p, target=t)
    if metric is not pearson_r:  # Pearson r is symmetric, the others are not
        assert metric(t, p) != pytest.approx(metric(p, t))


def test_order_matches_skimage_metrics():
    p, t = pair((32, 32))
    p = 2.0 * p
    rng = float(np.ptp(t))
    assert nrmse(t, p, normalization="euclidean") == pytest.approx(normalized_root_mse(t, p))
    assert psnr(t, p) == pytest.approx(peak_signal_noise_ratio(t, p, data_range=rng))
    assert ssim(t, p) == pytest.approx(structural_similarity(t, p, data_range=rng))
    a, b = fit_affine(target=t, prediction=p)  # maps the prediction onto the target
    assert a == pytest.approx(np.polyfit(p.ravel(), t.ravel(), 1)[0])


def test_channel_axis_hint():
    p, t = pair((16, 16))
    with pytest.raises(ValueError, match=r"leading channel axis.*prediction\[0\]"):
        pearson_r(t, p[None])


def test_fit_affine_recovers_scale():
    _, t = pair()
    a, b = fit_affine(t, (t - 3.0) / 7.0)
    assert a == pytest.approx(7.0)
    assert b == pytest.approx(3.0)
    with pytest.raises(ValueError, match="prediction is constant"):
        fit_affine(t, np.ones_like(t))


def test_rescale_to_target_fits_on_the_mask_and_maps_constants_to_the_mean():
    from coursekit.metrics import rescale_to_target

    rng = np.random.default_rng(3)
    target = rng.normal(5.0, 2.0, (20, 30))
    mask = np.zeros_like(target, bool)
    mask[:, :20] = True
    prediction = np.where(mask, -0.5 * target + 1.0, 0.0)  # inverted contrast on the mask only
    out = rescale_to_target(target=target, prediction=prediction, mask=mask)
    np.testing.assert_allclose(out[mask], target[mask], err_msg="exact affine map on the mask")
    assert out.shape == target.shape and out.dtype == np.float64
    flat = rescale_to_target(target=target, prediction=np.full_like(target, 7.0), mask=mask)
    np.testing.assert_allclose(flat, target[mask].mean(), err_msg="constant -> the target mean")
