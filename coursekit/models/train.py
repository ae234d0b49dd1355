"""Training loop: Adam on a masked per-label loss, with a step or time budget.

:func:`train` takes a model and paired patches (a map-style ``Dataset`` such as
:class:`~coursekit.models.PairedPatches`, an ``IterableDataset`` such as
:class:`~coursekit.models.PatchStream`, or a ``DataLoader``) yielding ``(input, target)`` or
``(input, target, label_mask)``; it returns a :class:`~coursekit.models.History` of the
losses. It reads as three parts: :func:`_setup` (device, loader, optimizer), :func:`_step`
(one guarded optimizer step) and :func:`_validate`.

The losses live in :mod:`coursekit.models.losses`, the history in
:mod:`coursekit.models.history`, the batch plumbing in :mod:`coursekit.models.batches`.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from coursekit._validation import check_choice, check_int, check_positive
from coursekit.models.batches import (
    _endless,
    _is_array_tuple,
    _make_loader,
    _memory_format,
    _to,
    _to_tensor,
    _unpack,
)
from coursekit.models.device import pick_device
from coursekit.models.history import History
from coursekit.models.losses import LOSSES, masked_loss, per_channel_loss, ssim_torch
from coursekit.normalize import normalization_spec

__all__ = [
    "train",
    "History",
    "LOSSES",
    "ssim_torch",
    "per_channel_loss",
    "masked_loss",
    "validation_loss",
    "pick_device",
]


# ---------------------------------------------------------------------------- validation
@torch.no_grad()
def validation_loss(
    model,
    val_data,
    *,
    loss: str = "mse",
    batch_size: int = 8,
    device="auto",
    max_samples: int = 256,
    ssim_weight: float = 1.0,
    amp: bool = False,
) -> float:
    """Mean masked loss of ``model`` over validation data, in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
    val_data : Dataset, IterableDataset, DataLoader or tuple
        Patches as for :func:`train`; or a tuple ``(inputs, targets[, label_mask])`` of
        arrays ``(N, C, *spatial)`` or of lists of fields ``(C, *spatial)`` (any sizes;
        already normalized like the training data).
    loss : {"mse", "l1", "mse+ssim"}
    batch_size : int
    device : str or torch.device
    max_samples : int
        Stop after this many samples (an ``IterableDataset`` may be endless).

    Returns
    -------
    float
        Sum of the per-label losses with mask 1 divided by their number.
    """
    check_choice(loss, "loss", LOSSES)
    dev = pick_device(device)
    was_training = model.training
    model.eval()
    model.to(dev)
    total, count, seen = 0.0, 0.0, 0
    try:
        if _is_array_tuple(val_data) and not isinstance(val_data, Dataset):
            items = list(val_data)
            if any(isinstance(a, (list, tuple)) for a in items[:2]):  # fields of any size
                xs, ys = items[0], items[1]
                masks = items[2] if len(items) == 3 else [None] * len(xs)
                if not (len(xs) == len(ys) == len(masks)):
                    raise ValueError(
                        "val_data: inputs, targets (and label_mask) need the same number of "
                        f"fields, got {len(xs)}, {len(ys)}, {len(masks)}"
                    )
                batches = (
                    (
                        _to_tensor(x, f"val inputs[{i}]")[None],
                        _to_tensor(y, f"val targets[{i}]")[None],
                        None if m is None else _to_tensor(m, f"val label_mask[{i}]")[None],
                    )
                    for i, (x, y, m) in enumerate(zip(xs, ys, masks))
                )
            else:
                batches = iter(
                    _make_loader(
                        val_data,
                        batch_size=batch_size,
                        num_workers=0,
                        generator=torch.Generator().manual_seed(0),
                        pin_memory=False,
                    )
                )
        elif isinstance(val_data, DataLoader):
            batches = iter(val_data)
        elif isinstance(val_data, (Dataset, IterableDataset)):
            batches = iter(DataLoader(val_data, batch_size=batch_size, shuffle=False))
        else:
            raise TypeError(
                "val_data: expected a Dataset, IterableDataset, DataLoader or a tuple of arrays "
                f"(inputs, targets[, label_mask]), got {type(val_data).__name__}"
            )
        first = True
        for batch in batches:
            x, y, mask = _unpack(batch, model, first=first, where="val_data")
            first = False
            x, y, mask = _to(x, dev), _to(y, dev), _to(mask, dev)
            with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=amp):
                pred = model(x)
            per = per_channel_loss(pred.float(), y.float(), loss, ssim_weight=ssim_weight)
            if mask is None:
                m = torch.ones_like(per)
            else:
                m = torch.broadcast_to(mask.to(per.dtype), per.shape)
            total += float((per * m).sum())
            count += float(m.sum())
            seen += x.shape[0]
            if seen >= max_samples:
                break
        if seen == 0:
            raise ValueError("val_data: no validation samples")
    finally:
        model.train(was_training)
    return total / count if count > 0 else float("nan")


# ---------------------------------------------------------------------------- live plot
class _LivePlot:
    def __init__(self):
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.fig, self.ax = plt.subplots(figsize=(6, 3.5))
        self.handle = display(self.fig, display_id=True)
        plt.close(self.fig)

    def update(self, history: History):
        self.ax.clear()
        history.plot(ax=self.ax)
        if self.handle is not None:
            self.handle.update(self.fig)


# ---------------------------------------------------------------------------- setup
@dataclass
class _Run:
    """Everything one training run holds, built by :func:`_setup`."""

    model: torch.nn.Module
    device: torch.device
    loader: DataLoader
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    use_amp: bool
    memory_format: object
    history: History
    loss: str
    ssim_weight: float
    lr: float
    plot: object = None
    stats: _InputStats | None = None


class _InputStats:
    """Running per-channel mean and standard deviation of the training inputs (kept on the
    device in float32, which MPS also supports; read once at the end), so that prediction
    can tell when an input is on another scale than the model was trained on."""

    def __init__(self):
        self.total = self.total_sq = None
        self.batches = 0

    def add(self, x: torch.Tensor) -> None:
        dims = [0, *range(2, x.dim())]
        xf = x.detach().float()
        m, m2 = xf.mean(dims), (xf * xf).mean(dims)  # per batch: every batch counts the same
        self.total = m if self.total is None else self.total + m
        self.total_sq = m2 if self.total_sq is None else self.total_sq + m2
        self.batches += 1

    def result(self) -> dict | None:
        if self.total is None:
            return None
        mean = (self.total / self.batches).double().cpu()
        var = (self.total_sq / self.batches).double().cpu() - mean * mean
        return {"mean": mean.tolist(), "std": var.clamp_min(0).sqrt().tolist()}


def _data_normalization(data):
    """The normalization the data applied (``PairedPatches``/``PatchStream``), or None."""
    source = data.dataset if isinstance(data, DataLoader) else data
    value = getattr(source, "normalization", None)
    if value is None:
        return None
    try:
        return normalization_spec(value)
    except (TypeError, ValueError):
        return None


def _setup(
    model,
    data,
    *,
    device,
    amp,
    channels_last,
    seed,
    batch_size,
    num_workers,
    lr,
    weight_decay,
    loss,
    ssim_weight,
    live_plot,
) -> _Run:
    """Device, data loader, optimizer (over the trainable parameters) and history."""
    dev = pick_device(device)
    use_amp = dev.type == "cuda" and amp in ("auto", True)
    if amp is True and dev.type != "cuda":
        warnings.warn(f"amp=True needs CUDA; training in float32 on {dev}", stacklevel=3)
    torch.manual_seed(seed)
    loader = _make_loader(
        data,
        batch_size=batch_size,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=dev.type == "cuda",
    )
    ndim = getattr(model, "ndim", None)
    if channels_last == "auto":
        channels_last = dev.type == "cuda"
    fmt = _memory_format(ndim) if channels_last and ndim in (2, 3) else None
    model.to(dev)
    if fmt is not None:
        model.to(memory_format=fmt)
    history = History(
        device=str(dev),
        n_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        loss=loss,
        batch_size=batch_size,
        normalization=_data_normalization(data),
    )
    plot = None
    if live_plot:
        try:
            plot = _LivePlot()
        except ImportError:
            warnings.warn("live_plot needs IPython (a notebook); continuing without", stacklevel=3)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError(
            "the model has no trainable parameters (every parameter has requires_grad=False); "
            "unfreeze some, e.g. coursekit.models.unfreeze(model)"
        )
    return _Run(
        model=model,
        device=dev,
        loader=loader,
        optimizer=torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay),
        scaler=torch.amp.GradScaler("cuda", enabled=use_amp),
        use_amp=use_amp,
        memory_format=fmt,
        history=history,
        loss=loss,
        ssim_weight=ssim_weight,
        lr=lr,
        plot=plot,
        stats=_InputStats(),
    )


# ---------------------------------------------------------------------------- step
def _float_buffers(model) -> list[torch.Tensor]:
    return [b for b in model.buffers() if b.is_floating_point()]


def _not_finite_message(value: float, step: int, x, y, lr: float) -> str:
    """Say where a non-finite loss came from and how to find the bad sample."""
    bad_x = (~torch.isfinite(x)).flatten(1).any(1).nonzero().flatten().tolist()
    bad_y = (~torch.isfinite(y)).flatten(1).any(1).nonzero().flatten().tolist()
    msg = f"the training loss became {value} at step {step} (the step's batch was not applied; "
    msg += "the model keeps the weights of the previous step). "
    if bad_x or bad_y:
        where = []
        if bad_x:
            where.append(f"input sample(s) {bad_x}")
        if bad_y:
            where.append(f"target sample(s) {bad_y}")
        msg += (
            f"In this batch of {x.shape[0]}, {' and '.join(where)} are not finite (NaN or "
            "infinite): find them in your data with e.g. "
            "[i for i in range(len(data)) if not np.isfinite(np.asarray(data[i][0])).all()] "
            "(and data[i][1] for targets), then fix or drop them."
        )
    else:
        msg += (
            "The batch's inputs and targets are finite, so the training diverged: try a "
            f"smaller learning rate (lr={lr}) or check the data for extreme values."
        )
    return msg


def _step(run: _Run, batch, step: int, schedule_fraction: float | None):
    """One optimizer step on ``batch``; returns the loss tensor (not synchronized).

    The loss is checked before the weights change: a non-finite loss (NaN input, a
    diverging run) raises with the batch's state restored, so the caller's model never
    holds NaN weights or batch-norm statistics.
    """
    model, dev = run.model, run.device
    x, y, mask = _unpack(batch, model, first=step == 0)
    if step == 0:
        run.history.batch_size = int(x.shape[0])
    x, y, mask = _to(x, dev, run.memory_format), _to(y, dev), _to(mask, dev)
    if schedule_fraction is not None:
        for group in run.optimizer.param_groups:
            group["lr"] = run.lr * 0.5 * (1.0 + math.cos(math.pi * min(schedule_fraction, 1.0)))
    saved = [b.detach().clone() for b in _float_buffers(model)]  # batch-norm statistics
    with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=run.use_amp):
        pred = model(x)
    value = masked_loss(pred.float(), y.float(), mask, run.loss, ssim_weight=run.ssim_weight)
    if not bool(torch.isfinite(value)):
        with torch.no_grad():
            for b, s in zip(_float_buffers(model), saved):
                b.copy_(s)
        raise ValueError(_not_finite_message(float(value.detach()), step + 1, x, y, run.lr))
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(value).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.stats.add(x)
    return value.detach()


# ---------------------------------------------------------------------------- validate
def _validate(run: _Run, val_data, step: int, *, batch_size: int, max_samples: int) -> None:
    v = validation_loss(
        run.model,
        val_data,
        loss=run.loss,
        batch_size=batch_size,
        device=run.device,
        max_samples=max_samples,
        ssim_weight=run.ssim_weight,
        amp=run.use_amp,
    )
    run.history.val_steps.append(step)
    run.history.val_loss.append(v)
    if run.plot is not None:
        run.plot.update(run.history)


def _record_data_scale(run: _Run) -> None:
    """Write what the model was trained on (normalization, input statistics) onto the model
    and into the history, so that save_checkpoint and predict find it."""
    model, history = run.model, run.history
    history.input_stats = run.stats.result()
    if history.normalization is not None:
        previous = getattr(model, "normalization", None)
        if previous is not None and normalization_spec(previous) != history.normalization:
            warnings.warn(
                f"the model was trained before with normalization {previous}; this run's data "
                f"uses {history.normalization}, which the model now records",
                stacklevel=3,
            )
        model.normalization = history.normalization
    if history.input_stats is not None:
        model.input_stats = history.input_stats


# ---------------------------------------------------------------------------- train
def train(
    model: torch.nn.Module,
    data,
    *,
    val_data=None,
    steps: int | None = None,
    seconds: float | None = None,
    loss: str = "mse",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 8,
    num_workers: int = 0,
    device="auto",
    seed: int = 0,
    progress: bool = True,
    live_plot: bool = False,
    val_every: int | None = None,
    amp="auto",
    ssim_weight: float = 1.0,
    channels_last="auto",
    val_max_samples: int = 256,
    schedule: str = "constant",
) -> History:
    """Train ``model`` with Adam until a number of steps or seconds is reached.

    Parameters
    ----------
    model : torch.nn.Module
        E.g. a :class:`~coursekit.models.UNet`; moved to ``device`` (in place) and left
        there, in eval mode, at the end. Only parameters with ``requires_grad`` are
        trained (see :func:`~coursekit.models.freeze_trunk`). The data's normalization
        and input statistics are recorded on it (``model.normalization``,
        ``model.input_stats``), for :func:`~coursekit.models.save_checkpoint` and
        :func:`~coursekit.models.predict`.
    data : Dataset, IterableDataset, DataLoader or tuple
        Yields ``(input (C_in, *patch), target (C_out, *patch)[, label_mask (C_out,)])``
        float32 samples (batched by a ``DataLoader`` you pass yourself), e.g.
        :class:`~coursekit.models.PairedPatches` or :class:`~coursekit.models.PatchStream`.
        A tuple ``(inputs, targets[, label_mask])`` of arrays ``(N, C, *patch)`` is wrapped
        in a ``TensorDataset`` (already normalized; no normalization is recorded). A
        map-style dataset is reshuffled every epoch (and its ``set_epoch`` called, if it
        has one).
    val_data : optional
        Validation patches (see :func:`validation_loss`), scored every ``val_every``
        steps and at the end.
    steps : int, optional
        Number of optimizer steps.
    seconds : float, optional
        Wall-clock budget. At least one of ``steps`` and ``seconds`` is required; with
        both, training stops at whichever comes first. Prefer ``steps``: the result is
        then the same on every machine.
    loss : {"mse", "l1", "mse+ssim"}
        See :func:`~coursekit.models.per_channel_loss`; masked per label by
        :func:`~coursekit.models.masked_loss`.
    lr, weight_decay : float
        Adam's learning rate and (L2) weight decay.
    batch_size, num_workers : int
        For the ``DataLoader`` built around ``data``.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device
        ``"auto"``: CUDA, then Apple MPS, then the CPU (:func:`pick_device`).
    schedule : {"cosine", "constant"}
        Learning-rate schedule over the budget: ``"constant"`` keeps ``lr``; ``"cosine"``
        decays it to zero along a half cosine of the fraction of the budget used (steps,
        or seconds elapsed, whichever is further along). On the course's DNA task both
        reach about the same r in 150 CPU steps; cosine lets a larger ``lr`` be used.
    seed : int
        Seeds torch (initial dropout masks, shuffling). On the CPU the run is repeatable:
        deterministic algorithms are switched on during training. The model's initial
        weights come from the caller: build it with ``UNet(..., seed=seed)`` (or
        ``torch.manual_seed`` before building it) so that one seed fixes the whole run;
        :func:`coursekit.experiments.train_on_simulator` does this when it builds the model.
    progress : bool
        A tqdm progress bar showing the loss.
    live_plot : bool
        In a notebook, redraw the loss curves (training and validation) as training runs.
    val_every : int, optional
        Steps between validations; default a tenth of ``steps`` (or 50 with only a time
        budget).
    amp : {"auto", True, False}
        Mixed precision (float16 autocast with gradient scaling); ``"auto"`` uses it on
        CUDA. Ignored (with a warning if ``True``) on other devices. For the small models
        here it changed an H200's steps per second by less than about 15 % either way;
        it saves GPU memory for large 3D patches.
    ssim_weight : float
        Weight of ``1 - SSIM`` in the ``"mse+ssim"`` loss.
    channels_last : {"auto", True, False}
        Channels-last memory format for the model and the inputs; ``"auto"`` uses it on
        CUDA. Measured: 1.4 to 2 times more steps per second on an H200 (default 2D and 3D
        U-Net, fnet_like), about 8 % on 2 CPU cores (default 2D U-Net, batch 8 of 64 x 64).
    val_max_samples : int
        Validation uses at most this many samples.

    Returns
    -------
    History
        With ``normalization`` and ``input_stats`` of the data.

    Raises
    ------
    ValueError
        Without a budget, for data that does not match the model, or when the loss
        becomes NaN or infinite. The loss is checked before each step changes the
        weights, so the model keeps the last finite weights; the message names the step
        and the samples of the batch that hold NaN or infinite values (or suggests a
        smaller ``lr`` when the data is finite).

    Examples
    --------
    >>> import numpy as np
    >>> from coursekit.models import UNet, PairedPatches
    >>> rng = np.random.default_rng(0)
    >>> x = [rng.random((1, 64, 64)).astype(np.float32)]
    >>> data = PairedPatches(x, [a**2 for a in x], patch_shape=(32, 32))
    >>> model = UNet(depth=2, base_channels=8, seed=0)
    >>> history = train(model, data, steps=3, progress=False)
    >>> len(history.train_loss), model.normalization
    (3, {'method': 'zscore'})
    """
    # -- arguments
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if steps is None and seconds is None:
        raise ValueError(
            "give a training budget: steps=... (optimizer steps) or seconds=... (wall-clock)"
        )
    if steps is not None:
        steps = check_int(steps, "steps", minimum=1)
    if seconds is not None:
        seconds = check_positive(seconds, "seconds")
    check_choice(loss, "loss", LOSSES)
    check_positive(lr, "lr")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    val_max_samples = check_int(val_max_samples, "val_max_samples", minimum=1)
    num_workers = check_int(num_workers, "num_workers", minimum=0)
    if val_every is None:
        val_every = max(1, steps // 10) if steps is not None else 50
    val_every = check_int(val_every, "val_every", minimum=1)
    check_choice(amp, "amp", ("auto", True, False))
    check_choice(channels_last, "channels_last", ("auto", True, False))
    check_choice(schedule, "schedule", ("cosine", "constant"))

    # -- setup
    run = _setup(
        model,
        data,
        device=device,
        amp=amp,
        channels_last=channels_last,
        seed=seed,
        batch_size=batch_size,
        num_workers=num_workers,
        lr=lr,
        weight_decay=weight_decay,
        loss=loss,
        ssim_weight=ssim_weight,
        live_plot=live_plot,
    )
    history, dev = run.history, run.device

    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not progress, desc="training", unit="step", leave=True)
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    pending: list[torch.Tensor] = []

    def flush():  # copy recorded losses to the host in groups (one sync per group on a GPU)
        if pending:
            history.train_loss.extend(torch.stack(pending).float().cpu().tolist())
            pending.clear()
            if progress:
                recent = history.train_loss[-20:]
                post = {"loss": f"{sum(recent) / len(recent):.4g}"}
                if history.val_loss:
                    post["val"] = f"{history.val_loss[-1]:.4g}"
                bar.set_postfix(post, refresh=False)

    def validate(step):
        flush()
        _validate(run, val_data, step, batch_size=batch_size, max_samples=val_max_samples)

    def budget_used(step):
        return max(
            step / steps if steps is not None else 0.0,
            (time.perf_counter() - start) / seconds if seconds is not None else 0.0,
        )

    start = time.perf_counter()
    step = 0
    model.train()
    try:
        batches = _endless(run.loader)
        while not (
            (steps is not None and step >= steps)
            or (seconds is not None and time.perf_counter() - start >= seconds)
        ):
            # -- step
            fraction = budget_used(step) if schedule == "cosine" else None
            pending.append(_step(run, next(batches), step, fraction))
            step += 1
            history.steps.append(step)
            history.time_s.append(time.perf_counter() - start)
            if len(pending) >= 10 or dev.type == "cpu":
                flush()
            bar.update(1)
            # -- validate
            if val_data is not None and step % val_every == 0:
                validate(step)
            elif run.plot is not None and step % max(1, val_every // 5) == 0:
                flush()
                run.plot.update(history)
        flush()
        if val_data is not None and step > 0 and history.val_steps[-1:] != [step]:
            validate(step)
    finally:
        bar.close()
        if dev.type == "cpu":
            torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
        flush()  # losses of the steps done, also when a step failed
        history.elapsed_s = time.perf_counter() - start
        if step > 0:
            _record_data_scale(run)
        model.eval()
    if run.plot is not None:
        run.plot.update(history)
    return history
