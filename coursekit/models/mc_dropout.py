"""Monte Carlo dropout (Gal & Ghahramani 2016), in one place: the switch that keeps a model's
dropout sampling at inference (:func:`enable_mc_dropout`, also ``UNet.enable_mc_dropout``),
and the one function that predicts with it (:func:`predict_mc_dropout`, which
``coursekit.hallucination.mc_dropout_uncertainty`` is another name for).

Batch norm uses its running statistics (eval mode) and does not update them; only the
dropout layers sample. The spread of the samples is one estimate of the model's (epistemic)
uncertainty; it is not a calibrated error bar, and a confidently wrong model can have a small
spread.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from coursekit._validation import check_int

__all__ = [
    "enable_mc_dropout",
    "mc_dropout_mode",
    "predict_mc_dropout",
    "DEFAULT_MC_SAMPLES",
    "SPREAD_DDOF",
]

#: Stochastic passes by default: the spread's relative standard error is about
#: 1 / sqrt(2 (n - 1)), 16 % for 20 samples.
DEFAULT_MC_SAMPLES = 20
#: Delta degrees of freedom of every spread in coursekit (MC dropout and ensembles): the
#: sample standard deviation, whose square is the unbiased variance of the samples.
SPREAD_DDOF = 1


def _dropout_layers(model: nn.Module) -> list[nn.Module]:
    """Every dropout layer (``Dropout``, ``Dropout1d/2d/3d``, ``AlphaDropout``,
    ``FeatureAlphaDropout``: all subclass ``_DropoutNd``) that drops something."""
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0]


def enable_mc_dropout(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Put ``model`` in eval mode but keep its dropout layers sampling (``enabled``).

    Repeated predictions of the same input then differ, and their spread estimates the
    model's uncertainty. ``model.eval()`` or ``model.train()`` undo it.

    Parameters
    ----------
    model : torch.nn.Module
        With at least one dropout layer of ``p > 0``.
    enabled : bool
        False: plain eval mode.

    Returns
    -------
    torch.nn.Module
        ``model``.

    Raises
    ------
    ValueError
        When the model has no dropout layer with ``p > 0``.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.5))
    >>> enable_mc_dropout(net)[1].training, net.training
    (True, False)
    """
    layers = _dropout_layers(model)
    if enabled and not layers:
        raise ValueError(
            "the model has no dropout layers with p > 0 (a UNet built with dropout=0 has "
            "none), so Monte Carlo dropout would give identical samples; build and train it "
            "with dropout, e.g. UNet(..., dropout=0.1), or use ensemble_uncertainty"
        )
    model.eval()
    for m in layers:
        m.train(enabled)
    return model


@contextlib.contextmanager
def mc_dropout_mode(model: nn.Module):
    """Within the block, the model samples its dropout (:func:`enable_mc_dropout`); every
    module's mode is restored afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        enable_mc_dropout(model)
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


def predict_mc_dropout(
    model: nn.Module,
    image,
    n_samples: int = DEFAULT_MC_SAMPLES,
    *,
    tile=None,
    overlap=None,
    margin=None,
    batch_size: int = 4,
    device="auto",
    normalization="model",
    seed: int | None = 0,
    progress: bool = True,
):
    """Monte Carlo dropout: mean and spread of predictions with dropout left on.

    Parameters
    ----------
    model : torch.nn.Module
        A model with dropout (e.g. ``UNet(..., dropout=0.1)``), trained with it; any model
        with a dropout layer works.
    image : array_like
        One image, as for :func:`~coursekit.models.predict`: ``(C_in, *spatial)`` (or
        ``spatial`` for one channel), numpy or torch.
    n_samples : int
        Number of stochastic passes (>= 2); default :data:`DEFAULT_MC_SAMPLES`.
    tile, overlap, margin : optional
        With ``tile``, each sample is predicted tile by tile (as
        :func:`~coursekit.models.predict_tiled`).
    batch_size : int
        Copies of the image (or tiles, with ``tile``) per forward pass.
    device, normalization :
        As for :func:`~coursekit.models.predict` (the model's stored normalization by
        default).
    seed : int, optional
        Seeds the dropout masks (without touching torch's global random state); the same
        seed gives the same result whatever ``batch_size``.
    progress : bool
        A progress bar over the samples.

    Returns
    -------
    mean, std : numpy.ndarray
        float32, the shape :func:`~coursekit.models.predict` returns; ``std`` is the
        standard deviation over the samples with ``ddof`` = :data:`SPREAD_DDOF` (1).

    Raises
    ------
    ValueError
        When the model has no dropout layer with ``p > 0``, or ``n_samples < 2``.

    Examples
    --------
    >>> from coursekit.models import UNet
    >>> model = UNet(dropout=0.2)
    >>> mean, std = predict_mc_dropout(model, np.zeros((32, 32)), 3, progress=False)
    >>> mean.shape, bool((std >= 0).all())
    ((32, 32), True)
    """
    from tqdm.auto import tqdm

    from coursekit.models.device import resolve_device
    from coursekit.models.predict import (
        _check_model,
        _finish,
        _predict_tiled_array,
        _prepare,
        _spatial_ndim,
        _tile_args,
        _transforms,
    )

    _check_model(model)
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    x, has_channel = _prepare(model, image, normalization)
    nd = _spatial_ndim(model, x)
    if tile is not None:
        tile_, overlap_, margin_ = _tile_args(tile, overlap, margin, nd)
    transforms = _transforms(False, nd)
    dev = resolve_device(model, device)
    model.to(dev)
    xt = torch.from_numpy(x).to(dev)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    mean = m2 = None
    count = 0

    def add(sample: np.ndarray):  # Welford: exact zero spread for identical passes
        nonlocal mean, m2, count
        sample = sample.astype(np.float64)
        count += 1
        if mean is None:
            mean, m2 = sample.copy(), np.zeros_like(sample)
            return
        delta = sample - mean
        mean += delta / count
        m2 += delta * (sample - mean)

    bar = tqdm(total=n_samples, disable=not progress, desc="MC dropout", unit="sample")
    try:
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            with mc_dropout_mode(model), torch.inference_mode():
                while count < n_samples:
                    if tile is None:  # copies of the image form a batch
                        nb = min(batch_size, n_samples - count)
                        out = model(xt.expand(nb, *xt.shape[1:]).contiguous())
                        for sample in out.float().cpu().numpy():
                            add(sample[None])
                    else:
                        nb = 1
                        add(
                            _predict_tiled_array(
                                model,
                                x,
                                dev,
                                transforms,
                                tile=tile_,
                                overlap=overlap_,
                                margin=margin_,
                                batch_size=batch_size,
                                progress=False,
                            )
                        )
                    bar.update(nb)
    finally:
        bar.close()
    std = np.sqrt(m2 / (count - SPREAD_DDOF))
    return (
        _finish(mean.astype(np.float32), has_channel, False),
        _finish(std.astype(np.float32), has_channel, False),
    )
