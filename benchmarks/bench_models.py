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
from coursekit.models import UNet, predict_tiled, train  # noqa: E402

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
    torch.manual_seed(0)
    model = UNet(1, 1, ndim=3).eval()
    image = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    tile = (min(shape[0], 32), 128, 128)
    t0 = time.perf_counter()
    out = predict_tiled(model, image, tile=tile, batch_size=2, progress=False, device=device)
    tiled_s = time.perf_counter() - t0
    assert out.shape == image.shape
    # baseline: the same voxels through the network in non-overlapping slabs, no blending
    dev = torch.device(
        device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    model.to(dev)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for z in range(0, shape[0], tile[0]):
            for y in range(0, shape[1], 256):
                model(torch.from_numpy(image[None, :, z : z + tile[0], y : y + 256]).to(dev)).cpu()
    base_s = time.perf_counter() - t0
    return {
        "shape": list(shape),
        "tile": list(tile),
        "tiled_s": tiled_s,
        "one_pass_slabs_s": base_s,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short budgets, small stack")
    parser.add_argument(
        "--device", default="cpu", help='"cpu" (default, the goal is on 2 cores), "cuda", "auto"'
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    budgets = (5, 10) if args.quick else (15, 30, 60)
    stack = (16, 256, 256) if args.quick else (64, 512, 512)
    print(f"torch {torch.__version__}, {args.threads} threads, device {args.device}")

    fields = heldout_fields(4, (256, 256), seed=20_000, labels=("dna",))
    print("1. time to quality on held-out DNA fields (same stream, same budgets)")
    rows = time_to_quality(budgets, fields, args.device)
    best = {
        m: max((r for r in rows if r["model"] == m), key=lambda r: r["budget_s"])
        for m in ("compact", "fnet_like")
    }
    for b in budgets:
        c = next(r for r in rows if r["model"] == "compact" and r["budget_s"] == b)
        f = next(r for r in rows if r["model"] == "fnet_like" and r["budget_s"] == b)
        print(
            f"  at {b:3.0f} s: compact / fnet-like r(clean) ratio {c['r_clean'] / f['r_clean']:.2f}"
        )
    frac = best["compact"]["fraction_of_cmax"]
    print(
        f"  compact at {budgets[-1]} s reaches {frac:.3f} of C_max (goal {GOAL_FRACTION}): ratio to goal {frac / GOAL_FRACTION:.3f}"
    )

    print("2. does the simulator keep up with training? (one core for the stream)")
    keep = data_keeps_up(args.device)
    print(
        f"  stream {keep['patches_per_s_stream']:.0f} patches/s, training consumes "
        f"{keep['patches_per_s_training']:.0f} patches/s: ratio {keep['ratio']:.2f} (> 1 keeps up)"
    )

    print(f"3. predict_tiled on a {'x'.join(map(str, stack))} stack, default 3D U-Net")
    tiled = tiled_prediction(stack, args.device)
    print(
        f"  tiled {tiled['tiled_s']:.1f} s (goal {GOAL_TILED_S:.0f} s: ratio {tiled['tiled_s'] / GOAL_TILED_S:.2f}); "
        f"baseline one pass per slab {tiled['one_pass_slabs_s']:.1f} s: tiling overhead "
        f"{tiled['tiled_s'] / tiled['one_pass_slabs_s']:.2f}x"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"time_to_quality": rows, "data": keep, "tiled": tiled}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
