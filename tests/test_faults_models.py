"""Faults in the models area (issue 8): nothing lost, nothing silently wrong, errors a student
can act on. Each test reproduces one case of the issue (or of our own hostile pass)."""

import os
import warnings

import numpy as np
import pytest
import torch

from coursekit.models import (
    CheckpointError,
    PairedPatches,
    UNet,
    load_checkpoint,
    predict,
    predict_tiled,
    save_checkpoint,
    train,
)
from coursekit.models import checkpoint as checkpoint_module


def _small(seed=0, **kw):
    torch.manual_seed(seed)
    return UNet(1, 1, depth=1, base_channels=4, **kw)


class _PoisonedData(torch.utils.data.Dataset):
    """Finite samples, except a NaN input at index ``bad``."""

    def __init__(self, n=16, bad=5):
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(n, 1, 16, 16)).astype(np.float32)
        self.y = (self.x**2).astype(np.float32)
        self.x[bad, 0, 3, 3] = np.nan

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), torch.from_numpy(self.y[i])


# --------------------------------------------------------------------------- item 3: NaN
def test_nan_batch_stops_training_before_the_weights_are_touched():
    model = _small()
    data = _PoisonedData()
    with pytest.raises(ValueError) as err:
        train(model, data, steps=20, batch_size=4, device="cpu", progress=False)
    msg = str(err.value)
    assert "nan" in msg.lower() and "step" in msg, msg
    assert "input" in msg and "not finite" in msg, msg  # says where the bad value is
    assert "isfinite" in msg, msg  # and how to find the sample in the data
    for name, p in model.named_parameters():
        assert torch.isfinite(p).all(), f"{name} holds NaN after the failed step"
    for name, b in model.named_buffers():
        if b.is_floating_point():
            assert torch.isfinite(b).all(), f"buffer {name} holds NaN after the failed step"
    # the model still predicts finite numbers
    out = predict(model, np.zeros((16, 16), np.float32), device="cpu")
    assert np.isfinite(out).all(), "prediction of the model after the failed run is not finite"


def test_diverging_loss_keeps_the_last_finite_weights():
    model = _small(norm="none")
    huge = (np.full((4, 1, 8, 8), 1e30, np.float32), np.zeros((4, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="smaller learning rate") as err:
        train(model, huge, steps=3, device="cpu", progress=False)
    assert "inputs and targets are finite" in str(err.value), str(err.value)
    assert all(torch.isfinite(p).all() for p in model.parameters()), "weights became non-finite"


# --------------------------------------------------------------------------- item 6b
def test_constant_target_warns():
    rng = np.random.default_rng(0)
    x = [rng.random((1, 32, 32)), rng.random((1, 32, 32))]
    y = [rng.random((1, 32, 32)), np.full((1, 32, 32), 7.0)]
    with pytest.warns(UserWarning, match=r"target field 1.*channel 0.*constant"):
        PairedPatches(x, y, patch_shape=(16, 16))
    # a field that lacks the label (mask 0) may well be constant: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PairedPatches(x, y, patch_shape=(16, 16), label_mask=[[1], [0]])


# --------------------------------------------------------------------------- item 10
def test_checkpoint_with_a_non_integer_format_version(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _small())
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = "1.0"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"format_version '1\.0'"):
        load_checkpoint(path)


def test_load_checkpoint_of_a_folder_says_it_is_a_folder(tmp_path):
    save_checkpoint(tmp_path / "run" / "model.pt", _small())
    with pytest.raises(IsADirectoryError, match=r"is a folder.*model\.pt"):
        load_checkpoint(tmp_path / "run")


def test_batch_size_must_be_a_whole_number():
    model = _small()
    image = np.zeros((32, 32), np.float32)
    with pytest.raises(TypeError, match="batch_size: expected an integer"):
        predict_tiled(model, image, tile=16, batch_size=0.5, progress=False, device="cpu")
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 1"):
        predict_tiled(model, image, tile=16, batch_size=0, progress=False, device="cpu")
    with pytest.raises(TypeError, match="batch_size: expected an integer"):
        predict(model, image, batch_size=2.5, device="cpu")


def test_saving_into_an_unwritable_folder_names_it(tmp_path, monkeypatch):
    target = tmp_path / "locked" / "model.pt"
    target.parent.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoint_module.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=str(target.parent)):
        save_checkpoint(target, _small())


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_saving_into_a_read_only_folder_names_it(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=str(folder)):
            save_checkpoint(folder / "model.pt", _small())
    finally:
        folder.chmod(0o700)


def test_saving_to_a_folder_or_under_a_file_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "model.pt"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save_checkpoint(folder, _small())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"], list(tmp_path.iterdir())
    assert not any(folder.iterdir())
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me")
    with pytest.raises(NotADirectoryError, match="notes.txt"):
        save_checkpoint(afile / "model.pt", _small())
    assert afile.read_text() == "keep me"


def test_concurrent_savers_use_distinct_temporary_files(tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    # another process is half-way through saving the same path under the old fixed name
    other = tmp_path / "model.pt.tmp"
    other.write_bytes(b"another saver's partial file")
    used = []
    real_save = torch.save

    def spy(obj, f, *args, **kwargs):
        used.append(str(f))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, "save", spy)
    save_checkpoint(target, _small(0))
    save_checkpoint(target, _small(1))
    assert len(set(used)) == 2, used
    assert all(os.path.dirname(u) == str(tmp_path) for u in used), used
    assert other.read_bytes() == b"another saver's partial file", "another saver's file clobbered"
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["model.pt", "model.pt.tmp"], leftovers
    load_checkpoint(target)


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    target = save_checkpoint(tmp_path / "model.pt", _small(0))
    before = target.read_bytes()

    def crash(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(target, _small(1))
    assert target.read_bytes() == before, "the previous checkpoint was changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"], list(tmp_path.iterdir())


def test_read_only_checkpoint_loads(tmp_path):
    path = save_checkpoint(tmp_path / "model.pt", _small())
    path.chmod(0o444)
    model, info = load_checkpoint(path)
    assert info["path"] == str(path)


# --------------------------------------------------------------------------- prediction input
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_image_is_refused(bad):
    image = np.zeros((16, 16), np.float32)
    image[2, 3] = bad
    with pytest.raises(ValueError, match="finite"):
        predict(_small(), image, device="cpu")
    with pytest.raises(ValueError, match="finite"):
        predict_tiled(_small(), image, tile=16, device="cpu", progress=False)
