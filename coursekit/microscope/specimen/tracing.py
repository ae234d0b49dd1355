"""Thin structures traced for all cells at once from the parameters the cells drew."""

from __future__ import annotations

import math

import numpy as np

from coursekit.microscope.specimen.constants import CROSS_SECTION_UM2
from coursekit.microscope.specimen.organelles import (
    ASTRAL_STEP_UM,
    NUCLEOLUS_DENSITY,
    NUCLEOLUS_TEXTURE,
    PERINUCLEOLAR_RIM_UM,
)

# Stress fibres are traced in 0.25 um steps across 2.6 times the cell's nominal half
# length, kept where they lie on the cell's own footprint (> 0.5) inside its body
# (rho < 0.93, not in a neurite or the outermost rim), trimmed by 0.6 um at both ends, and
# dropped when shorter than 2 um; as bundles of many filaments they are 1.6 times as
# bright as the rest of the actin (a look).
FIBRE_STEP_UM = 0.25
FIBRE_REACH = 2.6
FIBRE_BODY_RHO_MAX = 0.93
FIBRE_END_TRIM_UM = 0.6
FIBRE_MIN_LENGTH_UM = 2.0
FIBRE_BRIGHTNESS = 1.6
# astral microtubules grow while the footprint stays above 0.45, at least 0.2 um high
MICROTUBULE_FOOTPRINT_MIN = 0.45
MIN_MICROTUBULE_HEIGHT_UM = 0.2
# focal adhesions: 7 points along each plaque, 0.1 um above the glass (Geiger et al. 2009)
ADHESION_POINTS = 7
ADHESION_HEIGHT_UM = 0.1


def values_on_owned(canvas, field_maps, arr, y, x, cid):
    """Values of the field map ``arr`` at points (um) on pixels owned by cell ``cid`` (per
    point); 0 elsewhere and outside the field."""
    Y, X = canvas.YX
    px = canvas.px
    iy = np.rint(y / px).astype(np.intp)
    ix = np.rint(x / px).astype(np.intp)
    ok = (iy >= 0) & (iy < Y) & (ix >= 0) & (ix < X)
    flat = np.where(ok, iy * X + ix, 0)
    ok &= field_maps.owner.ravel()[flat] == cid
    return np.where(ok, arr.ravel()[flat], np.float32(0.0))


def deferred_rows(entries, k):
    """Concatenate field ``k`` of deferred entries, and the per-row cell ids."""
    return np.concatenate([np.atleast_1d(e[1][k]) for e in entries])


