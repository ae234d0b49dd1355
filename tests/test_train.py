"""Training: the loss falls on a learnable task, runs repeat exactly, masks work, SSIM."""

import matplotlib
import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from coursekit.models import (
    History,
    PairedPatches,
    UNet,
    masked_loss,
    pick_device,
    ssim_torch,
    train,
    validation_loss,
)

matplotlib.use("Agg")


def _synthetic(n_fields=3, shape=(64, 64), seed=0):
    """Input: smooth random texture; target: a smooth nonlinear function of it."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n_fields):
        x = ndi.gaussian_filter(rng.normal(size=shape), 2)
        x = (x / x.std()).astype(np.float32)
        xs.append(x[None])
        ys.append((ndi.gaussian_filter(x, 1.5) ** 2)[None].astype(np.float32))
    return xs, ys


def _small(out_channels=1, seed=0, **kw):
    torch.manual_seed(seed)
    return UNet(1, out_channels, depth=2, base_channels=8, **kw)


def test_training_reduces_the_loss():
    xs, ys = _synthetic()
    data = PairedPatches(xs, ys, patch_shape=(32, 32), seed=0)
    val = PairedPatches(
        *_synthetic(1, seed=1), patch_shape=(32, 32), augment=False, n_patches_per_epoch=16
    )
    model = _small()
    before = validation_loss(model, val, device="cpu")
    history = train(
        model, data, val_data=val, steps=80, lr=3e-3, device="cpu", progress=False, val_every=40
    )
    assert history.steps == list(range(1, 81)) and len(history.train_loss) == 80
    assert history.val_steps == [40, 80]
    assert np.mean(history.train_loss[-10:]) < 0.5 * np.mean(history.train_loss[:5])
    assert history.val_loss[-1] < 0.5 * before
    assert history.device == "cpu" and history.n_parameters == model.n_parameters
    assert history.elapsed_s > 0 and history.steps_per_s > 0 and not model.training
    d = history.to_dict()
    assert d["loss"] == "mse" and History.from_dict(d) == history
    ax = history.plot()
    assert ax.get_xlabel() == "training step" and "loss" in ax.get_ylabel()
    assert len(ax.get_legend().get_texts()) == 2


def test_cpu_training_is_repeatable():
    xs, ys = _synthetic(2)

    def run(seed):
        data = PairedPatches(xs, ys, patch_shape=(16, 16), seed=0, n_patches_per_epoch=16)
        model = _small(dropout=0.1)
        h = train(model, data, steps=6, batch_size=4, seed=seed, device="cpu", progress=False)
        return h.train_loss, model.state_dict()

    la, wa = run(0)
    lb, wb = run(0)
    assert la == lb
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    lc, _ = run(1)  # another seed shuffles and drops out differently
    assert lc != la


def test_masked_label_gets_no_gradient():
    torch.manual_seed(0)
    model = UNet(1, 2, depth=1, base_channels=4)
    x = torch.randn(3, 1, 16, 16)
    y = torch.randn(3, 2, 16, 16)
    y[:, 1] = 1e6  # whatever a missing label's target holds
    mask = torch.tensor([[1.0, 0.0]] * 3)
    loss = masked_loss(model(x), y, mask)
    assert loss < 100
    loss.backward()
    w, b = model.head.weight.grad, model.head.bias.grad
    assert torch.all(w[1] == 0) and b[1] == 0
    assert w[0].abs().sum() > 0 and b[0] != 0
    # the loss is the mean over the labels present
    p, t = torch.zeros(2, 2, 4, 4), torch.ones(2, 2, 4, 4)
    t[1, 0] = 3.0
    m = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert masked_loss(p, t, m).item() == pytest.approx((1 + 1 + 9) / 3)
    assert masked_loss(p, t, torch.zeros(2, 2)).item() == 0.0
    assert masked_loss(p, t, loss="l1").item() == pytest.approx((1 + 1 + 3 + 1) / 4)


def test_training_leaves_a_missing_label_untouched():
    """Label 1 exists in no field: its output weights never change."""
    xs, ys = _synthetic(2)
    ys = [np.concatenate([y, np.full_like(y, 50.0)]) for y in ys]
    data = PairedPatches(
        xs, ys, patch_shape=(16, 16), label_mask=[[1, 0], [1, 0]], n_patches_per_epoch=16
    )
    model = _small(out_channels=2)
    before = model.head.weight.detach().clone()
    train(model, data, steps=4, device="cpu", progress=False)
    after = model.head.weight.detach()
    assert torch.equal(after[1], before[1]) and not torch.equal(after[0], before[0])


def test_ssim_matches_scikit_image_and_is_differentiable():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    a = ndi.gaussian_filter(rng.random((40, 36)), 1)
    b = a + 0.05 * rng.normal(size=a.shape)
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=2.0
    )
    ta = torch.tensor(a)[None, None]
    tb = torch.tensor(b)[None, None].requires_grad_(True)
    ours = ssim_torch(tb, ta, data_range=2.0)
    assert ours.shape == (1, 1)
    assert ours.item() == pytest.approx(ref, abs=1e-6)
    ours.sum().backward()
    assert torch.isfinite(tb.grad).all() and tb.grad.abs().sum() > 0
    v = torch.rand(2, 3, 6, 20, 20)
    assert torch.allclose(ssim_torch(v, v), torch.ones(2, 3), atol=1e-5)  # 3D, short Z
    assert (ssim_torch(v, torch.rand(2, 3, 6, 20, 20)) < 0.5).all()


def test_mse_ssim_loss_trains_in_3d():
    rng = np.random.default_rng(0)
    x = ndi.gaussian_filter(rng.normal(size=(12, 24, 24)), 1.5).astype(np.float32)
    data = PairedPatches([x], [x**2], patch_shape=(8, 16, 16), n_patches_per_epoch=8)
    torch.manual_seed(0)
    model = UNet(1, 1, ndim=3, depth=1, base_channels=4)
    h = train(
        model,
        data,
        steps=3,
        batch_size=2,
        loss="mse+ssim",
        device="cpu",
        progress=False,
        val_data=data,
        val_every=5,
    )
    assert len(h.train_loss) == 3 and np.isfinite(h.train_loss).all() and len(h.val_loss) == 1


class _Stream(torch.utils.data.IterableDataset):
    """Endless (input, target, label_mask) samples, like the microscope's PatchStream."""

    def __iter__(self):
        g = torch.Generator().manual_seed(0)
        while True:
            x = torch.randn(1, 16, 16, generator=g)
            yield x, x.abs(), torch.ones(1)


