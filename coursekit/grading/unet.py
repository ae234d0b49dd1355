"""Checks of assignment 2 (the U-Net): a unit check after each block (convolution block,
down, up with its skip connection), the whole network's shapes and parameter count against
:class:`coursekit.models.UNet`, one training step against a reference step, and the trained
model's correlation on held-out simulated fields drawn here.

Sizes, channel counts and depths are drawn at random, so a network that only works for the
notebook's example fails.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from coursekit.grading._core import Check, CheckFailed, call, fail

__all__ = [
    "check_conv_block",
    "check_down",
    "check_up",
    "check_unet",
    "check_train_step",
    "check_trained",
    "fallback_model",
    "CHECKS",
]


def _n_params(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _ref_block(c_in: int, c_out: int) -> nn.Module:
    from coursekit.models.unet import ConvBlock

    return ConvBlock(c_in, c_out, ndim=2, kernel_size=3, norm="batch", norm_groups=8, dropout=0.0)


def _build(cls, called, *args, **kwargs) -> nn.Module:
    module = call(cls, called, *args, **kwargs)
    if not isinstance(module, nn.Module):
        raise fail(
            called, module, "a torch.nn.Module", "subclass nn.Module and call super().__init__()"
        )
    return module


def _forward(module, called, *inputs) -> torch.Tensor:
    module.train()
    out = call(module, called, *inputs)
    if not isinstance(out, torch.Tensor):
        raise fail(called, out, "a torch.Tensor", "forward must return the output tensor")
    return out


def _param_hint(got: int, expected: int, c_out: int) -> str | None:
    diff = got - expected
    if diff == 2 * c_out:
        return "a convolution followed by batch norm needs no bias: nn.Conv2d(..., bias=False)"
    if diff < 0:
        return "a layer is missing: two 3 x 3 convolutions, each followed by BatchNorm2d and ReLU"
    return None


# --------------------------------------------------------------------------- blocks
def check_conv_block(ConvBlock) -> None:  # noqa: N803 - the student's class
    """Check ``ConvBlock(in_channels, out_channels)``: two 3 x 3 convolutions (padding 1, no
    bias), each followed by ``BatchNorm2d`` and ``ReLU``; the spatial size is kept."""
    rng = np.random.default_rng()
    for _ in range(3):
        c_in, c_out = int(rng.integers(1, 6)), int(rng.integers(2, 13))
        h, w = int(rng.integers(9, 24)) | 1, int(rng.integers(9, 24))  # odd sizes too
        called = f"ConvBlock({c_in}, {c_out})"
        block = _build(ConvBlock, called, c_in, c_out)
        expected = _n_params(_ref_block(c_in, c_out))
        got = _n_params(block)
        if got != expected:
            raise fail(f"{called}: number of parameters", str(got), str(expected),
                       _param_hint(got, expected, c_out))  # fmt: skip
        x = torch.randn(2, c_in, h, w)
        called_f = f"{called} applied to a tensor of shape {tuple(x.shape)}"
        y = _forward(block, called_f, x)
        if tuple(y.shape) != (2, c_out, h, w):
            hint = None
            if y.shape[-1] < w:
                hint = f"the image shrank by {w - y.shape[-1]} pixels: use padding=1 in each 3 x 3 convolution"
            raise fail(called_f, f"shape {tuple(y.shape)}", f"shape {(2, c_out, h, w)}", hint)
        if (y < 0).any():
            raise fail(called_f, f"negative values (min {float(y.min().detach()):.3g})",
                       "values >= 0", "end the block with a ReLU (after the second batch norm)")  # fmt: skip


def check_down(Down) -> None:  # noqa: N803
    """Check ``Down(in_channels, out_channels)``: 2 x 2 max pooling, then a ConvBlock."""
    rng = np.random.default_rng()
    for _ in range(3):
        c_in, c_out = int(rng.integers(2, 9)), int(rng.integers(2, 17))
        h, w = 2 * int(rng.integers(4, 12)), 2 * int(rng.integers(4, 12))
        called = f"Down({c_in}, {c_out})"
        block = _build(Down, called, c_in, c_out)
        expected, got = _n_params(_ref_block(c_in, c_out)), _n_params(block)
        if got != expected:
            raise fail(f"{called}: number of parameters", str(got), f"{expected} (max pooling has none)",
                       _param_hint(got, expected, c_out) or "use nn.MaxPool2d(2), not a learned layer")  # fmt: skip
        x = torch.randn(2, c_in, h, w)
        called_f = f"{called} applied to a tensor of shape {tuple(x.shape)}"
        y = _forward(block, called_f, x)
        if tuple(y.shape) != (2, c_out, h // 2, w // 2):
            hint = (
                "halve the size with nn.MaxPool2d(2) before the ConvBlock"
                if y.shape[-1] == w
                else None
            )
            raise fail(
                called_f, f"shape {tuple(y.shape)}", f"shape {(2, c_out, h // 2, w // 2)}", hint
            )


def check_up(Up) -> None:  # noqa: N803
    """Check ``Up(in_channels, out_channels)`` with ``forward(x, skip)``: a 2 x 2 transposed
    convolution with stride 2 (``in_channels -> out_channels``), concatenation with the skip
    (``out_channels`` channels, twice the size of ``x``) along the channels, then
    ``ConvBlock(2 * out_channels, out_channels)``."""
    rng = np.random.default_rng()
    for _ in range(3):
        c_out = int(rng.integers(2, 12))
        c_in = 2 * c_out
        h, w = int(rng.integers(3, 10)), int(rng.integers(3, 10))
        called = f"Up({c_in}, {c_out})"
        block = _build(Up, called, c_in, c_out)
        up = nn.ConvTranspose2d(c_in, c_out, 2, stride=2)
        expected, got = _n_params(up) + _n_params(_ref_block(2 * c_out, c_out)), _n_params(block)
        if got != expected:
            no_skip = _n_params(up) + _n_params(_ref_block(c_out, c_out))
            hint = _param_hint(got, expected, c_out)
            if got == no_skip:
                hint = ("the ConvBlock must take 2 * out_channels: the upsampled features and the "
                        "skip, concatenated")  # fmt: skip
            elif got == expected - _n_params(up):
                hint = "upsample with nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)"
            raise fail(f"{called}: number of parameters", str(got), str(expected), hint)
        x, skip = torch.randn(2, c_in, h, w), torch.randn(2, c_out, 2 * h, 2 * w)
        called_f = f"{called}(x, skip) with x of shape {tuple(x.shape)}, skip {tuple(skip.shape)}"
        y = _forward(block, called_f, x, skip)
        if tuple(y.shape) != (2, c_out, 2 * h, 2 * w):
            raise fail(called_f, f"shape {tuple(y.shape)}", f"shape {(2, c_out, 2 * h, 2 * w)}",
                       "concatenate along the channels: torch.cat([skip, x], dim=1)")  # fmt: skip
        block.eval()
        with torch.no_grad():
            a = block(x, skip)
            b = block(x, skip + torch.randn_like(skip))
        if torch.allclose(a, b):
            raise fail(called_f, "an output that does not change when skip changes",
                       "an output that depends on the skip connection",
                       "concatenate skip with the upsampled x and feed both to the ConvBlock")  # fmt: skip


def check_unet(UNet) -> None:  # noqa: N803
    """Check ``UNet(in_channels, out_channels, depth=..., base_channels=...)``: a first
    ConvBlock, ``depth`` Down blocks (channels doubling), ``depth`` Up blocks and a 1 x 1
    output convolution without activation; same parameter count as
    ``coursekit.models.UNet(..., norm="batch")``, output of the input's size."""
    from coursekit.models import UNet as Reference

    rng = np.random.default_rng()
    for depth, base in ((2, 8), (int(rng.integers(1, 4)), int(rng.integers(3, 9)))):
        c_in, c_out = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        called = f"UNet({c_in}, {c_out}, depth={depth}, base_channels={base})"
        model = _build(UNet, called, c_in, c_out, depth=depth, base_channels=base)
        ref = Reference(c_in, c_out, ndim=2, depth=depth, base_channels=base, norm="batch")
        expected, got = ref.n_parameters, _n_params(model)
        if got != expected:
            raise fail(f"{called}: number of parameters", str(got),
                       f"{expected} (coursekit.models.UNet with the same arguments)",
                       "compare level by level with model.describe() of the reference: channels "
                       "base * 2**level, Up blocks taking the skip, a 1 x 1 head")  # fmt: skip
        m = 2**depth
        h, w = m * int(rng.integers(2, 6)), m * int(rng.integers(2, 6))
        x = torch.randn(2, c_in, h, w)
        called_f = f"{called} applied to a tensor of shape {tuple(x.shape)}"
        y = _forward(model, called_f, x)
        if tuple(y.shape) != (2, c_out, h, w):
            raise fail(called_f, f"shape {tuple(y.shape)}", f"shape {(2, c_out, h, w)}", None)
        if not (y < 0).any():
            raise fail(called_f, "an output that is never negative", "negative values too",
                       "normalized targets are negative below their mean: the last layer is a "
                       "plain 1 x 1 convolution, without ReLU")  # fmt: skip


