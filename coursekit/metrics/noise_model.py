"""The noise of an image estimated from the image itself: a Poisson-Gaussian fit.

Without a camera calibration (most real data sets), the noise model can still be read off
one image when it has smooth regions at several intensity levels, after Foi et al.,
*Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data*,
IEEE TIP 17:1737 (2008), with the detail filter of Immerkaer, *Fast noise variance
estimation*, CVIU 64:300 (1996). Around every pixel (3 x 3 neighbourhood)

    level  = mean of the 9 pixels                       (the local mean)
    detail = (k k^T) * image / 6,   k = (1, -2, 1)      (a mixed 4th difference)

For white noise of variance ``sigma**2`` the detail has variance ``sigma**2`` and no mean,
and a smooth signal (anything without an x^2 y^2 term in its local Taylor expansion)
cancels in it, so the variance of the details of pixels at one level is the noise
variance at that level. Pixels are grouped by level (quantiles), a robust (sigma-clipped)
variance is taken in each group, so that the edges of cells do not count as noise, and
the line

    noise variance = slope * level + intercept

is fitted by weighted least squares. For a camera, ``slope`` is the gain (ADU per
electron) and ``intercept = read_noise_adu**2 + 1/12 - gain * offset``. The fit is
invariant to an affine change of units, so it works on counts or on rescaled images,
but not on images that were transformed nonlinearly (gamma, clipping to percentiles),
deconvolved or interpolated (which correlate the noise between pixels and hide part of
it from the detail: the fit reports that as ``neighbour_correlation``, -2/3 for white
noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from coursekit._validation import check_array, check_int

__all__ = ["NoiseFit", "fit_noise_model", "WHITE_NOISE_CORRELATION"]

# sigma clipping of the details in each level group: at 3.5 sigma, a Gaussian keeps
# 99.95 % of its mass and 99.49 % of its variance (the factor below undoes that loss)
_CLIP_SIGMAS = 3.5
_CLIPPED_VARIANCE_FRACTION = 0.99489
_CLIP_ITERATIONS = 5
_MIN_PER_LEVEL = 50  # pixels per level group, for a variance good to about 20 %
# Structure detection: the Laplacian of the image smoothed with a Gaussian of this sigma
# (pixels); where it exceeds this many standard deviations of its noise, the pixel is
# on a structure and is left out of the second fit.
_STRUCTURE_SCALE = 1.0
_STRUCTURE_SIGMAS = 3.0
_DETAIL_KERNEL = np.outer([1.0, -2.0, 1.0], [1.0, -2.0, 1.0]) / 6.0  # unit noise gain
#: Correlation of horizontally adjacent details for spatially white noise: the kernel's
#: autocorrelation at lag 1, (-2 - 2) / 6.
WHITE_NOISE_CORRELATION = -2.0 / 3.0
# the darkest fraction of pixels (background) where the neighbour correlation is measured
_BACKGROUND_QUANTILE = 0.3


@dataclass(frozen=True)
class NoiseFit:
    """A fitted noise model ``variance = slope * level + intercept`` (image units).

    Attributes
    ----------
    slope : float
        Increase of the noise variance per unit of signal (the gain in ADU per electron
        for raw counts of a camera; 0 for purely additive noise).
    intercept : float
        Noise variance at level 0 (for a camera ``read_noise_adu**2 + 1/12 - gain *
        offset``, usually negative).
    levels, variances : ndarray
        The level and the robust detail variance of each group of blocks (for a plot).
    counts : ndarray
        Blocks per group.
    neighbour_correlation : float
        Robust correlation of the details of horizontally adjacent pixels in the darkest
        30 % of the image: -2/3 (:data:`WHITE_NOISE_CORRELATION`) for spatially white
        noise, larger (towards 0 and above) when the noise is correlated between
        neighbouring pixels (interpolated, binned after resampling, deconvolved or
        JPEG-compressed images): then the fit misses part of the noise and C_max comes
        out too high.
    """

    slope: float
    intercept: float
    levels: np.ndarray = field(repr=False)
    variances: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    neighbour_correlation: float = float("nan")

    def noise_variance(self, level):
        """The fitted noise variance at ``level`` (scalar or array), at least 0."""
        var = self.slope * np.asarray(level, dtype=np.float64) + self.intercept
        var = np.maximum(var, 0.0)
        return float(var) if np.ndim(var) == 0 else var


_STRUCTURE_NOISE_GAIN = None  # set below, once the helper exists


def _details(planes: np.ndarray, keep: np.ndarray | None):
    """Levels and details of every inner pixel of ``(N, Y, X)`` planes, as ``(N, Y-2,
    X-2)`` arrays, and which of them have their whole 3 x 3 neighbourhood in ``keep``."""
    from scipy import ndimage

    detail = np.stack([ndimage.correlate(p, _DETAIL_KERNEL, mode="reflect") for p in planes])
    level = np.stack([ndimage.uniform_filter(p, 3, mode="reflect") for p in planes])
    inner = (slice(None), slice(1, -1), slice(1, -1))
    if keep is None:
        ok = np.ones(planes.shape, bool)
    else:
        ok = ndimage.minimum_filter(keep.astype(np.uint8), size=(1, 3, 3)) > 0
    return level[inner], detail[inner], ok[inner]


def _robust_variance(x: np.ndarray) -> float:
    """Variance of the bulk of ``x`` (zero-mean details): iterated 3.5-sigma clipping."""
    sd = 1.4826 * float(np.median(np.abs(x)))  # MAD start, resistant to edges
    if sd == 0.0:
        sd = float(np.sqrt(np.mean(x**2)))
    inside = x
    for _ in range(_CLIP_ITERATIONS):
        if sd == 0.0:
            return 0.0
        inside = x[np.abs(x) <= _CLIP_SIGMAS * sd]
        new = float(np.sqrt(np.mean(inside**2) / _CLIPPED_VARIANCE_FRACTION))
        if abs(new - sd) <= 1e-6 * sd:
            break
        sd = new
    return sd**2


def fit_noise_model(
    image, *, mask=None, saturation: float | None = None, n_levels: int = 24
) -> NoiseFit:
    """Fit ``noise variance = slope * level + intercept`` to one noisy image.

    Parameters
    ----------
    image : ndarray
        ``(Y, X)`` or ``(Z, Y, X)`` (planes are filtered one by one), raw counts or any
        affinely rescaled version of them; integers accepted. A few thousand pixels at
        least; the more the better (the estimate is made of level groups of pixels).
    mask : ndarray of bool, optional
        Use only pixels whose 3 x 3 neighbourhood is inside the mask.
    saturation : float, optional
        Pixels next to one at or above this value are left out (clipped pixels have no
        noise). Default: no check.
    n_levels : int
        Number of level groups (quantiles of the local levels), at least 3.

    Returns
    -------
    NoiseFit

    Raises
    ------
    ValueError
        Too few pixels, or no spread of levels to fit a line (then a constant noise
        variance is all the image supports: see the message).

    Examples
    --------
    >>> import numpy as np
    >>> from coursekit.microscope.camera import Camera, record
    >>> ramp = np.linspace(0, 500, 256)[None, :] * np.ones((256, 1))
    >>> noisy = record(ramp, Camera(gain=2.0, quantum_efficiency=1.0), rng=np.random.default_rng(0))
    >>> fit = fit_noise_model(noisy)
    >>> round(fit.slope, 1)  # the gain, ADU per electron
    2.0
    """
    x = check_array(image, "image", ndim=(2, 3), allow_int=True).astype(np.float64)
    n_levels = check_int(n_levels, "n_levels", minimum=3)
    planes = x[None] if x.ndim == 2 else x
    if planes.shape[1] < 8 or planes.shape[2] < 8:
        raise ValueError(f"image: expected planes of at least 8 x 8 pixels, got {x.shape}")
    keep = None
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != bool or m.shape != x.shape:
            raise ValueError(
                f"mask: expected a boolean array of the image's shape {x.shape}, got "
                f"{m.dtype} {m.shape}"
            )
        keep = m[None] if x.ndim == 2 else m
    if saturation is not None:
        below = planes < float(saturation)
        keep = below if keep is None else keep & below
    level_all, detail_all, ok = _details(planes, keep)
    level, detail_ok = level_all[ok], detail_all[ok]
    min_pixels = _MIN_PER_LEVEL * n_levels
    if level.size < min_pixels:
        raise ValueError(
            f"image: only {level.size} usable pixels, need at least {min_pixels} to fit the "
            "noise (a larger image, a looser mask, or fewer saturated pixels)"
        )
    slope, intercept, levels, variances, counts = _fit_levels(level, detail_ok, n_levels)
    # Second pass: leave out pixels on structures. The curvature of the smoothed image is
    # mostly signal (its noise is small and known); where it exceeds what the first fit's
    # noise explains, signal would leak into the details and count as noise.
    structure = _structure(planes)[ok]
    noise_sd = np.sqrt(np.maximum(slope * level + intercept, 0.0)) * _STRUCTURE_NOISE_GAIN
    smooth = np.abs(structure) <= _STRUCTURE_SIGMAS * noise_sd
    if smooth.sum() >= _MIN_PER_LEVEL * 3:
        n_smooth = max(3, min(n_levels, int(smooth.sum()) // _MIN_PER_LEVEL))
        refit = _fit_levels(level[smooth], detail_ok[smooth], n_smooth)
        if refit is not None:
            slope, intercept, levels, variances, counts = refit
    return NoiseFit(
        slope=slope,
        intercept=intercept,
        levels=levels,
        variances=variances,
        counts=counts,
        neighbour_correlation=_neighbour_correlation(level_all, detail_all, ok),
    )


def _fit_levels(level, detail, n_levels):
    """Group pixels by level quantiles, robust detail variance per group, weighted line."""
    edges = np.quantile(level, np.linspace(0.0, 1.0, n_levels + 1))
    group = np.clip(np.searchsorted(edges, level, side="right") - 1, 0, n_levels - 1)
    levels, variances, counts = [], [], []
    for g in range(n_levels):
        sel = group == g
        if sel.sum() < _MIN_PER_LEVEL:
            continue
        levels.append(float(level[sel].mean()))
        variances.append(_robust_variance(detail[sel]))
        counts.append(int(sel.sum()))
    levels, variances, counts = map(np.asarray, (levels, variances, counts))
    if levels.size < 2 or np.ptp(levels) <= 0:
        raise ValueError("image: every pixel has the same level, no noise model can be fitted")
    slope, intercept = _weighted_line(levels, variances, counts)
    return slope, intercept, levels, variances, counts


def _structure(planes):
    """Curvature of the image smoothed at :data:`_STRUCTURE_SCALE` pixels (inner pixels)."""
    from scipy import ndimage

    out = np.stack([ndimage.gaussian_laplace(p, _STRUCTURE_SCALE, mode="reflect") for p in planes])
    return out[:, 1:-1, 1:-1]


def _structure_noise_gain() -> float:
    """Standard deviation of :func:`_structure` of unit white noise (its filter's norm)."""
    from scipy import ndimage

    delta = np.zeros((41, 41))
    delta[20, 20] = 1.0
    return float(np.sqrt(np.sum(ndimage.gaussian_laplace(delta, _STRUCTURE_SCALE) ** 2)))


def _weighted_line(levels, variances, counts) -> tuple[float, float]:
    """Least squares ``variance = slope * level + intercept``, weights ``n / variance**2``
    (the variance of a variance estimate from n Gaussian samples is ``2 var**2 / n``);
    refitted once with the fitted variances as weights; slope >= 0."""
    weights = counts / np.maximum(variances, 1e-12 * max(variances.max(), 1e-300)) ** 2
    for _ in range(2):
        design = np.stack([levels, np.ones_like(levels)], axis=1) * np.sqrt(weights)[:, None]
        (slope, intercept), *_ = np.linalg.lstsq(design, variances * np.sqrt(weights), rcond=None)
        if slope < 0:  # noise does not fall with signal: a constant is the best line
            slope, intercept = 0.0, float(np.sum(weights * variances) / np.sum(weights))
        fitted = np.maximum(slope * levels + intercept, 1e-12 * variances.max())
        weights = counts / fitted**2
    return float(slope), float(intercept)


def _neighbour_correlation(level, detail, ok) -> float:
    """Robust correlation of horizontally adjacent details in the background (the darkest
    pixels, where no signal leaks into the details), from the MAD variances of their sum
    and difference: ``(var(a + b) - var(a - b)) / (var(a + b) + var(a - b))``."""
    a, b = detail[:, :, :-1], detail[:, :, 1:]
    both = ok[:, :, :-1] & ok[:, :, 1:]
    lev = level[:, :, :-1][both]
    if lev.size < 100:
        return float("nan")
    dark = lev <= np.quantile(lev, _BACKGROUND_QUANTILE)
    a, b = a[both][dark], b[both][dark]

    def mad_var(v):
        return (1.4826 * float(np.median(np.abs(v - np.median(v))))) ** 2

    v_sum, v_diff = mad_var(a + b), mad_var(a - b)
    if v_sum + v_diff == 0:
        return float("nan")
    return (v_sum - v_diff) / (v_sum + v_diff)


_STRUCTURE_NOISE_GAIN = _structure_noise_gain()
