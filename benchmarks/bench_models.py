"""Time to quality of the course U-Net, and the speed of tiled prediction.

Usage::

    .venv/bin/python benchmarks/bench_models.py                 # full (about 8 min on 2 cores)
    .venv/bin/python benchmarks/bench_models.py --quick         # budgets 5 and 10 s
    .venv/bin/python benchmarks/bench_models.py --json out.json

1. Time to quality: the default compact U-Net against the fnet-like configuration
   (Ounkomol et al. 2018: depth 4, 32 base channels), trained on the same stream of
   simulated DNA fields for the same wall-clock budgets, scored on held-out fields:
   Pearson r against the clean target and against the recorded one, as a fraction of the
   noise ceiling C_max. Goal: the compact model reaches r >= 0.95 x C_max within 60 s on
   2 cores and beats the fnet-like one at equal time.
2. The data keeps up: patches per second from the simulator stream (one core) against the
   patches per second the compact U-Net consumes in training.
3. ``predict_tiled`` on a 64 x 512 x 512 stack with the default 3D U-Net (goal <= 30 s on
   2 cores), against a baseline measured in the same run: the same voxels in one forward
   pass per z-slab without overlap or blending (pure network time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coursekit.experiments import heldout_fields, score_fields, train_on_simulator  # noqa: E402
from coursekit.microscope.stream import PatchStream  # noqa: E402
from coursekit.models import UNet, predict, predict_tiled, train  # noqa: E402

GOAL_FRACTION = 0.95
GOAL_TILED_S = 30.0


def time_to_quality(budgets, fields, device) -> list[dict]:
    rows = []
    for name, make in (
        ("compact", lambda: UNet(3, 1)),
        ("fnet_like", lambda: UNet.fnet_like(3, 1, ndim=2)),
    ):
        for budget in budgets:
            torch.manual_seed(0)
            model = make()
            _, hist = train_on_simulator(
                ("dna",), model=model, seconds=budget, seed=0, progress=False, device=device
            )
            table = score_fields(model, fields, ("dna",), device=device)
            row = {
                "model": name,
                "parameters": sum(p.numel() for p in model.parameters()),
                "budget_s": budget,
                "steps": int(hist.steps[-1]) if len(hist.steps) else 0,
                "r_clean": float(table["pearson_clean"].mean()),
                "r_recorded": float(table["pearson_recorded"].mean()),
                "c_max": float(table["c_max"].mean()),
            }
            row["fraction_of_cmax"] = row["r_recorded"] / row["c_max"]
            rows.append(row)
            print(
                f"  {name:9s} {budget:5.0f} s  {row['steps']:5d} steps  r(clean) {row['r_clean']:.3f}"
                f"  r(recorded) {row['r_recorded']:.3f}  C_max {row['c_max']:.3f}"
                f"  r/C_max {row['fraction_of_cmax']:.3f}",
                flush=True,
            )
    return rows


def data_keeps_up(device) -> dict:
    stream = PatchStream((64, 64), ("dna",), seed=3, patches_per_field=32, n_patches=256)
    t0 = time.perf_counter()
    batches = [b for b in torch.utils.data.DataLoader(stream, batch_size=8)]
    produced = 256 / (time.perf_counter() - t0)
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    hist = train(
        UNet(3, 1), (x.numpy(), y.numpy()), steps=60, batch_size=8, progress=False, device=device
    )
    consumed = hist.steps_per_s * 8
    return {
        "patches_per_s_stream": produced,
        "patches_per_s_training": consumed,
        "ratio": produced / consumed,
    }


def tiled_prediction(shape, device) -> dict:
    """Tiled prediction with the default (exact) overlap and with a cheaper one, against the
    baseline of one pass over the whole stack (which fits in memory on this machine)."""
    torch.manual_seed(0)
    model = UNet(1, 1, ndim=3).eval()
    image = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    tile = (min(shape[0], 32), 128, 128)
    t0 = time.perf_counter()
    one = predict(model, image, device=device)
    one_s = time.perf_counter() - t0
    rows = {"shape": list(shape), "tile": list(tile), "one_pass_s": one_s}
    settings = {
        "default (exact)": {},
        "overlap 1/4 tile, margin 1/4 overlap": {
            "overlap": tuple(t // 4 for t in tile),
            "margin": tuple(t // 16 for t in tile),
        },
    }
    for name, kw in settings.items():
        t0 = time.perf_counter()
        out = predict_tiled(
            model, image, tile=tile, batch_size=2, progress=False, device=device, **kw
        )
        dt = time.perf_counter() - t0
        dev = np.abs(out - one)
        rows[name] = {
            "seconds": dt,
            "max_abs_dev": float(dev.max()),
            "mean_abs_dev": float(dev.mean()),
            "output_std": float(one.std()),
        }
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short budgets, small stack")
    parser.add_argument(
        "--device", default="cpu", help='"cpu" (default, the goal is on 2 cores), "cuda", "auto"'
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--only", choices=("quality", "data", "tiled"), default=None, help="run one part"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    budgets = (5, 10) if args.quick else (15, 30, 60)
    stack = (16, 256, 256) if args.quick else (64, 512, 512)
    print(f"torch {torch.__version__}, {args.threads} threads, device {args.device}")

    results = {}
    if args.only in (None, "quality"):
        fields = heldout_fields(4, (256, 256), seed=20_000, labels=("dna",))
        print("1. time to quality on held-out DNA fields (same stream, same budgets)")
        rows = results["time_to_quality"] = time_to_quality(budgets, fields, args.device)
        for b in budgets:
            c = next(r for r in rows if r["model"] == "compact" and r["budget_s"] == b)
            f = next(r for r in rows if r["model"] == "fnet_like" and r["budget_s"] == b)
            print(
                f"  at {b:3.0f} s: compact / fnet-like r(clean) {c['r_clean'] / f['r_clean']:.2f}"
            )
        frac = max((r for r in rows if r["model"] == "compact"), key=lambda r: r["budget_s"])[
            "fraction_of_cmax"
        ]
        print(
            f"  compact at {budgets[-1]} s reaches {frac:.3f} of C_max "
            f"(goal {GOAL_FRACTION}): ratio to goal {frac / GOAL_FRACTION:.3f}"
        )
    if args.only in (None, "data"):
        print("2. does the simulator keep up with training? (one core for the stream)")
        keep = results["data"] = data_keeps_up(args.device)
        print(
            f"  stream {keep['patches_per_s_stream']:.0f} patches/s, training consumes "
            f"{keep['patches_per_s_training']:.0f} patches/s: ratio {keep['ratio']:.2f}"
            " (> 1 keeps up)"
        )
    if args.only in (None, "tiled"):
        print(f"3. predict_tiled on a {'x'.join(map(str, stack))} stack, default 3D U-Net")
        tiled = results["tiled"] = tiled_prediction(stack, args.device)
        print(f"  baseline: one pass over the whole stack {tiled['one_pass_s']:.1f} s")
        for name in ("default (exact)", "overlap 1/4 tile, margin 1/4 overlap"):
            r = tiled[name]
            print(
                f"  tiled, {name}: {r['seconds']:.1f} s = "
                f"{r['seconds'] / tiled['one_pass_s']:.2f} x one pass, "
                f"{r['seconds'] / GOAL_TILED_S:.2f} x the {GOAL_TILED_S:.0f} s goal; "
                f"max |tiled - one pass| {r['max_abs_dev']:.2g} (mean {r['mean_abs_dev']:.2g}, "
                f"output std {r['output_std']:.2g})"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
