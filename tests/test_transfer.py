"""Transfer learning (issue 11): a new head on a trained trunk, frozen or fine-tuned, saved
and loaded through checkpoints."""

import numpy as np
import pytest
import torch

from coursekit.models import (
    UNet,
    freeze_trunk,
    load_checkpoint,
    predict,
    save_checkpoint,
    train,
    trainable_parameters,
    unfreeze,
)


def _data(n=16, cout=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1, 16, 16)).astype(np.float32)
    y = np.concatenate([x**2, -x][:cout], axis=1).astype(np.float32)
    return x, y


def _trained_base():
    model = UNet(1, 1, depth=2, base_channels=4, seed=0)
    x, y = _data(cout=1)
    train(model, (x, y), steps=3, batch_size=4, device="cpu", progress=False)
    return model


def test_with_head_copies_the_trunk_and_replaces_the_head():
    base = _trained_base()
    new = base.with_head(2, seed=1)
    assert new.config == {**base.config, "out_channels": 2}
    base_state, new_state = base.state_dict(), new.state_dict()
    for k, v in base_state.items():
        if k.startswith("head."):
            assert new_state[k].shape[0] == 2, k
        else:
            assert torch.equal(v, new_state[k]), f"trunk weight {k} not copied"
    # a copy, not shared: changing the new trunk leaves the base alone
    with torch.no_grad():
        new.encoders[0][0].weight.add_(1.0)
    assert not torch.equal(new.encoders[0][0].weight, base.encoders[0][0].weight)
    # the same seed gives the same new head
    again = base.with_head(2, seed=1)
    assert torch.equal(again.head.weight, base.with_head(2, seed=1).head.weight)
    assert predict(base.with_head(3), np.zeros((16, 16), np.float32), device="cpu").shape == (
        3,
        16,
        16,
    )


def test_frozen_trunk_does_not_change_in_training_and_the_head_does():
    model = freeze_trunk(_trained_base().with_head(2, seed=1))
    assert trainable_parameters(model) == ["head.weight", "head.bias"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _data(cout=2, seed=1)
    train(model, (x, y), steps=5, batch_size=4, lr=1e-2, device="cpu", progress=False)
    after = model.state_dict()
    for k, v in before.items():
        if k.startswith("head."):
            assert not torch.equal(v, after[k]), f"head {k} did not train"
        else:  # weights and batch-norm running statistics alike
            assert torch.equal(v, after[k]), f"frozen trunk {k} changed in training"
    # unfreeze: everything trains (fine-tuning)
    unfreeze(model)
    assert len(trainable_parameters(model)) == len(list(model.parameters()))
    train(model, (x, y), steps=2, batch_size=4, device="cpu", progress=False)
    assert not torch.equal(model.encoders[0][0].weight, before["encoders.0.0.weight"])


def test_frozen_state_and_new_head_survive_a_checkpoint(tmp_path):
    model = freeze_trunk(_trained_base().with_head(2, seed=1))
    path = save_checkpoint(tmp_path / "new_label.pt", model, label_names=["a", "b"])
    loaded, info = load_checkpoint(path)
    assert loaded.config["out_channels"] == 2
    assert trainable_parameters(loaded) == ["head.weight", "head.bias"]
    assert "encoders.0.0.weight" in info["frozen_parameters"]
    image = np.random.default_rng(0).normal(size=(16, 16)).astype(np.float32)
    np.testing.assert_array_equal(
        predict(loaded, image, device="cpu"), predict(model, image, device="cpu")
    )


def test_transfer_errors():
    with pytest.raises(TypeError, match="has no `head`"):
        freeze_trunk(torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="out_channels"):
        UNet(depth=1).with_head(0)
    frozen = UNet(depth=1, base_channels=4)
    for p in frozen.parameters():
        p.requires_grad_(False)
    x, y = _data(cout=1)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train(frozen, (x, y), steps=1, device="cpu", progress=False)
