"""Checks of assignment 4 (hallucinations): the student's hallucination and miss maps, the
hallucination score, and the rank correlation of uncertainty with error, against
:mod:`coursekit.hallucination`.

The images are drawn here: blobs in the truth, blobs in the prediction that partly overlap
them, a background, and a threshold; so a map that ignores the truth, the threshold or the
background differs from the reference.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from coursekit import hallucination as ref
from coursekit.grading._core import Check, as_float, call, close, describe, diagnose, fail

__all__ = [
    "check_hallucination_map",
    "check_miss_map",
    "check_hallucination_score",
    "check_uncertainty_spearman",
    "CHECKS",
]


def _blobs(rng, shape, n, background):
    img = np.zeros(shape)
    idx = rng.integers(0, img.size, size=n)
    img.flat[idx] = rng.uniform(50, 150, size=n)
    return background + ndimage.gaussian_filter(img, 2.0) * 12


def _case(rng):
    """truth, prediction (in the truth's units), threshold, background."""
    shape = tuple(int(n) for n in rng.integers(24, 60, size=2))
    bg = float(rng.uniform(5, 100))
    truth = _blobs(rng, shape, 6, bg)
    # the prediction keeps some true blobs (weakened), adds its own, and is a little noisy
    pred = bg + 0.8 * (truth - bg) + (_blobs(rng, shape, 4, 0.0)) + rng.normal(0, 0.5, shape)
    thr = bg + 0.1 * (np.percentile(truth, 99.9) - bg)
    return truth, pred, float(thr), bg


def _map_mistakes(p, t, thr, bg, kind):
    empty, claims = t <= thr, p > thr
    signal = ~empty
    if kind == "hall":
        return {
            "count only pixels where the truth has NO signal (truth <= threshold)": np.where(
                claims, (p - bg) - np.maximum(t - bg, 0), 0
            ),
            "the excess is prediction - max(truth, background), not prediction - threshold": np.where(
                empty & claims, p - thr, 0
            ),
            "measure above the background: subtract max(truth, background), not the truth": np.where(
                empty & claims, p - t, 0
            ),
            "only pixels where the prediction claims signal (prediction > threshold) count": np.where(
                empty, np.maximum((p - bg) - np.maximum(t - bg, 0), 0), 0
            ),
            "that is the miss map: true signal the prediction lacks": np.where(
                signal & ~claims, (t - bg) - np.maximum(p - bg, 0), 0
            ),
        }
    return {
        "count only pixels where the truth HAS signal (truth > threshold)": np.where(
            ~claims, (t - bg) - np.maximum(p - bg, 0), 0
        ),
        "the missing intensity is truth - max(prediction, background)": np.where(
            signal & ~claims, t - p, 0
        ),
        "only pixels where the prediction does NOT claim signal count": np.where(
            signal, np.maximum((t - bg) - np.maximum(p - bg, 0), 0), 0
        ),
        "that is the hallucination map: predicted signal where the truth has none": np.where(
            empty & claims, (p - bg) - np.maximum(t - bg, 0), 0
        ),
    }


def _check_map(func, name, kind):
    rng = np.random.default_rng()
    reference = ref.hallucination_map if kind == "hall" else ref.miss_map
    for _ in range(3):
        t, p, thr, bg = _case(rng)
        called = (f"your {name}(prediction, truth, threshold={thr:.4g}, background={bg:.4g}) for "
                  f"two arrays of shape {t.shape}")  # fmt: skip
        got = np.asarray(call(func, called, p, t, threshold=thr, background=bg), dtype=float)
        want = reference(p, t, threshold=thr, background=bg, scale="none").astype(float)
        if got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-3):
            continue
        hint = None
        if got.shape != want.shape:
            hint = "return one value per pixel, the truth's shape"
        else:
            for h, wrong in _map_mistakes(p, t, thr, bg, kind).items():
                if np.allclose(got, wrong, rtol=1e-4, atol=1e-3):
                    hint = h
                    break
            if hint is None and (got < 0).any():
                hint = "a map is >= 0: pixels that do not count are 0"
        raise fail(called, f"{describe(got)}, sum {got.sum():.6g}, {int((got > 0).sum())} pixels > 0",
                   f"sum {want.sum():.6g}, {int((want > 0).sum())} pixels > 0 "
                   f"(coursekit.hallucination.{'hallucination_map' if kind == 'hall' else 'miss_map'})",
                   hint)  # fmt: skip


