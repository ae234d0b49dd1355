"""Checks of assignment 3 (evaluation): the student's Pearson r (also masked), NRMSE, SSIM,
PSNR and noise ceiling C_max against :mod:`coursekit.metrics`, and the per-structure table.

Every check draws its own images (odd shapes, offsets and scales that expose a missing
centring, masks that change the answer, identical and constant images) and names the
likely mistake when the student's value matches a known wrong formula.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from coursekit.grading._core import Check, as_float, call, close, diagnose, fail
from coursekit.metrics import noise_ceiling, nrmse, pearson_r, psnr, ssim

__all__ = [
    "check_pearson",
    "check_nrmse",
    "check_ssim",
    "check_psnr",
    "check_c_max",
    "check_structure_table",
    "CHECKS",
]

#: Relative tolerance against the reference: float64 sums in another order, nothing more.
RTOL = 1e-6


def _smooth(rng: np.random.Generator, shape, sigma: float = 2.0) -> np.ndarray:
    """A random image with structure (blurred noise), float64."""
    return ndimage.gaussian_filter(rng.standard_normal(shape), sigma)


def _pair(rng: np.random.Generator, shape, *, offset: float = 50.0, scale: float = 10.0):
    """A target with a large offset (so a forgotten centring shows) and a noisy prediction
    correlated with it."""
    t = offset + scale * _smooth(rng, shape)
    p = 0.7 * t + 3.0 + 0.3 * scale * rng.standard_normal(shape)
    return p, t


def _shape_text(shape) -> str:
    return f"two arrays of shape {tuple(shape)}"


# --------------------------------------------------------------------------- Pearson r
def _pearson_mistakes(p, t, mask=None) -> dict[str, float]:
    x, y = (p[mask], t[mask]) if mask is not None else (p.ravel(), t.ravel())
    xc, yc = x - x.mean(), y - y.mean()
    out = {
        "did you forget to subtract the means (centre the images) before multiplying?": float(
            np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y))
        ),
        "a correlation lies in [-1, 1]; did you forget to divide by the standard deviations? "
        "(this is the covariance)": float(np.mean(xc * yc)),
        "did you divide by the variances instead of the standard deviations?": float(
            np.dot(xc, yc) / (np.dot(xc, xc) * np.dot(yc, yc))
        ),
    }
    if mask is not None:
        out["the mask changes nothing in your result: use only the pixels where mask is True"] = (
            pearson_r(target=t, prediction=p)
        )
        out["you used the pixels OUTSIDE the mask: index with mask, not ~mask"] = pearson_r(
            target=t[~mask], prediction=p[~mask]
        )
    return out


def check_pearson(pearson) -> None:
    """Check ``pearson(prediction, target, mask=None)`` against
    :func:`coursekit.metrics.pearson_r` on random images drawn here.

    Cases: odd 2D shapes with large offsets, an anti-correlated pair, a 3D stack, a
    rescaled prediction (r must not change), and masks that select a region where the
    correlation differs from the rest.
    """
    rng = np.random.default_rng()
    shapes = [tuple(int(n) for n in rng.integers(17, 71, size=2)) for _ in range(3)]
    shapes.append(tuple(int(n) for n in rng.integers(5, 15, size=3)))
    for shape in shapes:
        p, t = _pair(rng, shape)
        if rng.random() < 0.5:
            p = -p  # anti-correlated: r < 0
        _compare_pearson(pearson, p, t, None)
    # scaling the prediction must not change r
    p, t = _pair(rng, (37, 53))
    called = "pearson(1000 * prediction + 5, target) for two arrays of shape (37, 53)"
    got = as_float(call(pearson, called, 1000 * p + 5, t), called)
    ref = pearson_r(target=t, prediction=p)
    if not close(got, ref, rtol=RTOL):
        raise fail(called, got, f"{ref:.6g}, the same r as without the rescaling", None)
    # masks: the correlation inside differs from outside
    for _ in range(2):
        shape = tuple(int(n) for n in rng.integers(21, 61, size=2))
        p, t = _pair(rng, shape)
        mask = np.zeros(shape, bool)
        h, w = shape
        mask[h // 4 : h // 4 + h // 2, w // 3 : w // 3 + w // 2] = True
        p[~mask] = rng.permutation(p[~mask])  # outside: no correlation at all
        _compare_pearson(pearson, p, t, mask)


def _compare_pearson(pearson, p, t, mask) -> None:
    kind = f"{_shape_text(p.shape)}" + (
        f" and a mask with {int(mask.sum())} True pixels" if mask is not None else ""
    )
    called = f"your pearson() for {kind}"
    args = (p, t) if mask is None else (p, t)
    kwargs = {} if mask is None else {"mask": mask}
    got = as_float(call(pearson, called, *args, **kwargs), called)
    ref = pearson_r(target=t, prediction=p, mask=mask)
    if close(got, ref, rtol=RTOL):
        return
    hint = diagnose(got, _pearson_mistakes(p, t, mask))
    if hint is None and abs(got) > 1:
        hint = "a correlation lies in [-1, 1]; did you forget to divide by the standard deviations?"
    if hint is None and close(got, -ref, rtol=1e-4):
        hint = "the sign is flipped: r = sum(dp * dt) / sqrt(sum(dp**2) * sum(dt**2))"
    raise fail(
        f"{called}\n  (called as pearson(prediction, target{', mask=mask' if mask is not None else ''}))",
        got,
        f"{ref:.6g} (coursekit.metrics.pearson_r)",
        hint,
    )


# --------------------------------------------------------------------------- NRMSE
def check_nrmse(nrmse_fn) -> None:
    """Check ``nrmse(prediction, target)``, the RMSE divided by the target's standard
    deviation, against :func:`coursekit.metrics.nrmse` (``normalization="std"``).

    Cases: random shapes with offsets (so range, mean and std normalizations all differ),
    a perfect prediction (0) and predicting the target's mean everywhere (1).
    """
    rng = np.random.default_rng()
    cases = []
    for _ in range(3):
        shape = tuple(int(n) for n in rng.integers(15, 65, size=2))
        cases.append(_pair(rng, shape, offset=float(rng.uniform(5, 500))))
    t = _pair(rng, (29, 31))[1]
    cases += [(t.copy(), t), (np.full_like(t, t.mean()), t)]
    for p, t in cases:
        called = f"your nrmse(prediction, target) for {_shape_text(t.shape)}"
        got = as_float(call(nrmse_fn, called, p, t), called)
        ref = nrmse(target=t, prediction=p)
        if close(got, ref, rtol=RTOL, atol=1e-12):
            continue
        rmse = float(np.sqrt(np.mean((p - t) ** 2)))
        hint = diagnose(
            got,
            {
                "you divided by the std of the prediction; NRMSE is normalized by the target": rmse
                / p.std()
                if p.std() > 0
                else np.nan,
                "did you forget the square root (this is MSE / std)?": rmse**2 / t.std(),
                "this is the plain RMSE: divide it by the target's standard deviation": rmse,
                "you normalized by the target's range (max - min); use its standard deviation": rmse
                / (t.max() - t.min()),
                "you normalized by the target's mean; use its standard deviation": rmse / t.mean(),
                "you divided by the variance of the target instead of its standard deviation": rmse
                / t.var(),
            },
        )
        raise fail(called, got, f"{ref:.6g} (coursekit.metrics.nrmse)", hint)


# --------------------------------------------------------------------------- SSIM
def _global_ssim(p, t, L):
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    mp, mt = p.mean(), t.mean()
    cov = np.mean((p - mp) * (t - mt))
    return ((2 * mp * mt + c1) * (2 * cov + c2)) / ((mp**2 + mt**2 + c1) * (p.var() + t.var() + c2))


def _ssim_map_mean(p, t, L, *, crop=True, sample_cov=True):
    win = 7
    f = lambda a: ndimage.uniform_filter(a, size=win)  # noqa: E731
    n = win * win
    k = n / (n - 1) if sample_cov else 1.0
    mp, mt = f(p), f(t)
    vp = k * (f(p * p) - mp * mp)
    vt = k * (f(t * t) - mt * mt)
    cov = k * (f(p * t) - mp * mt)
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    s = ((2 * mp * mt + c1) * (2 * cov + c2)) / ((mp**2 + mt**2 + c1) * (vp + vt + c2))
    return float(s[3:-3, 3:-3].mean() if crop else s.mean())


def check_ssim(ssim_fn) -> None:
    """Check ``ssim(prediction, target, data_range=None)`` on 2D images against
    :func:`coursekit.metrics.ssim` (7 x 7 uniform window, sample covariance, K1 = 0.01,
    K2 = 0.03, a 3-pixel border left out; default data range: the target's).

    Cases: random shapes, an explicit data range, identical images (1.0) and a constant
    target with an explicit data range.
    """
    rng = np.random.default_rng()
    cases = []
    for _ in range(3):
        shape = tuple(int(n) for n in rng.integers(19, 57, size=2))
        p, t = _pair(rng, shape, offset=float(rng.uniform(0, 100)))
        cases.append((p, t, None))
    p, t = _pair(rng, (33, 41))
    cases += [(p, t, 500.0), (t.copy(), t, None), (p, np.full_like(p, 7.0), 100.0)]
    for p, t, dr in cases:
        extra = "" if dr is None else f", data_range={dr:g}"
        called = f"your ssim(prediction, target{extra}) for {_shape_text(t.shape)}"
        kwargs = {} if dr is None else {"data_range": dr}
        got = as_float(call(ssim_fn, called, p, t, **kwargs), called)
        ref = ssim(target=t, prediction=p, data_range=dr)
        if close(got, ref, rtol=1e-5, atol=1e-7):
            continue
        L = dr if dr is not None else float(t.max() - t.min())
        hint = diagnose(
            got,
            {
                "you computed one SSIM over the whole image; SSIM averages a local index over "
                "7 x 7 windows (scipy.ndimage.uniform_filter)": _global_ssim(p, t, L),
                "you averaged the SSIM map over every pixel; leave out the 3-pixel border "
                "where the window leaves the image": _ssim_map_mean(p, t, L, crop=False),
                "use the sample covariance inside each window: multiply the variances and the "
                "covariance by 49 / 48": _ssim_map_mean(p, t, L, sample_cov=False),
                "data_range must default to the target's range, max(target) - min(target), "
                "not 1": _ssim_map_mean(p, t, 1.0) if dr is None else np.nan,
            },
            rtol=1e-4,
        )
        if hint is None and dr is not None and np.ptp(t) == 0:
            hint = "with a constant target use the data_range given; do not divide by its range"
        raise fail(called, got, f"{ref:.6g} (coursekit.metrics.ssim)", hint)


# --------------------------------------------------------------------------- PSNR
def check_psnr(psnr_fn) -> None:
    """Check ``psnr(prediction, target, data_range=None)`` (decibels) against
    :func:`coursekit.metrics.psnr`; identical images must give ``inf``."""
    rng = np.random.default_rng()
    cases = []
    for _ in range(3):
        shape = tuple(int(n) for n in rng.integers(15, 65, size=2))
        cases.append((*_pair(rng, shape, offset=float(rng.uniform(0, 1000))), None))
    p, t = _pair(rng, (27, 35))
    cases += [(p, t, 4095.0), (t.copy(), t, None)]
    for p, t, dr in cases:
        extra = "" if dr is None else f", data_range={dr:g}"
        called = f"your psnr(prediction, target{extra}) for {_shape_text(t.shape)}"
        kwargs = {} if dr is None else {"data_range": dr}
        got = as_float(call(psnr_fn, called, p, t, **kwargs), called)
        ref = psnr(target=t, prediction=p, data_range=dr)
        if close(got, ref, rtol=RTOL):
            continue
        L = dr if dr is not None else float(t.max() - t.min())
        mse = float(np.mean((p - t) ** 2))
        if mse == 0:
            raise fail(
                called,
                got,
                "inf (identical images: the error is 0)",
                "handle MSE == 0 explicitly and return float('inf')",
            )
        hint = diagnose(
            got,
            {
                "use log10, not the natural log": 10 * np.log(L**2 / mse),
                "PSNR = 10 log10(range**2 / MSE), or 20 log10(range / RMSE); you mixed the two": 20
                * np.log10(L**2 / mse),
                "you used 10 log10(range / MSE): square the range": 10 * np.log10(L / mse),
                "the range must come from the target, not from the prediction": 10
                * np.log10(np.ptp(p) ** 2 / mse),
                "you ignored data_range= when it was given": 10 * np.log10(np.ptp(t) ** 2 / mse),
                "the default range is max(target) - min(target), not 1": 10 * np.log10(1 / mse),
            },
        )
        raise fail(called, got, f"{ref:.6g} dB (coursekit.metrics.psnr)", hint)


# --------------------------------------------------------------------------- C_max
def check_c_max(c_max) -> None:
    """Check ``c_max(noisy, gain, offset, read_noise_adu)`` against
    :func:`coursekit.metrics.noise_ceiling` on images recorded by a simulated camera whose
    calibration is drawn here, including a dark image (pure noise: C_max = 0, not NaN)."""
    from coursekit.microscope.camera import Camera, record

    rng = np.random.default_rng()
    for k in range(4):
        cam = Camera(
            gain=float(rng.uniform(0.5, 4)),
            offset=float(rng.uniform(50, 500)),
            read_noise_e=float(rng.uniform(0.5, 3)),
        )
        shape = tuple(int(n) for n in rng.integers(30, 80, size=2))
        level = 0.0 if k == 3 else float(rng.uniform(5, 200))
        clean = level * np.clip(_smooth(rng, shape, 3.0) * 3 + 1, 0, None)
        noisy = record(clean, cam, rng=rng)
        rn = cam.gain * cam.read_noise_e
        # The dark image tests the edge case: its variance below the modelled noise variance
        # (about every other draw), where 1 - noise / variance < 0 and C_max must be 0.
        for _ in range(64):
            if level > 0:
                break
            x = noisy.astype(np.float64)
            # the notebook's mean-level noise variance, not clipped: below the variance it
            # makes 1 - noise / variance negative, and noise_ceiling's per-pixel model
            # (never smaller) gives 0 too
            modelled = cam.gain * (x.mean() - cam.offset) + rn**2 + 1 / 12
            if x.var() < modelled:
                break
            noisy = record(clean, cam, rng=rng)
        called = (
            f"your c_max(noisy, gain={cam.gain:.3g}, offset={cam.offset:.4g}, "
            f"read_noise_adu={rn:.3g}) for {'a dark image' if level == 0 else 'an image'} of "
            f"shape {shape}"
        )
        got = as_float(
            call(c_max, called, noisy, gain=cam.gain, offset=cam.offset, read_noise_adu=rn),
            called,
        )
        ref = noise_ceiling(noisy, gain=cam.gain, offset=cam.offset, read_noise_adu=rn)
        # On a dark image C_max is about 0 either way: the per-pixel noise model of
        # noise_ceiling and the mean-level formula taught in the notebook differ by a few 0.01.
        if close(got, ref, rtol=1e-6, atol=0.05 if level == 0 else 1e-9):
            continue
        x = noisy.astype(np.float64)
        var, mean = x.var(), x.mean()

        def ceiling(noise_var, var=var):
            return float(np.sqrt(max(0.0, 1 - noise_var / var)))

        full = cam.gain * max(mean - cam.offset, 0) + rn**2 + 1 / 12
        hint = diagnose(
            got,
            {
                "subtract the camera offset from the mean before multiplying by the gain": ceiling(
                    cam.gain * mean + rn**2 + 1 / 12
                ),
                "add the read noise variance, read_noise_adu**2": ceiling(full - rn**2),
                "the read noise enters squared (a variance), not as a standard deviation": ceiling(
                    full - rn**2 + rn
                ),
                "add the rounding variance 1/12 (integer counts)": ceiling(full - 1 / 12),
                "C_max is the square root of 1 - noise variance / total variance": max(
                    0.0, 1 - full / var
                ),
            },
        )
        if hint is None and np.isnan(got):
            hint = (
                "where the noise variance exceeds the image's variance (a dark image), "
                "1 - noise/var is negative: clip it at 0 before the square root"
            )
        raise fail(called, got, f"{ref:.6g} (coursekit.metrics.noise_ceiling)", hint)


# --------------------------------------------------------------------------- the table
def check_structure_table(structure_table, pearson, c_max) -> None:
    """Check ``structure_table(predictions, recorded, camera)``: one row per structure
    (the index, in the order given) with columns ``"r"`` (prediction against the recorded
    target) and ``"c_max"`` (from the recorded target and the camera), computed with the
    student's own (already checked) ``pearson`` and ``c_max``."""
    from coursekit.microscope.camera import Camera, record

    rng = np.random.default_rng()
    cam = Camera(gain=float(rng.uniform(1, 3)), offset=100.0, read_noise_e=1.5)
    names = list(rng.permutation(["dna", "membrane", "mitochondria", "actin"])[:3])
    shape = tuple(int(n) for n in rng.integers(40, 70, size=2))
    predictions, recorded = {}, {}
    for k, name in enumerate(names):
        clean = (20 + 40 * k) * np.clip(_smooth(rng, shape, 2.5) * 3 + 1, 0, None)
        recorded[name] = record(clean, cam, rng=rng)
        predictions[name] = clean + rng.normal(0, 5 + 10 * k, shape)
    called = f"your structure_table(predictions, recorded, camera) for structures {names}"
    table = call(structure_table, called, predictions, recorded, cam)
    if not hasattr(table, "loc") or not hasattr(table, "columns"):
        raise fail(called, table, "a pandas DataFrame", "build it with pd.DataFrame(rows)")
    missing = [c for c in ("r", "c_max") if c not in table.columns]
    if missing or list(table.index) != names:
        raise fail(
            called,
            f"index {list(table.index)}, columns {list(table.columns)}",
            f"index {names} (the structures, in the order of the dict), columns including "
            "'r' and 'c_max'",
            "use .set_index('structure') or pass index=list(predictions)",
        )
    rn = cam.gain * cam.read_noise_e
    for name in names:
        r_ref = pearson_r(target=recorded[name].astype(float), prediction=predictions[name])
        c_ref = noise_ceiling(recorded[name], gain=cam.gain, offset=cam.offset, read_noise_adu=rn)
        r_got, c_got = float(table.loc[name, "r"]), float(table.loc[name, "c_max"])
        if not close(r_got, r_ref, rtol=1e-5):
            others = {n: pearson_r(target=recorded[n].astype(float), prediction=predictions[name])
                      for n in names if n != name}  # fmt: skip
            hint = diagnose(
                r_got,
                {
                    f"you compared the {name} prediction with the {n} target": v
                    for n, v in others.items()
                },  # fmt: skip
            )
            raise fail(f"{called}: row {name!r}, column 'r'", r_got, f"{r_ref:.6g}", hint)
        if not close(c_got, c_ref, rtol=1e-5):
            with warnings.catch_warnings():  # the prediction is not raw counts: that's the point
                warnings.simplefilter("ignore")
                wrong = noise_ceiling(
                    np.round(predictions[name]).clip(0), gain=cam.gain, offset=cam.offset,
                    read_noise_adu=rn, quantization=True,
                )  # fmt: skip
            hint = diagnose(
                c_got,
                {"C_max is computed from the recorded (noisy) target, not the prediction": wrong},
                rtol=1e-3,
            )
            raise fail(f"{called}: row {name!r}, column 'c_max'", c_got, f"{c_ref:.6g}", hint)


CHECKS = {
    "pearson": Check(check_pearson, 4, "Pearson r, also inside a mask"),
    "nrmse": Check(check_nrmse, 3, "NRMSE normalized by the target's std"),
    "ssim": Check(check_ssim, 5, "SSIM with a 7 x 7 window"),
    "psnr": Check(check_psnr, 3, "PSNR in dB"),
    "c_max": Check(check_c_max, 3, "noise ceiling C_max"),
    "structure_table": Check(check_structure_table, 2, "per-structure table"),
}
