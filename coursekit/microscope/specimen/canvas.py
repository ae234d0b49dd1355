"""The drawing canvas: accumulators of densities and label intensities, layers and points."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from coursekit.microscope.specimen.constants import LABELS, SPLAT_SIGMA_UM, STRUCTURES
from coursekit.microscope.specimen.geometry import bandpass_noise, blur_xy, is_drawn_gain, rng_for


class Canvas:
    """Accumulates structure densities and label intensities on a 2D or 3D grid.

    Attributes
    ----------
    px, dz : float
        Pixel size and plane spacing (um).
    focus, slab : float
        2D: the focal plane's height above the coverslip and the focal slab's thickness.
    coverslip : float
        3D: the coverslip lies this far above plane 0; ``zc`` are the planes' heights.
    acc, path, lab, lab_path : dict of str to ndarray
        Structure densities, their 2D path lengths, label intensities and their 2D path
        integrals (``path`` and ``lab_path`` are None in 3D).
    """

    def __init__(
        self,
        shape,
        pixel_size_um,
        z_step_um,
        focus_um,
        slab_um,
        coverslip_um,
        labels,
        seed,
        shift_um=(0.0, 0.0),
    ):
        self.shape = tuple(shape)
        self.is3d = len(shape) == 3
        self.px = float(pixel_size_um)
        self.dz = float(z_step_um)
        self.focus = float(focus_um)
        self.slab = float(slab_um)
        self.coverslip = float(coverslip_um)
        self.labels = tuple(labels)
        self.seed = int(seed)
        self.YX = self.shape[-2:]
        if self.is3d:
            self.zc = (np.arange(self.shape[0]) * self.dz - self.coverslip).astype(np.float32)
            self.acc = {s: np.zeros(self.shape, np.float32) for s in STRUCTURES}
            self.lab = {lab: np.zeros(self.shape, np.float32) for lab in self.labels}
            self.path = None
            self.lab_path = None
        else:
            self.acc = {s: np.zeros(self.YX, np.float32) for s in STRUCTURES}
            self.path = {s: np.zeros(self.YX, np.float32) for s in STRUCTURES}
            self.lab = {lab: np.zeros(self.YX, np.float32) for lab in self.labels}
            self.lab_path = {lab: np.zeros(self.YX, np.float32) for lab in self.labels}
        # name -> chunks (y, x, z, structure weights or None, label weights or None)
        self._pts: dict[str, list] = {}
        self._defer: dict[str, list] = {}
        self._noise: dict[str, np.ndarray] = {}
        self._white: dict[int, np.ndarray] = {}
        self.shift_um = (float(shift_um[0]), float(shift_um[1]))
        self.cell_mask = np.zeros(self.shape, np.int32)
        self.nucleus_mask = np.zeros(self.shape, np.int32)

    # -- shared random textures (field-level, independent of which cells are drawn) --
    _NOISE_SPECS = {
        # name: (white-noise source, smallest scale um, largest scale um)
        "chromatin": (0, 0.5, 1.4),
        "chromatin_coarse": (0, 1.5, 4.0),
        "er": (1, 0.7, 2.2),
        "granular": (1, 0.35, 0.9),
        "chromosome": (1, 0.35, 0.9),
    }

    def noise(self, name):
        if name not in self._noise:
            src, lo, hi = self._NOISE_SPECS[name]
            shp = self.shape if self.is3d else self.YX
            spacing = (self.dz, self.px, self.px) if self.is3d else (self.px, self.px)
            if src not in self._white:
                rng = rng_for(self.seed, 2, src)
                # white noise drawn directly in Fourier space (its rfftn half-spectrum)
                half = (*shp[:-1], shp[-1] // 2 + 1)
                spec = rng.standard_normal((*half, 2), dtype=np.float32).view(np.complex64)
                spec = spec.reshape(half)
                if any(self.shift_um):  # textures move with the stage (time-lapse drift)
                    ky = np.fft.fftfreq(shp[-2], d=self.px)[:, None]
                    kx = np.fft.rfftfreq(shp[-1], d=self.px)[None, :]
                    ramp = np.exp(-2j * np.pi * (ky * self.shift_um[0] + kx * self.shift_um[1]))
                    spec *= ramp.astype(np.complex64)
                self._white[src] = spec
            same = [k for k in self._noise if self._NOISE_SPECS[k] == (src, lo, hi)]
            if same:  # the same band of the same source (granular, chromosome)
                self._noise[name] = self._noise[same[0]]
            else:
                self._noise[name] = bandpass_noise(self._white[src], shp, spacing, lo, hi)
        return self._noise[name]

    # -- a cell's local view ----------------------------------------------------------
    def texture(self, name, cell):
        """Noise field over the cell's box: (nz, bh, bw) in 3D, (bh, bw) in 2D."""
        n = self.noise(name)
        if self.is3d:
            return n[cell.planes, cell.box[0], cell.box[1]]
        return n[cell.box]

    # -- layers -----------------------------------------------------------------------
    def layer(
        self,
        struct,
        cell,
        density,
        bottom_um,
        top_um,
        *,
        gain=None,
        label=None,
        d_mean=None,
        extra=None,
    ):
        """Add ``density`` between heights ``bottom_um`` and ``top_um`` over the cell's box.

        ``struct`` may be None for a label-only layer; ``label`` defaults to ``struct``
        and receives ``density * gain``. ``extra`` maps more labels to gains (label-only
        copies of the same layer, e.g. the unbound pools of several proteins in the
        cytoplasm). ``density`` may vary with height (3D arrays over the cell's planes;
        evaluated at the focal plane in 2D); ``d_mean`` is its mean along z (used for the
        2D path length).
        """
        self.layers(cell, bottom_um, top_um, [(struct, density, gain, label, d_mean, extra)])

    def layers(self, cell, bottom_um, top_um, entries):
        """Several layers sharing one height range: ``(struct, density, gain, label,
        d_mean, extra)`` tuples as in :meth:`layer` (the overlap with the grid is computed
        once)."""
        z0, z1 = bottom_um, top_um
        sl = cell.box
        if self.is3d:
            zc = self.zc[cell.planes][:, None, None]
            h = 0.5 * self.dz
            ov = np.minimum(z1, zc + h) - np.maximum(z0, zc - h)
            np.clip(ov, 0.0, self.dz, out=ov)
            ov *= np.float32(1.0 / self.dz)
            thick = None
        else:
            h = 0.5 * self.slab
            # (np.clip with an infinite bound is the fastest one-sided clamp of large arrays)
            ov = np.clip(z1, -np.inf, self.focus + h)
            ov -= np.clip(z0, self.focus - h, np.inf)
            np.clip(ov, 0.0, self.slab, out=ov)
            ov *= np.float32(1.0 / self.slab)
            thick = z1 - z0
            np.clip(thick, 0.0, np.inf, out=thick)
        for struct, d, gain, label, d_mean, extra in entries:
            if label is None and struct in LABELS:
                label = struct
            outs = {}
            if label is not None and label in self.lab and is_drawn_gain(gain):
                outs[label] = gain
            if extra:
                for lab_name, gn in extra.items():
                    if lab_name in self.lab and is_drawn_gain(gn):
                        outs[lab_name] = outs[lab_name] + gn if lab_name in outs else gn
            if struct is None and not outs:
                continue
            val = d * ov
            if self.is3d:
                if struct is not None:
                    self.acc[struct][cell.planes, sl[0], sl[1]] += val
                for lab_name, gn in outs.items():
                    self.lab[lab_name][cell.planes, sl[0], sl[1]] += val * gn
            else:
                pth = (d if d_mean is None else d_mean) * thick
                if struct is not None:
                    self.acc[struct][sl] += val
                    self.path[struct][sl] += pth
                for lab_name, gn in outs.items():
                    gn = np.float32(gn) if np.ndim(gn) == 0 else gn
                    self.lab[lab_name][sl] += val * gn
                    self.lab_path[lab_name][sl] += pth * gn

    # -- points -----------------------------------------------------------------------
    def points(self, struct, y, x, z, vol, *, gain=None, label=None):
        """Add point masses (um, um, um, um^3) of a thin structure.

        ``struct`` None: label-only points (``label`` required). ``gain`` scalar or per
        point: label intensity per unit density.
        """
        if label is None and struct in LABELS:
            label = struct
        want_label = label is not None and label in self.lab and gain is not None
        y = np.asarray(y, np.float32)
        yshape = y.shape
        y = y.ravel()
        if y.size == 0:
            return
        x = np.asarray(x, np.float32).ravel()

        def flat(v):
            v = np.asarray(v, np.float32)
            if v.size == y.size:
                return v.reshape(-1)
            if v.size == 1:
                return np.full(y.shape, v.reshape(-1)[0], np.float32)
            return np.broadcast_to(v, yshape).reshape(-1)

        if struct is None and not want_label:
            return
        z = flat(z)
        vol = flat(vol)
        name = struct if struct is not None else label
        wl = flat(gain) * vol if want_label else None
        if struct is not None and want_label and label != struct:
            self._pts.setdefault(struct, []).append((y, x, z, vol, None))
            self._pts.setdefault(label, []).append((y, x, z, None, wl))
            return
        self._pts.setdefault(name, []).append((y, x, z, vol if struct is not None else None, wl))

    def add_points(self, name, y, x, z, vol, w_label):
        """Add points of the thin structure ``name`` (flat arrays; ``z`` and ``vol`` may
        be scalars) with their label weights ``w_label`` (gain x volume)."""
        y = np.asarray(y, np.float32).ravel()
        n = y.size
        if n == 0:
            return
        x = np.asarray(x, np.float32).ravel()

        def flat(v):
            v = np.asarray(v, np.float32)
            return np.full(n, v, np.float32) if v.ndim == 0 else v.ravel()

        z = flat(z)
        wl = flat(w_label) if name in self.lab else None
        self._pts.setdefault(name, []).append((y, x, z, flat(vol), wl))

    def defer(self, kind, cid, params):
        """Keep a cell's random parameters of thin structures, traced for all cells at
        once by :func:`trace_deferred`."""
        self._defer.setdefault(kind, []).append((cid, params))

    def _splat(self, y, x, z, w, sigma, blur=True):
        """3D: trilinear splatting of point volumes onto the grid (2D: :meth:`_splat2d`)."""
        Y, X = self.YX
        fy = y / np.float32(self.px)
        fx = x / np.float32(self.px)
        iy = np.floor(fy).astype(np.int64)
        ix = np.floor(fx).astype(np.int64)
        ty = fy - iy
        tx = fx - ix
        corners_y = (iy, iy + 1)
        corners_x = (ix, ix + 1)
        wy_ = (1 - ty, ty)
        wx_ = (1 - tx, tx)
        Z = self.shape[0]
        fz = (z + np.float32(self.coverslip)) / np.float32(self.dz)
        iz = np.floor(fz).astype(np.int64)
        tz = fz - iz
        w = w / np.float32(self.px * self.px * self.dz)
        idx_l, w_l = [], []
        for zz, wz in ((iz, 1 - tz), (iz + 1, tz)):
            okz = (zz >= 0) & (zz < Z)
            for yy, wy in zip(corners_y, wy_):
                oky = okz & (yy >= 0) & (yy < Y)
                for xx, wx in zip(corners_x, wx_):
                    ok = oky & (xx >= 0) & (xx < X)
                    idx_l.append(((zz * Y + yy) * X + xx)[ok])
                    w_l.append((w * wz * wy * wx)[ok])
        size = Z * Y * X
        out = np.bincount(np.concatenate(idx_l), np.concatenate(w_l), minlength=size)
        out = out.reshape(self.shape).astype(np.float32)
        if not blur:
            return out
        sz = sigma[1] / self.dz
        sxy = sigma[0] / self.px
        return ndimage.gaussian_filter(out, (sz, sxy, sxy), truncate=2.5)

    def _splat2d(self, name, y, x, z, ws, wl, sigma):
        """2D: bilinear splatting of the structure weights ``ws`` (focal-slab density and
        path length, blurred to the structure's width) and the label weights ``wl`` (not
        blurred: the PSF is much wider), sharing one set of indices."""
        Y, X = self.YX
        W = X + 2  # a one-pixel ring catches corners just outside the field (dropped)
        S = (Y + 2) * W
        fy = y * np.float32(1.0 / self.px)
        fx = x * np.float32(1.0 / self.px)
        iy = np.floor(fy)
        ix = np.floor(fx)
        ok = (iy >= -1) & (iy < Y) & (ix >= -1) & (ix < X)
        if not ok.all():
            fy, fx, iy, ix, z = fy[ok], fx[ok], iy[ok], ix[ok], z[ok]
            ws = None if ws is None else ws[ok]
            wl = None if wl is None else wl[ok]
        ty = fy - iy
        tx = fx - ix
        base = (iy.astype(np.intp) + 1) * W + (ix.astype(np.intp) + 1)
        idx = np.concatenate([base, base + 1, base + W, base + (W + 1)])
        cw = np.concatenate([(1 - ty) * (1 - tx), (1 - ty) * tx, ty * (1 - tx), ty * tx])
        # small objects: the axial PSF itself (a Gaussian with the same area as the slab)
        sig = self.slab / math.sqrt(2 * math.pi)
        dzf = (z - np.float32(self.focus)) * np.float32(1.0 / sig)
        g_foc = np.exp(np.float32(-0.5) * dzf * dzf) * np.float32(1.0 / self.slab)
        inv_a = np.float32(1.0 / (self.px * self.px))
        maps = []
        for w in (ws, wl):
            if w is not None:
                wp = w * inv_a
                maps += [np.tile(wp * g_foc, 4) * cw, np.tile(wp, 4) * cw]
        K = len(maps)
        if K == 0:
            return
        allidx = np.concatenate([idx + k * S for k in range(K)])
        out = np.bincount(allidx, np.concatenate(maps), minlength=K * S)
        out = out.reshape(K, Y + 2, W)[:, 1:-1, 1:-1].astype(np.float32)
        k = 0
        if ws is not None:
            img = blur_xy(out[0:2], sigma[0] / self.px)
            self.acc[name] += img[0]
            self.path[name] += img[1]
            k = 2
        if wl is not None:
            self.lab[name] += out[k]
            self.lab_path[name] += out[k + 1]

    def finish_points(self):
        for name, chunks in self._pts.items():
            y = np.concatenate([c[0] for c in chunks])
            x = np.concatenate([c[1] for c in chunks])
            z = np.concatenate([c[2] for c in chunks])
            ws = wl = None
            if any(c[3] is not None for c in chunks):
                ws = np.concatenate(
                    [c[3] if c[3] is not None else np.zeros_like(c[0]) for c in chunks]
                )
            if name in self.lab and any(c[4] is not None for c in chunks):
                wl = np.concatenate(
                    [c[4] if c[4] is not None else np.zeros_like(c[0]) for c in chunks]
                )
            sigma = SPLAT_SIGMA_UM.get(name, (0.15, 0.15))
            if not self.is3d:
                self._splat2d(name, y, x, z, ws, wl, sigma)
                continue
            # label intensities are blurred later by the PSF, which is much wider than the
            # structures: only the densities (refractive index) need their physical width
            if ws is not None:
                self.acc[name] += self._splat(y, x, z, ws, sigma, blur=True)
            if wl is not None:
                self.lab[name] += self._splat(y, x, z, wl, sigma, blur=False)
        self._pts.clear()