def trace_deferred(canvas, field_maps):
    """Trace the thin structures whose parameters the cells drew (all cells at once)."""
    d = canvas._defer
    # -- mitochondria -------------------------------------------------------------------
    ent = d.pop("mito", None)
    if ent:
        cid = np.concatenate([np.full(len(e[1][0]), e[0], np.int32) for e in ent])
        y0, x0, step, th0, z, gm = (deferred_rows(ent, k) for k in (0, 1, 2, 3, 5, 6))
        dth = np.concatenate([e[1][4] for e in ent])
        th = th0[:, None] + np.cumsum(dth, axis=1)
        yy = np.cumsum(step[:, None] * np.sin(th), axis=1)
        xx = np.cumsum(step[:, None] * np.cos(th), axis=1)
        yy += (y0 - 0.5 * yy[:, -1])[:, None]
        xx += (x0 - 0.5 * xx[:, -1])[:, None]
        keep = values_on_owned(canvas, field_maps, field_maps.footprint, yy, xx, cid[:, None]) > 0.5
        rows = np.broadcast_to(np.arange(yy.shape[0])[:, None], yy.shape)[keep]
        vol = (step * CROSS_SECTION_UM2["mitochondria"])[rows]
        canvas.add_points("mitochondria", yy[keep], xx[keep], z[rows], vol, gm[rows] * vol)
    # -- astral microtubules ------------------------------------------------------------
    ent = d.pop("astral", None)
    if ent:
        step = ASTRAL_STEP_UM
        ns = [len(e[1][4]) for e in ent]
        ms = [e[1][5].shape[1] for e in ent]
        mmax = max(ms)
        N = sum(ns)
        dth = np.zeros((N, mmax))
        r = 0
        for e, n, m in zip(ent, ns, ms):
            dth[r : r + n, :m] = e[1][5]
            r += n
        rep = np.array(ns)
        cid = np.repeat(np.array([e[0] for e in ent], np.int32), rep)
        cy = np.repeat(np.array([e[1][0] for e in ent]), rep)
        cx = np.repeat(np.array([e[1][1] for e in ent]), rep)
        zc = np.repeat(np.array([e[1][2] for e in ent], np.float32), rep)
        usemap = np.repeat(np.array([e[1][3] for e in ent]), rep)
        gain = np.repeat(np.array([e[1][6] for e in ent], np.float32), rep)
        lens = np.repeat(np.array(ms), rep)
        th = np.concatenate([np.atleast_1d(e[1][4]) for e in ent])[:, None] + np.cumsum(dth, axis=1)
        y = cy[:, None] + np.cumsum(step * np.sin(th), axis=1)
        x = cx[:, None] + np.cumsum(step * np.cos(th), axis=1)
        valid = np.arange(mmax)[None, :] < lens[:, None]
        inside = (
            values_on_owned(canvas, field_maps, field_maps.footprint, y, x, cid[:, None])
            > MICROTUBULE_FOOTPRINT_MIN
        ) & valid
        alive = np.logical_and.accumulate(inside, axis=1)
        rows = np.broadcast_to(np.arange(N)[:, None], y.shape)[alive]
        ya, xa = y[alive], x[alive]
        zm = np.maximum(
            values_on_owned(
                canvas, field_maps, field_maps.microtubule_height_um, ya, xa, cid[rows]
            ),
            np.float32(MIN_MICROTUBULE_HEIGHT_UM),
        )
        z = np.where(usemap[rows], zm, zc[rows])
        vol = np.float32(step * CROSS_SECTION_UM2["microtubules"])
        canvas.add_points("microtubules", ya, xa, z, vol, gain[rows] * vol)
    # -- stress fibres, with focal adhesions at their ends ------------------------------
    ent = d.pop("fibre", None)
    if ent:
        step = FIBRE_STEP_UM
        ns = [len(e[1][0]) for e in ent]
        rep = np.array(ns)
        ms = np.array([int(FIBRE_REACH * e[1][3] / step) + 1 for e in ent])
        mmax = int(ms.max())
        cid = np.repeat(np.array([e[0] for e in ent], np.int32), rep)
        a = np.repeat(np.array([e[1][3] for e in ent]), rep)
        lens = np.repeat(ms, rep)
        cy_, cx_, th, thick, zf = (deferred_rows(ent, k) for k in (0, 1, 2, 4, 6))
        fa_len = np.concatenate([e[1][5] for e in ent])
        ga = np.repeat(np.array([e[1][7] for e in ent]), rep)
        t = np.arange(mmax)[None, :] * step - 0.5 * FIBRE_REACH * a[:, None]
        y = cy_[:, None] + np.sin(th)[:, None] * t
        x = cx_[:, None] + np.cos(th)[:, None] * t
        valid = np.arange(mmax)[None, :] < lens[:, None]
        cidc = cid[:, None]
        inside = valid & (
            values_on_owned(canvas, field_maps, field_maps.footprint, y, x, cidc) > 0.5
        )
        inside &= (
            values_on_owned(canvas, field_maps, field_maps.body_rho, y, x, cidc)
            < FIBRE_BODY_RHO_MAX
        )
        has = inside.any(axis=1)
        first = np.argmax(inside, axis=1)
        last = mmax - 1 - np.argmax(inside[:, ::-1], axis=1)
        trim = int(FIBRE_END_TRIM_UM / step)
        first = first + trim
        last = last - trim
        ok = has & (last - first > int(FIBRE_MIN_LENGTH_UM / step))
        idx = np.arange(mmax)[None, :]
        sel = ok[:, None] & (idx >= first[:, None]) & (idx <= last[:, None])
        rows = np.broadcast_to(np.arange(y.shape[0])[:, None], y.shape)[sel]
        vol = (step * CROSS_SECTION_UM2["stress_fibre"] * thick)[rows]
        # stress fibres are the brightest actin structures (bundles of many filaments)
        gf = (FIBRE_BRIGHTNESS * ga * np.minimum(thick, 1.0))[rows]
        canvas.add_points("actin", y[sel], x[sel], zf[rows], vol, gf * vol)
        hasfa = np.repeat(np.array([e[1][8] is not None for e in ent]), rep)
        r = np.nonzero(ok & hasfa)[0]
        if r.size:
            br = np.concatenate(
                [e[1][8] if e[1][8] is not None else np.zeros((n, 2)) for e, n in zip(ent, ns)]
            )
            gfa = np.repeat(np.array([e[1][9]["focal_adhesions"] for e in ent]), rep)
            ye = np.concatenate([y[r, last[r]], y[r, first[r]]])
            xe = np.concatenate([x[r, last[r]], x[r, first[r]]])
            the = np.concatenate([th[r], th[r] + math.pi])
            ln = np.concatenate([fa_len[r, 0], fa_len[r, 1]])
            gg = np.concatenate([gfa[r] * br[r, 0], gfa[r] * br[r, 1]])
            canvas.defer("fa", 0, (ye, xe, the, ln, gg))
    # -- focal adhesions ----------------------------------------------------------------
    ent = d.pop("fa", None)
    if ent:
        y_end, x_end, th, length, gn = (deferred_rows(ent, k) for k in range(5))
        k = ADHESION_POINTS
        tt = np.linspace(0, 1, k)[None, :] * length[:, None]
        y = y_end[:, None] - np.sin(th)[:, None] * tt
        x = x_end[:, None] - np.cos(th)[:, None] * tt
        vol = np.broadcast_to(
            (length / (k - 1) * CROSS_SECTION_UM2["focal_adhesions"])[:, None], y.shape
        )
        w = vol * gn[:, None]
        canvas.add_points(
            "focal_adhesions", y.ravel(), x.ravel(), ADHESION_HEIGHT_UM, vol.ravel(), w.ravel()
        )
    # -- nucleoli (2D) ---------------------------------------------------------------------
    ent = d.pop("nucleolus", None)
    if ent:
        trace_nucleoli_2d(canvas, field_maps, [e[1] for e in ent])
    # -- label-only puncta ----------------------------------------------------------------
    ent = d.pop("spots", None)
    if ent:
        by_lab: dict[str, list] = {}
        for lab, e in ent:
            by_lab.setdefault(lab, []).append(e)
        for lab, es in by_lab.items():
            y, x, z, wl = (np.concatenate([e[k] for e in es]).astype(np.float32) for k in range(4))
            canvas._pts.setdefault(lab, []).append((y, x, z, None, wl))
    d.clear()


