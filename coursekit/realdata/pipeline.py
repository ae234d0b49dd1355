"""Train, predict and score on real paired images, with the normalization kept inside the
model so that it cannot be forgotten.

:func:`train_real` bins the field, normalizes it with statistics of the *training* pixels,
trains a U-Net on random patches that lie entirely in the training region, and returns a
:class:`RealModel`: the network together with its input and target normalization, its
binning and the names of its inputs and targets. :meth:`RealModel.predict` takes images
as they were loaded (camera counts) and always applies all of that;
:meth:`RealModel.save` / :meth:`RealModel.load` carry it in the checkpoint.
:func:`evaluate_real` scores the held-out region with :func:`coursekit.metrics.evaluate`,
next to the input-as-prediction baseline (:func:`input_baseline`).
"""

from __future__ import annotations

import numpy as np
import torch

from coursekit._validation import check_choice, check_int, check_positive
from coursekit.models import UNet
from coursekit.realdata.images import PairedImages, SpatialSplit, spatial_split
from coursekit.realdata.model import RealModel
from coursekit.realdata.normalization import apply_normalization, fit_normalization

__all__ = ["PRESETS", "train_real", "evaluate_real", "input_baseline"]

# Every setting of a preset; overrides passed to train_real must be among these keys.
# Measured on the ISL sample (r on the held-out right quarter at wall-clock budgets of 60 s
# and 180 s on 2 idle cores; docs/real-data.md has the table behind "real_2d"): turning the
# flips and rotations off raised DAPI r by 0.03 to 0.07 and MAP2 by 0.02 to 0.05 on every
# seed tried, lowered NFH by about 0.05, and a cosine schedule added about 0.01 more.
PRESETS: dict[str, dict] = {
    # coursekit's general defaults (UNet(), PairedPatches, train), binned 2x as in issue 13
    "default": {
        "binning": 2,
        "patch_size": 64,
        "batch_size": 8,
        "lr": 1e-3,
        "schedule": "constant",
        "weight_decay": 0.0,
        "loss": "mse",
        "augment": True,
        "normalization": "zscore",
        "normalization_scope": "image",
        "percentiles": (1.0, 99.8),
        "unet": {},
        "precise_bn": 0,
        "steps": 1500,
    },
}
#: What the study supported (docs/real-data.md): the default network and batches, the input
#: normalization fitted on the training pixels only (the same numbers for every later image,
#: tile or crop), no flips or rotations, and a cosine learning-rate schedule over the budget.
PRESETS["real_2d"] = {
    **PRESETS["default"],
    "normalization_scope": "training",
    "augment": False,
    "schedule": "cosine",
}


