"""Turning training data into batches: arrays, datasets, iterable streams or loaders in,
validated ``(input, target, label_mask)`` tensors out. Used by the training loop and by
:func:`~coursekit.models.validation_loss`."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from coursekit._validation import check_array

__all__: list[str] = []  # internal to the training loop and validation_loss


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