# --------------------------------------------------------------------------- training
def _reference_step(model, optimizer, x, y) -> float:
    model.train()
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def check_train_step(train_step) -> None:
    """Check ``train_step(model, optimizer, x, y)``: one optimizer step on the mean squared
    error, returning the loss (a float) of the batch before the step; run twice on a small
    model and compared with a reference step for Adam and SGD."""
    rng = np.random.default_rng()
    seed = int(rng.integers(1 << 30))
    for opt_name in ("SGD", "Adam"):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))
        ref = copy.deepcopy(model)
        make = (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5)) if opt_name == "SGD" else (
            lambda p: torch.optim.Adam(p, lr=1e-2))  # fmt: skip
        opt, ref_opt = make(model.parameters()), make(ref.parameters())
        for step in (1, 2):
            x, y = torch.randn(4, 2, 11, 13), torch.randn(4, 1, 11, 13)
            called = f"train_step(model, {opt_name} optimizer, x, y), step {step}"
            before = [p.detach().clone() for p in model.parameters()]
            got = call(train_step, called, model, opt, x, y)
            want = _reference_step(ref, ref_opt, x, y)
            try:
                got_f = float(got.detach() if isinstance(got, torch.Tensor) else got)
            except (TypeError, ValueError):
                raise fail(called, got, "the loss as a float", "return loss.item()") from None
            if abs(got_f - want) > 1e-5 * max(1.0, abs(want)):
                with torch.no_grad():
                    l1 = float(nn.functional.l1_loss(ref(x), y))
                hint = "use the mean squared error, nn.functional.mse_loss(model(x), y)"
                if step == 1 and abs(got_f - l1) < 0.5 * abs(got_f - want):
                    hint = "this looks like an L1 loss: use nn.functional.mse_loss"
                raise fail(called, f"loss {got_f:.6g}", f"loss {want:.6g}", hint)
            if all(torch.equal(a, b) for a, b in zip(before, model.parameters())):
                raise fail(called, "the model's weights unchanged", "weights updated by one step",
                           "call loss.backward() and then optimizer.step()")  # fmt: skip
            same = all(
                torch.allclose(a, b, atol=1e-6)
                for a, b in zip(model.parameters(), ref.parameters())
            )
            if not same:
                hint = ("the first step is right, the second is not: call optimizer.zero_grad() "
                        "before loss.backward(), or gradients add up over steps") if step == 2 else None  # fmt: skip
                raise fail(called, "weights that differ from one reference step",
                           "the weights after the same step with the same optimizer", hint)  # fmt: skip