# ---------------------------------------------------------------------------- patches
class _RegionPatches(torch.utils.data.Dataset):
    """Random ``(input, target, label_mask)`` patches lying entirely inside a region.

    Private stand-in for the models branch's spatial split helper: item ``i`` depends on
    ``(seed, epoch, i)`` only, as for :class:`coursekit.models.PairedPatches`.
    """

    def __init__(self, x, y, region, *, patch_size, n_per_epoch, seed, augment):
        self.x, self.y, self.p = x, y, int(patch_size)
        bad = np.pad((~region).astype(np.int64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        p = self.p
        inside = bad[p:, p:] - bad[:-p, p:] - bad[p:, :-p] + bad[:-p, :-p] == 0
        self.corners = np.flatnonzero(inside)
        if self.corners.size == 0:
            raise ValueError(
                f"no {p} x {p} patch fits inside the training region; use a smaller "
                "patch_size or a larger training region"
            )
        self.width = inside.shape[1]
        self.n, self.seed, self.augment, self.epoch = int(n_per_epoch), int(seed), augment, 0
        self.in_channels, self.out_channels = x.shape[0], y.shape[0]
        self._ones = torch.ones(y.shape[0])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index):
        from coursekit.models import augment_pair

        rng = np.random.default_rng((self.seed, self.epoch, int(index)))
        i, j = divmod(int(self.corners[rng.integers(self.corners.size)]), self.width)
        sl = (slice(None), slice(i, i + self.p), slice(j, j + self.p))
        xp, yp = self.x[sl], self.y[sl]
        if self.augment:
            xp, yp = augment_pair(xp, yp, rng)
        return (
            torch.from_numpy(np.ascontiguousarray(xp)),
            torch.from_numpy(np.ascontiguousarray(yp)),
            self._ones,
        )


# ---------------------------------------------------------------------------- the model# ---------------------------------------------------------------------------- train
def _settings(preset: str, overrides: dict) -> dict:
    check_choice(preset, "preset", sorted(PRESETS))
    unknown = sorted(set(overrides) - set(PRESETS[preset]))
    if unknown:
        raise TypeError(
            f"train_real: unknown settings {unknown}; a preset has {sorted(PRESETS[preset])}"
        )
    s = {**PRESETS[preset], **overrides}
    s["unet"] = dict(s["unet"])
    s["preset"] = preset
    return s


def train_real(
    data: PairedImages,
    *,
    inputs=None,
    targets=None,
    split="right_quarter",
    preset: str = "real_2d",
    steps: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    model=None,
    device="auto",
    progress: bool = True,
    **overrides,
) -> RealModel:
    """Train a model on the training region of one real field.

    Parameters
    ----------
    data : PairedImages
        E.g. ``load_paired("isl_condition_blue")``, raw (camera counts).
    inputs, targets : sequence of str, optional
        Input planes and targets by name (default: all).
    split : str, array_like of bool or SpatialSplit
        The held-out region (see :func:`~coursekit.realdata.spatial_split`), defined on
        ``data``'s grid. No training patch touches it.
    preset : {"real_2d", "default"}
        Settings chosen for real 2D data on a CPU (``"real_2d"``, see docs/real-data.md),
        or coursekit's general defaults (``"default"``). Keys of :data:`PRESETS` can be
        overridden one by one (``batch_size=16``, ``unet={"depth": 4}``).
    steps, seconds : int, float, optional
        Optimizer steps (deterministic on the CPU; default the preset's) and an optional
        wall-clock limit; training stops at whichever comes first.
    seed : int
        Seeds the initial weights, the patches and the training.
    model : torch.nn.Module, optional
        A network to train instead of the preset's U-Net (``C_in`` inputs, one output per
        target, 2D).
    device, progress
        As for :func:`coursekit.models.train`.

    Returns
    -------
    RealModel
        With the normalization, binning and ``history``.

    Examples
    --------
    >>> data = load_paired("isl_condition_blue")                       # doctest: +SKIP
    >>> model = train_real(data, targets=["DAPI"], steps=300)           # doctest: +SKIP
    >>> evaluate_real(model, data, "right_quarter")                     # doctest: +SKIP
    """
    from coursekit.models import train

    if not isinstance(data, PairedImages):
        raise TypeError(
            "data: expected PairedImages (e.g. coursekit.realdata.load_paired(...)), got "
            f"{type(data).__name__}"
        )
    s = _settings(preset, overrides)
    seed = check_int(seed, "seed", minimum=0)
    if steps is None and seconds is None:
        steps = s["steps"]
    sel = data.select(inputs=inputs, targets=targets)
    split = split if isinstance(split, SpatialSplit) else spatial_split(sel.shape, split)
    if split.shape != sel.shape:
        raise ValueError(f"split: defined on {split.shape}, but the images are {sel.shape}")
    binning = check_int(s["binning"], "binning", minimum=1)
    sel, region = sel.binned(binning), split.binned(binning).train
    norm = fit_normalization(
        sel.inputs,
        method=s["normalization"],
        scope=s["normalization_scope"],
        mask=region,
        percentiles=s["percentiles"],
    )
    y_raw = np.stack([sel.targets[t] for t in sel.target_names])
    # targets: z-scored with training statistics, stored to map predictions back to units
    target_norm = fit_normalization(y_raw, method="zscore", scope="training", mask=region)
    box = _bounding_box(region)
    x = apply_normalization(sel.inputs[(slice(None), *box)], norm)
    y = apply_normalization(y_raw[(slice(None), *box)], target_norm)
    patch = check_int(s["patch_size"], "patch_size", minimum=8)
    n_epoch = max(64, int(4 * region.sum() / patch**2))
    patches = _RegionPatches(
        x, y, region[box], patch_size=patch, n_per_epoch=n_epoch, seed=seed, augment=s["augment"]
    )
    if model is None:  # initial weights from the seed only (the global torch state is kept)
        model = UNet(x.shape[0], y.shape[0], ndim=2, seed=seed, **s["unet"])
    net = model
    history = train(
        net,
        patches,
        steps=steps,
        seconds=None if seconds is None else check_positive(seconds, "seconds"),
        loss=s["loss"],
        lr=s["lr"],
        weight_decay=s["weight_decay"],
        batch_size=s["batch_size"],
        schedule=s["schedule"],
        device=device,
        seed=seed,
        progress=progress,
    )
    n_bn = check_int(s["precise_bn"], "precise_bn", minimum=0)
    if n_bn:
        _precise_batchnorm(net, patches, n_batches=n_bn, batch_size=s["batch_size"], seed=seed)
    s["split"] = split.name
    s["seed"] = seed
    return RealModel(
        net,
        input_names=sel.input_names,
        label_names=sel.target_names,
        binning=binning * data.binning,
        normalization=norm,
        target_normalization=target_norm,
        settings=s,
        history=history,
    )


def _precise_batchnorm(net, patches, *, n_batches: int, batch_size: int, seed: int) -> None:
    """Replace batch norm's running statistics (an exponential average over the last few
    training batches, noisy with batches of 8 patches) by their average over ``n_batches``
    fresh batches, computed with the final weights ("precise BN", Wu & Johnson 2021)."""
    bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    dev = next(net.parameters()).device
    saved = [(m, m.momentum) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    patches.set_epoch(10_000 + seed)
    net.train()
    try:
        with torch.no_grad():
            for b in range(n_batches):
                xb = torch.stack([patches[b * batch_size + i][0] for i in range(batch_size)])
                net(xb.to(dev))
    finally:
        for m, momentum in saved:
            m.momentum = momentum
        net.eval()


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    ys, xs = np.nonzero(mask)
    return slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1)


# ---------------------------------------------------------------------------- evaluate
def input_baseline(data: PairedImages, split, *, targets=None) -> tuple[dict, dict]:
    """The input-as-prediction baseline: for each target, the single input plane that
    correlates best with it on the training pixels, mapped to the target by an affine fit
    on the training pixels, over the held-out region's bounding box.

    Returns
    -------
    predictions : dict of str to numpy.ndarray
        Target name -> float32 image over ``split.test_box``.
    planes : dict of str to str
        Target name -> the input plane chosen.
    """
    from coursekit.metrics import pearson_r, rescale_to_target

    split = split if isinstance(split, SpatialSplit) else spatial_split(data.shape, split)
    names = data.target_names if targets is None else tuple(targets)
    train_px, box = split.train, split.test_box
    preds, planes = {}, {}
    for t in names:
        target = data.targets[t].astype(np.float64)
        rs = [
            abs(pearson_r(target=target, prediction=p.astype(np.float64), mask=train_px))
            for p in data.inputs
        ]
        best = int(np.argmax(rs))
        plane = data.inputs[best].astype(np.float64)
        preds[t] = rescale_to_target(target=target, prediction=plane, mask=train_px)[box]
        preds[t] = preds[t].astype(np.float32)
        planes[t] = data.input_names[best]
    return preds, planes


def evaluate_real(
    model: RealModel,
    data: PairedImages,
    split="right_quarter",
    *,
    baseline: bool = True,
    tta=False,
    tile: int = 256,
    device="auto",
    progress: bool = False,
):
    """Score a :class:`RealModel` on the held-out region (and the input baseline).

    The held-out region's bounding box is predicted as a new image (no context from the
    training region) and scored inside the held-out mask at the model's binning, with
    :func:`coursekit.metrics.evaluate` (Pearson r, NRMSE, SSIM, PSNR). Real data carry no
    camera calibration in the registry, so C_max is estimated from each held-out target
    image where its noise allows (:func:`coursekit.metrics.noise_ceiling_from_image`); the
    ``c_max_note`` column says why it is NaN otherwise (on the ISL sample: the noise is
    correlated between neighbouring pixels, the images were resampled). Saturated target
    pixels are counted at the model's binning (``saturated_fraction``; a binned pixel counts
    when all of its pixels clipped) and warned about (see docs/real-data.md).

    Returns
    -------
    pandas.DataFrame
        :func:`~coursekit.metrics.evaluate`'s table with a first column ``model``:
        ``model.settings["preset"]`` for the model, ``"input baseline (<plane>)"`` for the
        baseline rows.
    """
    import pandas as pd

    from coursekit.metrics import evaluate

    if not isinstance(model, RealModel):
        raise TypeError(
            f"model: expected a RealModel (from train_real), got {type(model).__name__}"
        )
    split = split if isinstance(split, SpatialSplit) else spatial_split(data.shape, split)
    if split.shape != data.shape:
        raise ValueError(f"split: defined on {split.shape}, but the images are {data.shape}")
    if model.binning % data.binning:
        raise ValueError(
            f"the model works at binning {model.binning}; these images are binned "
            f"{data.binning}, which does not divide it"
        )
    factor = model.binning // data.binning
    binned = data.binned(factor).select(inputs=model.input_names, targets=model.label_names)
    bsplit = split.binned(factor)
    box = bsplit.test_box
    mask = bsplit.test[box]
    held_out = binned.crop(box)
    preds = model.predict(held_out, tile=tile, tta=tta, device=device, progress=progress)
    recorded = {t: held_out.targets[t] for t in model.label_names}
    tables = [evaluate(predictions=preds, recorded=recorded, mask=mask)]
    tables[0].insert(0, "model", str(model.settings.get("preset", "model")))
    if baseline:
        base, planes = input_baseline(binned, bsplit, targets=model.label_names)
        for t in model.label_names:
            tab = evaluate(predictions={t: base[t]}, recorded={t: recorded[t]}, mask=mask)
            tab.insert(0, "model", f"input baseline ({planes[t]})")
            tables.append(tab)
    return pd.concat(tables, ignore_index=True)