def check_hallucination_map(hallucination_map) -> None:
    """Check ``hallucination_map(prediction, truth, threshold, background)`` (prediction in
    the truth's units): ``prediction - max(truth, background)`` where the truth is at or
    below the threshold and the prediction above it, 0 elsewhere."""
    _check_map(hallucination_map, "hallucination_map", "hall")


def check_miss_map(miss_map) -> None:
    """Check ``miss_map(prediction, truth, threshold, background)``: ``truth -
    max(prediction, background)`` where the truth is above the threshold and the prediction
    is not, 0 elsewhere."""
    _check_map(miss_map, "miss_map", "miss")


def check_hallucination_score(hallucination_score) -> None:
    """Check ``hallucination_score(prediction, truth, threshold, background)``: the share of
    the predicted signal mass (prediction above background, where it exceeds the threshold)
    that lies where the truth has none; 0 when nothing is predicted."""
    rng = np.random.default_rng()
    cases = [_case(rng) for _ in range(3)]
    t, p, thr, bg = _case(rng)
    cases.append((t, np.full_like(t, bg), thr, bg))  # nothing predicted: score 0
    for t, p, thr, bg in cases:
        called = (f"your hallucination_score(prediction, truth, threshold={thr:.4g}, "
                  f"background={bg:.4g}) for two arrays of shape {t.shape}")  # fmt: skip
        got = as_float(
            call(hallucination_score, called, p, t, threshold=thr, background=bg), called
        )
        want = ref.hallucination_scores(p, t, threshold=thr, background=bg, scale="none")
        w = want["hallucinated_mass_fraction"]
        if close(got, w, rtol=1e-4, atol=1e-7):
            continue
        claims = p > thr
        pp = p - bg
        hall = want["hallucinated_mass"]
        if np.isnan(got) and not claims.any():
            raise fail(called, got, "0 (nothing predicted: nothing hallucinated)",
                       "with nothing predicted nothing is hallucinated: return 0, not 0 / 0")  # fmt: skip
        hint = diagnose(
            got,
            {
                "that is the hallucinated mass itself: divide it by the predicted signal mass": hall,
                "divide by the predicted mass where the prediction claims signal (> threshold), "
                "not over every pixel": hall / pp.sum() if pp.sum() else np.nan,
                "divide by the predicted signal mass, not the true one": hall
                / (t - bg)[t > thr].sum(),
                "that is the share of predicted AREA; the score is about mass (intensity)": want[
                    "hallucinated_area_fraction"
                ],
            },
        )
        raise fail(called, got, f"{w:.6g} (hallucinated_mass_fraction of "
                   "coursekit.hallucination.hallucination_scores)", hint)  # fmt: skip


def check_uncertainty_spearman(uncertainty_spearman) -> None:
    """Check ``uncertainty_spearman(uncertainty, error)``: Spearman's rank correlation of the
    uncertainty with the ABSOLUTE error (``uncertainty_calibration(...)["spearman"]``)."""
    from scipy.stats import pearsonr, spearmanr

    rng = np.random.default_rng()
    for _ in range(3):
        shape = tuple(int(n) for n in rng.integers(20, 50, size=2))
        err = rng.standard_normal(shape) * np.exp(rng.standard_normal(shape))
        unc = np.abs(err) ** 0.5 + rng.gamma(1.0, 0.5, shape)  # ranks the errors, not exactly
        called = f"your uncertainty_spearman(uncertainty, error) for two arrays of shape {shape}"
        got = as_float(call(uncertainty_spearman, called, unc, err), called)
        want = ref.uncertainty_calibration(unc, err)["spearman"]
        if close(got, want, rtol=1e-6):
            continue
        hint = diagnose(
            got,
            {
                "rank against the ABSOLUTE error: a large negative error is a large error": float(
                    spearmanr(unc.ravel(), err.ravel()).statistic
                ),
                "that is Pearson's r; Spearman's correlates the ranks (scipy.stats.spearmanr)": float(
                    pearsonr(unc.ravel(), np.abs(err).ravel()).statistic
                ),
            },
        )
        raise fail(
            called, got, f"{want:.6g} (coursekit.hallucination.uncertainty_calibration)", hint
        )


CHECKS = {
    "hallucination_map": Check(check_hallucination_map, 4, "hallucination map"),
    "miss_map": Check(check_miss_map, 3, "miss map"),
    "hallucination_score": Check(check_hallucination_score, 3, "hallucination score"),
    "uncertainty": Check(check_uncertainty_spearman, 2, "uncertainty against error"),
}
