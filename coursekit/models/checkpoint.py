"""Saving and loading trained models, safely.

A checkpoint is one ``torch.save`` file holding only plain values (dicts, lists, strings,
numbers and tensors), so that :func:`load_checkpoint` can read it with
``torch.load(..., weights_only=True)``, which never runs code from the file. It stores the
model's weights, its class name and ``config`` (enough to rebuild it), the normalization
the model was trained with, the names of its input channels and labels, and the versions
of coursekit and torch that wrote it.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from coursekit.models.unet import UNet
from coursekit.normalize import normalization_spec

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "load_weights",
    "CheckpointError",
    "MODEL_CLASSES",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "coursekit-checkpoint"
FORMAT_VERSION = 1
MODEL_CLASSES: dict[str, type] = {"UNet": UNet}
_REQUIRED = ("format", "format_version", "class_name", "config", "state_dict")


class CheckpointError(ValueError):
    """A file is not a coursekit checkpoint, or does not fit the model."""


def _plain(value, where: str):
    """``value`` as plain Python types (dict/list/str/int/float/bool/None), or TypeError."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a str subclass (e.g. torch's TorchVersion) would not unpickle
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: dict keys must be strings, got {k!r}")
            out[k] = _plain(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray) and value.size <= 10_000:
        return _plain(value.tolist(), where)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    raise TypeError(
        f"{where}: checkpoints hold only plain values (dict, list, str, int, float, bool, None, "
        f"tensors), got {type(value).__name__}"
    )


def _names(names, n: int, what: str, arg: str):
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(s, str) for s in names):
        raise TypeError(f"{arg}: expected a list of strings, got {names!r}")
    names = list(names)
    if len(names) != n:
        raise ValueError(f"{arg}: the model has {n} {what}, got {len(names)} names {names}")
    return names


