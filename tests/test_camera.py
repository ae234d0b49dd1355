"""The camera model (coursekit.microscope.camera): noise statistics, determinism, validation."""

import numpy as np
import pytest

from coursekit.microscope.camera import Camera, expected_counts, record


def test_defaults_and_to_dict_round_trip():
    cam = Camera()
    assert (cam.gain, cam.offset, cam.read_noise_e, cam.quantum_efficiency, cam.bit_depth) == (
        2.0,
        100.0,
        1.5,
        0.8,
        16,
    )
    d = cam.to_dict()
    assert d == {
        "gain": 2.0,
        "offset": 100.0,
        "read_noise_e": 1.5,
        "quantum_efficiency": 0.8,
        "bit_depth": 16,
    }
    assert Camera.from_dict(d) == cam
    assert cam.read_noise_adu == pytest.approx(3.0)
    assert cam.max_count == 65535
    with pytest.raises(AttributeError):
        cam.gain = 3.0  # frozen


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(gain=0.0), "gain"),
        (dict(offset=-1.0), "offset"),
        (dict(read_noise_e=-0.1), "read_noise_e"),
        (dict(quantum_efficiency=1.2), "quantum_efficiency"),
        (dict(quantum_efficiency=0.0), "quantum_efficiency"),
        (dict(bit_depth=0), "bit_depth"),
        (dict(bit_depth=8, offset=300.0), "offset"),
        (dict(gain=float("nan")), "gain"),
    ],
)
def test_camera_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Camera(**kwargs)


def test_camera_type_validation():
    with pytest.raises(TypeError, match="bit_depth"):
        Camera(bit_depth=12.5)
    with pytest.raises(TypeError, match="gain"):
        Camera(gain="2")


def test_expected_counts():
    cam = Camera(gain=2.0, offset=100.0, quantum_efficiency=0.5)
    out = expected_counts(np.array([[0.0, 10.0], [100.0, 1.0]]), cam)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[100.0, 110.0], [200.0, 101.0]])
    ints = expected_counts(np.array([0, 10]), cam)  # integer photon counts are accepted
    np.testing.assert_allclose(ints, [100.0, 110.0])


@pytest.mark.parametrize("shot_noise", ["poisson", "gaussian"])
def test_photon_limited_variance_equals_mean_times_gain(shot_noise):
    cam = Camera(gain=2.0, offset=100.0, read_noise_e=0.0, quantum_efficiency=0.8)
    photons = np.full((256, 256), 500.0, np.float32)
    x = record(photons, cam, rng=np.random.default_rng(0), shot_noise=shot_noise) - cam.offset
    assert x.mean() == pytest.approx(cam.gain * 0.8 * 500.0, rel=0.005)
    # rounding adds 1/12 ADU^2, negligible next to ~800 ADU^2
    assert x.var() == pytest.approx(x.mean() * cam.gain, rel=0.03)


@pytest.mark.parametrize("shot_noise", ["poisson", "gaussian"])
def test_read_noise_adds_in_quadrature(shot_noise):
    cam = Camera(gain=1.5, offset=200.0, read_noise_e=4.0, quantum_efficiency=0.9)
    photons = np.full((256, 256), 40.0, np.float32)
    x = record(photons, cam, rng=np.random.default_rng(1), shot_noise=shot_noise) - cam.offset
    expected_var = x.mean() * cam.gain + (cam.gain * cam.read_noise_e) ** 2 + 1 / 12
    assert x.var() == pytest.approx(expected_var, rel=0.03)
    # read noise alone (dark frame)
    dark = record(np.zeros((256, 256)), cam, rng=np.random.default_rng(2), shot_noise=shot_noise)
    assert dark.std() == pytest.approx(cam.gain * cam.read_noise_e, rel=0.03)


def test_poisson_statistics_at_low_counts():
    """At a few photons the counts are Poisson (not Gaussian): P(0 electrons) = exp(-mean)."""
    cam = Camera(gain=1.0, offset=10.0, read_noise_e=0.0, quantum_efficiency=1.0)
    x = record(np.full((200, 200), 1.0), cam, rng=np.random.default_rng(3)) - cam.offset
    assert (x == 0).mean() == pytest.approx(np.exp(-1.0), abs=0.01)
    assert x.min() == 0


def test_counts_are_integers_and_clipped():
    cam = Camera(gain=2.0, offset=100.0, bit_depth=12)
    photons = np.array([[0.0, 10.0], [1e6, 50.0]])
    x = record(photons, cam, rng=np.random.default_rng(0))
    assert x.dtype == np.float32 and x.shape == (2, 2)
    np.testing.assert_array_equal(x, np.round(x))
    assert x.max() == 4095 and x.min() >= 0


def test_same_seed_same_image_and_3d():
    cam = Camera()
    photons = np.random.default_rng(5).random((4, 32, 32)).astype(np.float32) * 100
    a = record(photons, cam, rng=np.random.default_rng(42))
    b = record(photons, cam, rng=np.random.default_rng(42))
    c = record(photons, cam, rng=np.random.default_rng(43))
    assert a.shape == (4, 32, 32)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g1 = record(photons, cam, rng=np.random.default_rng(42), shot_noise="gaussian")
    g2 = record(photons, cam, rng=np.random.default_rng(42), shot_noise="gaussian")
    np.testing.assert_array_equal(g1, g2)


def test_mean_of_record_is_expected_counts():
    cam = Camera()
    photons = np.linspace(0, 300, 64, dtype=np.float32)[None, :].repeat(2000, axis=0)
    x = record(photons, cam, rng=np.random.default_rng(0))
    mean = expected_counts(photons[0], cam)
    var = cam.gain * (mean - cam.offset) + cam.read_noise_adu**2 + 1 / 12
    z = (x.mean(axis=0) - mean) / np.sqrt(var / x.shape[0])  # standard errors
    assert np.abs(z).max() < 4.5
    assert abs(z.mean()) < 4.5 / np.sqrt(z.size)  # no bias overall


def test_record_bad_input():
    cam = Camera()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="non-negative"):
        record(np.array([1.0, -1.0]), cam, rng=rng)
    with pytest.raises(ValueError, match="finite"):
        record(np.array([1.0, np.inf]), cam, rng=rng)
    with pytest.raises(TypeError, match="Generator"):
        record(np.ones(3), cam, rng=0)
    with pytest.raises(TypeError, match="Camera"):
        record(np.ones(3), {"gain": 2.0}, rng=rng)
    with pytest.raises(ValueError, match="shot_noise"):
        record(np.ones(3), cam, rng=rng, shot_noise="uniform")
    with pytest.raises(TypeError, match="Camera"):
        expected_counts(np.ones(3), None)
