"""Draw one simulated field of view: transmitted light, every label (clean and recorded), masks.

Usage::

    .venv/bin/python scripts/make_field_figure.py --out figures/field.png
    .venv/bin/python scripts/make_field_figure.py --cell-types fibroblast --seed 3

The figure shows bright field at three defocus values (a dense object flips from dark to
bright through focus), phase contrast (halos) and DIC of the same specimen, then each
fluorescent label noise-free and as recorded by the camera, and the instance masks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _stretch(img, lo=0.5, hi=99.8):
    a, b = np.percentile(img, [lo, hi])
    return np.clip((img - a) / max(b - a, 1e-9), 0, 1)


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="figures/field.png", help="output PNG")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", type=int, default=256, help="field size in pixels")
    parser.add_argument("--cell-types", default="epithelial", help="comma-separated cell types")
    parser.add_argument("--states", default=None, help="one state for all cells (default: a mix)")
    parser.add_argument("--defocus", type=float, default=2.0, help="defocus step in um")
    parser.add_argument("--dpi", type=int, default=80)
    parser.add_argument("--crop", type=int, default=0, help="show only the central N pixels")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit.microscope.field import simulate_field
    from coursekit.microscope.specimen import LABELS

    types = tuple(t.strip() for t in args.cell_types.split(",") if t.strip())
    kw = dict(seed=args.seed, cell_types=types, states=args.states)
    shape = (args.size, args.size)
    bf = simulate_field(shape, modality="brightfield", defocus_step_um=args.defocus, **kw)
    pc = simulate_field(shape, modality="phase_contrast", n_planes=1, labels=("dna",), **kw)
    dic = simulate_field(shape, modality="dic", n_planes=1, labels=("dna",), **kw)

    def crop(img):
        if not args.crop or args.crop >= args.size:
            return img
        o = (args.size - args.crop) // 2
        win = slice(o, o + args.crop)
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
    for lab in LABELS:
        panels.append((f"{lab} (clean)", bf.clean[lab], "magma"))
        panels.append((f"{lab} (recorded)", bf.recorded[lab], "magma"))
    ncol = 6
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.75 * nrow))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, img, cmap) in zip(axes.flat, panels):
        img = crop(img)
        if cmap is None:
            ax.imshow(img, interpolation="nearest")
        elif cmap == "gray":
            ax.imshow(_stretch(img, 0.1, 99.9), cmap="gray", interpolation="nearest")
        else:
            ax.imshow(_stretch(img), cmap=cmap, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    px = bf.metadata["pixel_size_um"]
    fig.suptitle(
        f"virtual microscope: {', '.join(types)}, seed {args.seed}, {args.size} x {args.size} px "
        f"of {px} um, NA {bf.metadata['na_objective']}, {len(bf.cells)} cells "
        f"({', '.join(sorted({c.state for c in bf.cells}))})",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=args.dpi)
    plt.close(fig)
    print(out)
    return out


if __name__ == "__main__":
    main()