def save_checkpoint(
    path,
    model: torch.nn.Module,
    *,
    normalization=None,
    label_names=None,
    input_names=None,
    extra=None,
) -> Path:
    """Save a model with what is needed to rebuild and use it.

    Parameters
    ----------
    path : str or pathlib.Path
        File to write (conventionally ``.pt``); the parent folder is created.
    model : torch.nn.Module
        A model with a ``config`` dict (e.g. :class:`~coursekit.models.UNet`).
    normalization : str or dict, optional
        How inputs were normalized for training. Default: what
        :func:`~coursekit.models.train` recorded on the model (``model.normalization``,
        the training data's normalization), so it need not be repeated here.
    label_names : list of str, optional
        One name per output channel, e.g. ``["DNA", "membrane"]``.
    input_names : list of str, optional
        One name per input channel, e.g. ``["brightfield -2 um", "0 um", "+2 um"]``.
    extra : dict, optional
        Anything else of plain types (e.g. ``history.to_dict()``, the data set's name).

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, os
    >>> from coursekit.models import UNet, load_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> _ = save_checkpoint(path, UNet(depth=2), label_names=["DNA"], normalization="zscore")
    >>> model, info = load_checkpoint(path)
    >>> info["label_names"], model.config["depth"], model.normalization
    (['DNA'], 2, {'method': 'zscore'})
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        raise TypeError(
            f"model: a {type(model).__name__} has no config dict; save_checkpoint needs a model "
            "that can be rebuilt from its config, such as coursekit.models.UNet"
        )
    import coursekit

    if normalization is None:
        normalization = getattr(model, "normalization", None)
    input_stats = getattr(model, "input_stats", None)
    n_in = getattr(model, "in_channels", None)
    n_out = getattr(model, "out_channels", None)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class_name": type(model).__name__,
        "config": _plain(config, "config"),
        "state_dict": {
            k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()
        },
        "normalization": None if normalization is None else normalization_spec(normalization),
        "input_stats": None if input_stats is None else _plain(input_stats, "input_stats"),
        "frozen_parameters": [n for n, p in model.named_parameters() if not p.requires_grad],
        "label_names": _names(label_names, n_out, "output channels", "label_names")
        if n_out is not None
        else _plain(label_names, "label_names"),
        "input_names": _names(input_names, n_in, "input channels", "input_names")
        if n_in is not None
        else _plain(input_names, "input_names"),
        "extra": _plain(extra if extra is not None else {}, "extra"),
        "coursekit_version": str(coursekit.__version__),
        "torch_version": str(torch.__version__),
    }
    path = Path(path)
    _write_atomically(path, payload)
    return path


def _write_atomically(path: Path, payload: dict) -> None:
    """``torch.save`` to a unique temporary file beside ``path``, then ``os.replace``."""
    if path.is_dir():
        raise IsADirectoryError(
            f"cannot save the checkpoint to {path}: it is a folder; give a file name inside "
            f"it, e.g. {path / 'model.pt'}"
        )
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise NotADirectoryError(
            f"cannot save the checkpoint to {path}: {exc.filename or folder} is a file, not a "
            "folder"
        ) from exc
    except NotADirectoryError as exc:
        raise NotADirectoryError(
            f"cannot save the checkpoint to {path}: a part of {folder} is a file, not a folder"
        ) from exc
    except PermissionError as exc:
        raise PermissionError(
            exc.errno, f"cannot create the folder {folder} for the checkpoint (permission denied)"
        ) from exc
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except PermissionError as exc:
        raise PermissionError(
            exc.errno,
            f"cannot save the checkpoint to {path}: the folder {folder} is not writable; "
            "save it somewhere else (e.g. under your home folder)",
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # only our temporary file; the target is untouched
        raise


def _read(path, map_location="cpu") -> dict:
    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.pt"))[:5]
        hint = f" (it holds {found})" if found else ""
        raise IsADirectoryError(
            f"{path} is a folder, not a checkpoint file{hint}; pass the file, e.g. "
            f"{path / (found[0] if found else 'model.pt')}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever torch.load raises, the file is unusable
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()]
        msg = (errors or lines or [""])[-1]
        raise CheckpointError(
            f"{path} is not a coursekit checkpoint: torch.load could not read it "
            f"({type(exc).__name__}: {msg[:200]})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        if (
            isinstance(payload, dict)
            and payload
            and all(isinstance(v, torch.Tensor) for v in payload.values())
        ):
            hint = (
                "it looks like a bare state_dict (torch.save(model.state_dict())): load it with "
                "model.load_state_dict(torch.load(path, weights_only=True)), then save it with "
                "coursekit.models.save_checkpoint"
            )
        elif isinstance(payload, dict):
            keys = sorted(map(str, payload))[:8]
            hint = f"it holds a dict with keys {keys}, without 'format': {FORMAT!r}"
        else:
            hint = f"it holds a {type(payload).__name__}, not a checkpoint dict"
        raise CheckpointError(f"{path} is not a coursekit checkpoint: {hint}")
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{path} is a damaged coursekit checkpoint: missing {missing}")
    version = payload["format_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(
            f"{path} is a damaged or foreign checkpoint: format_version {version!r} is not an "
            f"integer (coursekit writes format_version {FORMAT_VERSION}); re-save the model "
            "with coursekit.models.save_checkpoint"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer coursekit (checkpoint format "
            f"{payload['format_version']}, this one reads up to {FORMAT_VERSION}); update "
            "coursekit"
        )
    return payload


def _signature(class_name: str, config, keys) -> str:
    if not isinstance(config, dict):
        return f"{class_name}(...)"
    shown = [f"{k}={config[k]!r}" for k in keys if k in config]
    rest = ", ..." if len(shown) < len(config) else ""
    return f"{class_name}({', '.join(shown)}{rest})"


def _config_diff(a, b) -> list[str]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    out = []
    for k in list(a) + [k for k in b if k not in a]:
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        same = va == vb or (
            isinstance(va, (int, float)) and isinstance(vb, (int, float)) and math.isclose(va, vb)
        )
        if not same:
            out.append(k)
    return out


def load_checkpoint(path, *, map_location="cpu"):
    """Rebuild a model from a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : str or pathlib.Path
    map_location : str or torch.device
        Where the weights go (``"cpu"``, ``"cuda"``); the model is moved there.

    Returns
    -------
    model : torch.nn.Module
        In eval mode.
    info : dict
        Everything else in the file: ``class_name``, ``config``, ``normalization``
        (``percentiles`` also for files that stored ``pmin``/``pmax``), ``input_stats``,
        ``frozen_parameters``, ``label_names``, ``input_names``, ``extra``,
        ``coursekit_version``, ``torch_version``, ``format_version``, and ``path``. The
        model also carries ``normalization`` and ``input_stats`` as attributes, so
        :func:`~coursekit.models.predict` normalizes new images as in training by
        default; its frozen parameters are frozen again.

    Raises
    ------
    FileNotFoundError
    IsADirectoryError
        When ``path`` is a folder (the message lists the checkpoints in it).
    CheckpointError
        For a file that is not a coursekit checkpoint or whose weights do not fit its
        architecture.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from coursekit.models import UNet, predict
    >>> path = save_checkpoint(os.path.join(tempfile.mkdtemp(), "model.pt"),
    ...                        UNet(depth=2, seed=0), normalization="zscore")
    >>> model, info = load_checkpoint(path)
    >>> counts = np.random.default_rng(0).poisson(300, (64, 64)).astype(np.uint16)
    >>> predict(model, counts).shape  # normalized as in training, from the checkpoint
    (64, 64)
    """
    payload = _read(path, map_location)
    name = payload["class_name"]
    cls = MODEL_CLASSES.get(name)
    if cls is None:
        raise CheckpointError(
            f"{path} holds a {name}, which coursekit does not know how to build "
            f"(known: {sorted(MODEL_CLASSES)})"
        )
    try:
        model = cls(**payload["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: cannot rebuild {name} from its stored config {payload['config']}: {exc}"
        ) from exc
    _load_state(model, payload, path)
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)
    model.eval()
    info = _info(payload, path)
    _attach(model, info)
    frozen = set(payload.get("frozen_parameters") or [])
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)
    return model, info


def _info(payload: dict, path) -> dict:
    info = {k: v for k, v in payload.items() if k != "state_dict"}
    info.setdefault("input_stats", None)
    info.setdefault("frozen_parameters", [])
    if info.get("normalization") is not None:  # older files: pmin/pmax -> percentiles
        try:
            info["normalization"] = normalization_spec(info["normalization"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{path}: its stored normalization {info['normalization']!r} is not valid: {exc}"
            ) from exc
    info["path"] = str(path)
    return info


def _attach(model, info: dict) -> None:
    """Give the model what it was trained with, for predict's defaults."""
    model.normalization = info.get("normalization")
    model.input_stats = info.get("input_stats")


