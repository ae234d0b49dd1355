"""Real data: coursekit's real-data pipeline against fnet and a plain U-Net, on the in silico
labeling sample (Christiansen et al. 2018), offline.

Usage::

    .venv/bin/python benchmarks/bench_real.py                          # 60/180/600 s x 3 seeds
    .venv/bin/python benchmarks/bench_real.py --budgets 20 --seeds 1   # a quick look
    .venv/bin/python benchmarks/bench_real.py --study --steps 400      # the preset study
    .venv/bin/python benchmarks/bench_real.py --study-wall 60 --seeds 1  # ... at 60 s each
    .venv/bin/python benchmarks/bench_real.py --limits 180             # what limits r
    .venv/bin/python benchmarks/bench_real.py --json out.json

Protocol (issue 13): 13 phase-contrast planes -> DAPI, MAP2, NFH; binned 2x; trained on the
left three quarters, Pearson r on the held-out right quarter (predicted as a new image).
Contenders, each with the same wall-clock budgets and seeds:

- ``real_2d``: ``train_real(preset="real_2d")`` (the preset this study chose);
- ``default``: ``train_real(preset="default")``, coursekit's general defaults;
- ``fnet_like``: ``UNet.fnet_like`` (Ounkomol et al. 2018) trained with the default settings;
- ``plain``: a plain U-Net and a naive training loop written below, as a user would.

Prints mean and spread (max - min) of r over seeds for each target, the steps reached, and
the ratio of each contender's mean DAPI r to the plain baseline's in the same run.
The sample is looked up in ``$COURSEKIT_TEST_ISL_DIR`` or ``../shared`` beside the checkout
(as the tests do); the benchmark exits cleanly (status 0, "skipped") where it is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from coursekit.realdata import (  # noqa: E402
    PairedImages,
    RealModel,
    apply_normalization,
    evaluate_real,
    fit_normalization,
    load_paired,
    spatial_split,
    train_real,
)

TARGETS = ("DAPI", "MAP2", "NFH")
SPLIT = "right_quarter"


def find_sample() -> Path | None:
    env = os.environ.get("COURSEKIT_TEST_ISL_DIR")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "isl_condition_blue"
    return path if path.is_dir() else None


# ---------------------------------------------------------------------------- plain U-Net
class PlainUNet(nn.Module):
    """A U-Net as a user writes it from a tutorial: 3 levels, 32 channels, no tricks."""

    def __init__(self, c_in: int, c_out: int, base: int = 32):
        super().__init__()

        def block(a, b):
            return nn.Sequential(
                nn.Conv2d(a, b, 3, padding=1), nn.ReLU(), nn.Conv2d(b, b, 3, padding=1), nn.ReLU()
            )

        self.enc = nn.ModuleList(
            [block(c_in, base), block(base, 2 * base), block(2 * base, 4 * base)]
        )
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(4 * base, 2 * base, 2, 2), nn.ConvTranspose2d(2 * base, base, 2, 2)]
        )
        self.dec = nn.ModuleList([block(4 * base, 2 * base), block(2 * base, base)])
        self.head = nn.Conv2d(base, c_out, 1)
        self.ndim, self.in_channels, self.out_channels, self.size_multiple = 2, c_in, c_out, 4

    def forward(self, x):
        skips = []
        for i, enc in enumerate(self.enc):
            x = enc(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            x = dec(torch.cat([up(x), skip], 1))
        return self.head(x)


def train_plain(data: PairedImages, seconds: float, seed: int) -> RealModel:
    """Naive loop: per-image z-score, random 64 x 64 crops of the training region, Adam."""
    d = data.binned(2)
    x_cols = int(spatial_split(d.shape, SPLIT).train[0].sum())  # the left 3/4 of the columns
    norm = fit_normalization(d.inputs[:, :, :x_cols], scope="image")
    y_raw = np.stack([d.targets[t] for t in TARGETS])
    tnorm = fit_normalization(y_raw[:, :, :x_cols], scope="training")
    x = torch.from_numpy(apply_normalization(d.inputs[:, :, :x_cols], norm))
    y = torch.from_numpy(apply_normalization(y_raw[:, :, :x_cols], tnorm))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = PlainUNet(x.shape[0], y.shape[0])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        ii = rng.integers(0, x.shape[1] - 64, 8)
        jj = rng.integers(0, x.shape[2] - 64, 8)
        xb = torch.stack([x[:, i : i + 64, j : j + 64] for i, j in zip(ii, jj)])
        yb = torch.stack([y[:, i : i + 64, j : j + 64] for i, j in zip(ii, jj)])
        loss = ((net(xb) - yb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    net.eval()
    model = RealModel(
        net,
        input_names=d.input_names,
        label_names=TARGETS,
        binning=2,
        normalization=norm,
        target_normalization=tnorm,
        settings={"preset": "plain"},
    )
    model.steps = steps
    return model


# ---------------------------------------------------------------------------- contenders
def run_one(name: str, data, *, seconds=None, steps=None, seed=0, **overrides) -> dict:
    t0 = time.perf_counter()
    if name == "plain":
        model = train_plain(data, seconds, seed)
        n_steps = model.steps
    else:
        net = None
        preset = name if name in ("real_2d", "default") else "default"
        if name == "fnet_like":
            from coursekit.models import UNet

            torch.manual_seed(seed)
            net = UNet.fnet_like(len(data.input_names), len(TARGETS), ndim=2)
        model = train_real(
            data,
            targets=TARGETS,
            split=SPLIT,
            preset=preset,
            seconds=seconds,
            steps=steps,
            seed=seed,
            model=net,
            progress=False,
            **overrides,
        )
        n_steps = len(model.history.steps)
    train_s = time.perf_counter() - t0
    table = evaluate_real(model, data, SPLIT, baseline=False)
    r = {row.structure: float(row.pearson_recorded) for row in table.itertuples()}
    return {"contender": name, "seed": seed, "steps": n_steps, "train_s": train_s, **r}


def summarize(rows, key) -> list[dict]:
    out = []
    for k in dict.fromkeys(r[key] for r in rows):
        group = [r for r in rows if r[key] == k]
        s = {key: k, "seeds": len(group), "steps": float(np.mean([r["steps"] for r in group]))}
        for t in TARGETS:
            v = [r[t] for r in group if t in r]
            if v:
                s[f"{t}_mean"], s[f"{t}_spread"] = float(np.mean(v)), float(np.ptp(v))
        out.append(s)
    return out


def baseline_r(data) -> dict:
    from coursekit.metrics import pearson_r
    from coursekit.realdata import input_baseline

    d = data.binned(2).select(targets=TARGETS)
    split = spatial_split(d.shape, SPLIT)
    preds, planes = input_baseline(d, split)
    box = split.test_box
    return {
        t: (
            pearson_r(target=d.targets[t][box], prediction=preds[t], mask=split.test[box]),
            planes[t],
        )
        for t in TARGETS
    }


# ---------------------------------------------------------------------------- study
STUDY = [  # (change, overrides on preset "default"): each row adds one change to the default
    ("default (per-image z-score, constant lr)", {}),
    ("+ normalization fitted on training pixels", {"normalization_scope": "training"}),
    (
        "+ percentile normalization (training)",
        {"normalization_scope": "training", "normalization": "percentile"},
    ),
    ("+ cosine lr schedule", {"schedule": "cosine"}),
    ("+ cosine, lr 3e-3", {"schedule": "cosine", "lr": 3e-3}),
    ("group norm instead of batch norm", {"unet": {"norm": "group"}}),
    ("batch 16", {"batch_size": 16}),
    ("patch 128, batch 4", {"patch_size": 128, "batch_size": 4}),
    ("depth 4", {"unet": {"depth": 4}}),
    ("no augmentation", {"augment": False}),
    ("L1 loss", {"loss": "l1"}),
    ("binning 4", {"binning": 4, "patch_size": 32}),
    ("precise BN statistics (64 batches)", {"precise_bn": 64}),
    (
        "real_2d candidate: training norm + cosine + precise BN",
        {"normalization_scope": "training", "schedule": "cosine", "precise_bn": 64},
    ),
]


#: The wall-clock study (docs/real-data.md, 2026-12-01): each row's overrides on the current
#: ``real_2d`` preset, starting from the preset as it was before the study (flips and
#: rotations on, constant learning rate) and changing one thing at a time.
BEFORE = {"augment": True, "schedule": "constant"}
STUDY_WALL = [
    ("real_2d before the study", BEFORE),
    ("no flips or rotations", {**BEFORE, "augment": False}),
    ("all eight symmetries, cosine", {**BEFORE, "schedule": "cosine"}),
    ("no flips or rotations, cosine (real_2d now)", {}),
    ("no flips or rotations, cosine, lr 3e-3", {"lr": 3e-3}),
    ("no flips or rotations, batch 16", {**BEFORE, "augment": False, "batch_size": 16}),
    ("no flips or rotations, precise BN 64", {**BEFORE, "augment": False, "precise_bn": 64}),
    ("base channels 32", {**BEFORE, "unet": {"base_channels": 32}}),
    ("no batch norm", {**BEFORE, "unet": {"norm": "none"}}),
    ("base 32, no batch norm", {**BEFORE, "unet": {"base_channels": 32, "norm": "none"}}),
    ("depth 2, base 32", {**BEFORE, "unet": {"depth": 2, "base_channels": 32}}),
    ("L1 loss", {**BEFORE, "loss": "l1"}),
    ("patches of 128, batches of 4", {**BEFORE, "patch_size": 128, "batch_size": 4}),
]


def study_wall(data, seconds: float, seeds, only=None) -> list[dict]:
    rows = []
    for i, (change, overrides) in enumerate(STUDY_WALL):
        if only is not None and i not in only:
            continue
        for seed in seeds:
            t0 = time.perf_counter()
            row = run_one("real_2d", data, seconds=seconds, seed=seed, **overrides)
            row.update(change=change, wall_s=time.perf_counter() - t0)
            rows.append(row)
            print(
                f"{change:45s} seed {seed}  steps {row['steps']:5d}  wall {row['wall_s']:4.0f} s  "
                + "  ".join(f"{t} {row[t]:.3f}" for t in TARGETS),
                flush=True,
            )
    return rows


def limits(data, seconds: float, seed: int = 0) -> list[dict]:
    """Seen versus unseen pixels, and the same network trained on the held-out quarter itself.

    Separates what one field teaches (the gap between a training quarter and the held-out
    quarter, both predicted as new images) from the network's capacity (how well it fits the
    held-out quarter when trained on it).
    """
    from coursekit.metrics import pearson_r

    def score(model, columns):  # a quarter of the 1024-px field, predicted as a new image
        d = data.binned(2)
        crop = d.crop((slice(None), slice(columns[0] // 2, columns[1] // 2)))
        pred = model.predict(crop, progress=False)
        return {t: float(pearson_r(target=crop.targets[t], prediction=pred[t])) for t in TARGETS}

    rows = []
    model = train_real(data, targets=TARGETS, split=SPLIT, seconds=seconds, seed=seed,
                       progress=False)  # fmt: skip
    n = len(model.history.steps)
    rows.append({"case": "trained on the left 3/4, scored on the held-out quarter",
                 "steps": n, **score(model, (768, 1024))})  # fmt: skip
    rows.append({"case": "trained on the left 3/4, scored on its columns 512-768 (seen)",
                 "steps": n, **score(model, (512, 768))})  # fmt: skip
    held_out = np.ones(data.shape, bool)
    held_out[:, 768:] = False  # True = held out: the right quarter is the training region
    model = train_real(data, targets=TARGETS, split=held_out, seconds=seconds, seed=seed,
                       progress=False)  # fmt: skip
    rows.append({"case": "trained on the right quarter itself, scored on it",
                 "steps": len(model.history.steps), **score(model, (768, 1024))})  # fmt: skip
    for row in rows:
        print(f"{row['case']:62s} steps {row['steps']:5d}  "
              + "  ".join(f"{t} {row[t]:.3f}" for t in TARGETS), flush=True)  # fmt: skip
    return rows


def study(data, steps: int, seed: int, only=None) -> list[dict]:
    rows = []
    for i, (change, overrides) in enumerate(STUDY):
        if only is not None and i not in only:
            continue
        row = run_one("default", data, steps=steps, seed=seed, **overrides)
        row["change"] = change
        rows.append(row)
        print(
            f"{change:45s} steps {row['steps']:5d}  train {row['train_s']:6.0f} s  "
            + "  ".join(f"{t} {row[t]:.3f}" for t in TARGETS),
            flush=True,
        )
    return rows


# ---------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--budgets", type=float, nargs="+", default=[60, 180, 600], help="seconds")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0 .. n-1 per budget")
    ap.add_argument("--contenders", nargs="+", default=["real_2d", "default", "fnet_like", "plain"])
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--study", action="store_true", help="the preset study, in steps")
    ap.add_argument("--study-rows", type=int, nargs="+", help="only these rows of the study")
    ap.add_argument("--steps", type=int, default=400, help="steps per study run")
    ap.add_argument(
        "--study-wall", type=float, metavar="SECONDS",
        help="the wall-clock study (STUDY_WALL) at this budget, seeds 0 .. --seeds - 1",
    )  # fmt: skip
    ap.add_argument(
        "--limits", type=float, metavar="SECONDS",
        help="what limits r: seen vs held-out quarter, and training on the held-out quarter",
    )  # fmt: skip
    ap.add_argument("--json", type=Path, help="write all rows here")
    args = ap.parse_args(argv)

    sample = find_sample()
    if sample is None:
        print("skipped: no local copy of the ISL sample (../shared or $COURSEKIT_TEST_ISL_DIR)")
        return 0
    torch.set_num_threads(args.threads)
    data = load_paired(data_dir=sample.parent, progress=False)
    print(f"{data}\ntorch threads: {args.threads}, device: cpu\n")
    base = baseline_r(data)
    print(
        "input-as-prediction baseline (best plane, affine fit on training pixels): "
        + ", ".join(f"{t} {r:.3f} ({p})" for t, (r, p) in base.items())
        + "\n"
    )
    if args.limits:
        rows = limits(data, args.limits)
    elif args.study_wall:
        rows = study_wall(data, args.study_wall, range(args.seeds), only=args.study_rows)
    elif args.study:
        rows = study(data, args.steps, 0, only=args.study_rows)
    else:
        rows = []
        for budget in args.budgets:
            for name in args.contenders:
                for seed in range(args.seeds):
                    row = run_one(name, data, seconds=budget, seed=seed)
                    row["budget_s"] = budget
                    row["key"] = f"{name}@{budget:g}s"
                    rows.append(row)
            summary = [s for s in summarize(rows, "key") if s["key"].endswith(f"@{budget:g}s")]
            plain = next((s for s in summary if s["key"].startswith("plain@")), None)
            print(f"budget {budget:g} s ({args.seeds} seed(s); r mean +- spread over seeds)")
            for s in summary:
                ratio = (
                    f"{s['DAPI_mean'] / plain['DAPI_mean']:5.2f}"
                    if plain and plain["DAPI_mean"] > 0
                    else "  n/a"
                )
                print(
                    f"  {s['key'].split('@')[0]:10s} steps {s['steps']:7.0f}  "
                    + "  ".join(
                        f"{t} {s[f'{t}_mean']:.3f}+-{s[f'{t}_spread']:.3f}" for t in TARGETS
                    )
                    + f"  DAPI/plain {ratio}"
                )
            print(flush=True)
    if args.json:
        args.json.write_text(json.dumps({"baseline": base, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
