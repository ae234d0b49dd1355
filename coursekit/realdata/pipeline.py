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

import warnings
from pathlib import Path

import numpy as np
import torch

from coursekit._validation import check_array, check_choice, check_int, check_positive
from coursekit.realdata.images import PairedImages, SpatialSplit, spatial_split

__all__ = [
    "PRESETS",
    "RealModel",
    "train_real",
    "evaluate_real",
    "input_baseline",
    "fit_normalization",
    "apply_normalization",
]

# Every setting of a preset; overrides passed to train_real must be among these keys.
# Measured on the ISL sample (DAPI r on the right quarter, 2 CPU threads): see
# docs/real-data.md for the table behind "real_2d".
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
    "real_2d": {
        "binning": 2,
        "patch_size": 64,
        "batch_size": 8,
        "lr": 1e-3,
        "schedule": "cosine",
        "weight_decay": 0.0,
        "loss": "mse",
        "augment": True,
        "normalization": "zscore",
        "normalization_scope": "training",
        "percentiles": (1.0, 99.8),
        "unet": {},
        "precise_bn": 0,
        "steps": 1500,
    },
}

_CHECKPOINT_KEY = "realdata"
_SCOPES = ("training", "image")


# ---------------------------------------------------------------------------- normalization
def _channel_stats(image: np.ndarray, mask, method: str, percentiles) -> tuple[list, list]:
    offsets, scales = [], []
    for c in image:
        v = c[mask] if mask is not None else c.ravel()
        v = v.astype(np.float64)
        if method == "zscore":
            lo, width = v.mean(), v.std()
        else:
            lo, hi = np.percentile(v, percentiles)
            width = hi - lo
        offsets.append(float(lo))
        scales.append(float(width) if width > 0 else 1.0)
    return offsets, scales


def fit_normalization(
    image, *, method: str = "zscore", scope: str = "training", mask=None, percentiles=(1.0, 99.8)
) -> dict:
    """Choose a per-channel normalization ``(x - offset) / scale`` for ``image``.

    Parameters
    ----------
    image : array_like
        ``(C, Y, X)`` (camera counts are fine).
    method : {"zscore", "percentile"}
        ``"zscore"``: offset the mean, scale the standard deviation; ``"percentile"``:
        offset the low percentile, scale the distance to the high one.
    scope : {"training", "image"}
        ``"training"``: the statistics are computed now (on the ``mask`` pixels) and stored,
        so every later image is mapped with the same numbers; ``"image"``: every image is
        normalized with its own statistics when :func:`apply_normalization` sees it.
    mask : array_like of bool, optional
        ``(Y, X)``: the pixels the statistics come from (the training region).
    percentiles : (float, float)
        For ``"percentile"``.

    Returns
    -------
    dict
        Plain values (checkpoint-friendly): ``method``, ``scope``, ``percentiles`` and, for
        ``"training"``, ``offset`` and ``scale`` (one per channel) and the training range
        ``p1``/``p99`` used to warn about inputs in other units.
    """
    check_choice(method, "normalization", ("zscore", "percentile"))
    check_choice(scope, "normalization_scope", _SCOPES)
    image = check_array(image, "image", ndim=3, floating=False, allow_int=True)
    lo, hi = (float(p) for p in percentiles)
    if not 0 <= lo < hi <= 100:
        raise ValueError(f"percentiles: expected 0 <= low < high <= 100, got {percentiles!r}")
    spec = {"method": method, "scope": scope, "percentiles": [lo, hi]}
    if scope == "training":
        m = None if mask is None else np.asarray(mask, bool)
        spec["offset"], spec["scale"] = _channel_stats(image, m, method, (lo, hi))
        spec["p1"], p99 = _channel_stats(image, m, "percentile", (1.0, 99.0))
        spec["p99"] = [a + b for a, b in zip(spec["p1"], p99)]
    return spec