def _load_state(model, payload, path):
    state = payload["state_dict"]
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if not (missing or unexpected or shapes):
        model.load_state_dict(state)
        return []
    ck_cfg, m_cfg = payload.get("config"), getattr(model, "config", None)
    diff = _config_diff(ck_cfg, m_cfg)
    msg = f"{path} does not fit this model: "
    if diff:
        ck_sig = _signature(payload["class_name"], ck_cfg, diff)
        m_sig = _signature(type(model).__name__, m_cfg, diff)
        details = ", ".join(
            f"{k} ({ck_cfg.get(k, '<absent>')!r} vs {m_cfg.get(k, '<absent>')!r})" for k in diff
        )
        msg += (
            f"the checkpoint is a {ck_sig} but the model is a {m_sig}; they differ in {details}. "
        )
    elif payload["class_name"] != type(model).__name__:
        msg += (
            f"the checkpoint holds a {payload['class_name']} but the model is a "
            f"{type(model).__name__}. "
        )
    parts = []
    if missing:
        parts.append(f"{len(missing)} weight(s) missing from the checkpoint (e.g. {missing[:3]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected weight(s) (e.g. {unexpected[:3]})")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatch(es) (e.g. {'; '.join(shapes[:3])})")
    msg += "; ".join(parts) + "."
    if diff:
        msg += " Rebuild the model with UNet(**info['config']) or use load_checkpoint(path)."
    raise CheckpointError(msg)


def load_weights(model: torch.nn.Module, path, *, map_location="cpu") -> dict:
    """Load a checkpoint's weights into an existing model of the same architecture.

    Parameters
    ----------
    model : torch.nn.Module
        Receives the weights in place (on whatever device it is).
    path : str or pathlib.Path
    map_location : str or torch.device
        Where ``torch.load`` puts the tensors before copying.

    Returns
    -------
    dict
        The checkpoint's information (as ``info`` of :func:`load_checkpoint`).

    Raises
    ------
    CheckpointError
        For a file that is not a checkpoint, or a model of a different architecture
        (the message names the configuration values and weights that differ).

    Examples
    --------
    >>> import os, tempfile
    >>> path = save_checkpoint(os.path.join(tempfile.mkdtemp(), "model.pt"), UNet(depth=2))
    >>> info = load_weights(UNet(depth=2), path)
    >>> info["config"]["depth"]
    2
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    payload = _read(path, map_location)
    _load_state(model, payload, path)
    diff = _config_diff(payload.get("config"), getattr(model, "config", None))
    if diff:
        warnings.warn(
            f"loaded the weights of {path}, but its config differs in {diff} (settings that do "
            "not change the weights, such as dropout)",
            stacklevel=2,
        )
    info = _info(payload, path)
    _attach(model, info)
    return info
