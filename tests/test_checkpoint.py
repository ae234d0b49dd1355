"""Checkpoints: exact round trip, weights_only loading, informative errors."""

import numpy as np
import pytest
import torch

from coursekit.models import (
    CheckpointError,
    UNet,
    load_checkpoint,
    load_weights,
    predict,
    save_checkpoint,
)


def _trained_like(seed=0, **kw):
    """A model whose batch-norm statistics are not the defaults."""
    torch.manual_seed(seed)
    model = UNet(2, 2, depth=2, base_channels=4, **kw)
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 2, 16, 16) * 3 + 1)
    return model.eval()


def test_round_trip_gives_identical_predictions(tmp_path):
    model = _trained_like(dropout=0.1)
    path = save_checkpoint(
        tmp_path / "sub" / "model.pt",
        model,
        normalization="percentile",
        label_names=["DNA", "membrane"],
        input_names=["bf -1 um", "bf +1 um"],
        extra={"history": {"train_loss": [1.0, 0.5]}, "fields": np.arange(3), "note": "demo"},
    )
    assert path.is_file()
    raw = torch.load(path, weights_only=True)  # only plain types in the file
    assert raw["class_name"] == "UNet" and raw["config"] == model.config

    loaded, info = load_checkpoint(path)
    assert isinstance(loaded, UNet) and not loaded.training
    assert loaded.config == model.config
    assert info["normalization"] == {"method": "percentile"}
    assert info["label_names"] == ["DNA", "membrane"]
    assert info["input_names"] == ["bf -1 um", "bf +1 um"]
    assert info["extra"]["fields"] == [0, 1, 2] and info["extra"]["note"] == "demo"
    assert info["torch_version"] == str(torch.__version__) and info["coursekit_version"]
    assert "state_dict" not in info
    image = np.random.default_rng(0).normal(size=(2, 24, 20)).astype(np.float32)
    # the loaded model normalizes as stored (percentile); the original was saved with it
    assert loaded.normalization == {"method": "percentile"}
    a = predict(model, image, device="cpu", normalization="percentile")
    b = predict(loaded, image, device="cpu")
    assert np.array_equal(a, b)
    same = predict(model, image, device="cpu", normalization="none")
    assert np.array_equal(predict(loaded, image, device="cpu", normalization="none"), same)

    fresh = UNet(**model.config)
    info2 = load_weights(fresh, path)
    assert info2["label_names"] == ["DNA", "membrane"]
    assert np.array_equal(predict(fresh, image, device="cpu"), a)


def test_mismatched_architecture_says_what_differs(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", UNet(depth=2, base_channels=8))
    with pytest.raises(CheckpointError) as err:
        load_weights(UNet(depth=3, base_channels=8), path)
    msg = str(err.value)
    assert str(path) in msg
    assert "checkpoint is a UNet(depth=2" in msg and "model is a UNet(depth=3" in msg
    assert "depth (2 vs 3)" in msg and "missing" in msg
    with pytest.raises(CheckpointError) as err:
        load_weights(UNet(1, 3, depth=2, base_channels=8), path)
    msg = str(err.value)
    assert "out_channels (1 vs 3)" in msg and "head.weight" in msg and "shape" in msg
    # a setting that leaves the weights alone loads, with a warning
    with pytest.warns(UserWarning, match="dropout"):
        load_weights(UNet(depth=2, base_channels=8, dropout=0.2), path)


def test_files_that_are_not_checkpoints(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not a model\n")
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(2000))
    other = tmp_path / "other.pt"
    torch.save({"weights": [1, 2, 3], "epoch": 4}, other)
    bare = tmp_path / "bare.pt"
    torch.save(UNet(depth=1).state_dict(), bare)
    for path in (text, noise, other, bare):
        with pytest.raises(CheckpointError, match="is not a coursekit checkpoint") as err:
            load_checkpoint(path)
        assert str(path) in str(err.value)
        with pytest.raises(CheckpointError, match=str(path)):
            load_weights(UNet(depth=1), path)
    with pytest.raises(CheckpointError, match="bare state_dict"):
        load_checkpoint(bare)
    with pytest.raises(CheckpointError, match=r"keys \['epoch', 'weights'\]"):
        load_checkpoint(other)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_save_rejects_what_it_cannot_store(tmp_path):
    model = UNet(depth=1)
    with pytest.raises(ValueError, match="1 output channels, got 2 names"):
        save_checkpoint(tmp_path / "a.pt", model, label_names=["DNA", "actin"])
    with pytest.raises(TypeError, match="plain values"):
        save_checkpoint(tmp_path / "a.pt", model, extra={"fn": print})
    with pytest.raises(TypeError, match="no config"):
        save_checkpoint(tmp_path / "a.pt", torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="normalization"):
        save_checkpoint(tmp_path / "a.pt", model, normalization="minmax")
    assert not (tmp_path / "a.pt").exists()