def apply_normalization(image, spec: dict, *, name: str = "image") -> np.ndarray:
    """Normalize ``image`` ``(C, Y, X)`` as ``spec`` (from :func:`fit_normalization`) says;
    returns float32."""
    image = check_array(image, name, ndim=3, floating=False, allow_int=True)
    if spec["scope"] == "image":
        offset, scale = _channel_stats(image, None, spec["method"], spec["percentiles"])
    else:
        offset, scale = spec["offset"], spec["scale"]
        if len(offset) != image.shape[0]:
            raise ValueError(
                f"{name}: {image.shape[0]} channels, but the normalization was fitted on "
                f"{len(offset)}"
            )
    off = np.asarray(offset, np.float32)[:, None, None]
    sc = np.asarray(scale, np.float32)[:, None, None]
    return ((image.astype(np.float32) - off) / sc).astype(np.float32)


def _warn_if_other_units(image: np.ndarray, spec: dict, names) -> None:
    """Warn when an input is far outside the intensity range seen in training (e.g. an
    image normalized by hand, or in other camera units): the model normalizes itself."""
    if spec["scope"] != "training":
        return
    for c, (lo, hi) in enumerate(zip(spec["p1"], spec["p99"])):
        med = float(np.median(image[c]))
        width = max(hi - lo, 1e-12)
        if not lo - width <= med <= hi + width:
            warnings.warn(
                f"input {names[c]!r}: median {med:.4g} is far outside the range seen in "
                f"training ({lo:.4g} to {hi:.4g}, 1st to 99th percentile, raw units). Pass "
                "images as loaded (camera counts): the model applies its own normalization.",
                UserWarning,
                stacklevel=4,
            )
            return


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


def _seeded_unet(in_channels: int, out_channels: int, seed: int, unet_kwargs: dict):
    """A UNet whose initial weights depend on ``seed`` only, leaving the global torch RNG
    as it was. Private stand-in for the models branch's seeded initialization."""
    from coursekit.models import UNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet(in_channels, out_channels, ndim=2, **unet_kwargs)