def trace_nucleoli_2d(canvas, field_maps, ent):
    """2D: draw every cell's nucleoli at once, on windows padded to a common size; each
    entry is (field window, the cell's nucleus footprint over it, parameters)."""
    px = canvas.px
    Y, X = canvas.YX
    K = len(ent)
    H = max(e[0][0].stop - e[0][0].start for e in ent)
    W = max(e[0][1].stop - e[0][1].start for e in ent)
    fn = np.zeros((K, H, W), np.float32)
    y0 = np.empty(K, np.intp)
    x0 = np.empty(K, np.intp)
    for k, (sl, fw, _) in enumerate(ent):
        fn[k, : fw.shape[0], : fw.shape[1]] = fw
        y0[k], x0[k] = sl[0].start, sl[1].start
    ly, lx, ra, rb, lang, zl, rz, fade, gain = (
        np.array([e[2][i] for e in ent], np.float32).reshape(K, 1, 1) for i in range(9)
    )
    hk = np.array([e[1].shape[0] for e in ent])[:, None, None]
    wk = np.array([e[1].shape[1] for e in ent])[:, None, None]
    ar_h = np.arange(H)[None, :, None]
    ar_w = np.arange(W)[None, None, :]
    iy = y0[:, None, None] + ar_h
    ix = x0[:, None, None] + ar_w
    ok = (ar_h < hk) & (ar_w < wk)  # inside each window (not its padding)
    flat = (np.minimum(iy, Y - 1) * X + np.minimum(ix, X - 1)).astype(np.intp)
    flat = np.broadcast_to(flat, (K, H, W))
    # the nucleolus' normalized radius (ellipse)
    c, s_ = np.cos(lang), np.sin(lang)
    dy = iy.astype(np.float32) * np.float32(px) - ly
    dx = ix.astype(np.float32) * np.float32(px) - lx
    u = (dx * c + dy * s_) / ra
    v = (dy * c - dx * s_) / rb
    rl2 = u * u + v * v
    rl = np.sqrt(rl2)
    rbp = rb * np.float32(1.0 / px)
    fl = np.clip((1.0 - rl) * rbp + 0.5, 0.0, 1.0) * fn
    tl = rz * np.sqrt(np.clip(1.0 - rl2, 0.0, 1.0))
    gl = canvas.noise("granular").ravel()[flat]
    lvl = np.float32(NUCLEOLUS_DENSITY) * (1.0 - fade)
    dl = fl * (lvl + np.float32(NUCLEOLUS_TEXTURE) * gl)
    # the layer between zl - tl and zl + tl, seen by the focal slab (as Canvas.layers)
    h = 0.5 * canvas.slab
    ov = np.minimum(zl + tl, np.float32(canvas.focus + h)) - np.maximum(
        zl - tl, np.float32(canvas.focus - h)
    )
    np.clip(ov, 0.0, canvas.slab, out=ov)
    val = dl * ov * np.float32(1.0 / canvas.slab)
    pth = fl * lvl * (2.0 * tl)
    maps = [val, pth]
    if "nucleoli" in canvas.lab:
        maps += [val * gain, pth * gain]
    sel = ok & (fl > 0)
    idx = flat[sel]
    S = Y * X
    nm = len(maps)
    out = np.bincount(
        np.concatenate([idx + m * S for m in range(nm)]),
        np.concatenate([m_[sel] for m_ in maps]),
        minlength=nm * S,
    ).reshape(nm, Y, X)
    canvas.acc["nucleoli"] += out[0]
    canvas.path["nucleoli"] += out[1]
    if nm == 4:
        canvas.lab["nucleoli"] += out[2]
        canvas.lab_path["nucleoli"] += out[3]
    # nucleoli exclude chromatin; a rim of perinucleolar chromatin around them
    rl3 = np.sqrt(rl2 + ((np.float32(canvas.focus) - zl) / rz) ** 2)
    ex = np.clip((1.0 - rl3) * rbp + 0.5, 0.0, 1.0) * (1.0 - fade)
    rim = np.exp(-(((rl3 - 1.0) * rb * np.float32(1 / PERINUCLEOLAR_RIM_UM)) ** 2)) * (rl3 > 1.0)
    okf = np.broadcast_to(ok, (K, H, W))
    fi = flat[okf]
    np.maximum.at(field_maps.nucleolus_exclusion.ravel(), fi, ex[okf].astype(np.float32))
    np.maximum.at(field_maps.perinucleolar_rim.ravel(), fi, rim[okf].astype(np.float32))