def test_accepts_iterable_datasets_loaders_and_arrays():
    model = _small()
    h = train(model, _Stream(), steps=3, batch_size=2, device="cpu", progress=False)
    assert len(h.train_loss) == 3
    loader = torch.utils.data.DataLoader(_Stream(), batch_size=3)
    h = train(
        model,
        loader,
        steps=2,
        device="cpu",
        progress=False,
        val_data=_Stream(),
        val_max_samples=4,
        val_every=5,
    )
    assert len(h.val_loss) == 1 and h.batch_size == 3
    x = np.random.default_rng(0).normal(size=(6, 1, 16, 16)).astype(np.float32)
    h = train(
        model,
        (x, np.abs(x)),
        steps=2,
        batch_size=4,
        device="cpu",
        progress=False,
        val_every=2,
        val_data=([x[0], x[1, :, :12]], [np.abs(x[0]), np.abs(x[1, :, :12])]),
    )
    assert len(h.val_loss) == 1 and np.isfinite(h.val_loss[0])
    h = train(model, (x, np.abs(x)), seconds=0.3, device="cpu", progress=False)
    assert 1 <= len(h.steps) and h.elapsed_s < 10


def test_bad_arguments_are_rejected_clearly():
    model = _small()
    data = _Stream()
    with pytest.raises(ValueError, match="steps=.*seconds="):
        train(model, data, progress=False)
    with pytest.raises(ValueError, match="unknown loss 'ssim'"):
        train(model, data, steps=1, loss="ssim", progress=False)
    with pytest.raises(ValueError, match="steps"):
        train(model, data, steps=0, progress=False)
    with pytest.raises(TypeError, match="Dataset"):
        train(model, "patches", steps=1, progress=False)
    three = UNet(3, 1, depth=1, base_channels=4)
    with pytest.raises(ValueError, match="expects 3 input channel.*has 1"):
        train(three, data, steps=1, device="cpu", progress=False)
    two_labels = UNet(1, 2, depth=1, base_channels=4)
    with pytest.raises(ValueError, match="predicts 2 label"):
        train(two_labels, data, steps=1, device="cpu", progress=False)
    x = np.zeros((4, 1, 8, 8), np.float32)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train(model, (x, x), steps=1, device="cpu", progress=False)
    with pytest.raises(TypeError, match="floating-point"):
        train(model, (np.zeros((4, 1, 8, 8), np.int32), x), steps=1, device="cpu", progress=False)
    huge = (np.full((4, 1, 8, 8), 1e30, np.float32), np.zeros((4, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="smaller learning rate"):
        train(_small(norm="none"), huge, steps=3, device="cpu", progress=False)
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu")
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")).type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")
    with pytest.warns(UserWarning, match="amp=True needs CUDA"):
        train(model, data, steps=1, amp=True, device="cpu", progress=False)


def test_live_plot_runs_outside_a_notebook(capsys):
    data = PairedPatches(*_synthetic(1), patch_shape=(16, 16), n_patches_per_epoch=8)
    h = train(
        _small(),
        data,
        val_data=data,
        steps=4,
        val_every=2,
        live_plot=True,
        device="cpu",
        progress=True,
    )
    assert h.val_steps == [2, 4]


def test_cosine_schedule_trains_and_unknown_schedule_is_refused():
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((16, 1, 16, 16)).astype(np.float32)
    model = UNet(1, 1, depth=1, base_channels=4)
    hist = train(
        model, (x, x**2), steps=4, batch_size=4, schedule="cosine", progress=False, device="cpu"
    )
    assert len(hist.train_loss) == 4 and all(np.isfinite(hist.train_loss))
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        train(model, (x, x**2), steps=1, schedule="linear", progress=False, device="cpu")
