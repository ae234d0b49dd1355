"""Field-wide maps: every cell writes its geometry and parameters on the pixels it owns;
the densities are then evaluated once over the whole field (few large arrays instead of
many small ones)."""

from __future__ import annotations

import math

import numpy as np

from coursekit.microscope.specimen.geometry import ellipse_rho, outline_harmonics, soft_inside

MAP_DEFAULTS = {
    # cell body
    "f": 0.0,  # soft footprint
    "z0c": 0.0,  # bottom of the cell (um above the coverslip)
    "z1c": 0.0,  # top of the cell
    "cyto": 1.0,  # cytoplasm density
    # nucleus (or chromosomes, or nuclear fragments)
    "fn": 0.0,
    "z0n": 0.0,
    "z1n": 0.0,
    "tn": 0.0,  # half thickness
    "rhon": 2.0,  # normalized radius (< 1 inside)
    "nzc": 0.0,  # centre height
    "ncz": 1.0,  # half height
    "nbn": 1.0,  # short semi-axis (um)
    "dna_level": 0.48,
    "condense": 0.0,
    "plate": 0.0,  # 1 for mitotic chromosomes
    "dead": 0.0,  # 1 for the nuclear fragments of a dead cell
    "env": 0.0,  # nuclear envelope density
    # ER: f * clip(er_a + er_b * network + er_c, 0, 1)
    "er_a": 0.0,
    "er_b": 0.0,
    "er_c": 0.0,
    # actin
    "actin": 1.0,  # cortex strength
    "junction": 0.0,  # apical junctional belt
    "ring": 0.0,  # contractile ring
    "cone": 0.0,  # growth cones
    # for the thin structures traced after all cells are drawn
    "rb": 2.0,  # the cell body's footprint metric (rho_body)
    "zmid": 0.0,  # height of the microtubules of spread cells
}


class FieldMaps:
    def __init__(self, cv):
        for k, v in MAP_DEFAULTS.items():
            setattr(self, k, np.full(cv.YX, v, np.float32))
        sh = cv.shape if cv.is3d else cv.YX
        self.excl = np.zeros(sh, np.float32)  # nucleoli exclude chromatin
        self.nrim = np.zeros(sh, np.float32)  # perinucleolar chromatin
        self.owner = np.zeros(cv.YX, np.int32)

    def put(self, g, mask, **vals):
        for k, v in vals.items():
            np.copyto(getattr(self, k)[g.sl], v, where=mask, casting="unsafe")


class NucleusGeometry:
    """A nucleus (or chromosome plate, or nuclear fragment): footprint and height range."""


def nucleus_geometry(cv, g, f, ncy, ncx, an, bn, nang, cz, zc, harm=True):
    nu = NucleusGeometry()
    nharm = outline_harmonics(g.rng, 4, 0.03) if harm else None
    nu.rhon, _, _ = ellipse_rho(g.y, g.x, ncy, ncx, an, bn, nang, nharm)
    nu.fn = soft_inside(nu.rhon, bn / cv.px) * f
    nu.t = cz * np.sqrt(np.clip(1.0 - nu.rhon * nu.rhon, 0.0, 1.0))
    nu.z0n = zc - nu.t
    nu.z1n = zc + nu.t
    nu.ncy, nu.ncx, nu.an, nu.bn, nu.nang, nu.cz, nu.zc = ncy, ncx, an, bn, nang, cz, zc
    return nu


def put_nucleus(M, g, nu, **params):
    """Write a nucleus into the maps where it is denser than what is there already."""
    m = (nu.fn > 0) & (nu.fn > M.fn[g.sl])
    M.put(
        g,
        m,
        fn=nu.fn,
        z0n=nu.z0n,
        z1n=nu.z1n,
        tn=nu.t,
        rhon=nu.rhon,
        nzc=nu.zc,
        ncz=nu.cz,
        nbn=nu.bn,
        **params,
    )


class MapsView:
    """The field-wide maps cropped to a box (views)."""

    def __init__(self, M, sl, is3d):
        for k, v in M.__dict__.items():
            if is3d and k in ("excl", "nrim"):
                setattr(self, k, v[:, sl[0], sl[1]])
            else:
                setattr(self, k, v[sl])


class FieldBox:
    """The field (or the box ``sl`` of it) as one 'cell box' for the field-wide layers."""

    def __init__(self, cv, z_hi, sl=None):
        Y, X = cv.YX
        self.sl = (slice(0, Y), slice(0, X)) if sl is None else sl
        self.y0, self.x0 = self.sl[0].start, self.sl[1].start
        if cv.is3d:
            k1 = min(int(math.ceil((z_hi + cv.coverslip) / cv.dz)) + 2, cv.shape[0])
            self.zs = slice(0, max(k1, 1))
            self.zz = cv.zc[self.zs][:, None, None]
        else:
            self.zs = None
            self.zz = np.float32(cv.focus)