def _heldout(seed: int, n: int = 2, shape=(128, 128)):
    from coursekit.experiments import heldout_fields

    return heldout_fields(n, shape, seed=seed, labels=("dna",))


def predicted_r(model, fields, *, label: str = "dna") -> float:
    """Mean Pearson r of the model's prediction (its first output channel) with the clean
    ``label`` over ``fields`` (input normalized per channel with z-scores, as in training)."""
    from coursekit.metrics import pearson_r
    from coursekit.normalize import normalize

    model.eval()
    dev = next(model.parameters()).device
    rs = []
    with torch.no_grad():
        for f in fields:
            x = normalize(f.input_stack(), "zscore", channel_axis=0)
            y = model(torch.from_numpy(np.ascontiguousarray(x))[None].to(dev))
            pred = y[0, 0].float().cpu().numpy()
            if np.ptp(pred) == 0:
                return 0.0
            rs.append(pearson_r(target=f.clean[label], prediction=pred))
    return float(np.mean(rs))


def check_trained(model, *, threshold: float = 0.5) -> None:
    """Check a trained model predicts DNA from bright field with Pearson r >= ``threshold``
    against the clean DNA on two held-out 128 x 128 fields simulated here (seeds never used
    in training)."""
    rng = np.random.default_rng()
    seed = 50_000 + int(rng.integers(10_000))
    if not isinstance(model, nn.Module):
        raise CheckFailed(f"expected your trained model (an nn.Module), got {type(model).__name__}")
    r = predicted_r(model, _heldout(seed))
    if not r >= threshold:
        raise fail(
            f"your trained model on two held-out fields (seeds {seed}, {seed + 1})",
            f"Pearson r = {r:.3f} with the clean DNA",
            f"r >= {threshold}",
            "check the loss went down; the learning rate (1e-3 to 3e-3 for Adam); that x and y "
            "come from the same batch. If you are stuck, run the fallback cell below to continue",
        )


def fallback_model(*, steps: int, seed: int = 0, device="auto"):
    """A compact coursekit U-Net trained on the same stream with the same budget, for a
    student whose own training failed (so the later tasks can still be done)."""
    from coursekit.experiments import train_on_simulator
    from coursekit.models import UNet

    torch.manual_seed(seed)
    model = UNet(3, 1, ndim=2, depth=2, base_channels=8)
    model, _ = train_on_simulator(("dna",), model=model, steps=steps, seed=seed, lr=3e-3,
                                  device=device, progress=False)  # fmt: skip
    return model


CHECKS = {
    "conv_block": Check(check_conv_block, 3, "convolution block"),
    "down": Check(check_down, 2, "down block"),
    "up": Check(check_up, 3, "up block with skip connection"),
    "unet": Check(check_unet, 4, "whole U-Net: shapes and parameters"),
    "train_step": Check(check_train_step, 3, "one training step"),
    "trained": Check(check_trained, 5, "trained model reaches the required r"),
}
