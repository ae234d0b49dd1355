"""The noise ceiling C_max: the best Pearson r any prediction of a noisy target can reach.

A recorded target ``x = s + e`` is the clean signal ``s`` plus noise ``e`` that no model
can predict. Even a perfect prediction (``s`` itself) correlates with ``x`` only up to

    C_max = r(s, x) = sqrt(var(s) / var(x)) = sqrt(1 - var(e) / var(x))

(Ounkomol et al., *Label-free prediction of three-dimensional fluorescence images from
transmitted-light microscopy*, Nat Methods 15:917, 2018). The course compares every score
to this ceiling. It is estimated here the way an experimenter can, **never from the clean
image**:

- :func:`noise_ceiling`: from one noisy image and the camera's calibration (gain, offset,
  read noise): for a shot-noise-limited camera the noise variance of a pixel is
  ``gain * (x - offset) + read_noise_adu**2 + 1/12``;
- :func:`noise_ceiling_from_repeats`: from two acquisitions of the same sample,
  ``r(a, b) = var(s) / var(x) = C_max**2``;
- :func:`calibrate_dark` and :func:`estimate_gain`: the calibration itself, from dark
  frames and from flat-field frames (photon transfer).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from coursekit._validation import check_array, check_positive, check_same_shape

__all__ = [
    "noise_ceiling",
    "noise_ceiling_from_repeats",
    "calibrate_dark",
    "camera_calibration_from_dark",
    "estimate_gain",
]

_QUANTIZATION_VAR = 1.0 / 12.0  # variance of rounding to integers


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
    gain: float | None = None,
    offset: float | None = None,
    read_noise_adu: float | None = None,
    camera=None,
    mask=None,
    quantization: bool = True,
) -> float:
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
    gain : float
        Camera gain in ADU per electron.
    offset : float
        Camera offset (bias) in ADU.
    read_noise_adu : float
        Read-noise standard deviation in ADU (``gain * read_noise_e``).
    camera : coursekit.microscope.camera.Camera, optional
        Take ``gain``, ``offset`` and ``read_noise_adu`` from a camera instead.
    mask : ndarray of bool, optional
        Only use these pixels (e.g. the cells).
    quantization : bool
        Add the rounding variance 1/12 ADU^2 (integer counts).

    Returns
    -------
    float
        C_max in ``[0, 1]``; NaN for an image without any variance.

    Notes
    -----
    The estimate is unbiased but not exact: the noise actually present in one image
    fluctuates around its expected variance, which gives a standard error of about
    ``sqrt(2 / n_pixels) * (1 - C_max**2) / (2 * C_max)`` (0.004 for C_max = 0.5 on a
    256 x 256 image, 0.02 for C_max = 0.15). Very noisy, nearly empty targets therefore need
    more pixels (a 3D stack, several fields) or :func:`noise_ceiling_from_repeats`.
    Saturated (clipped) pixels break the model; exclude them with ``mask``.

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
    """
    x = check_array(noisy, "noisy", allow_int=True)
    if camera is not None:
        if any(v is not None for v in (gain, offset, read_noise_adu)):
            raise ValueError("pass either camera= or gain=, offset= and read_noise_adu=, not both")
        for attr in ("gain", "offset", "read_noise_e"):
            if not hasattr(camera, attr):
                raise TypeError(f"camera: expected a Camera, got {type(camera).__name__}")
        gain = float(camera.gain)
        offset = float(camera.offset)
        read_noise_adu = float(camera.gain) * float(camera.read_noise_e)
    missing = [
        n
        for n, v in (("gain", gain), ("offset", offset), ("read_noise_adu", read_noise_adu))
        if v is None
    ]
    if missing:
        raise TypeError(
            f"noise_ceiling needs the camera calibration: missing {', '.join(missing)} "
            "(or pass camera=Camera(...); see calibrate_dark and estimate_gain)"
        )
    g = check_positive(gain, "gain")
    off = float(offset)
    if not math.isfinite(off):
        raise ValueError(f"offset: expected a finite number, got {offset!r}")
    rn = check_positive(read_noise_adu, "read_noise_adu", allow_zero=True)
    vals = _masked(x, mask, "noisy")
    mean = float(vals.mean())
    total_var = float(vals.var())
    if total_var <= 0:
        return float("nan")
    if mean < off - 3 * max(rn, 1.0) / math.sqrt(vals.size):
        warnings.warn(
            f"the mean of the image ({mean:.4g}) is below the camera offset ({off:.4g}): are "
            "these raw counts, and is the offset right?",
            stacklevel=2,
        )
    noise_var = g * max(mean - off, 0.0) + rn**2 + (_QUANTIZATION_VAR if quantization else 0.0)
    return float(math.sqrt(max(0.0, 1.0 - noise_var / total_var)))


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


