"""The camera: expected photons in, recorded counts (ADU) out.

A scientific CMOS / CCD camera in four steps, per pixel:

1. photons are converted to photo-electrons with probability ``quantum_efficiency``; the
   number of electrons is Poisson distributed (shot noise), mean ``QE * photons``;
2. the read-out adds Gaussian read noise, standard deviation ``read_noise_e`` electrons;
3. electrons are amplified to counts, ``gain`` ADU per electron, and an ``offset`` (bias)
   is added so that the noise never goes below zero;
4. the analogue-to-digital converter rounds to integers and clips to ``[0, 2**bit_depth - 1]``.

So a recorded pixel ``x`` has mean ``offset + gain * QE * photons`` and variance
``gain * (mean - offset) + (gain * read_noise_e)**2 + 1/12`` (the last term from rounding):
the model that :func:`coursekit.metrics.ceiling.noise_ceiling` inverts.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np

from coursekit._validation import check_array, check_int

__all__ = ["Camera", "expected_counts", "record"]


@dataclass(frozen=True)
class Camera:
    """Camera parameters.

    Parameters
    ----------
    gain : float
        Conversion gain in ADU (counts) per electron.
    offset : float
        Bias added to every pixel, in ADU.
    read_noise_e : float
        Read-noise standard deviation in electrons (rms).
    quantum_efficiency : float
        Fraction of photons detected, in ``(0, 1]``.
    bit_depth : int
        ADC bit depth (1 to 32): counts are clipped to ``[0, 2**bit_depth - 1]``.

    Examples
    --------
    >>> cam = Camera(gain=1.0, read_noise_e=2.0)
    >>> cam.read_noise_adu
    2.0
    >>> Camera.from_dict(cam.to_dict()) == cam
    True
    """

    gain: float = 2.0
    offset: float = 100.0
    read_noise_e: float = 1.5
    quantum_efficiency: float = 0.8
    bit_depth: int = 16

    def __post_init__(self):
        for name in ("gain", "offset", "read_noise_e", "quantum_efficiency"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"Camera.{name}: expected a number, got {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"Camera.{name}: expected a finite number, got {value!r}")
        if self.gain <= 0:
            raise ValueError(f"Camera.gain: expected a positive number (ADU/e-), got {self.gain!r}")
        if self.offset < 0:
            raise ValueError(f"Camera.offset: expected a non-negative number, got {self.offset!r}")
        if self.read_noise_e < 0:
            raise ValueError(
                f"Camera.read_noise_e: expected a non-negative number, got {self.read_noise_e!r}"
            )
        if not 0 < self.quantum_efficiency <= 1:
            raise ValueError(
                "Camera.quantum_efficiency: expected a number in (0, 1], got "
                f"{self.quantum_efficiency!r}"
            )
        check_int(self.bit_depth, "Camera.bit_depth", minimum=1, maximum=32)
        if self.offset > self.max_count:
            raise ValueError(
                f"Camera.offset ({self.offset}) exceeds the largest count {self.max_count} of a "
                f"{self.bit_depth}-bit camera"
            )

    @property
    def max_count(self) -> int:
        """Largest count the ADC can record, ``2**bit_depth - 1``."""
        return 2 ** int(self.bit_depth) - 1

    @property
    def read_noise_adu(self) -> float:
        """Read noise in ADU, ``gain * read_noise_e``."""
        return float(self.gain) * float(self.read_noise_e)

    def to_dict(self) -> dict:
        """The parameters as a plain dict (JSON-serializable), e.g. for OME metadata."""
        d = asdict(self)
        return {k: (int(v) if k == "bit_depth" else float(v)) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> Camera:
        """Rebuild a camera from :meth:`to_dict`'s output."""
        return cls(**d)


def _check_camera(camera) -> Camera:
    if not isinstance(camera, Camera):
        raise TypeError(f"camera: expected a Camera, got {type(camera).__name__}")
    return camera


def _check_photons(photons) -> np.ndarray:
    ph = check_array(photons, "photons", allow_int=True)
    if ph.dtype != np.float32:
        ph = ph.astype(np.float32)
    if float(ph.min()) < 0:
        raise ValueError(
            f"photons: expected non-negative expected photon counts, got a minimum of "
            f"{float(ph.min())}"
        )
    return ph


def expected_counts(photons, camera: Camera) -> np.ndarray:
    """The noise-free image a camera would record: ``offset + gain * QE * photons``.

    Parameters
    ----------
    photons : ndarray
        Expected photons per pixel (any shape, non-negative).
    camera : Camera

    Returns
    -------
    numpy.ndarray
        float32, same shape, in ADU. Not rounded and not clipped (the mean of
        :func:`record` as long as the camera does not saturate).

    Examples
    --------
    >>> import numpy as np
    >>> expected_counts(np.array([0.0, 10.0]), Camera(gain=2.0, offset=100.0,
    ...                 quantum_efficiency=0.5)).tolist()
    [100.0, 110.0]
    """
    cam = _check_camera(camera)
    ph = _check_photons(photons)
    scale = np.float32(cam.gain * cam.quantum_efficiency)
    return (ph * scale + np.float32(cam.offset)).astype(np.float32, copy=False)


