"""Transfer learning: train a new label on a trained trunk (Christiansen et al. 2018 learned
new labels from a few images this way).

- ``model.with_head(out_channels)`` (:meth:`~coursekit.models.UNet.with_head`): a copy of a
  trained U-Net with a new output layer;
- :func:`freeze_trunk`: only the output layer trains (the trunk's weights and batch-norm
  statistics stay as they were);
- :func:`unfreeze`: everything trains again (fine-tuning, usually with a smaller ``lr``).

Frozen parameters are stored in checkpoints and frozen again by
:func:`~coursekit.models.load_checkpoint`.
"""

from __future__ import annotations

from torch import nn

__all__ = ["freeze_trunk", "unfreeze", "trainable_parameters"]


def _head(model: nn.Module) -> nn.Module:
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Module):
        raise TypeError(
            f"model: a {type(model).__name__} has no `head` layer to keep trainable; "
            "freeze_trunk works on models with a `head` attribute, such as coursekit's UNet"
        )
    return head


def freeze_trunk(model: nn.Module) -> nn.Module:
    """Freeze every parameter except the output layer (``model.head``).

    :func:`~coursekit.models.train` then updates only the head; a UNet also keeps its
    frozen batch-norm layers in eval mode, so their running statistics do not move.

    Returns
    -------
    torch.nn.Module
        ``model`` (changed in place).

    Examples
    --------
    >>> from coursekit.models import UNet
    >>> model = freeze_trunk(UNet(depth=2).with_head(3))
    >>> trainable_parameters(model)
    ['head.weight', 'head.bias']
    """
    head = set(id(p) for p in _head(model).parameters())
    for p in model.parameters():
        p.requires_grad_(id(p) in head)
    return model


def unfreeze(model: nn.Module) -> nn.Module:
    """Make every parameter trainable again (fine-tune the whole model); returns ``model``."""
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def trainable_parameters(model: nn.Module) -> list[str]:
    """Names of the parameters that training would update."""
    return [name for name, p in model.named_parameters() if p.requires_grad]
