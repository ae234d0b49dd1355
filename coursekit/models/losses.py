"""Losses for image-to-image training: a differentiable SSIM, per-label losses and the label
mask that lets a multi-task model learn each label only from the fields that have it.

The loss is computed per sample and per label (output channel), multiplied by the label
mask (0 where a field has no image of that label) and averaged over the labels present.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from coursekit._validation import check_choice

__all__ = ["LOSSES", "ssim_torch", "per_channel_loss", "masked_loss"]

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
