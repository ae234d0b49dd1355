"""UNet: shapes for any input size, gradients, config, describe() and the receptive field."""

import pytest
import torch

from coursekit.models import UNet


@pytest.mark.parametrize(
    "ndim, shape, kwargs",
    [
        (2, (37, 51), {}),
        (2, (5, 3), {"depth": 2}),  # smaller than 2**depth: padding falls back to replicate
        (2, (37, 51), {"norm": "group", "downsample": "conv", "dropout": 0.1}),
        (3, (9, 21, 17), {"base_channels": 4}),
        (3, (9, 21, 17), {"base_channels": 4, "norm": "none", "depth": 2}),
    ],
)
def test_output_shape_any_size(ndim, shape, kwargs):
    torch.manual_seed(0)
    model = UNet(2, 3, ndim=ndim, **kwargs)
    x = torch.randn(2, 2, *shape)
    y = model(x)
    assert y.shape == (2, 3, *shape)
    assert torch.isfinite(y).all()


def test_default_is_compact_and_fnet_like_is_bigger():
    model = UNet()
    assert model.config["depth"] == 3 and model.config["base_channels"] == 16
    assert 100_000 < model.n_parameters < 600_000
    fnet = UNet.fnet_like(1, 1, ndim=3)
    assert fnet.config["depth"] == 4 and fnet.config["base_channels"] == 32
    assert fnet.config["norm"] == "batch" and fnet.ndim == 3
    assert fnet.n_parameters > 10 * model.n_parameters
    assert UNet.fnet_like(3, 2, ndim=2, dropout=0.2).config["dropout"] == 0.2


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    for ndim, shape in ((2, (20, 24)), (3, (8, 12, 10))):
        model = UNet(1, 2, ndim=ndim, depth=2, base_channels=4, downsample="conv")
        x = torch.randn(2, 1, *shape)
        model(x).square().mean().backward()
        for name, p in model.named_parameters():
            assert p.grad is not None, name
            assert p.grad.abs().sum() > 0, name


def test_config_rebuilds_the_same_architecture():
    model = UNet(3, 2, ndim=3, depth=2, base_channels=8, norm="group", dropout=0.1)
    clone = UNet(**model.config)
    assert clone.config == model.config
    clone.load_state_dict(model.state_dict())  # same parameter names and shapes
    cfg = model.config
    cfg["depth"] = 99  # a copy: the model's config is unchanged
    assert model.config["depth"] == 2


def test_describe_table_matches_a_forward_pass():
    model = UNet(1, 2, depth=3, base_channels=8)
    summary = model.describe((37, 51))
    text = str(summary)
    assert "bottleneck" in text and "receptive field" in text
    assert f"{model.n_parameters:,}" in text
    assert summary.n_parameters == sum(p.numel() for p in model.parameters())
    assert sum(r[2] for r in summary.rows) == summary.n_parameters
    shapes = dict((r[0], r[1]) for r in summary.rows)
    assert shapes["input"] == (1, 37, 51) and shapes["padded"] == (1, 40, 56)
    assert shapes["output"] == (2, 37, 51)

    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = tuple(output.shape[1:])  # returns None: the output is unchanged

        return hook

    modules = {f"encoder {i}": model.encoders[i] for i in range(3)}
    modules["bottleneck"] = model.bottleneck
    modules.update({f"decoder {i}": model.decoders[j] for j, i in enumerate(reversed(range(3)))})
    hooks = [m.register_forward_hook(record(name)) for name, m in modules.items()]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 1, 37, 51))
    for h in hooks:
        h.remove()
    assert len(seen) == 7
    for stage, shape in seen.items():
        assert shapes[stage] == shape, stage
    # 3D default example and a shape with channels
    assert UNet(ndim=3).describe().input_shape == (1, 32, 128, 128)
    assert UNet(2, ndim=2).describe((2, 64, 64)).input_shape == (2, 64, 64)


def test_receptive_field_matches_the_gradient():
    """Computed from kernel sizes and strides; checked by which input pixels influence one
    output pixel (nonzero gradient), united over a few random inputs (max pooling passes
    gradient to one pixel of each 2 x 2 window)."""
    torch.manual_seed(0)
    model = UNet(depth=2, base_channels=4, norm="none").eval()
    assert model.receptive_field == 44
    size = 96
    for q in (48, 49, 51):
        lo, hi = model._receptive_interval(q)
        hit = torch.zeros(size, dtype=torch.bool)
        for _ in range(4):
            x = torch.randn(1, 1, size, size, requires_grad=True)
            model(x)[0, 0, q, q].backward()
            g = x.grad[0, 0].abs()
            hit |= (g.sum(0) > 0) | (g.sum(1) > 0)
        idx = torch.nonzero(hit)[:, 0]
        assert (idx.min().item(), idx.max().item()) == (lo, hi)
        assert hi - lo + 1 <= model.receptive_field
    # depth grows the receptive field; the radius is about half of it
    fields = [UNet(depth=d).receptive_field for d in (1, 2, 3, 4)]
    assert fields == sorted(fields) and fields[0] == 18
    assert UNet().receptive_radius in (UNet().receptive_field // 2, UNet().receptive_field // 2 + 1)


def test_mc_dropout_keeps_dropout_sampling():
    torch.manual_seed(0)
    model = UNet(depth=2, base_channels=4, dropout=0.3)
    x = torch.randn(1, 1, 16, 16)
    model.enable_mc_dropout()
    assert not model.training
    with torch.no_grad():
        a, b = model(x), model(x)
    assert not torch.allclose(a, b)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    with pytest.raises(ValueError, match="dropout=0"):
        UNet().enable_mc_dropout()


def test_bad_inputs_are_rejected_clearly():
    model = UNet(3, 1, depth=2, base_channels=4)
    with pytest.raises(ValueError, match="expects 3 input channel"):
        model(torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"expects a 4D tensor \(N, C, Y, X\)"):
        model(torch.zeros(3, 16, 16))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(1, 3, 16, 16, dtype=torch.int64))
    with pytest.raises(ValueError, match="norm"):
        UNet(norm="layer")
    with pytest.raises(ValueError, match="ndim"):
        UNet(ndim=4)
    with pytest.raises(ValueError, match="depth"):
        UNet(depth=0)
    with pytest.raises(ValueError, match="kernel_size"):
        UNet(kernel_size=4)
    with pytest.raises(ValueError, match="dropout"):
        UNet(dropout=1.5)
    with pytest.raises(ValueError, match="channel"):
        model.describe((1, 32, 32))
