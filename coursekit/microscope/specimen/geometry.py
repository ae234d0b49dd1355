"""Small geometry and random-texture helpers shared by the drawing code."""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft as sfft
from scipy import ndimage


def rng_for(*entropy: int) -> np.random.Generator:
    """An independent generator for a tuple of integers (a cell, a texture, ...)."""
    return np.random.default_rng(np.random.SeedSequence([int(e) for e in entropy]))


def soft_inside(rho, radius_px):
    """Anti-aliased inside indicator of ``rho < 1`` with a one-pixel transition."""
    return np.clip((1.0 - rho) * radius_px + 0.5, 0.0, 1.0)


def outline_harmonics(rng, k_max, amplitude):
    """Random outline harmonics ``(k, [cos, sin])`` with amplitudes falling as 1/k."""
    if amplitude <= 0:
        return None
    k = np.arange(2, k_max + 1)
    amp = amplitude * rng.standard_normal((k.size, 2)) * (2.0 / k)[:, None]
    return np.concatenate([k[:, None].astype(float), amp], axis=1)


# outline harmonics never shrink the outline below 30 % of the ellipse (a look)
MIN_OUTLINE_RADIUS = 0.3


def ellipse_rho(y, x, center_y, center_x, semi_a, semi_b, angle, harmonics=None):
    """Normalized radius of an (irregular) ellipse at points ``(y, x)`` (um): < 1 inside.

    ``semi_a`` lies along ``angle`` (radians from +x towards +y), ``semi_b`` across it;
    ``harmonics`` (from :func:`outline_harmonics`) make the outline irregular. Returns
    ``(rho, u, v)``: the radius and the coordinates along and across the long axis."""
    c, s = math.cos(angle), math.sin(angle)
    dy = y - center_y
    dx = x - center_x
    u = dx * c + dy * s
    v = dy * c - dx * s
    un = u / semi_a
    vn = v / semi_b
    rho = np.sqrt(un * un + vn * vn)
    harm = harmonics
    if harm is not None:
        # outline harmonics cos(k phi), sin(k phi) by the Chebyshev recursion (no trig)
        inv = np.float32(1.0) / np.maximum(rho, np.float32(1e-6))
        c1 = un * inv
        s1 = vn * inv
        ck, sk = c1 * c1 - s1 * s1, np.float32(2.0) * c1 * s1  # k = 2
        cp, sp = c1, s1
        two_c = np.float32(2.0) * c1
        rb = np.ones_like(rho)
        for _k, ca, sa in harm:
            rb += np.float32(ca) * ck + np.float32(sa) * sk
            ck, cp = two_c * ck - cp, ck
            sk, sp = two_c * sk - sp, sk
        rho = rho / np.maximum(rb, np.float32(MIN_OUTLINE_RADIUS))
    return rho, u, v


def harmonic_radius(harmonics, phi):
    """Outline radius factor of the harmonics at angles ``phi`` (array)."""
    harm = harmonics
    rb = np.ones_like(phi)
    if harm is not None:
        for k, ca, sa in harm:
            rb += ca * np.cos(k * phi) + sa * np.sin(k * phi)
    return np.maximum(rb, MIN_OUTLINE_RADIUS)


def is_drawn_gain(gain) -> bool:
    """A label gain worth drawing: an array, or a non-zero number."""
    if gain is None:
        return False
    return np.ndim(gain) > 0 or gain != 0


def gradient_magnitude(a, spacing):
    gy, gx = np.gradient(a, spacing)
    return np.sqrt(gy * gy + gx * gx)


def blur_xy(a, s, truncate=2.5):
    """Gaussian blur (sigma ``s`` pixels, truncated at ``truncate`` sigma, reflecting
    borders) over the last two axes; the common 3-tap case without scipy's overhead."""
    r = int(truncate * s + 0.5)
    if r != 1:
        return ndimage.gaussian_filter(a, (0,) * (a.ndim - 2) + (s, s), truncate=truncate)
    e = math.exp(-0.5 / (s * s))
    w0, w1 = np.float32(1.0 / (1.0 + 2.0 * e)), np.float32(e / (1.0 + 2.0 * e))
    t = a * w0
    t[..., 1:, :] += w1 * a[..., :-1, :]
    t[..., :-1, :] += w1 * a[..., 1:, :]
    t[..., 0, :] += w1 * a[..., 0, :]
    t[..., -1, :] += w1 * a[..., -1, :]
    o = t * w0
    o[..., 1:] += w1 * t[..., :-1]
    o[..., :-1] += w1 * t[..., 1:]
    o[..., 0] += w1 * t[..., 0]
    o[..., -1] += w1 * t[..., -1]
    return o