def _check_frames(frames, name: str) -> np.ndarray:
    f = check_array(frames, name, ndim=(3, 4), allow_int=True)
    if f.shape[0] < 2:
        raise ValueError(
            f"{name}: expected at least 2 frames stacked along axis 0, got shape {f.shape}"
        )
    return f.astype(np.float64, copy=False)


def calibrate_dark(dark_frames, *, quantization: bool = True) -> tuple[float, float]:
    """Camera offset and read noise from dark frames (no light reaching the sensor).

    The offset is the mean count. The read noise is the pooled temporal standard deviation
    (per-pixel variance across frames, averaged over pixels), so fixed-pattern differences
    between pixels do not count as noise; the rounding variance 1/12 ADU^2 is removed
    when ``quantization`` (:func:`noise_ceiling` adds it back).

    Parameters
    ----------
    dark_frames : ndarray, shape (N, Y, X) or (N, Z, Y, X)
        At least two dark frames stacked along axis 0, raw counts.
    quantization : bool
        Remove the rounding variance.

    Returns
    -------
    (float, float)
        ``(offset, read_noise_adu)`` in ADU.

    Examples
    --------
    >>> import numpy as np
    >>> from coursekit.microscope.camera import Camera, record
    >>> cam = Camera(gain=2.0, offset=100.0, read_noise_e=1.5)
    >>> dark = record(np.zeros((20, 64, 64)), cam, rng=np.random.default_rng(0))
    >>> offset, rn = calibrate_dark(dark)
    >>> round(offset), round(rn, 1)  # read noise 2 ADU/e- x 1.5 e-
    (100, 3.0)
    """
    f = _check_frames(dark_frames, "dark_frames")
    if (f <= 0).any():
        warnings.warn(
            "some dark pixels are clipped at 0: the offset is too low for the read noise and "
            "the estimates are biased",
            stacklevel=2,
        )
    offset = float(f.mean())
    var = float(f.var(axis=0, ddof=1).mean())
    if quantization:
        var -= _QUANTIZATION_VAR
    return offset, float(math.sqrt(max(var, 0.0)))


camera_calibration_from_dark = calibrate_dark


def estimate_gain(
    flat_frames, *, offset: float, read_noise_adu: float = 0.0, quantization: bool = True
) -> float:
    """Camera gain (ADU per electron) from flat-field frames: the photon transfer method.

    Shot noise makes the temporal variance of a pixel grow linearly with its mean signal,
    ``var = gain * (mean - offset) + read_noise_adu**2 + 1/12``; the slope is the gain.
    Frames are repeated exposures of the same (not necessarily uniform) illumination.

    Parameters
    ----------
    flat_frames : ndarray, shape (N, Y, X) or (N, Z, Y, X)
        At least two exposures stacked along axis 0, raw counts, well above the offset and
        below saturation.
    offset : float
        Camera offset in ADU (see :func:`calibrate_dark`).
    read_noise_adu : float
        Read noise in ADU (see :func:`calibrate_dark`).
    quantization : bool
        Account for the rounding variance.

    Returns
    -------
    float
        Gain in ADU per electron.

    Examples
    --------
    >>> import numpy as np
    >>> from coursekit.microscope.camera import Camera, record
    >>> cam = Camera(gain=2.0)
    >>> flats = record(np.full((4, 64, 64), 500.0), cam, rng=np.random.default_rng(0))
    >>> round(estimate_gain(flats, offset=cam.offset, read_noise_adu=cam.read_noise_adu), 1)
    2.0
    """
    f = _check_frames(flat_frames, "flat_frames")
    off = float(offset)
    if not math.isfinite(off):
        raise ValueError(f"offset: expected a finite number, got {offset!r}")
    rn = check_positive(read_noise_adu, "read_noise_adu", allow_zero=True)
    signal = float(f.mean()) - off
    if signal <= 0:
        raise ValueError(
            f"flat_frames: the mean ({float(f.mean()):.4g}) is not above the offset ({off:.4g}); "
            "flat frames need light"
        )
    var = float(f.var(axis=0, ddof=1).mean())
    var -= rn**2 + (_QUANTIZATION_VAR if quantization else 0.0)
    return float(var / signal)
