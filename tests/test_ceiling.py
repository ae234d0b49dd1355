"""The noise ceiling C_max (coursekit.metrics.ceiling), estimated without the clean image."""

import numpy as np
import pytest
from scipy import ndimage

from coursekit.metrics.ceiling import (
    calibrate_dark,
    camera_calibration_from_dark,
    estimate_gain,
    noise_ceiling,
    noise_ceiling_from_repeats,
)
from coursekit.microscope.camera import Camera, expected_counts, record

CAM = Camera(gain=2.0, offset=100.0, read_noise_e=1.5, quantum_efficiency=0.8)


def blobs(shape, seed, density=0.02, sigma=2.0):
    """Blurred random blobs in about [0, 1]: a stand-in for a fluorescence target."""
    rng = np.random.default_rng(seed)
    x = ndimage.gaussian_filter((rng.random(shape) < density).astype(np.float32), sigma)
    return x / np.percentile(x, 99.9)


def pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.mark.parametrize("shape", [(256, 256), (16, 96, 96)], ids=["2D", "3D"])
@pytest.mark.parametrize("peak_photons", [5, 20, 100, 1000])
def test_noise_ceiling_matches_clean_vs_noisy_correlation(shape, peak_photons):
    photons = 1.0 + peak_photons * blobs(shape, seed=peak_photons)
    rng = np.random.default_rng(100 + peak_photons)
    noisy = record(photons, CAM, rng=rng)
    clean = expected_counts(photons, CAM)
    measured = pearson(clean, noisy)  # what the ceiling must predict
    c_cam = noise_ceiling(noisy, camera=CAM)
    c_explicit = noise_ceiling(
        noisy, gain=CAM.gain, offset=CAM.offset, read_noise_adu=CAM.gain * CAM.read_noise_e
    )
    assert c_cam == c_explicit
    assert abs(c_cam - measured) < 0.02
    # integer (uint16) counts as a camera writes them give the same answer
    assert noise_ceiling(noisy.astype(np.uint16), camera=CAM) == pytest.approx(c_cam, abs=1e-9)
    # two acquisitions of the same sample, no calibration needed
    repeat = record(photons, CAM, rng=rng)
    assert abs(noise_ceiling_from_repeats(noisy, repeat) - measured) < 0.02


def test_noise_ceiling_spans_the_range():
    """Dim targets have a low ceiling, bright ones approach 1."""
    shape = (128, 128)
    s = blobs(shape, seed=0)
    rng = np.random.default_rng(0)
    values = [noise_ceiling(record(1 + p * s, CAM, rng=rng), camera=CAM) for p in (3, 30, 3000)]
    assert values[0] < 0.5 < values[1] < values[2] and values[2] > 0.99


def test_noise_ceiling_with_mask_and_gaussian_shot_noise():
    shape = (256, 256)
    s = blobs(shape, seed=3)
    photons = 2.0 + 30 * s
    mask = np.zeros(shape, bool)
    mask[:, :128] = True
    noisy = record(photons, CAM, rng=np.random.default_rng(7), shot_noise="gaussian")
    clean = expected_counts(photons, CAM)
    measured = pearson(clean[mask], noisy[mask])
    assert abs(noise_ceiling(noisy, camera=CAM, mask=mask) - measured) < 0.02
    assert abs(noise_ceiling(noisy, camera=CAM, mask=mask.astype(np.uint8)) - measured) < 0.02
    repeat = record(photons, CAM, rng=np.random.default_rng(8))
    assert abs(noise_ceiling_from_repeats(noisy, repeat, mask=mask) - measured) < 0.02


def test_wrong_calibration_gives_wrong_ceiling():
    """The estimate really uses the camera model: a gain too high means more noise assumed."""
    photons = 1.0 + 20 * blobs((128, 128), seed=1)
    noisy = record(photons, CAM, rng=np.random.default_rng(0))
    right = noise_ceiling(noisy, camera=CAM)
    too_noisy = noise_ceiling(noisy, gain=4.0, offset=CAM.offset, read_noise_adu=3.0)
    assert too_noisy < right - 0.05


def test_calibrate_dark_recovers_offset_and_read_noise():
    cam = Camera(gain=1.8, offset=120.0, read_noise_e=2.0)
    dark = record(np.zeros((10, 128, 128)), cam, rng=np.random.default_rng(0))
    offset, read_noise_adu = calibrate_dark(dark)
    assert offset == pytest.approx(120.0, rel=0.01)
    assert read_noise_adu == pytest.approx(cam.read_noise_adu, rel=0.03)
    assert camera_calibration_from_dark(dark) == (offset, read_noise_adu)
    # fixed-pattern offsets between pixels do not count as read noise
    pattern = np.random.default_rng(1).normal(0, 5, (128, 128)).round()
    assert calibrate_dark(dark + pattern)[1] == pytest.approx(read_noise_adu, rel=1e-6)
    # 3D frames (N, Z, Y, X)
    dark3 = record(np.zeros((4, 4, 64, 64)), cam, rng=np.random.default_rng(2))
    assert calibrate_dark(dark3)[1] == pytest.approx(cam.read_noise_adu, rel=0.05)


def test_estimate_gain_photon_transfer():
    cam = Camera(gain=2.5, offset=100.0, read_noise_e=1.5)
    illumination = 200 + 300 * np.linspace(0, 1, 128)[None, :] * np.ones((128, 1))  # not flat
    flats = record(np.broadcast_to(illumination, (6, 128, 128)), cam, rng=np.random.default_rng(0))
    dark = record(np.zeros((6, 128, 128)), cam, rng=np.random.default_rng(1))
    offset, rn = calibrate_dark(dark)
    assert estimate_gain(flats, offset=offset, read_noise_adu=rn) == pytest.approx(2.5, rel=0.03)
    with pytest.raises(ValueError, match="above the offset"):
        estimate_gain(dark, offset=offset)


def test_ceiling_bad_input():
    img = np.full((8, 8), 150.0)
    img[0, 0] = 160
    with pytest.raises(TypeError, match="calibration"):
        noise_ceiling(img, gain=2.0)
    with pytest.raises(ValueError, match="either camera"):
        noise_ceiling(img, camera=CAM, gain=2.0)
    with pytest.raises(TypeError, match="Camera"):
        noise_ceiling(img, camera={"gain": 2.0})
    with pytest.raises(ValueError, match="gain"):
        noise_ceiling(img, gain=-1.0, offset=100.0, read_noise_adu=3.0)
    with pytest.raises(ValueError, match="mask"):
        noise_ceiling(img, camera=CAM, mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="at least 2 pixels"):
        noise_ceiling(img, camera=CAM, mask=np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="finite"):
        noise_ceiling(np.full((4, 4), np.nan), camera=CAM)
    with pytest.raises(ValueError, match="same shape"):
        noise_ceiling_from_repeats(img, img[:4])
    with pytest.raises(ValueError, match="at least 2 frames"):
        calibrate_dark(np.zeros((1, 8, 8)))
    with pytest.raises(ValueError, match="3D or 4D"):
        calibrate_dark(np.zeros((8, 8)))
    with pytest.warns(UserWarning, match="below the camera offset"):
        noise_ceiling(img - 100, camera=CAM)
    assert np.isnan(noise_ceiling(np.full((8, 8), 150.0), camera=CAM))