def squared_frequency(shape, spacing):
    """Squared spatial frequency (cycles/um)^2 on an rfftn grid."""
    freqs = [np.fft.fftfreq(n, d=s) for n, s in zip(shape[:-1], spacing[:-1])]
    freqs.append(np.fft.rfftfreq(shape[-1], d=spacing[-1]))
    k2 = np.zeros([f.size for f in freqs], np.float32)
    for ax, f in enumerate(freqs):
        sh = [1] * len(freqs)
        sh[ax] = f.size
        k2 = k2 + (f.astype(np.float32) ** 2).reshape(sh)
    return k2


@functools.lru_cache(maxsize=32)
def bandpass_filter(shape, spacing, lo_um, hi_um):
    """Difference of two Gaussian low-passes on an rfftn grid (cached: fields share it)."""
    k2 = squared_frequency(shape, spacing)
    c = np.float32(-2 * math.pi**2)
    s_lo = lo_um / 2.5
    s_hi = hi_um / 2.5
    filt = np.exp(c * k2 * np.float32(s_lo**2)) - np.exp(c * k2 * np.float32(s_hi**2))
    filt.flags.writeable = False
    return filt


def bandpass_noise(spec, shape, spacing, lo_um, hi_um):
    """Unit-variance noise with structure between ``lo_um`` and ``hi_um`` from a white
    noise spectrum (difference of Gaussian low-passes), float32, periodic."""
    filt = bandpass_filter(tuple(shape), tuple(spacing), float(lo_um), float(hi_um))
    out = sfft.irfftn(spec * filt, s=shape, workers=1).astype(np.float32, copy=False)
    out /= out.std() + np.float32(1e-12)
    return out


def lookup_in_box(cell, arr, y, x, pixel_size_um):
    """Values of a box map at points (um); 0 outside the box."""
    px = pixel_size_um
    iy = np.rint(y / px).astype(np.int64) - cell.row0
    ix = np.rint(x / px).astype(np.int64) - cell.col0
    bh, bw = arr.shape
    ok = (iy >= 0) & (iy < bh) & (ix >= 0) & (ix < bw)
    out = np.zeros(y.shape, np.float32)
    out[ok] = arr[iy[ok], ix[ok]]
    return out


def sample_positions(cell, rng, weight, count, pixel_size_um):
    """``count`` random positions (um) with probability proportional to the box map
    ``weight``, jittered within their pixel; returns ``(y, x, flat box index)``.

    The cumulative distribution of a weight map is cached on the cell (the same map is
    sampled for mitochondria, granules and puncta).
    """
    w, px = weight, pixel_size_um
    k = int(count)
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    cache = cell.cdf_cache
    c = cache.get(id(w))
    if c is None or c[0] is not w:
        c = (w, np.cumsum(w.ravel(), dtype=np.float64))
        cache[id(w)] = c
    c = c[1]
    u = rng.uniform(0, 1, k)
    jy = rng.uniform(-0.5, 0.5, k)
    jx = rng.uniform(-0.5, 0.5, k)
    if c[-1] <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    idx = np.minimum(np.searchsorted(c, u * c[-1], side="right"), c.size - 1)
    bw = w.shape[1]
    iy, ix = np.divmod(idx, bw)
    y = ((cell.row0 + iy + jy) * px).astype(np.float32)
    x = ((cell.col0 + ix + jx) * px).astype(np.float32)
    return y, x, idx


def lognormal(rng, sigma, size=None):
    """Log-normal factors with mean 1 and log-spread ``sigma``."""
    return np.exp(sigma * rng.standard_normal(size) - 0.5 * sigma * sigma)
