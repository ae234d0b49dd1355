"""Checks of assignment 5 (transfer learning and small data): preparing a pretrained
:class:`coursekit.models.UNet` for a new label (a new output head, the other weights kept,
the original model untouched) and freezing its encoder.

Models are built here with random depths and channel counts and random weights, so a
function that only works for the notebook's model fails.
"""

from __future__ import annotations

import numpy as np
import torch

from coursekit.grading._core import Check, call, fail

__all__ = ["check_new_label_model", "check_freeze_encoder", "CHECKS"]

ENCODER_PARTS = ("encoders", "downs", "bottleneck")


def _pretrained(rng):
    from coursekit.models import UNet

    torch.manual_seed(int(rng.integers(1 << 30)))
    depth, base = int(rng.integers(1, 4)), int(rng.integers(4, 9))
    model = UNet(3, int(rng.integers(1, 3)), ndim=2, depth=depth, base_channels=base)
    with torch.no_grad():  # weights unlike a fresh initialization
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def check_new_label_model(new_label_model) -> None:
    """Check ``new_label_model(pretrained, n_labels)``: a NEW model (the pretrained one
    unchanged) with every weight of ``pretrained`` except a fresh 1 x 1 ``head`` with
    ``n_labels`` output channels."""
    rng = np.random.default_rng()
    for _ in range(2):
        pre = _pretrained(rng)
        before = _state(pre)
        n = int(rng.integers(1, 4)) + pre.out_channels  # always a different count
        called = f"new_label_model(pretrained {pre.signature(['depth', 'base_channels', 'out_channels'])}, {n})"
        model = call(new_label_model, called, pre, n)
        after = _state(pre)
        if any(not torch.equal(before[k], after[k]) for k in before):
            raise fail(called, "a pretrained model that was changed", "the pretrained model untouched",
                       "copy it first: model = copy.deepcopy(pretrained)")  # fmt: skip
        if model is pre:
            raise fail(called, "the pretrained model itself", "a new model",
                       "copy it first: model = copy.deepcopy(pretrained)")  # fmt: skip
        x = torch.randn(2, 3, 4 * pre.size_multiple, 2 * pre.size_multiple)
        model.eval()
        with torch.no_grad():
            out = model(x)
        if tuple(out.shape) != (2, n, *x.shape[2:]):
            raise fail(called + " applied to an input", f"shape {tuple(out.shape)}",
                       f"shape {(2, n, *x.shape[2:])}",
                       f"replace the head: model.head = nn.Conv2d({pre.channels[0]}, {n}, 1)")  # fmt: skip
        state = model.state_dict()
        for k, v in before.items():
            if k.startswith("head."):
                continue
            if k not in state or not torch.equal(state[k], v):
                raise fail(called, f"weight {k!r} differs from the pretrained one",
                           "every weight but the head's copied from the pretrained model",
                           "start from copy.deepcopy(pretrained), not from a new UNet(...)")  # fmt: skip


def check_freeze_encoder(freeze_encoder) -> None:
    """Check ``freeze_encoder(model)``: every parameter of the encoder path (``encoders``,
    ``downs``, ``bottleneck``) gets ``requires_grad = False``; the decoder (``ups``,
    ``decoders``) and the ``head`` stay trainable."""
    rng = np.random.default_rng()
    for _ in range(2):
        model = _pretrained(rng)
        called = f"freeze_encoder({model.signature(['depth', 'base_channels'])})"
        call(freeze_encoder, called, model)
        wrong_frozen = [n for n, p in model.named_parameters()
                        if n.split(".")[0] in ENCODER_PARTS and p.requires_grad]  # fmt: skip
        wrong_trainable = [n for n, p in model.named_parameters()
                           if n.split(".")[0] not in ENCODER_PARTS and not p.requires_grad]  # fmt: skip
        if wrong_frozen:
            hint = None
            if all(n.startswith("bottleneck") for n in wrong_frozen):
                hint = "the bottleneck belongs to the encoder path: freeze it too"
            raise fail(called, f"{len(wrong_frozen)} encoder parameters still trainable, e.g. {wrong_frozen[0]!r}",
                       "requires_grad False for encoders, downs and bottleneck",
                       hint or "loop over model.encoders, model.downs and model.bottleneck parameters")  # fmt: skip
        if wrong_trainable:
            raise fail(called, f"{len(wrong_trainable)} decoder/head parameters frozen, e.g. {wrong_trainable[0]!r}",
                       "the decoder and the head still trainable",
                       "freeze only the encoder path; the decoder must learn the new label")  # fmt: skip


CHECKS = {
    "new_label_model": Check(check_new_label_model, 3, "a pretrained model with a new head"),
    "freeze_encoder": Check(check_freeze_encoder, 2, "freeze the encoder path"),
}
