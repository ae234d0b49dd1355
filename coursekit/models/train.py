"""Training loop: Adam on a masked per-label loss, with a step or time budget.

:func:`train` takes a model and paired patches (a map-style ``Dataset`` such as
:class:`~coursekit.models.PairedPatches`, an ``IterableDataset`` such as the virtual
microscope's ``PatchStream``, or a ``DataLoader``) yielding ``(input, target)`` or
``(input, target, label_mask)``; it returns a :class:`History` of the losses.

The loss is computed per sample and per label (output channel), multiplied by the label
mask (0 where a field has no image of that label) and averaged over the labels present,
so a multi-task model learns each label only from the fields that have it.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from coursekit._validation import check_array, check_choice, check_positive
from coursekit.models.device import pick_device

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

LOSSES = ("mse", "l1", "mse+ssim")


# ---------------------------------------------------------------------------- SSIM
def _gaussian_1d(size: int, sigma: float, dtype, device) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-0.5 * (r / sigma) ** 2)
    return (g / g.sum()).to(dtype)


def _gaussian_filter_valid(x: torch.Tensor, sizes, sigma: float) -> torch.Tensor:
    """Separable Gaussian filter of ``(M, 1, *spatial)`` without padding ("valid")."""
    nd = x.dim() - 2
    conv = F.conv2d if nd == 2 else F.conv3d
    for axis, size in enumerate(sizes):
        if size <= 1:
            continue
        shape = [1, 1] + [1] * nd
        shape[2 + axis] = size
        x = conv(x, _gaussian_1d(size, sigma, x.dtype, x.device).reshape(shape))
    return x


def ssim_torch(
    prediction: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range=None,
    sigma: float = 1.5,
    win_size: int = 11,
) -> torch.Tensor:
    """Differentiable structural similarity (Wang et al. 2004) per sample and channel.

    Gaussian-weighted local means, variances and covariance (``sigma`` pixels, window
    ``win_size`` pixels truncated to the image along short axes), evaluated where the
    window fits inside the image, then averaged. Matches
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=...)`` in 2D.

    Parameters
    ----------
    prediction, target : torch.Tensor
        ``(N, C, Y, X)`` or ``(N, C, Z, Y, X)``, the same shape.
    data_range : float or torch.Tensor, optional
        Dynamic range ``L`` in ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``: a number, or a
        tensor broadcastable to ``(N, C)``. Default: the range (max - min) of each target
        sample and channel (at least 1e-6), without gradient.
    sigma : float
        Standard deviation of the Gaussian window, pixels.
    win_size : int
        Window size, pixels (odd).

    Returns
    -------
    torch.Tensor
        ``(N, C)`` SSIM values, 1 for identical images.

    Examples
    --------
    >>> a = torch.rand(2, 1, 32, 32)
    >>> ssim_torch(a, a).shape
    torch.Size([2, 1])
    """
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction and target must have the same shape, got {tuple(prediction.shape)} "
            f"and {tuple(target.shape)}"
        )
    if prediction.dim() not in (4, 5):
        raise ValueError(
            f"ssim_torch expects (N, C, Y, X) or (N, C, Z, Y, X) tensors, got shape "
            f"{tuple(prediction.shape)}"
        )
    n, c = prediction.shape[:2]
    spatial = prediction.shape[2:]
    sizes = []
    for s in spatial:
        w = min(int(win_size), int(s))
        sizes.append(w if w % 2 == 1 else w - 1)
    a = prediction.reshape(n * c, 1, *spatial)
    b = target.reshape(n * c, 1, *spatial)
    if data_range is None:
        flat = target.detach().reshape(n, c, -1)
        data_range = (flat.amax(-1) - flat.amin(-1)).clamp_min(1e-6)
    rng = torch.as_tensor(data_range, dtype=a.dtype, device=a.device)
    rng = torch.broadcast_to(rng, (n, c)).reshape(n * c, *([1] * (len(spatial) + 1)))
    c1 = (0.01 * rng) ** 2
    c2 = (0.03 * rng) ** 2
    stacked = torch.cat([a, b, a * a, b * b, a * b], dim=1)  # one filtering pass
    m = stacked.shape[0]
    filt = _gaussian_filter_valid(stacked.reshape(m * 5, 1, *spatial), sizes, sigma)
    filt = filt.reshape(m, 5, *filt.shape[2:])
    mu_a, mu_b, aa, bb, ab = (filt[:, i : i + 1] for i in range(5))
    var_a = aa - mu_a * mu_a
    var_b = bb - mu_b * mu_b
    cov = ab - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return (num / den).reshape(n, c, -1).mean(-1)


# ---------------------------------------------------------------------------- losses
def per_channel_loss(
    prediction: torch.Tensor, target: torch.Tensor, loss: str = "mse", *, ssim_weight=1.0
) -> torch.Tensor:
    """Loss per sample and channel, ``(N, C)``.

    ``"mse"``: mean squared error; ``"l1"``: mean absolute error; ``"mse+ssim"``:
    ``mse + ssim_weight * (1 - SSIM)`` (see :func:`ssim_torch`).
    """
    check_choice(loss, "loss", LOSSES)
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ in shape"
        )
    diff = prediction - target
    dims = tuple(range(2, diff.dim()))
    if loss == "l1":
        return diff.abs().mean(dim=dims)
    out = (diff * diff).mean(dim=dims)
    if loss == "mse+ssim":
        out = out + ssim_weight * (1 - ssim_torch(prediction, target))
    return out


def masked_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    loss: str = "mse",
    *,
    ssim_weight: float = 1.0,
) -> torch.Tensor:
    """Mean loss over the (sample, label) pairs whose mask is 1.

    Parameters
    ----------
    prediction, target : torch.Tensor
        ``(N, C, *spatial)``.
    mask : torch.Tensor, optional
        ``(N, C)`` of 0/1 (or ``(C,)``, the same for all samples). A label with mask 0
        contributes neither loss nor gradient. Default: all ones.
    loss : {"mse", "l1", "mse+ssim"}

    Returns
    -------
    torch.Tensor
        A scalar; 0 when every mask entry is 0.

    Examples
    --------
    >>> p, t = torch.zeros(2, 2, 4, 4), torch.ones(2, 2, 4, 4)
    >>> t[:, 1] = 100.0  # a label that these samples do not have
    >>> float(masked_loss(p, t, torch.tensor([[1.0, 0.0], [1.0, 0.0]])))
    1.0
    """
    per = per_channel_loss(prediction, target, loss, ssim_weight=ssim_weight)
    if mask is None:
        return per.mean()
    mask = torch.broadcast_to(mask.to(per.dtype), per.shape)
    return (per * mask).sum() / mask.sum().clamp_min(1.0)


# ---------------------------------------------------------------------------- history
@dataclass
class History:
    """Losses recorded by :func:`train`.

    Attributes
    ----------
    steps : list of int
        Optimizer steps (1-based) at which ``train_loss`` was recorded (every step).
    train_loss : list of float
        Training loss of each step's batch.
    val_steps, val_loss : list
        Steps at which the validation loss was computed, and its value.
    elapsed_s : float
        Wall-clock training time, seconds (validation included).
    device : str
    n_parameters : int
    loss : str
        The loss function's name.
    batch_size : int
        Samples in the first batch.
    time_s : list of float
        Seconds since the start at each entry of ``steps``.
    """

    steps: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_steps: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    elapsed_s: float = 0.0
    device: str = "cpu"
    n_parameters: int = 0
    loss: str = "mse"
    batch_size: int = 0
    time_s: list = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        """Optimizer steps per second of wall-clock time."""
        return len(self.steps) / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def smoothed_train_loss(self, window: int | None = None) -> np.ndarray:
        """Running mean of the training loss over ``window`` steps (default ~2 % of steps)."""
        y = np.asarray(self.train_loss, dtype=float)
        if y.size == 0:
            return y
        window = window or max(1, len(y) // 50)
        c = np.cumsum(np.insert(y, 0, 0.0))
        out = np.empty_like(y)
        for i in range(len(y)):
            lo = max(0, i + 1 - window)
            out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
        return out

    def plot(self, ax=None, *, logy: bool = True):
        """Draw the training (raw and smoothed) and validation loss against the step.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Default: a new figure.
        logy : bool
            Logarithmic loss axis (when all losses are positive).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        if self.steps:
            ax.plot(self.steps, self.train_loss, color="C0", alpha=0.25, lw=0.8)
            ax.plot(self.steps, self.smoothed_train_loss(), color="C0", label="training")
        if self.val_steps:
            ax.plot(self.val_steps, self.val_loss, "o-", color="C1", label="validation")
        ax.set_xlabel("training step")
        ax.set_ylabel(f"loss ({self.loss})")
        values = list(self.train_loss) + list(self.val_loss)
        if logy and values and min(values) > 0:
            ax.set_yscale("log")
        if self.steps or self.val_steps:
            ax.legend(loc="upper right")
        ax.set_title(f"{len(self.steps)} steps in {self.elapsed_s:.0f} s on {self.device}")
        return ax

    def to_dict(self) -> dict:
        """Plain lists, numbers and strings (JSON- and checkpoint-friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**d)


# ---------------------------------------------------------------------------- data
def _is_array_tuple(data) -> bool:
    return isinstance(data, (tuple, list)) and 2 <= len(data) <= 3


def _to_tensor(a, name: str) -> torch.Tensor:
    arr = check_array(a, name, allow_int=name.endswith("label_mask"))  # masks may be 0/1 ints
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def _make_loader(data, *, batch_size, num_workers, generator, pin_memory) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if _is_array_tuple(data) and not isinstance(data, Dataset):
        tensors = [_to_tensor(a, n) for a, n in zip(data, ("inputs", "targets", "label_mask"))]
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError(
                "data: inputs, targets (and label_mask) need the same number of samples, got "
                f"{[tuple(t.shape) for t in tensors]}"
            )
        data = TensorDataset(*tensors)
    if isinstance(data, IterableDataset):
        return DataLoader(
            data,
            batch_size=batch_size,
            num_workers=num_workers,
            generator=generator,
            pin_memory=pin_memory,
        )
    if isinstance(data, Dataset):
        if len(data) == 0:
            raise ValueError("data: the dataset is empty")
        return DataLoader(
            data,
            batch_size=batch_size,
            shuffle=True,
            num_workers=num_workers,
            generator=generator,
            pin_memory=pin_memory,
        )
    raise TypeError(
        "data: expected a torch Dataset, IterableDataset or DataLoader (or a tuple of "
        f"arrays (inputs, targets[, label_mask])), got {type(data).__name__}"
    )


def _endless(loader: DataLoader):
    epoch = 0
    while True:
        ds = loader.dataset
        if hasattr(ds, "set_epoch"):
            ds.set_epoch(epoch)
        n = 0
        for batch in loader:
            n += 1
            yield batch
        if n == 0:
            raise ValueError("data: the data loader yielded no batches")
        epoch += 1


def _unpack(batch, model, *, first: bool, where: str = "data"):
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError(
            f"{where}: each batch must be (input, target) or (input, target, label_mask), got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if hasattr(batch, "__len__") else "")
        )
    x, y = batch[0], batch[1]
    mask = batch[2] if len(batch) == 3 else None
    if first:
        for name, t in (("input", x), ("target", y)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{where}: {name} batch is a {type(t).__name__}, not a tensor")
            if not torch.is_floating_point(t):
                raise TypeError(
                    f"{where}: expected floating-point {name} patches, got {t.dtype}; "
                    "normalize camera counts first (e.g. PairedPatches does)"
                )
        ndim = getattr(model, "ndim", x.dim() - 2)
        if x.dim() != ndim + 2 or y.dim() != ndim + 2:
            raise ValueError(
                f"{where}: expected batches of shape (N, C, *spatial) with {ndim} spatial axes, "
                f"got input {tuple(x.shape)} and target {tuple(y.shape)}"
            )
        cin = getattr(model, "in_channels", x.shape[1])
        cout = getattr(model, "out_channels", y.shape[1])
        if x.shape[1] != cin:
            raise ValueError(
                f"{where}: the model expects {cin} input channel(s), the data has "
                f"{x.shape[1]} (input batch {tuple(x.shape)})"
            )
        if y.shape[1] != cout:
            raise ValueError(
                f"{where}: the model predicts {cout} label(s), the targets have {y.shape[1]} "
                f"channel(s) (target batch {tuple(y.shape)})"
            )
        if x.shape[2:] != y.shape[2:] or x.shape[0] != y.shape[0]:
            raise ValueError(
                f"{where}: input {tuple(x.shape)} and target {tuple(y.shape)} batches differ "
                "in batch size or spatial shape"
            )
        if mask is not None and tuple(mask.shape) not in ((y.shape[0], cout), (cout,)):
            raise ValueError(
                f"{where}: label_mask must have shape (N, C_out) = {(y.shape[0], cout)}, got "
                f"{tuple(mask.shape)}"
            )
    return x, y, mask


def _to(t, device, memory_format=None):
    if t is None:
        return None
    t = t.to(device, non_blocking=True)
    if memory_format is not None and t.dim() in (4, 5):
        t = t.contiguous(memory_format=memory_format)
    return t


def _memory_format(ndim: int):
    return torch.channels_last if ndim == 2 else torch.channels_last_3d


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


# ---------------------------------------------------------------------------- train
def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


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
        there, in eval mode, at the end.
    data : Dataset, IterableDataset, DataLoader or tuple
        Yields ``(input (C_in, *patch), target (C_out, *patch)[, label_mask (C_out,)])``
        float32 samples (batched by a ``DataLoader`` you pass yourself), e.g.
        :class:`~coursekit.models.PairedPatches` or the microscope's ``PatchStream``. A
        tuple ``(inputs, targets[, label_mask])`` of arrays ``(N, C, *patch)`` is wrapped in
        a ``TensorDataset``. A map-style dataset is reshuffled every epoch (and its
        ``set_epoch`` called, if it has one).
    val_data : optional
        Validation patches (see :func:`validation_loss`), scored every ``val_every``
        steps and at the end.
    steps : int, optional
        Number of optimizer steps.
    seconds : float, optional
        Wall-clock budget. At least one of ``steps`` and ``seconds`` is required; with
        both, training stops at whichever comes first.
    loss : {"mse", "l1", "mse+ssim"}
        See :func:`per_channel_loss`; masked per label by :func:`masked_loss`.
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
        weights come from the caller: ``torch.manual_seed`` before building it.
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

    Raises
    ------
    ValueError
        Without a budget, for data that does not match the model, or when the loss
        becomes NaN or infinite (try a smaller ``lr``).

    Examples
    --------
    >>> import numpy as np
    >>> from coursekit.models import UNet, PairedPatches
    >>> rng = np.random.default_rng(0)
    >>> x = [rng.random((1, 64, 64)).astype(np.float32)]
    >>> data = PairedPatches(x, [a**2 for a in x], patch_shape=(32, 32))
    >>> history = train(UNet(depth=2, base_channels=8), data, steps=3, progress=False)
    >>> len(history.train_loss)
    3
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if steps is None and seconds is None:
        raise ValueError(
            "give a training budget: steps=... (optimizer steps) or seconds=... (wall-clock)"
        )
    if steps is not None:
        steps = _check_count(steps, "steps")
    if seconds is not None:
        seconds = check_positive(seconds, "seconds")
    check_choice(loss, "loss", LOSSES)
    check_positive(lr, "lr")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    batch_size = _check_count(batch_size, "batch_size")
    val_max_samples = _check_count(val_max_samples, "val_max_samples")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers: expected an integer >= 0, got {num_workers!r}")
    if val_every is None:
        val_every = max(1, steps // 10) if steps is not None else 50
    val_every = _check_count(val_every, "val_every")
    check_choice(amp, "amp", ("auto", True, False))
    check_choice(channels_last, "channels_last", ("auto", True, False))
    check_choice(schedule, "schedule", ("cosine", "constant"))

    dev = pick_device(device)
    use_amp = dev.type == "cuda" and amp in ("auto", True)
    if amp is True and dev.type != "cuda":
        warnings.warn(f"amp=True needs CUDA; training in float32 on {dev}", stacklevel=2)

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    loader = _make_loader(
        data,
        batch_size=batch_size,
        num_workers=num_workers,
        generator=generator,
        pin_memory=dev.type == "cuda",
    )
    ndim = getattr(model, "ndim", None)
    if channels_last == "auto":
        channels_last = dev.type == "cuda"
    fmt = _memory_format(ndim) if channels_last and ndim in (2, 3) else None
    model.to(dev)
    if fmt is not None:
        model.to(memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history = History(
        device=str(dev),
        n_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        loss=loss,
        batch_size=batch_size,
    )
    plot = None
    if live_plot:
        try:
            plot = _LivePlot()
        except ImportError:
            warnings.warn("live_plot needs IPython (a notebook); continuing without", stacklevel=2)

    from tqdm.auto import tqdm

    bar = tqdm(total=steps, disable=not progress, desc="training", unit="step", leave=True)
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    pending: list[torch.Tensor] = []

    def flush():
        if pending:
            values = torch.stack(pending).float().cpu().tolist()
            pending.clear()
            bad = [v for v in values if not math.isfinite(v)]
            if bad and not use_amp:
                raise ValueError(
                    f"the training loss became {bad[0]} at step {len(history.train_loss) + 1}"
                    f"; try a smaller learning rate (lr={lr}) or check the data for extreme "
                    "values"
                )
            history.train_loss.extend(values)
            if progress:
                recent = history.train_loss[-20:]
                post = {"loss": f"{sum(recent) / len(recent):.4g}"}
                if history.val_loss:
                    post["val"] = f"{history.val_loss[-1]:.4g}"
                bar.set_postfix(post, refresh=False)

    def validate(step):
        flush()
        v = validation_loss(
            model,
            val_data,
            loss=loss,
            batch_size=batch_size,
            device=dev,
            max_samples=val_max_samples,
            ssim_weight=ssim_weight,
            amp=use_amp,
        )
        history.val_steps.append(step)
        history.val_loss.append(v)
        if plot is not None:
            plot.update(history)

    start = time.perf_counter()
    step = 0
    model.train()
    try:
        batches = _endless(loader)
        while True:
            if steps is not None and step >= steps:
                break
            if seconds is not None and time.perf_counter() - start >= seconds:
                break
            x, y, mask = _unpack(next(batches), model, first=step == 0)
            if step == 0:
                history.batch_size = int(x.shape[0])
            x, y, mask = _to(x, dev, fmt), _to(y, dev), _to(mask, dev)
            if schedule == "cosine":
                done = max(
                    step / steps if steps is not None else 0.0,
                    (time.perf_counter() - start) / seconds if seconds is not None else 0.0,
                )
                for group in optimizer.param_groups:
                    group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * min(done, 1.0)))
            with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp):
                pred = model(x)
            value = masked_loss(pred.float(), y.float(), mask, loss, ssim_weight=ssim_weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(value).backward()
            scaler.step(optimizer)
            scaler.update()
            step += 1
            pending.append(value.detach())
            history.steps.append(step)
            history.time_s.append(time.perf_counter() - start)
            if len(pending) >= 10 or dev.type == "cpu":
                flush()
            bar.update(1)
            if val_data is not None and step % val_every == 0:
                validate(step)
            elif plot is not None and step % max(1, val_every // 5) == 0:
                flush()
                plot.update(history)
        flush()
        if (
            val_data is not None
            and step > 0
            and (not history.val_steps or history.val_steps[-1] != step)
        ):
            validate(step)
    finally:
        bar.close()
        if dev.type == "cpu":
            torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
        history.elapsed_s = time.perf_counter() - start
        model.eval()
    if plot is not None:
        plot.update(history)
    return history
