"""The camera calibration the noise ceiling needs: one type, and how to measure it.

A recorded pixel of a shot-noise-limited camera has the noise variance

    var = gain * (mean - offset) + read_noise_adu**2 + 1/12      (ADU^2)

(:mod:`coursekit.microscope.camera`). Three numbers describe it: the ``gain`` (ADU per
electron), the ``offset`` (bias, ADU) and the ``read_noise_adu`` (ADU rms).

- :class:`CameraCalibration` holds them; :func:`as_calibration` turns everything else a
  user may hold into one: a :class:`coursekit.microscope.camera.Camera`, the dict
  ``field.metadata["camera"]`` (its ``to_dict()``, read noise in electrons), or a dict
  with ``gain``, ``offset`` and ``read_noise_adu``. Every function that takes
  ``camera=`` accepts all of these.
- :func:`calibrate_dark` (offset and read noise from dark frames) and
  :func:`estimate_gain` (gain from flat frames, the photon transfer method) measure it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from coursekit._validation import check_array, check_positive, describe

__all__ = ["CameraCalibration", "as_calibration", "calibrate_dark", "estimate_gain"]

QUANTIZATION_VAR = 1.0 / 12.0  # variance of rounding to integers, ADU^2


@dataclass(frozen=True)
class CameraCalibration:
    """Gain, offset and read noise of a camera: what the noise model needs.

    Parameters
    ----------
    gain : float
        Conversion gain in ADU per electron (> 0).
    offset : float
        Bias added to every pixel, in ADU (finite).
    read_noise_adu : float
        Read-noise standard deviation in ADU (>= 0), i.e. ``gain * read_noise_e``.
    max_count : float, optional
        The largest count the camera records (``2**bit_depth - 1``), where pixels
        saturate; ``None`` when unknown.

    Examples
    --------
    >>> cal = CameraCalibration(gain=2.0, offset=100.0, read_noise_adu=3.0)
    >>> cal.noise_variance(150.0)  # 2 * 50 + 3**2 + 1/12
    109.08333333333333
    >>> as_calibration({"gain": 2.0, "offset": 100.0, "read_noise_e": 1.5}) == cal
    True
    """

    gain: float
    offset: float
    read_noise_adu: float
    max_count: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "gain", check_positive(self.gain, "gain"))
        offset = _finite(self.offset, "offset")
        object.__setattr__(self, "offset", offset)
        rn = check_positive(self.read_noise_adu, "read_noise_adu", allow_zero=True)
        object.__setattr__(self, "read_noise_adu", rn)
        if self.max_count is not None:
            object.__setattr__(self, "max_count", check_positive(self.max_count, "max_count"))

    def noise_variance(self, mean, *, quantization: bool = True):
        """Expected noise variance (ADU^2) of pixels with expected value ``mean`` (ADU).

        Signal below the offset counts as none (read noise only).
        """
        signal = np.maximum(np.asarray(mean, dtype=np.float64) - self.offset, 0.0)
        var = self.gain * signal + self.read_noise_adu**2
        if quantization:
            var = var + QUANTIZATION_VAR
        return float(var) if np.ndim(var) == 0 else var


def _finite(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a number, got {value!r}") from exc
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return v


def as_calibration(camera, *, name: str = "camera") -> CameraCalibration:
    """Turn any supported camera description into a :class:`CameraCalibration`.

    Parameters
    ----------
    camera : CameraCalibration, Camera, or mapping
        - a :class:`CameraCalibration` (returned as is);
        - a :class:`coursekit.microscope.camera.Camera` or any object with ``gain``,
          ``offset`` and ``read_noise_adu`` or ``read_noise_e`` attributes;
        - a mapping with the same keys, e.g. ``field.metadata["camera"]`` (a
          ``Camera.to_dict()``: read noise in electrons, converted with the gain).

        ``bit_depth`` or ``max_count``, when present, give the saturation count.
    name : str
        The argument's name, for error messages.

    Returns
    -------
    CameraCalibration

    Examples
    --------
    >>> from coursekit.microscope.camera import Camera
    >>> as_calibration(Camera(gain=2.0, offset=100.0, read_noise_e=1.5))
    CameraCalibration(gain=2.0, offset=100.0, read_noise_adu=3.0, max_count=65535.0)
    """
    if isinstance(camera, CameraCalibration):
        return camera
    if camera is None or isinstance(camera, (str, bytes, int, float, list, tuple, np.ndarray)):
        raise TypeError(
            f"{name}: expected a camera calibration (a Camera, a CameraCalibration, or a dict "
            f"with 'gain', 'offset' and 'read_noise_adu' or 'read_noise_e', such as "
            f"field.metadata['camera']), got {describe(camera)}"
        )

    def get(key):
        if isinstance(camera, Mapping):
            return camera.get(key)
        return getattr(camera, key, None)

    gain, offset = get("gain"), get("offset")
    read_adu, read_e = get("read_noise_adu"), get("read_noise_e")
    missing = [k for k, v in (("gain", gain), ("offset", offset)) if v is None]
    if read_adu is None and read_e is None:
        missing.append("read_noise_adu (or read_noise_e)")
    if missing:
        shown = dict(camera) if isinstance(camera, Mapping) else type(camera).__name__
        raise ValueError(
            f"{name}: expected a calibration with 'gain' (ADU per electron), 'offset' (ADU) "
            f"and 'read_noise_adu' or 'read_noise_e'; missing {', '.join(missing)} in {shown!r}. "
            "Pass a Camera, field.metadata['camera'], or measure them with calibrate_dark and "
            "estimate_gain"
        )
    gain = check_positive(gain, f"{name}.gain")
    if read_adu is None:
        read_adu = check_positive(read_e, f"{name}.read_noise_e", allow_zero=True) * gain
    max_count = get("max_count")
    bit_depth = get("bit_depth")
    if max_count is None and bit_depth is not None:
        max_count = 2 ** int(bit_depth) - 1
    return CameraCalibration(
        gain=gain,
        offset=_finite(offset, f"{name}.offset"),
        read_noise_adu=read_adu,
        max_count=None if max_count is None else float(max_count),
    )


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
    when ``quantization`` (the noise model adds it back).

    Parameters
    ----------
    dark_frames : ndarray, shape (N, Y, X) or (N, Z, Y, X)
        At least two dark frames stacked along axis 0, raw counts.
    quantization : bool
        Remove the rounding variance.

    Returns
    -------
    (float, float)
        ``(offset, read_noise_adu)`` in ADU. With the gain from :func:`estimate_gain`,
        ``CameraCalibration(gain=..., offset=offset, read_noise_adu=read_noise_adu)``.

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
        var -= QUANTIZATION_VAR
    return offset, float(math.sqrt(max(var, 0.0)))


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
    off = _finite(offset, "offset")
    rn = check_positive(read_noise_adu, "read_noise_adu", allow_zero=True)
    signal = float(f.mean()) - off
    if signal <= 0:
        raise ValueError(
            f"flat_frames: the mean ({float(f.mean()):.4g}) is not above the offset ({off:.4g}); "
            "flat frames need light"
        )
    var = float(f.var(axis=0, ddof=1).mean())
    var -= rn**2 + (QUANTIZATION_VAR if quantization else 0.0)
    return float(var / signal)
