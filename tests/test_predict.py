"""Prediction: one pass, tiles that match it, flip TTA, MC dropout, input checks."""

import warnings

import numpy as np
import pytest
import torch

from coursekit.models import UNet, predict, predict_mc_dropout, predict_tiled
from coursekit.models.predict import blend_weights_1d, tile_layout


def _model(ndim=2, depth=2, cin=1, cout=1, seed=0, **kw):
    """A small model with non-default batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = UNet(cin, cout, ndim=ndim, depth=depth, base_channels=4, **kw)
    shape = (16, 16) if ndim == 2 else (8, 8, 8)
    with torch.no_grad():
        model.train()(torch.randn(4, cin, *shape) * 2 + 0.5)
    return model.eval()


def _image(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_predict_adds_and_removes_dimensions():
    model = _model()
    assert predict(model, _image((37, 51)), device="cpu").shape == (37, 51)
    assert predict(model, _image((1, 37, 51)), device="cpu").shape == (1, 37, 51)
    assert predict(model, _image((3, 1, 20, 24)), batched=True, device="cpu").shape == (
        3,
        1,
        20,
        24,
    )
    assert predict(model, _image((3, 20, 24)), batched=True, device="cpu").shape == (3, 20, 24)
    two = _model(cin=3, cout=2)
    assert predict(two, _image((3, 21, 19)), device="cpu").shape == (2, 21, 19)
    m3 = _model(ndim=3, depth=1)
    assert predict(m3, _image((9, 21, 17)), device="cpu").shape == (9, 21, 17)
    out = predict(m3, _image((1, 9, 21, 17)), device="cpu")
    assert out.shape == (1, 9, 21, 17) and out.dtype == np.float32
    # a batched prediction equals the single ones; the model's mode is restored
    model.train()
    batch = _image((2, 1, 16, 16))
    both = predict(model, batch, batched=True, device="cpu", batch_size=1)
    assert model.training
    assert np.allclose(both[1], predict(model, batch[1], device="cpu"), atol=1e-6)


def test_normalization_option_accepts_camera_counts():
    model = _model()
    counts = np.random.default_rng(0).poisson(500, size=(32, 32)).astype(np.uint16)
    a = predict(model, counts, normalization="zscore", device="cpu")
    z = (counts - counts.mean()) / counts.std()
    b = predict(model, z.astype(np.float32), device="cpu")
    assert np.allclose(a, b, atol=1e-4)
    with pytest.raises(TypeError, match="floating-point.*normalization="):
        predict(model, counts, device="cpu")


@pytest.mark.parametrize(
    "ndim, shape, tile, overlap",
    [(2, (1, 150, 170), 64, 48), (2, (1, 131, 97), (64, 56), 48), (3, (1, 21, 40, 44), 24, 20)],
)
def test_tiled_equals_one_pass(ndim, shape, tile, overlap):
    """With margin >= the receptive radius, every pixel kept from a tile saw exactly what
    it sees in one pass (tiles start on the pooling grid; the image is padded as the model
    pads it; batch norm in eval mode is per pixel), so the only differences are float32
    rounding of the weighted sums: ~1e-6 relative. We allow 1e-4 of the output range."""
    model = _model(ndim=ndim, depth=2 if ndim == 2 else 1)
    r = model.receptive_radius
    image = _image(shape)
    one = predict(model, image, device="cpu")
    tiled = predict_tiled(
        model,
        image,
        tile=tile,
        overlap=overlap,
        margin=r,
        batch_size=3,
        device="cpu",
        progress=False,
    )
    assert tiled.shape == one.shape
    scale = np.abs(one).max()
    assert np.abs(tiled - one).max() < 1e-4 * scale
    # the default margin (a quarter of the overlap) is smaller than the receptive radius:
    # not exact, but the cosine ramp keeps the error small
    rough = predict_tiled(model, image, tile=tile, overlap=overlap, device="cpu", progress=False)
    assert np.abs(rough - one).max() < 1e-2 * scale


def test_tiles_cover_with_weights_that_sum_to_one():
    for size, tile, overlap, mult in (
        (100, 40, 8, 1),
        (152, 64, 48, 4),
        (64, 64, 16, 8),
        (504, 128, 32, 8),
    ):
        starts = tile_layout(size, tile, overlap, mult)
        assert starts[0] == 0 and starts[-1] == size - min(tile, size)
        assert all(s % mult == 0 for s in starts)
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
        margin = overlap // 4
        total = np.zeros(size)
        weights = blend_weights_1d(starts, min(tile, size), margin)
        for i, (s, w) in enumerate(zip(starts, weights)):
            assert w.min() >= 0 and w.max() > 0
            if i > 0:  # zero along an inner edge, over the margin
                assert np.all(w[:margin] == 0) and w[margin] > 0
            total[s : s + len(w)] += w
        if 2 * overlap <= tile:  # only neighbours overlap: a partition of unity
            assert np.allclose(total, 1, atol=1e-6)
        else:  # tiles two apart overlap too: the blend divides by the sum, never zero
            assert total.min() > 0.5
    assert tile_layout(100, 40, 8) == [0, 30, 60]


def test_tta_shape_and_flip_symmetry():
    model = _model()
    image = _image((1, 48, 64))  # a multiple of 2**depth: no padding to break the symmetry
    plain = predict(model, image, device="cpu")
    tta = predict_tiled(
        model,
        image,
        tile=(48, 56),
        overlap=48,
        margin=model.receptive_radius,
        tta=True,
        device="cpu",
        progress=False,
    )
    assert tta.shape == image.shape and not np.allclose(tta, plain, atol=1e-4)
    one_pass = predict(model, image, tta="flips", device="cpu")
    assert np.abs(tta - one_pass).max() < 1e-4 * np.abs(one_pass).max()
    # averaging over the flips makes the prediction flip-equivariant
    for axes in ((-1,), (-2,), (-2, -1)):
        flipped = predict(model, np.flip(image, axes).copy(), tta=True, device="cpu")
        assert np.allclose(np.flip(flipped, axes), one_pass, atol=1e-5)
    d8 = predict(model, _image((1, 32, 32)), tta="dihedral", device="cpu")
    rotated = predict(
        model, np.rot90(_image((1, 32, 32)), 1, (1, 2)).copy(), tta="dihedral", device="cpu"
    )
    assert np.allclose(np.rot90(d8, 1, (1, 2)), rotated, atol=1e-5)
    m3 = _model(ndim=3, depth=1)
    assert predict_tiled(
        m3, _image((8, 16, 16)), tile=16, tta=True, device="cpu", progress=False
    ).shape == (8, 16, 16)


def test_mc_dropout_mean_and_spread():
    model = _model(dropout=0.3)
    image = _image((24, 24))
    mean, std = predict_mc_dropout(model, image, 6, seed=1, device="cpu", progress=False)
    assert mean.shape == std.shape == (24, 24)
    assert (std > 0).mean() > 0.9
    again, _ = predict_mc_dropout(model, image, 6, seed=1, device="cpu", progress=False)
    assert np.array_equal(mean, again)
    assert not model.training and not model.encoders[0][3].training  # mode restored
    tiled_mean, tiled_std = predict_mc_dropout(
        model, image, 3, tile=16, overlap=8, device="cpu", progress=False
    )
    assert tiled_mean.shape == (24, 24) and (tiled_std > 0).any()
    with pytest.raises(ValueError, match="no dropout"):
        predict_mc_dropout(_model(), image, 4, device="cpu", progress=False)
    with pytest.raises(ValueError, match="n_samples"):
        predict_mc_dropout(model, image, 1, device="cpu", progress=False)


def test_bad_inputs_are_rejected_clearly():
    model = _model(cin=2)
    with pytest.raises(ValueError, match="expects 2 input channel.*got 1"):
        predict(model, _image((1, 16, 16)), device="cpu")
    with pytest.raises(ValueError, match=r"expected a 3D array, got 2D.*\(C, Y, X\)"):
        predict(model, _image((16, 16)), device="cpu")
    with pytest.raises(ValueError, match=r"expected a 3D array, got 4D"):
        predict_tiled(model, _image((2, 4, 16, 16)), tile=8, device="cpu", progress=False)
    bad = _image((2, 16, 16))
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        predict(model, bad, device="cpu")
    with pytest.raises(ValueError, match="NaN"):
        predict_tiled(model, bad, tile=8, device="cpu", progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        predict(model, np.zeros((2, 0, 16), np.float32), device="cpu")
    with pytest.raises(TypeError, match="floating-point"):
        predict_tiled(model, np.zeros((2, 16, 16), np.int64), tile=8, device="cpu", progress=False)
    one = _model()
    with pytest.raises(ValueError, match="2D model predicts 3D stacks plane by plane"):
        predict(one, _image((5, 16, 16)), device="cpu")
    with pytest.raises(ValueError, match="overlap.*smaller than the tile"):
        predict_tiled(one, _image((64, 64)), tile=16, overlap=16, device="cpu", progress=False)
    with pytest.raises(ValueError, match="margin"):
        predict_tiled(
            one, _image((64, 64)), tile=32, overlap=8, margin=4, device="cpu", progress=False
        )
    with pytest.raises(ValueError, match="tile: expected 2 values"):
        predict_tiled(one, _image((64, 64)), tile=(32, 32, 32), device="cpu", progress=False)
    with pytest.raises(ValueError, match="unknown tta"):
        predict(one, _image((16, 16)), tta="rotations", device="cpu")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        predict("model.pt", _image((16, 16)))


# --------------------------------------------------------------------------- normalization
def _counts(seed=0, shape=(2, 1, 32, 32)):
    """Camera-count-like inputs (hundreds, uint16) with a learnable target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(500, 60, size=shape).clip(0, 65535).astype(np.uint16)
    return [a for a in x], [(a.astype(np.float32) - 500) ** 2 for a in x]