def record(
    photons, camera: Camera, *, rng: np.random.Generator, shot_noise: str = "poisson"
) -> np.ndarray:
    """Record an image: shot noise, read noise, gain, offset, rounding and clipping.

    Parameters
    ----------
    photons : ndarray
        Expected photons per pixel (any shape, non-negative).
    camera : Camera
    rng : numpy.random.Generator
        Source of randomness (``np.random.default_rng(seed)``); the same seed gives the
        same image.
    shot_noise : {"poisson", "gaussian"}
        ``"poisson"``: exact Poisson photo-electron counts. ``"gaussian"``: the
        large-count approximation (electrons ``~ Normal(QE * photons, QE * photons)``,
        drawn together with the read noise in one normal draw, by a 16-bit inverse-CDF
        table), several times faster and with the same mean and variance, so :func:`coursekit.metrics.ceiling.noise_ceiling`
        holds for both; only the skewness (``1 / sqrt(electrons)``) is missing.

    Returns
    -------
    numpy.ndarray
        float32, same shape, integer-valued counts in ``[0, 2**bit_depth - 1]`` (ADU).
        Convert with ``.astype(np.uint16)`` to save a 16-bit image.

    Examples
    --------
    >>> import numpy as np
    >>> img = record(np.full((4, 4), 50.0), Camera(), rng=np.random.default_rng(0))
    >>> img.dtype, bool((img == np.round(img)).all())
    (dtype('float32'), True)
    """
    cam = _check_camera(camera)
    ph = _check_photons(photons)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng: expected a numpy.random.Generator (np.random.default_rng(seed)), got "
            f"{type(rng).__name__}"
        )
    return _record(ph, cam, [(rng, None)], shot_noise)


def _record_channels(photons, camera: Camera, rngs, *, shot_noise: str = "poisson"):
    """Record a stack of channels in one pass: their clean and recorded images.

    ``photons`` is ``(C, ...)``; ``rngs`` is a sequence of ``(rng, n)``: the next ``n``
    channels draw their noise from ``rng``, exactly as :func:`record` of those channels
    alone would (every channel group keeps its own noise stream).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``expected_counts(photons)`` and the recorded counts, float32, shaped as ``photons``.
    """
    cam = _check_camera(camera)
    ph = _check_photons(photons)
    if sum(int(n) for _, n in rngs) != ph.shape[0]:
        raise ValueError("rngs: the channel counts must add up to photons.shape[0]")
    for rng, _ in rngs:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    clean = ph * np.float32(cam.gain * cam.quantum_efficiency)
    clean += np.float32(cam.offset)
    return clean, _record(ph, cam, rngs, shot_noise)


@functools.lru_cache(maxsize=1)
def _normal_table() -> np.ndarray:
    """Standard normal quantiles at the centres of 2**16 equal-probability bins: a table
    lookup with a random 16-bit index is a normal draw (variance 1 - 2e-5, tails cut at
    4.3 sigma), several times faster than sampling one."""
    from scipy.special import ndtri

    t = ndtri((np.arange(1 << 16) + 0.5) / (1 << 16)).astype(np.float32)
    t.setflags(write=False)
    return t


def _record(ph, cam, rngs, shot_noise):
    """Recorded counts of the validated float32 photons ``ph``; ``rngs`` as in
    :func:`_record_channels` (``n`` None: one generator for the whole array). Each channel
    group is processed on its own (small arrays stay in cache)."""
    if shot_noise not in ("poisson", "gaussian"):
        raise ValueError(
            f"unknown shot_noise {shot_noise!r}; expected one of 'poisson', 'gaussian'"
        )
    out = np.empty(ph.shape, np.float32)
    k = 0
    for rng, n in rngs:
        sl = slice(None) if n is None else slice(k, k + int(n))
        k += 0 if n is None else int(n)
        mean_e = ph[sl] * np.float32(cam.quantum_efficiency)
        if shot_noise == "poisson":
            electrons = rng.poisson(mean_e).astype(np.float32)
            if cam.read_noise_e > 0:
                noise = rng.standard_normal(size=mean_e.shape, dtype=np.float32)
                noise *= np.float32(cam.read_noise_e)
                electrons += noise
        else:
            std = mean_e + np.float32(cam.read_noise_e**2)
            np.sqrt(std, out=std)
            electrons = out[sl]
            np.take(
                _normal_table(), rng.integers(0, 1 << 16, mean_e.shape, np.uint16), out=electrons
            )
            electrons *= std
            electrons += mean_e
        if cam.max_count > 2**24:  # float32 holds integers exactly only up to 2**24
            counts = np.rint(electrons.astype(np.float64) * cam.gain + cam.offset)
            out[sl] = np.clip(counts, 0, cam.max_count)
            continue
        counts = electrons
        counts *= np.float32(cam.gain)
        counts += np.float32(cam.offset)
        np.rint(counts, out=counts)
        np.clip(counts, 0, cam.max_count, out=counts)
        out[sl] = counts
    return out
