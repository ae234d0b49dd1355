"""Choosing the compute device: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch

__all__ = ["pick_device", "model_device"]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(device="auto") -> torch.device:
    """Return the device to compute on.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "mps"}, str or torch.device
        ``"auto"`` picks the first available of CUDA, Apple MPS and the CPU. Any other
        string torch understands (``"cuda:1"``) or a ``torch.device`` is checked for
        availability and returned.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        For an unknown device name, or a device that this machine does not have.

    Examples
    --------
    >>> pick_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda', 'mps' or a "
                "torch.device"
            ) from exc
    else:
        raise TypeError(f"device: expected 'auto', a string or a torch.device, got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but CUDA is not available on this machine")
    if dev.type == "mps" and not _mps_available():
        raise ValueError("device 'mps' was requested but Apple MPS is not available here")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {str(dev)!r}; expected cpu, cuda or mps")
    return dev


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a model's first parameter (the CPU for a model without parameters)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def resolve_device(model: torch.nn.Module, device="auto") -> torch.device:
    """Device for inference: ``"auto"`` keeps a model already on an accelerator there."""
    if device is None or (isinstance(device, str) and device == "auto"):
        current = model_device(model)
        if current.type != "cpu":
            return current
    return pick_device(device)