def test_normalization_travels_from_training_to_prediction(tmp_path):
    from coursekit.models import (
        PairedPatches,
        load_checkpoint,
        save_checkpoint,
        train,
    )

    xs, ys = _counts()
    data = PairedPatches(xs, ys, patch_shape=(16, 16), normalization="percentile")
    model = UNet(1, 1, depth=1, base_channels=4, seed=0)
    history = train(model, data, steps=2, device="cpu", progress=False)
    assert history.normalization == {"method": "percentile"} == model.normalization
    assert len(history.input_stats["mean"]) == 1 and model.input_stats == history.input_stats
    raw = xs[0]
    by_hand = predict(model, raw, normalization="percentile", device="cpu")
    np.testing.assert_array_equal(predict(model, raw, device="cpu"), by_hand)
    # the checkpoint gets it without being told, and predict uses it after loading
    path = save_checkpoint(tmp_path / "m.pt", model)
    loaded, info = load_checkpoint(path)
    assert info["normalization"] == {"method": "percentile"}
    assert info["input_stats"] == model.input_stats
    np.testing.assert_array_equal(predict(loaded, raw, device="cpu"), by_hand)
    np.testing.assert_array_equal(
        predict_tiled(loaded, raw, tile=16, overlap=8, device="cpu", progress=False),
        predict_tiled(model, raw, tile=16, overlap=8, device="cpu", progress=False),
    )


