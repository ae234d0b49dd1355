"""Downstream analysis: nuclei segmentation, instance matching and line profiles."""

import numpy as np
import pytest

from coursekit.analysis import (
    intensity_profile,
    match_instances,
    nucleus_table,
    profile_roughness,
    segment_nuclei,
)


def _discs(shape, centres, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, dtype=np.int32)
    for i, (cy, cx) in enumerate(centres, start=1):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 < radius**2] = i
    return labels


def test_segmentation_finds_every_disc_in_a_noisy_image():
    rng = np.random.default_rng(0)
    centres = [(20, 20), (20, 60), (60, 20), (60, 62), (100, 40)]
    truth = _discs((128, 96), centres, 9)
    img = (truth > 0) * 100.0 + rng.normal(0, 15, truth.shape)
    labels = segment_nuclei(img)
    m = match_instances(truth, labels, iou_threshold=0.5)
    assert m["n_predicted"] == len(centres), m
    assert m["f1"] == 1.0 and m["mean_matched_iou"] > 0.8, m


def test_touching_nuclei_are_split_by_the_watershed():
    truth = _discs((64, 96), [(32, 34), (32, 58)], 13)  # overlapping discs merge when thresholded
    img = (truth > 0).astype(float)
    assert segment_nuclei(img, split_touching=False).max() == 1
    assert segment_nuclei(img, min_distance_px=7).max() == 2


def test_match_counts_misses_and_false_positives():
    truth = _discs((64, 64), [(16, 16), (48, 48)], 6)
    pred = _discs((64, 64), [(16, 17), (16, 48)], 6)  # one good, one invented, one missed
    m = match_instances(truth, pred)
    assert (m["tp"], m["fp"], m["fn"]) == (1, 1, 1)
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["f1"] == 0.5


def test_a_shifted_object_fails_a_strict_iou_threshold():
    truth = _discs((64, 64), [(32, 32)], 8)
    pred = _discs((64, 64), [(32, 38)], 8)
    assert match_instances(truth, pred, iou_threshold=0.3)["tp"] == 1
    assert match_instances(truth, pred, iou_threshold=0.7)["tp"] == 0


def test_empty_prediction_gives_zero_recall_and_nan_precision():
    truth = _discs((32, 32), [(16, 16)], 5)
    m = match_instances(truth, np.zeros_like(truth))
    assert m["recall"] == 0 and np.isnan(m["precision"]) and m["f1"] == 0


def test_nucleus_table_reports_areas_in_square_micrometres():
    truth = _discs((64, 64), [(20, 20)], 10)
    t = nucleus_table(truth, pixel_size_um=0.5, intensity=truth.astype(float) * 3)
    assert len(t) == 1
    assert t.loc[0, "area_um2"] == pytest.approx((truth > 0).sum() * 0.25)
    assert t.loc[0, "centroid_y_um"] == pytest.approx(10.0, abs=0.01)
    assert t.loc[0, "mean_intensity"] == pytest.approx(3.0)


def test_profile_across_a_step_and_its_roughness():
    img = np.zeros((20, 40))
    img[:, 20:] = 1.0
    d, v = intensity_profile(img, (10, 5), (10, 35), width_px=3)
    assert d[0] == 0 and d[-1] == pytest.approx(30)
    assert v[0] == 0 and v[-1] == 1 and np.all(np.diff(v) >= 0)


def test_roughness_separates_a_noisy_profile_from_a_smooth_one():
    x = np.linspace(-3, 3, 61)
    smooth = np.exp(-(x**2))
    noisy = smooth + np.random.default_rng(1).normal(0, 0.05, x.shape)
    assert profile_roughness(noisy) > 5 * profile_roughness(smooth)
    assert profile_roughness(np.ones(5)) == 0.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: segment_nuclei(np.ones((16, 16))), "constant image"),
        (lambda: segment_nuclei(np.ones(16)), "2D"),
        (lambda: match_instances(np.zeros((4, 4), int), np.zeros((5, 4), int)), "same shape"),
        (lambda: match_instances(np.zeros((4, 4)), np.zeros((4, 4), int)), "integer label"),
        (
            lambda: match_instances(np.zeros((4, 4), int), np.zeros((4, 4), int), iou_threshold=2),
            r"\(0, 1\]",
        ),
        (lambda: intensity_profile(np.zeros((8, 8)), (0, 0), (0, 20)), "outside the image"),
        (lambda: intensity_profile(np.zeros((8, 8)), (1, 1), (1, 1)), "same point"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
