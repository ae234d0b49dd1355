"""Figures the course draws again and again: a field's overview, a prediction beside its
truth. Each function returns a matplotlib Figure; the caller shows or saves it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["stretch", "field_overview", "prediction_figure"]


def stretch(img, lo: float = 0.5, hi: float = 99.8) -> np.ndarray:
    """Map the ``lo`` and ``hi`` percentiles of ``img`` to 0 and 1, clipped (for display)."""
    img = np.asarray(img, dtype=np.float32)
    a, b = np.percentile(img, [lo, hi])
    return np.clip((img - a) / max(float(b - a), 1e-9), 0, 1)


def field_overview(
    *,
    seed: int = 1,
    size: int = 256,
    cell_types: Sequence[str] = ("epithelial",),
    states=None,
    defocus_um: float = 2.0,
    crop: int = 0,
    labels: Sequence[str] | None = None,
):
    """One simulated field, every way the course images it.

    Bright field at three focal planes (a dense object flips from dark to bright through
    focus), phase contrast (halos) and DIC of the same specimen, each fluorescence label
    noise-free and as recorded, and the instance masks.

    Parameters
    ----------
    seed : int
        Field seed (:func:`~coursekit.microscope.simulate_field`).
    size : int
        Field size in pixels (square).
    cell_types : sequence of str
    states : str, optional
        One state for every cell (default: the simulator's mix).
    defocus_um : float
        Distance between the bright-field planes (um).
    crop : int
        Show only the central ``crop`` pixels (0: all).
    labels : sequence of str, optional
        Labels to show (default all).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from coursekit.microscope.field import simulate_field
    from coursekit.microscope.specimen import LABELS

    labels = tuple(LABELS if labels is None else labels)
    types = (cell_types,) if isinstance(cell_types, str) else tuple(cell_types)
    kw = dict(seed=seed, cell_types=types, states=states)
    shape = (size, size)
    bf = simulate_field(
        shape, modality="brightfield", defocus_step_um=defocus_um, labels=labels, **kw
    )
    pc = simulate_field(shape, modality="phase_contrast", n_planes=1, labels=labels[:1], **kw)
    dic = simulate_field(shape, modality="dic", n_planes=1, labels=labels[:1], **kw)

    def cropped(img):
        if not crop or crop >= size:
            return img
        o = (size - crop) // 2
        win = slice(o, o + crop)
        return img[win, win] if img.ndim == 3 else img[..., win, win]

    panels = []
    dz = bf.metadata["defocus_um"]
    for k in range(bf.transmitted.shape[0]):
        panels.append((f"bright field {dz[k]:+.1f} um", bf.transmitted[k], "gray"))
    panels.append(("phase contrast", pc.transmitted[0], "gray"))
    panels.append(("DIC", dic.transmitted[0], "gray"))
    rng = np.random.default_rng(0)
    n_id = int(bf.cell_mask.max()) + 1
    lut = np.concatenate([[[0, 0, 0]], rng.uniform(0.25, 1.0, (n_id, 3))])[:n_id]
    overlay = lut[bf.cell_mask] * 0.6
    overlay[bf.nucleus_mask > 0] = overlay[bf.nucleus_mask > 0] * 0.5 + 0.45
    panels.append(("cell + nucleus masks", overlay, None))
    for lab in labels:
        panels.append((f"{lab} (clean)", bf.clean[lab], "magma"))
        panels.append((f"{lab} (recorded)", bf.recorded[lab], "magma"))
    ncol = 6
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.75 * nrow), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, img, cmap) in zip(axes.flat, panels):
        img = cropped(img)
        if cmap is None:
            ax.imshow(img, interpolation="nearest")
        elif cmap == "gray":
            ax.imshow(stretch(img, 0.1, 99.9), cmap="gray", interpolation="nearest")
        else:
            ax.imshow(stretch(img), cmap=cmap, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    px = bf.metadata["pixel_size_um"]
    fig.suptitle(
        f"virtual microscope: {', '.join(types)}, seed {seed}, {size} x {size} px "
        f"of {px} um, NA {bf.metadata['na_objective']}, {len(bf.cells)} cells "
        f"({', '.join(sorted({c.state for c in bf.cells}))})",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    return fig


def prediction_figure(transmitted, recorded, clean, prediction, *, title: str = "", crop=None):
    """Input, recorded target, clean target, prediction and the prediction's error.

    Parameters
    ----------
    transmitted : numpy.ndarray
        ``(Y, X)``, one transmitted-light plane.
    recorded, clean, prediction : numpy.ndarray
        ``(Y, X)``. The prediction is mapped to the clean target's scale by least squares
        before the error panel (a model trained on z-scored targets predicts in z units).
    title : str
    crop : tuple of slice, optional
        Region to show.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from coursekit.metrics import fit_affine, pearson_r

    a, b = fit_affine(target=clean, prediction=prediction)
    scaled = a * prediction + b
    err = scaled - clean
    win = crop if crop is not None else (slice(None), slice(None))
    panels = [
        ("transmitted light (input)", transmitted, "gray", None),
        ("recorded fluorescence", recorded, "magma", None),
        ("clean truth (simulator only)", clean, "magma", None),
        (
            f"prediction (r = {pearson_r(target=clean, prediction=prediction):.3f})",
            scaled,
            "magma",
            None,
        ),
        ("prediction - clean truth", err, "RdBu_r", float(np.percentile(np.abs(err), 99.5))),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 3.3))
    for ax, (name, img, cmap, lim) in zip(axes, panels):
        img = np.asarray(img)[win]
        if lim is None:
            ax.imshow(stretch(img), cmap=cmap, interpolation="nearest")
        else:
            ax.imshow(img, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
