"""Draw one simulated field of view: transmitted light, every label (clean and recorded), masks.

Usage::

    .venv/bin/python scripts/make_field_figure.py --out figures/field.png
    .venv/bin/python scripts/make_field_figure.py --cell-types fibroblast --seed 3

The drawing is :func:`coursekit.plotting.field_overview`; this script only saves it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


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

    from coursekit.plotting import field_overview

    types = tuple(t.strip() for t in args.cell_types.split(",") if t.strip())
    fig = field_overview(
        seed=args.seed,
        size=args.size,
        cell_types=types,
        states=args.states,
        defocus_um=args.defocus,
        crop=args.crop,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=args.dpi)
    plt.close(fig)
    print(out)
    return out


if __name__ == "__main__":
    main()
