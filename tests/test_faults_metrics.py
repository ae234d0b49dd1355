"""Faults in the metrics that used to give a silently wrong number (issue 8, item 4).

A constant image in float64 is not constant after subtracting its mean
(``np.full(1000, 0.1) - 0.1`` leaves rounding noise), so Pearson r, NRMSE, the default
data range and the affine fit used to return that noise (r 9.8e-17, NRMSE 4e15) instead of
the documented error. Every case here failed before the fix.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit.metrics import evaluate, fit_affine, nrmse, pearson_r, psnr, ssim

# any finite float64 a user could fill an image with (0.1, 0.83, 1e300, -7e-200, ...)
constants = st.floats(allow_nan=False, allow_infinity=False, width=64)


def noise(n=1000, seed=0):
    return np.random.default_rng(seed).random(n)


def test_reported_cases():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="constant"):
        pearson_r(np.full(1000, 0.1), rng.random(1000))
    with pytest.raises(ValueError, match="target is constant"):
        nrmse(target=np.full(1000, 0.83), prediction=rng.random(1000))


@settings(max_examples=100, deadline=None)
@given(c=constants, seed=st.integers(0, 2**32 - 1))
def test_pearson_refuses_any_constant(c, seed):
    x = noise(seed=seed)
    const = np.full(1000, c)
    with pytest.raises(ValueError, match="target is constant"):
        pearson_r(target=const, prediction=x)
    with pytest.raises(ValueError, match="prediction is constant"):
        pearson_r(target=x, prediction=const)
    # constant inside the mask only
    y = x.copy()
    mask = np.zeros(1000, bool)
    mask[:500] = True
    y[mask] = c
    with pytest.raises(ValueError, match="constant inside the mask"):
        pearson_r(target=x, prediction=y, mask=mask)


@settings(max_examples=100, deadline=None)
@given(c=constants, seed=st.integers(0, 2**32 - 1))
def test_nrmse_ssim_psnr_refuse_a_constant_target(c, seed):
    x = noise(1024, seed=seed)
    const = np.full(1024, c)
    for normalization in ("std", "range"):
        with pytest.raises(ValueError, match="target is constant"):
            nrmse(target=const, prediction=x, normalization=normalization)
    with pytest.raises(ValueError, match="target is constant.*data_range"):
        psnr(target=const, prediction=x)
    with pytest.raises(ValueError, match="target is constant.*data_range"):
        ssim(target=const.reshape(32, 32), prediction=x.reshape(32, 32))


@settings(max_examples=100, deadline=None)
@given(c=constants, seed=st.integers(0, 2**32 - 1))
def test_fit_affine_refuses_a_constant_prediction(c, seed):
    with pytest.raises(ValueError, match="fit_affine: prediction is constant"):
        fit_affine(target=noise(seed=seed), prediction=np.full(1000, c))


def test_nrmse_mean_and_euclidean_zero_to_rounding():
    # a zero-mean target whose float64 mean is rounding noise, not 0
    t = np.array([0.1, 0.2, -0.3] * 100)
    assert t.mean() != 0.0  # the trap: rounding leaves ~1e-17
    with pytest.raises(ValueError, match="target's mean is"):
        nrmse(target=t, prediction=noise(300), normalization="mean")
    with pytest.raises(ValueError, match="target's euclidean is 0"):
        nrmse(target=np.zeros(10), prediction=noise(10), normalization="euclidean")


def test_a_tiny_real_signal_is_not_called_constant():
    """The tolerance is relative to float64 precision: real small variations still count."""
    t = 1e6 + 1e-6 * noise(1000)  # relative spread 1e-12, far above 1e-14
    p = t + 1e-8 * noise(1000, seed=1)
    assert pearson_r(target=t, prediction=p) > 0.99
    assert np.isfinite(nrmse(target=t, prediction=p))


@settings(max_examples=30, deadline=None)
@given(c=constants)
def test_evaluate_constant_prediction_is_nan_with_a_warning(c):
    rng = np.random.default_rng(0)
    target = 100 + 50 * rng.random((16, 16))
    with pytest.warns(UserWarning, match="prediction is constant.*recorded as NaN"):
        table = evaluate({"dna": np.full((16, 16), c)}, {"dna": target})
    assert np.isnan(table.loc[0, "pearson_recorded"])
    assert table.loc[0, "nrmse_recorded"] == pytest.approx(1.0)  # the best constant: the mean


def test_evaluate_float64_constant_from_the_issue():
    rng = np.random.default_rng(1)
    target = rng.random((32, 32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = evaluate({"dna": np.full((32, 32), 0.1)}, {"dna": target}, clean={"dna": target})
    assert np.isnan(table.loc[0, "pearson_recorded"]) and np.isnan(table.loc[0, "pearson_clean"])
    assert any("constant" in str(w.message) for w in caught), "no warning for a constant prediction"


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e-310])
def test_extreme_magnitudes_give_the_same_scores(scale):
    """Found in our own hostile pass: squares of 1e200 overflow and of 1e-200 underflow, and
    pearson_r returned -1.0 (NaN clipped), fit_affine NaN or ZeroDivisionError, psnr inf,
    ssim NaN. Scores that do not depend on units must not depend on them here either."""
    rng = np.random.default_rng(0)
    t = rng.random((25, 40))
    p = t + 0.1 * rng.random((25, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / underflow warnings either
        for metric in (pearson_r, nrmse, psnr, ssim):
            got = metric(target=t * scale, prediction=p * scale)
            want = metric(target=t, prediction=p)
            assert got == pytest.approx(want, rel=1e-9), f"{metric.__name__} at scale {scale:g}"
        a, b = fit_affine(target=t * scale, prediction=p)
        a0, b0 = fit_affine(target=t, prediction=p)
        assert a == pytest.approx(a0 * scale, rel=1e-9) and b == pytest.approx(b0 * scale, rel=1e-9)


def test_calibration_and_ceiling_inputs_found_in_a_hostile_pass():
    rng = np.random.default_rng(0)
    target = 100 + 50 * rng.random((64, 64))
    from coursekit.metrics import noise_ceiling, noise_ceiling_from_image

    with pytest.raises(TypeError, match="expected a camera calibration"):
        noise_ceiling(target, camera=[2.0, 100.0, 3.0])  # was: "missing gain, offset, ..."
    with pytest.raises(ValueError, match=r"mask: expected the image's shape \(3, 64, 64\)"):
        noise_ceiling_from_image(np.stack([target] * 3), mask=np.ones((64, 64), bool))
    with pytest.raises(ValueError, match="saturation: expected a positive"):
        evaluate(
            {"dna": rng.random((64, 64))}, {"dna": target}, saturation=-1
        )  # was: all saturated
