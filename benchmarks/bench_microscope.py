"""Speed of the virtual microscope, single-threaded, against the design's goals.

Usage::

    .venv/bin/python benchmarks/bench_microscope.py            # everything
    .venv/bin/python benchmarks/bench_microscope.py --quick    # fewer repeats
    .venv/bin/python benchmarks/bench_microscope.py --json out.json

Goals (docs: the virtual microscope design): one 2D field of 256 x 256 with transmitted
light and all labels in at most 100 ms on one core; one 3D field of 32 x 256 x 256 in at
most 3 s; and data for a lecture's training run generated faster than the model consumes
it (see :func:`keeps_up`, to be fed with the U-Net's measured training-step rate).
"""

from __future__ import annotations

import os

# one core: set before NumPy / SciPy / torch are imported
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_2D_S = 0.100
GOAL_3D_S = 3.0


def _single_thread():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    try:  # threadpoolctl, when installed, also pins libraries already loaded
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass


def time_field(shape, repeats: int, **kwargs) -> dict:
    """Median wall time of :func:`simulate_field` over ``repeats`` seeds (after a warm-up)."""
    from coursekit.microscope.field import simulate_field

    simulate_field(shape, seed=10_000, **kwargs)  # warm-up: imports, FFT plans
    times = []
    n_cells = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        f = simulate_field(shape, seed=seed, **kwargs)
        times.append(time.perf_counter() - t0)
        n_cells.append(len(f.cells))
    return {
        "shape": list(shape),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
        "mean_cells": statistics.mean(n_cells),
        "labels": len(f.recorded),
    }


def time_plan(shape=(4096, 4096), pixel_size_um: float = 0.3) -> dict:
    """Time and peak memory of planning the cells of a large field (placement grows with
    the number of cells, not its square; the all-pairs version needed ~12 GB here)."""
    import tracemalloc

    from coursekit.microscope.field import estimate_memory_gb
    from coursekit.microscope.specimen import plan_cells

    field_um = (shape[0] * pixel_size_um, shape[1] * pixel_size_um)
    tracemalloc.start()
    t0 = time.perf_counter()
    plans = plan_cells(field_um, seed=0)
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "shape": list(shape),
        "cells": len(plans),
        "seconds": dt,
        "peak_mb": peak / 1e6,
        "field_estimate_gb": estimate_memory_gb(shape),
    }


def patch_rate(
    n_patches: int = 64,
    *,
    patch_shape=(64, 64),
    field_shape=(256, 256),
    labels=("dna",),
    patches_per_field: int = 8,
    **kwargs,
) -> dict:
    """Patches per second produced by :class:`~coursekit.microscope.stream.PatchStream` in the
    main process (one core)."""
    from coursekit.microscope.stream import PatchStream

    ds = PatchStream(
        patch_shape,
        labels,
        seed=1,
        field_shape=field_shape,
        n_patches=n_patches,
        patches_per_field=patches_per_field,
        **kwargs,
    )
    t0 = time.perf_counter()
    n = sum(1 for _ in ds)
    dt = time.perf_counter() - t0
    return {
        "patch_shape": list(patch_shape),
        "field_shape": list(field_shape),
        "labels": list(labels),
        "patches_per_field": patches_per_field,
        "patches": n,
        "seconds": dt,
        "patches_per_s": n / dt,
    }


def keeps_up(
    patches_per_s: float, *, steps_per_s: float, batch_size: int, workers: int = 1
) -> dict:
    """Does the simulator feed a training loop?

    Parameters
    ----------
    patches_per_s : float
        Patch rate of one worker (:func:`patch_rate`).
    steps_per_s : float
        Measured training steps per second of the model (e.g. the course U-Net).
    batch_size : int
        Patches per step.
    workers : int
        DataLoader workers (each one core).

    Returns
    -------
    dict
        ``{"needed_per_s", "available_per_s", "ratio", "keeps_up"}``; ratio > 1 means the
        data is generated faster than the model consumes it.
    """
    needed = steps_per_s * batch_size
    available = patches_per_s * workers
    return {
        "needed_per_s": needed,
        "available_per_s": available,
        "ratio": available / needed,
        "keeps_up": available >= needed,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--repeats-2d", type=int, default=9)
    parser.add_argument("--repeats-3d", type=int, default=3)
    parser.add_argument("--cell-types", default="epithelial")
    parser.add_argument("--shot-noise", default="gaussian", choices=("gaussian", "poisson"))
    parser.add_argument(
        "--steps-per-s",
        type=float,
        default=None,
        help="training steps per second of the model, to check that data keeps up",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    _single_thread()
    r2, r3 = (3, 1) if args.quick else (args.repeats_2d, args.repeats_3d)
    types = tuple(t for t in args.cell_types.split(",") if t)
    kw = dict(cell_types=types, shot_noise=args.shot_noise)
    out = {"cell_types": list(types), "shot_noise": args.shot_noise}

    res2 = time_field((256, 256), r2, **kw)
    res2["goal_s"] = GOAL_2D_S
    res2["ratio_to_goal"] = res2["median_s"] / GOAL_2D_S
    out["field_2d"] = res2
    print(
        f"2D field 256x256, all {res2['labels']} labels + bright field ({res2['mean_cells']:.0f} cells): "
        f"median {1e3 * res2['median_s']:.0f} ms (min {1e3 * res2['min_s']:.0f}) "
        f"= {res2['ratio_to_goal']:.2f} x the 100 ms goal"
    )

    res3 = time_field((32, 256, 256), r3, **kw)
    res3["goal_s"] = GOAL_3D_S
    res3["ratio_to_goal"] = res3["median_s"] / GOAL_3D_S
    out["field_3d"] = res3
    print(
        f"3D field 32x256x256, all labels + bright field: median {res3['median_s']:.2f} s "
        f"= {res3['ratio_to_goal']:.2f} x the 3 s goal"
    )

    plan = time_plan()
    out["plan_4096"] = plan
    print(
        f"planning a 4096x4096 field: {plan['cells']} cells in {plan['seconds']:.1f} s, "
        f"peak {plan['peak_mb']:.0f} MB (the whole field would need about "
        f"{plan['field_estimate_gb']:.1f} GB)"
    )

    pr = patch_rate(32 if args.quick else 96, cell_types=types, shot_noise=args.shot_noise)
    out["patch_stream"] = pr
    print(
        f"PatchStream 64x64 patches (dna, 8 per 256x256 field): {pr['patches_per_s']:.0f} patches/s "
        f"on one core"
    )
    if args.steps_per_s:
        k = keeps_up(pr["patches_per_s"], steps_per_s=args.steps_per_s, batch_size=args.batch_size)
        out["keeps_up"] = k
        print(
            f"training needs {k['needed_per_s']:.0f} patches/s; one worker gives "
            f"{k['available_per_s']:.0f} ({'keeps up' if k['keeps_up'] else 'too slow: add workers'})"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