def test_unnormalized_input_warns():
    xs, ys = _counts()
    from coursekit.models import PairedPatches, train

    model = UNet(1, 1, depth=1, base_channels=4, seed=0)
    train(model, PairedPatches(xs, ys, patch_shape=(16, 16)), steps=2, device="cpu", progress=False)
    raw = xs[0].astype(np.float32)
    with pytest.warns(UserWarning, match=r"does not look normalized.*trained on mean"):
        predict(model, raw, normalization="none", device="cpu")
    with pytest.warns(UserWarning, match="does not look normalized"):
        predict_tiled(model, raw, tile=16, normalization=None, device="cpu", progress=False)
    # a model without training statistics: raw counts are still flagged
    with pytest.warns(UserWarning, match="raw camera counts"):
        predict(UNet(depth=1, base_channels=4), raw, device="cpu")
    # a normalized input, or the model's own normalization, does not warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict(model, raw, device="cpu")
        from coursekit.normalize import normalize

        predict(model, normalize(raw), normalization="none", device="cpu")
    with pytest.warns(UserWarning, match="differs from the model's training normalization"):
        predict(model, raw, normalization="percentile", device="cpu")


def test_old_checkpoints_with_pmin_pmax_are_read(tmp_path):
    from coursekit.models import load_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "old.pt", _model(), normalization="zscore")
    payload = torch.load(path, weights_only=True)
    payload["normalization"] = {"method": "percentile", "pmin": 2.0, "pmax": 99.0}
    for key in ("input_stats", "frozen_parameters"):
        payload.pop(key)  # written before these existed
    torch.save(payload, path)
    model, info = load_checkpoint(path)
    expected = {"method": "percentile", "percentiles": [2.0, 99.0]}
    assert info["normalization"] == expected == model.normalization
    assert info["input_stats"] is None and info["frozen_parameters"] == []


def test_predict_tiled_has_a_default_tile():
    from coursekit.models.predict import default_tile

    model = _model()
    image = _image((1, 300, 280))
    assert default_tile(model) == (256, 256)
    out = predict_tiled(model, image, device="cpu", progress=False)
    np.testing.assert_allclose(out, predict(model, image, device="cpu"), atol=1e-4)
    assert default_tile(UNet.fnet_like(ndim=2))[0] >= 4 * UNet.fnet_like(ndim=2).receptive_radius