# ---------------------------------------------------------------------------- the model
class RealModel:
    """A trained network with everything needed to apply it to raw images.

    Attributes
    ----------
    net : torch.nn.Module
    input_names, label_names : tuple of str
    binning : int
        The model works on images binned by this factor (relative to acquisition).
    normalization, target_normalization : dict
        From :func:`fit_normalization`; applied by :meth:`predict` (inputs) and inverted
        (targets) so predictions come back in target units.
    settings : dict
        The preset and overrides it was trained with (``settings["preset"]`` its name).
    history : coursekit.models.History or None
    """

    def __init__(
        self,
        net,
        *,
        input_names,
        label_names,
        binning: int,
        normalization: dict,
        target_normalization: dict,
        settings: dict | None = None,
        history=None,
    ):
        self.net = net
        self.input_names = tuple(input_names)
        self.label_names = tuple(label_names)
        self.binning = check_int(binning, "binning", minimum=1)
        self.normalization = dict(normalization)
        self.target_normalization = dict(target_normalization)
        self.settings = dict(settings or {})
        self.history = history

    def __repr__(self) -> str:
        steps = len(self.history.steps) if self.history is not None else "?"
        return (
            f"RealModel({len(self.input_names)} inputs -> {list(self.label_names)}, binning "
            f"{self.binning}, normalization {self.normalization['method']} "
            f"({self.normalization['scope']}), preset {self.settings.get('preset')!r}, "
            f"{steps} steps)"
        )

    def _inputs_of(self, image) -> np.ndarray:
        """Raw inputs at the model's binning, from PairedImages or an array at binning 1."""
        if isinstance(image, PairedImages):
            if self.binning % image.binning:
                raise ValueError(
                    f"the model works at binning {self.binning}; these images are binned "
                    f"{image.binning}, which does not divide it"
                )
            image = image.binned(self.binning // image.binning)
            missing = [n for n in self.input_names if n not in image.input_names]
            if missing:
                raise KeyError(
                    f"the model needs inputs {list(self.input_names)}; these images lack "
                    f"{missing} (they have {list(image.input_names)})"
                )
            return image.select(inputs=self.input_names).inputs
        arr = check_array(image, "image", ndim=3, floating=False, allow_int=True)
        if arr.shape[0] != len(self.input_names):
            raise ValueError(
                f"image: expected ({len(self.input_names)}, Y, X) raw input planes "
                f"{list(self.input_names)} at acquisition resolution, got shape {arr.shape}"
            )
        if self.binning > 1:
            from coursekit.realdata.images import _bin_image

            arr = _bin_image(arr, self.binning)
        return arr

    def predict(
        self, image, *, tile: int = 256, tta=False, device="auto", progress: bool = False
    ) -> dict[str, np.ndarray]:
        """Predict every target from raw input planes, tile by tile.

        Parameters
        ----------
        image : PairedImages or array_like
            :class:`PairedImages` (its inputs are selected by name and binned as needed),
            or a ``(C, Y, X)`` array of raw input planes at acquisition resolution, in the
            order of ``input_names``. Never normalize them yourself: the model does.
        tile : int
            Tile size in pixels at the model's binning (see
            :func:`coursekit.models.predict_tiled`).
        tta : {False, True, "flips", "dihedral"}
            Flip test-time augmentation.
        device : {"auto", "cpu", "cuda", "mps"}
        progress : bool

        Returns
        -------
        dict of str to numpy.ndarray
            Target name -> float32 ``(Y // binning, X // binning)`` prediction in the
            target's units (the training targets' intensity scale).
        """
        from coursekit.models import predict_tiled

        raw = self._inputs_of(image)
        _warn_if_other_units(raw, self.normalization, self.input_names)
        x = apply_normalization(raw, self.normalization, name="image")
        out = predict_tiled(self.net, x, tile=tile, tta=tta, device=device, progress=progress)
        out = np.asarray(out).reshape(len(self.label_names), *x.shape[1:])
        tn = self.target_normalization
        return {
            name: (out[k] * np.float32(tn["scale"][k]) + np.float32(tn["offset"][k]))
            for k, name in enumerate(self.label_names)
        }

    def save(self, path) -> Path:
        """Write a checkpoint (:func:`coursekit.models.save_checkpoint`) that carries the
        normalization, binning, names, settings and training history."""
        from coursekit.models import save_checkpoint

        extra = {
            _CHECKPOINT_KEY: {
                "binning": self.binning,
                "normalization": self.normalization,
                "target_normalization": self.target_normalization,
                "settings": {k: v for k, v in self.settings.items() if k != "model"},
            }
        }
        if self.history is not None:
            extra["history"] = self.history.to_dict()
        method = {"method": self.normalization["method"]}  # per-image equivalent, for
        return save_checkpoint(  # predict(model, image, normalization=info[...])
            path,
            self.net,
            normalization=method,
            label_names=list(self.label_names),
            input_names=list(self.input_names),
            extra=extra,
        )

    @classmethod
    def load(cls, path, *, map_location="cpu") -> RealModel:
        """Read a checkpoint written by :meth:`save`; refuses one without the stored
        normalization (it could not be applied correctly)."""
        from coursekit.models import CheckpointError, History, load_checkpoint

        net, info = load_checkpoint(path, map_location=map_location)
        stored = (info.get("extra") or {}).get(_CHECKPOINT_KEY)
        if not stored:
            raise CheckpointError(
                f"{path} was not written by RealModel.save: it does not carry the real-data "
                "normalization and binning, so its predictions on raw images would be wrong. "
                "Use coursekit.models.load_checkpoint and normalize inputs as in training."
            )
        hist = info["extra"].get("history")
        return cls(
            net,
            input_names=info["input_names"],
            label_names=info["label_names"],
            binning=stored["binning"],
            normalization=stored["normalization"],
            target_normalization=stored["target_normalization"],
            settings=stored.get("settings"),
            history=None if hist is None else History.from_dict(hist),
        )


# ---------------------------------------------------------------------------- train
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
    net = model if model is not None else _seeded_unet(x.shape[0], y.shape[0], seed, s["unet"])
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
    from coursekit.metrics import fit_affine, pearson_r

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
        a, b = fit_affine(target=target, prediction=plane, mask=train_px)
        preds[t] = (a * plane[box] + b).astype(np.float32)
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
    :func:`coursekit.metrics.evaluate` (Pearson r, NRMSE, SSIM, PSNR). C_max stays NaN:
    real data carry no camera calibration in the registry (see docs/real-data.md).

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
