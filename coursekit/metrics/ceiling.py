"""The noise ceiling C_max: the best Pearson r any prediction of a noisy target can reach.

A recorded target ``x = s + e`` is the clean signal ``s`` plus noise ``e`` that no model
can predict. Even a perfect prediction (``s`` itself) correlates with ``x`` only up to

    C_max = r(s, x) = sqrt(var(s) / var(x)) = sqrt(1 - var(e) / var(x))

(Ounkomol et al., *Label-free prediction of three-dimensional fluorescence images from
transmitted-light microscopy*, Nat Methods 15:917, 2018). The course compares every score
to this ceiling. It is estimated here the way an experimenter can, **never from the clean
image**:

- :func:`noise_ceiling`: from one noisy image and the camera's calibration (gain, offset,
  read noise; :mod:`coursekit.metrics.calibration`): for a shot-noise-limited camera the
  noise variance of a pixel is ``gain * (x - offset) + read_noise_adu**2 + 1/12``;
- :func:`noise_ceiling_from_repeats`: from two acquisitions of the same sample,
  ``r(a, b) = var(s) / var(x) = C_max**2``; no calibration needed;
- :func:`noise_ceiling_from_image`: from one image without any calibration, with the noise
  model fitted to the image itself (:mod:`coursekit.metrics.noise_model`), where the image
  allows it (it says why not, otherwise).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from coursekit._validation import check_array, check_same_shape
from coursekit.metrics.calibration import CameraCalibration, as_calibration
from coursekit.metrics.noise_model import WHITE_NOISE_CORRELATION, fit_noise_model

__all__ = [
    "noise_ceiling",
    "noise_ceiling_from_repeats",
    "noise_ceiling_from_image",
    "CeilingUnavailable",
]

# the neighbour correlation of the details above which the noise is called correlated
# (white noise: -2/3; a Gaussian blur of 0.5 pixel of the noise gives about -0.57)
_MAX_NEIGHBOUR_CORRELATION = -0.5


class CeilingUnavailable(ValueError):
    """C_max cannot be estimated from these data; the message says why."""


def _masked(x: np.ndarray, mask, name: str) -> np.ndarray:
    """Return the (float64) values of ``x`` selected by ``mask`` as a 1D array."""
    if mask is None:
        vals = x.reshape(-1)
    else:
        m = np.asarray(mask)
        if m.shape != x.shape:
            raise ValueError(
                f"mask and {name} must have the same shape, got {m.shape} and {x.shape}"
            )
        if m.dtype != bool:
            if not np.issubdtype(m.dtype, np.number):
                raise TypeError(f"mask: expected a boolean array, got dtype {m.dtype}")
            m = m != 0
        vals = x[m]
    if vals.size < 2:
        raise ValueError(f"{name}: need at least 2 pixels (inside the mask), got {vals.size}")
    return vals.astype(np.float64, copy=False)


def noise_ceiling(
    noisy,
    *,
    camera=None,
    gain: float | None = None,
    offset: float | None = None,
    read_noise_adu: float | None = None,
    mask=None,
    quantization: bool = True,
    return_se: bool = False,
):
    """Estimate C_max from one noisy recording and the camera calibration.

    The mean noise variance follows from the camera model applied to the noisy image
    itself (its expectation equals the true mean noise variance, so no clean image is
    needed)::

        noise_var = gain * (mean(x) - offset) + read_noise_adu**2 + 1/12
        C_max = sqrt(max(0, 1 - noise_var / var(x)))

    Parameters
    ----------
    noisy : ndarray
        Recorded counts in ADU, any shape (``(Y, X)``, ``(Z, Y, X)``); integers accepted.
        Must be the raw counts (not normalized, not background-subtracted).
    camera : Camera, CameraCalibration or dict, optional
        The calibration, in any form :func:`coursekit.metrics.calibration.as_calibration`
        accepts: a :class:`coursekit.microscope.camera.Camera`, ``field.metadata["camera"]``
        (a dict, read noise in electrons), a dict with ``gain``, ``offset`` and
        ``read_noise_adu``, or a :class:`~coursekit.metrics.calibration.CameraCalibration`.
    gain, offset, read_noise_adu : float, optional
        The same three numbers given one by one (ADU per electron, ADU, ADU rms), instead
        of ``camera``.
    mask : ndarray of bool, optional
        Only use these pixels (e.g. the cells).
    quantization : bool
        Add the rounding variance 1/12 ADU^2 (integer counts).
    return_se : bool
        Also return the standard error of the estimate (see Notes).

    Returns
    -------
    float, or (float, float) with ``return_se``
        C_max in ``[0, 1]``; NaN for an image without any variance (and NaN standard
        error where C_max is 0 or NaN).

    Notes
    -----
    **Standard error.** The estimate is unbiased but not exact: the noise ``e`` actually
    present in one image fluctuates around its expected variance. With ``d = s - mean(s)``
    the clean signal's deviation, ``sigma2 = gain * (s - offset) + read_noise_adu**2 +
    1/12`` the noise variance *of each pixel*, ``V = var(x)``, ``rho = noise_var / V =
    1 - C_max**2`` and ``n`` pixels, a first-order expansion of
    ``f = C_max**2 = 1 - noise_var / V`` in the noise gives
    ``delta f = (1 / (n V)) sum_i psi_i`` with
    ``psi_i = -gain * e_i + rho * (2 d_i e_i + e_i**2 - sigma2_i)`` (the first term from
    ``mean(x)`` in ``noise_var``, the others from ``V``). For Gaussian-like noise
    (``var(e**2) = 2 sigma2**2``, third moment neglected) ::

        SE(C_max) = sqrt(mean(sigma2 * (2 rho d - gain)**2 + 2 rho**2 sigma2**2) / n)
                    / (2 C_max V)

    Bright pixels have both a large ``d`` and a large ``sigma2``, so the per-pixel
    variance matters: the constant-noise version (``sigma2 = noise_var`` everywhere,
    ``SE = rho / (2 C_max sqrt(n)) * sqrt(4 rho C_max**2 + 2 rho**2)``) is too small by
    about 1.3x for bright, sparse targets. With ``return_se`` the formula is evaluated with
    the noisy image in place of the unknown clean one (``sigma2`` from ``x``, and
    ``E[(2 rho (x - mean x) - gain)**2 sigma2] - 2 rho**2 sigma2**2`` for the first term).
    In ``tests/test_ceiling.py`` the spread of C_max over 200 noise draws agrees with it
    within 15 %. Typical values on 256 x 256 pixels: 0.03 at C_max = 0.2, 0.004 at 0.75,
    3e-4 at 0.95; very noisy, nearly empty targets therefore need more pixels (a 3D
    stack, several fields) or :func:`noise_ceiling_from_repeats`. Saturated (clipped)
    pixels break the model; exclude them with ``mask``.

    Examples
    --------
    >>> import numpy as np
    >>> from coursekit.microscope.camera import Camera, record
    >>> rng = np.random.default_rng(0)
    >>> clean = np.linspace(5, 200, 4096).reshape(64, 64)
    >>> cam = Camera()
    >>> noisy = record(clean, cam, rng=rng)
    >>> c = noise_ceiling(noisy, camera=cam)
    >>> bool(0.9 < c < 1.0)
    True
    >>> c, se = noise_ceiling(noisy, camera=cam.to_dict(), return_se=True)  # dict works too
    >>> bool(0 < se < 0.01)
    True
    """
    x = check_array(noisy, "noisy", allow_int=True)
    given = {"gain": gain, "offset": offset, "read_noise_adu": read_noise_adu}
    if camera is not None:
        if any(v is not None for v in given.values()):
            raise ValueError("pass either camera= or gain=, offset= and read_noise_adu=, not both")
        cal = as_calibration(camera)
    else:
        missing = [k for k, v in given.items() if v is None]
        if missing:
            raise TypeError(
                f"noise_ceiling needs the camera calibration: missing {', '.join(missing)} "
                "(or pass camera=, e.g. a Camera or field.metadata['camera']; without a "
                "calibration see noise_ceiling_from_repeats and noise_ceiling_from_image)"
            )
        cal = CameraCalibration(**given)
    vals = _masked(x, mask, "noisy")
    mean = float(vals.mean())
    total_var = float(vals.var())
    if total_var <= 0:
        return (float("nan"), float("nan")) if return_se else float("nan")
    if mean < cal.offset - 3 * max(cal.read_noise_adu, 1.0) / math.sqrt(vals.size):
        warnings.warn(
            f"the mean of the image ({mean:.4g}) is below the camera offset ({cal.offset:.4g}): "
            "are these raw counts, and is the offset right?",
            stacklevel=2,
        )
    noise_var = cal.noise_variance(mean, quantization=quantization)
    c_max = float(math.sqrt(max(0.0, 1.0 - noise_var / total_var)))
    if not return_se:
        return c_max
    pixel_var = cal.noise_variance(vals, quantization=quantization)
    return c_max, _standard_error(vals, pixel_var, noise_var, total_var, cal.gain, c_max)


def _standard_error(vals, pixel_var, noise_var, total_var, slope, c_max) -> float:
    """The plug-in standard error of C_max documented in :func:`noise_ceiling`."""
    if c_max <= 0:
        return float("nan")
    rho = noise_var / total_var
    dev = vals - vals.mean()
    term = np.mean(pixel_var * (2 * rho * dev - slope) ** 2 - 2 * rho**2 * pixel_var**2)
    return float(math.sqrt(max(float(term), 0.0) / vals.size) / (2 * c_max * total_var))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    if den == 0:
        return float("nan")
    return float((a * b).sum()) / den


def noise_ceiling_from_repeats(a, b, mask=None) -> float:
    """Estimate C_max from two recordings of the same sample.

    With independent noise, ``r(a, b) = var(s) / var(x) = C_max**2``, so
    ``C_max = sqrt(max(0, r(a, b)))``. Needs no calibration; the two images may be in any
    (affine) intensity scale.

    Parameters
    ----------
    a, b : ndarray
        Two acquisitions of the same field, same shape; integers accepted.
    mask : ndarray of bool, optional
        Only use these pixels.

    Returns
    -------
    float
        C_max in ``[0, 1]`` (NaN if an image has no variance).

    Examples
    --------
    >>> import numpy as np
    >>> from coursekit.microscope.camera import Camera, record
    >>> rng = np.random.default_rng(0)
    >>> clean = np.linspace(5, 200, 4096).reshape(64, 64)
    >>> a, b = record(clean, Camera(), rng=rng), record(clean, Camera(), rng=rng)
    >>> bool(0.9 < noise_ceiling_from_repeats(a, b) < 1.0)
    True
    """
    a = check_array(a, "a", allow_int=True)
    b = check_array(b, "b", allow_int=True)
    check_same_shape(a, b, ("a", "b"))
    r = _pearson(_masked(a, mask, "a"), _masked(b, mask, "b"))
    if math.isnan(r):
        return r
    return float(math.sqrt(max(0.0, r)))


def noise_ceiling_from_image(image, *, mask=None, saturation: float | None = None):
    """Estimate C_max from one image without a camera calibration.

    The noise variance as a function of the signal level, ``slope * level + intercept``
    (Poisson-Gaussian), is fitted to the image itself by
    :func:`coursekit.metrics.noise_model.fit_noise_model` (smooth neighbourhoods grouped
    by level; Foi et al. 2008), then::

        C_max = sqrt(max(0, 1 - (slope * mean(x) + intercept) / var(x)))

    as :func:`noise_ceiling` does with a calibrated camera. The fit is invariant to an
    affine change of units, so raw counts, background-subtracted or rescaled images all
    work; nonlinear transforms (gamma, percentile clipping) do not.

    Validated on the simulator (``tests/test_ceiling.py``) against the camera-calibrated
    C_max of the same image, on 256 x 256 images of blurred spots (1.5 and 3 pixels) and on
    simulated fields: the noise fraction ``1 - C_max**2`` agrees within 8 % (measured up to
    5 %), i.e. C_max within about 0.035 at 0.3, 0.006 at 0.75, 0.003 at 0.95. Structures
    much sharper than 1.5 pixels leak into the fit and make C_max too low.

    Parameters
    ----------
    image : ndarray
        The recorded target, ``(Y, X)`` or ``(Z, Y, X)``, integers accepted.
    mask : ndarray of bool, optional
        Only use these pixels (for the fit and for C_max).
    saturation : float, optional
        Pixels next to one at or above this value are left out of the fit (they have no
        noise); C_max is still computed over every pixel (or the mask), as r is.

    Returns
    -------
    float
        C_max in ``[0, 1]``.

    Raises
    ------
    CeilingUnavailable
        When the image does not allow an estimate, with the reason: too few pixels, no
        spread of levels, noise correlated between neighbouring pixels (interpolated,
        resampled or deconvolved images, where the fit would miss part of the noise and
        C_max would come out too high), or a fitted noise variance that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from coursekit.microscope.camera import Camera, record
    >>> rng = np.random.default_rng(0)
    >>> spots = ndimage.gaussian_filter((rng.random((256, 256)) < 0.02) * 1.0, 2.0)
    >>> cam = Camera()
    >>> noisy = record(1 + 2000 * spots, cam, rng=rng)
    >>> c_image = noise_ceiling_from_image(noisy)
    >>> c_camera = noise_ceiling(noisy, camera=cam)
    >>> bool(abs(c_image - c_camera) < 0.02)
    True
    """
    x = check_array(image, "image", ndim=(2, 3), allow_int=True)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise TypeError(f"mask: expected a boolean array, got dtype {mask.dtype}")
        if mask.shape != x.shape:
            raise ValueError(f"mask: expected the image's shape {x.shape}, got {mask.shape}")
    try:
        fit = fit_noise_model(x, mask=mask, saturation=saturation)
    except ValueError as exc:
        raise CeilingUnavailable(f"no noise model could be fitted to the image: {exc}") from exc
    if fit.neighbour_correlation > _MAX_NEIGHBOUR_CORRELATION:
        raise CeilingUnavailable(
            "the noise is correlated between neighbouring pixels (detail correlation "
            f"{fit.neighbour_correlation:.2f}, {WHITE_NOISE_CORRELATION:.2f} for white noise): "
            "the image was probably interpolated, resampled or deconvolved, and a fit would "
            "miss part of the noise; use noise_ceiling_from_repeats or a camera calibration "
            "on the raw images"
        )
    vals = _masked(x, mask, "image")
    total_var = float(vals.var())
    noise_var = fit.slope * float(vals.mean()) + fit.intercept
    if noise_var <= 0 or total_var <= 0:
        raise CeilingUnavailable(
            f"the fitted noise variance at the mean level is {noise_var:.3g} (slope "
            f"{fit.slope:.3g}, intercept {fit.intercept:.3g}), not positive: the image has "
            "too little noise or too few smooth regions for a fit"
        )
    return float(math.sqrt(max(0.0, 1.0 - noise_var / total_var)))
