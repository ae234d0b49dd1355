"""coursekit.grading: every check passes the reference answer and fails, with a message a
student can act on, at least two plausible wrong answers (a hard-coded value and common
mistakes)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from coursekit.datasets import fetch
from coursekit.grading import CheckFailed, Scoreboard, data, evaluation
from coursekit.io import read_image, write_ome_tiff
from coursekit.metrics import noise_ceiling, nrmse, pearson_r, psnr, ssim
from coursekit.normalize import normalize


def fails_with(check, answer, *fragments):
    """The check refuses ``answer`` with a CheckFailed whose message has every fragment
    and the four-part form (what was called, returned, expected)."""
    with pytest.raises(CheckFailed) as info:
        check(answer)
    msg = str(info.value)
    assert "returned:" in msg or "raised:" in msg, msg
    assert "expected:" in msg, msg
    for f in fragments:
        assert f in msg, f"{f!r} not in:\n{msg}"
    return msg


# ----------------------------------------------------------------- evaluation (assignment 3)
def good_pearson(p, t, mask=None):
    return pearson_r(target=t, prediction=p, mask=mask)


def test_pearson_reference_passes():
    evaluation.check_pearson(good_pearson)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda p, t, mask=None: 0.87, None),  # hard-coded
        (lambda p, t, mask=None: float(np.dot(p.ravel(), t.ravel()) / np.sqrt(
            np.dot(p.ravel(), p.ravel()) * np.dot(t.ravel(), t.ravel()))),
         "subtract the means"),
        (lambda p, t, mask=None: float(np.mean((p - p.mean()) * (t - t.mean()))),
         "did you forget to divide by the standard deviations"),
        (lambda p, t, mask=None: pearson_r(target=t, prediction=p), "the mask changes nothing"),
        (lambda p, t, mask=None: np.corrcoef(p.ravel(), t.ravel()), "returns a matrix"),
        (lambda p, t, mask=None: np.corrcoef(p, t)[0, 1], None),  # rows of 2D arrays
    ],
)  # fmt: skip
def test_pearson_wrong_answers(wrong, hint):
    msg = fails_with(evaluation.check_pearson, wrong, "pearson")
    if hint:
        assert hint in msg, msg


def test_pearson_message_as_a_student_sees_it():
    msg = fails_with(
        evaluation.check_pearson,
        lambda p, t, mask=None: float(np.mean((p - p.mean()) * (t - t.mean()))),
    )
    assert msg.startswith("your pearson() for two arrays of shape (")
    assert "a correlation lies in [-1, 1]" in msg and "coursekit.metrics.pearson_r" in msg


def test_nrmse():
    evaluation.check_nrmse(lambda p, t: nrmse(target=t, prediction=p))
    fails_with(evaluation.check_nrmse, lambda p, t: 0.5)
    rmse = lambda p, t: np.sqrt(np.mean((p - t) ** 2))  # noqa: E731
    fails_with(evaluation.check_nrmse, lambda p, t: rmse(p, t) / p.std(), "std of the prediction")
    fails_with(evaluation.check_nrmse, lambda p, t: rmse(p, t) / np.ptp(t), "range")
    fails_with(evaluation.check_nrmse, lambda p, t: rmse(p, t) ** 2 / t.std(), "square root")


def test_ssim():
    evaluation.check_ssim(lambda p, t, data_range=None: ssim(target=t, prediction=p,
                                                              data_range=data_range))  # fmt: skip
    fails_with(evaluation.check_ssim, lambda p, t, data_range=None: 0.8)
    L = lambda t, dr: dr if dr is not None else np.ptp(t)  # noqa: E731
    fails_with(evaluation.check_ssim,
               lambda p, t, data_range=None: evaluation._global_ssim(p, t, L(t, data_range)),
               "whole image")  # fmt: skip
    fails_with(evaluation.check_ssim,
               lambda p, t, data_range=None: evaluation._ssim_map_mean(p, t, L(t, data_range), crop=False),
               "border")  # fmt: skip
    fails_with(evaluation.check_ssim,
               lambda p, t, data_range=None: evaluation._ssim_map_mean(p, t, L(t, data_range), sample_cov=False),
               "49 / 48")  # fmt: skip
    fails_with(evaluation.check_ssim,
               lambda p, t, data_range=None: evaluation._ssim_map_mean(p, t, 1.0), "not 1")  # fmt: skip


def test_psnr():
    evaluation.check_psnr(lambda p, t, data_range=None: psnr(target=t, prediction=p,
                                                              data_range=data_range))  # fmt: skip
    mse = lambda p, t: np.mean((p - t) ** 2)  # noqa: E731
    fails_with(evaluation.check_psnr, lambda p, t, data_range=None: 30.0)
    fails_with(evaluation.check_psnr,
               lambda p, t, data_range=None: 10 * np.log(np.ptp(t) ** 2 / mse(p, t)), "log10")  # fmt: skip
    fails_with(evaluation.check_psnr,
               lambda p, t, data_range=None: 10 * np.log10(np.ptp(p) ** 2 / mse(p, t)),
               "not from the prediction")  # fmt: skip
    fails_with(evaluation.check_psnr,
               lambda p, t, data_range=None: 10 * np.log10(np.ptp(t) ** 2 / mse(p, t)),
               "ignored data_range")  # fmt: skip


def test_psnr_identical_images_must_give_inf():
    def no_inf(p, t, data_range=None):
        dr = data_range if data_range is not None else np.ptp(t)
        m = np.mean((p - t) ** 2)
        return 10 * np.log10(dr**2 / m) if m > 0 else 0.0

    fails_with(evaluation.check_psnr, no_inf, "inf", "MSE == 0")


def good_c_max(x, gain, offset, read_noise_adu):
    return noise_ceiling(x, gain=gain, offset=offset, read_noise_adu=read_noise_adu)


def _c_max_formula(*, offset=True, read=True, quant=True, root=True, clip=True):
    def c(x, gain, offset_, read_noise_adu):
        x = np.asarray(x, float)
        nv = gain * (x.mean() - (offset_ if offset else 0)) + (read_noise_adu**2 if read else 0)
        nv += 1 / 12 if quant else 0
        v = 1 - nv / x.var()
        v = max(v, 0.0) if clip else v
        return np.sqrt(v) if root else v

    return lambda x, gain, offset, read_noise_adu: c(x, gain, offset, read_noise_adu)


def test_c_max():
    evaluation.check_c_max(good_c_max)
    evaluation.check_c_max(_c_max_formula())  # the formula, written out, passes too
    fails_with(evaluation.check_c_max, lambda x, gain, offset, read_noise_adu: 0.9)
    fails_with(evaluation.check_c_max, _c_max_formula(offset=False), "offset")
    fails_with(evaluation.check_c_max, _c_max_formula(read=False), "read noise")
    fails_with(evaluation.check_c_max, _c_max_formula(root=False), "square root")


def test_c_max_dark_image_without_clipping():
    with np.errstate(invalid="ignore"):
        msg = fails_with(evaluation.check_c_max, _c_max_formula(clip=False))
    assert "dark image" in msg


def _table(pearson, c_max, swap=False, from_prediction=False):
    import pandas as pd

    def structure_table(predictions, recorded, camera):
        names = list(predictions)
        rows = {}
        for k, name in enumerate(names):
            other = names[(k + 1) % len(names)] if swap else name
            rec = recorded[other].astype(float)
            source = np.round(predictions[name]).clip(0) if from_prediction else recorded[name]
            rows[name] = {
                "r": pearson(predictions[name], rec),
                "c_max": c_max(
                    source, camera.gain, camera.offset, camera.gain * camera.read_noise_e
                ),
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    return structure_table


@pytest.mark.filterwarnings("ignore:the mean of the image")  # the wrong answer's own warning
def test_structure_table():
    evaluation.check_structure_table(_table(good_pearson, good_c_max), good_pearson, good_c_max)
    check = lambda t: evaluation.check_structure_table(t, good_pearson, good_c_max)  # noqa: E731
    fails_with(check, _table(good_pearson, good_c_max, swap=True), "you compared the")
    fails_with(
        check, _table(good_pearson, good_c_max, from_prediction=True), "recorded (noisy) target"
    )
    fails_with(check, lambda p, r, c: {"r": 0.5}, "DataFrame")


# ----------------------------------------------------------------- data (assignment 1)
def good_save(path, stack, *, z_step_um, pixel_size_um):
    write_ome_tiff(path, stack, axes="ZYX",
                   pixel_size_um={"Z": z_step_um, "Y": pixel_size_um, "X": pixel_size_um})  # fmt: skip


def test_save_stack():
    data.check_save_stack(good_save)
    fails_with(data.check_save_stack,
               lambda p, s, *, z_step_um, pixel_size_um: write_ome_tiff(p, s, axes="ZYX"),
               "states no pixel size")  # fmt: skip
    fails_with(data.check_save_stack,
               lambda p, s, *, z_step_um, pixel_size_um: write_ome_tiff(
                   p, s, axes="ZYX", pixel_size_um={"Z": pixel_size_um, "Y": z_step_um, "X": z_step_um}),
               "swapped")  # fmt: skip
    fails_with(data.check_save_stack,
               lambda p, s, *, z_step_um, pixel_size_um: good_save(
                   p, s.astype("float32") / 2, z_step_um=z_step_um, pixel_size_um=pixel_size_um),
               "dtype")  # fmt: skip
    fails_with(data.check_save_stack,
               lambda p, s, *, z_step_um, pixel_size_um: good_save(
                   p, np.ascontiguousarray(s.transpose(0, 2, 1)), z_step_um=z_step_um,
                   pixel_size_um=pixel_size_um),
               "no transpose")  # fmt: skip
    fails_with(data.check_save_stack, lambda p, s, *, z_step_um, pixel_size_um: None, "no file")


def test_load_stack():
    def good(path):
        img = read_image(path)
        return img.data, img.pixel_size_um["Z"], img.pixel_size_um["X"]

    data.check_load_stack(good)
    fails_with(data.check_load_stack, lambda path: (read_image(path).data, 1.0, 0.1))
    fails_with(
        data.check_load_stack, lambda path: (good(path)[0], good(path)[2], good(path)[1]), "swapped"
    )
    fails_with(data.check_load_stack, lambda path: (path, *good(path)[1:]), "pixel array")


def test_percentile():
    data.check_percentile(lambda x, low=1.0, high=99.8: normalize(x, "percentile", pmin=low, pmax=high)
                          if "pmin" in normalize.__code__.co_varnames
                          else normalize(x, "percentile", percentiles=(low, high)))  # fmt: skip
    fails_with(data.check_percentile,
               lambda x, low=1.0, high=99.8: (x - x.min()) / (x.max() - x.min() + 1e-6),
               "minimum and maximum")  # fmt: skip
    fails_with(data.check_percentile,
               lambda x, low=1.0, high=99.8: np.asarray(x, float) / (np.percentile(x, high) - np.percentile(x, low)),
               "subtract the low percentile")  # fmt: skip
    fails_with(data.check_percentile, lambda x, low=1.0, high=99.8: np.full(np.shape(x), 0.5),
               "does not depend on the image")  # fmt: skip
    fails_with(data.check_percentile,
               lambda x, low=1.0, high=99.8: (np.asarray(x, float) - np.quantile(x, low / 100))
               / (np.quantile(x, high / 100) - np.quantile(x, low / 100)),
               "constant image")  # right formula, but 0 / 0 on a constant image  # fmt: skip


def test_zscore():
    data.check_zscore(lambda x: normalize(x, "zscore"))
    data.check_zscore(lambda x: (x - x.mean()) / (np.std(x, ddof=1) + 1e-6))  # ddof=1 is fine
    fails_with(
        data.check_zscore,
        lambda x: np.asarray(x, float) / (np.std(x) + 1e-6),
        "subtract the image's mean",
    )
    fails_with(data.check_zscore, lambda x: (x - x.mean()) / (np.var(x) + 1e-6), "not the variance")
    with np.errstate(invalid="ignore", divide="ignore"):
        fails_with(data.check_zscore, lambda x: (x - x.mean()) / x.std(), "constant image")


def _patch(*, independent=False, off_by_one=False, augment=True, y_shift=0):
    def random_patch_pair(x, y, size, rng):
        end = 0 if off_by_one else 1
        i = int(rng.integers(0, x.shape[0] - size + end))
        j = int(rng.integers(0, x.shape[1] - size + end))
        k, flip = int(rng.integers(4)), rng.random() < 0.5
        out = []
        for a in (x, y):
            ii = min(i + y_shift, x.shape[0] - size) if a is y else i
            p = a[ii : ii + size, j : j + size]
            if augment:
                p = np.rot90(p, k)
                p = np.fliplr(p) if flip else p
            out.append(p)
            if independent:
                k, flip = int(rng.integers(4)), rng.random() < 0.5
        return out[0], out[1]

    return random_patch_pair


def test_patch_pair():
    data.check_patch_pair(_patch())
    fails_with(data.check_patch_pair, _patch(independent=True), "drawing them separately")
    fails_with(data.check_patch_pair, _patch(off_by_one=True), "off by one")
    fails_with(data.check_patch_pair, _patch(augment=False), "orientation")
    fails_with(data.check_patch_pair, _patch(y_shift=1), "the same place")
    fails_with(data.check_patch_pair,
               lambda x, y, size, rng: (x[:size, : size - 1], y[:size, : size - 1]), "end of a slice")  # fmt: skip


def _fetch(*, swap=False, by_position=False, data_dir=True, paths_only=False):
    def fetch_pair(name, *, registry, data_dir_arg=None, **kw):
        raise AssertionError  # replaced below

    def fetch_pair(name, *, registry, data_dir):  # noqa: F811
        kw = {"data_dir": data_dir} if data_dir_flag else {}
        paths = fetch(name, registry=registry, progress=False, **kw)
        tifs = [p for p in paths if p.suffix == ".tif"]
        if by_position:
            t, f = tifs[0], tifs[1]
        else:
            t = next(p for p in tifs if p.name.endswith("_transmitted.ome.tif"))
            f = next(p for p in tifs if p.name.endswith("_fluorescence.ome.tif"))
        if paths_only:
            return t, f
        a, b = read_image(t).data, read_image(f).data
        return (b, a) if swap else (a, b)

    data_dir_flag = data_dir
    return fetch_pair


def test_fetch_pair(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA_DIR", str(tmp_path / "default-cache"))
    data.check_fetch_pair(_fetch())
    fails_with(data.check_fetch_pair, _fetch(swap=True), "(fluorescence, transmitted)")
    fails_with(data.check_fetch_pair, _fetch(data_dir=False), "data_dir")
    fails_with(data.check_fetch_pair, _fetch(paths_only=True), "read_image")
    fails_with(data.check_fetch_pair, lambda name, *, registry, data_dir: (np.zeros((4, 4)),) * 2,
               "nothing downloaded")  # fmt: skip


def test_fetch_pair_ignores_a_classroom_mirror(tmp_path, monkeypatch):
    """A JupyterHub may point COURSEKIT_DATA_BASE_URL at a mirror of the real data sets; the
    check's made-up data set is only on its own server, and the variable is restored after."""
    monkeypatch.setenv("COURSEKIT_DATA_DIR", str(tmp_path / "default-cache"))
    monkeypatch.setenv("COURSEKIT_DATA_BASE_URL", "http://127.0.0.1:9/mirror")
    data.check_fetch_pair(_fetch())
    assert os.environ["COURSEKIT_DATA_BASE_URL"] == "http://127.0.0.1:9/mirror"


def test_fetch_by_position_fails_for_some_file_order(tmp_path, monkeypatch):
    """The check shuffles the files; picking by position is wrong for half the orders."""
    monkeypatch.setenv("COURSEKIT_DATA_DIR", str(tmp_path / "default-cache"))
    failures = 0
    for _ in range(12):
        try:
            data.check_fetch_pair(_fetch(by_position=True))
        except CheckFailed as exc:
            failures += 1
            assert "name ending" in str(exc)
    assert failures > 0


# ----------------------------------------------------------------- scoreboard
def test_scoreboard_records_points_and_failures(capsys):
    board = Scoreboard(evaluation.CHECKS)
    board.check("nrmse", lambda p, t: nrmse(target=t, prediction=p))
    with pytest.raises(CheckFailed):
        board.check("psnr", lambda p, t, data_range=None: 1.0)
    with pytest.raises(NotImplementedError):
        board.check(
            "ssim", lambda p, t, data_range=None: (_ for _ in ()).throw(NotImplementedError())
        )
    assert board.score() == evaluation.CHECKS["nrmse"].points
    board.summary()
    out = capsys.readouterr().out
    assert "PASSED nrmse" in out and "failed (your psnr" in out and "not done yet" in out
    assert f"{board.score():g} / {board.total:g}" in out
    with pytest.raises(KeyError, match="no check named"):
        board.check("pearsn", good_pearson)


def test_a_crash_in_student_code_is_reported_with_the_call():
    def crashes(p, t, mask=None):
        return p @ t  # shapes do not align

    msg = fails_with(evaluation.check_pearson, crashes, "raised: ValueError")
    assert "pearson() for two arrays of shape" in msg


# ----------------------------------------------------------------- the U-Net (assignment 2)
torch = pytest.importorskip("torch")
nn = torch.nn


def make_blocks(*, bias=False, padding=1, final_relu=True, pool=True, skip=True, cat_dim=1,
                upsample="transpose", head_relu=False, deeper_channels=2):  # fmt: skip
    """The solution's blocks, with one mistake switched on at a time."""

    class ConvBlock(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            layers = [nn.Conv2d(c_in, c_out, 3, padding=padding, bias=bias), nn.BatchNorm2d(c_out),
                      nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=padding, bias=bias),
                      nn.BatchNorm2d(c_out)]  # fmt: skip
            self.layers = nn.Sequential(*layers, *([nn.ReLU()] if final_relu else []))

        def forward(self, x):
            return self.layers(x)

    class Down(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
            self.block = ConvBlock(c_in, c_out)

        def forward(self, x):
            return self.block(self.pool(x))

    class Up(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            if upsample == "transpose":
                self.up = nn.ConvTranspose2d(c_in, c_out, 2, stride=2)
            else:
                self.up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 1))
            self.block = ConvBlock(2 * c_out if skip else c_out, c_out)

        def forward(self, x, s):
            x = self.up(x)
            return self.block(torch.cat([s, x], dim=cat_dim) if skip else x)

    class UNet(nn.Module):
        def __init__(self, c_in, c_out, depth=2, base_channels=8):
            super().__init__()
            ch = [base_channels * deeper_channels**i for i in range(depth + 1)]
            self.first = ConvBlock(c_in, ch[0])
            self.downs = nn.ModuleList(Down(ch[i], ch[i + 1]) for i in range(depth))
            self.ups = nn.ModuleList(Up(ch[i + 1], ch[i]) for i in reversed(range(depth)))
            self.head = nn.Sequential(
                nn.Conv2d(ch[0], c_out, 1), *([nn.ReLU()] if head_relu else [])
            )

        def forward(self, x):
            skips = [self.first(x)]
            for d in self.downs:
                skips.append(d(skips[-1]))
            x = skips.pop()
            for u in self.ups:
                x = u(x, skips.pop())
            return self.head(x)

    return ConvBlock, Down, Up, UNet


def test_unet_blocks_reference_pass():
    from coursekit.grading import unet

    ConvBlock, Down, Up, UNet = make_blocks()
    unet.check_conv_block(ConvBlock)
    unet.check_down(Down)
    unet.check_up(Up)
    unet.check_unet(UNet)


def test_conv_block_wrong_answers():
    from coursekit.grading import unet

    fails_with(unet.check_conv_block, make_blocks(bias=True)[0], "bias=False")
    fails_with(unet.check_conv_block, make_blocks(padding=0)[0], "padding=1")
    fails_with(unet.check_conv_block, make_blocks(final_relu=False)[0], "end the block with a ReLU")
    fails_with(unet.check_conv_block, lambda c_in, c_out: nn.Conv2d(c_in, c_out, 3, padding=1),
               "a layer is missing")  # fmt: skip


def test_down_wrong_answers():
    from coursekit.grading import unet

    fails_with(unet.check_down, make_blocks(pool=False)[1], "MaxPool2d(2)")
    fails_with(unet.check_down, make_blocks(bias=True)[1], "bias=False")
    fails_with(unet.check_down, lambda c_in, c_out: nn.Sequential(
        nn.Conv2d(c_in, c_out, 2, stride=2), nn.ReLU()), "number of parameters")  # fmt: skip


def test_up_wrong_answers():
    from coursekit.grading import unet

    fails_with(unet.check_up, make_blocks(skip=False)[2], "2 * out_channels")
    fails_with(unet.check_up, make_blocks(cat_dim=0)[2], "raised")
    fails_with(unet.check_up, make_blocks(upsample="nearest")[2], "number of parameters")


def test_up_that_ignores_its_skip_fails():
    from coursekit.grading import unet

    _, _, Up, _ = make_blocks()

    class IgnoresSkip(Up):
        def forward(self, x, s):
            return super().forward(x, torch.zeros_like(s))

    fails_with(unet.check_up, IgnoresSkip, "depends on the skip")


def test_unet_wrong_answers():
    from coursekit.grading import unet

    fails_with(unet.check_unet, make_blocks(head_relu=True)[3], "without ReLU")
    fails_with(unet.check_unet, make_blocks(deeper_channels=3)[3], "number of parameters")
    fails_with(unet.check_unet, make_blocks(skip=False)[3], "number of parameters")


def _step(*, zero_grad=True, step=True, loss="mse", as_tensor=False):
    def train_step(model, optimizer, x, y):
        if zero_grad:
            optimizer.zero_grad()
        f = nn.functional.mse_loss if loss == "mse" else nn.functional.l1_loss
        out = f(model(x), y)
        out.backward()
        if step:
            optimizer.step()
        return out if as_tensor else out.item()

    return train_step


def test_train_step():
    from coursekit.grading import unet

    unet.check_train_step(_step())
    unet.check_train_step(_step(as_tensor=True))  # a loss tensor is accepted
    fails_with(unet.check_train_step, _step(zero_grad=False), "zero_grad")
    fails_with(unet.check_train_step, _step(step=False), "optimizer.step()")
    fails_with(unet.check_train_step, _step(loss="l1"), "L1")
    fails_with(unet.check_train_step, lambda m, o, x, y: 0.5, "loss")


def test_trained_check_refuses_an_untrained_and_a_constant_model():
    from coursekit.grading import unet

    torch.manual_seed(0)
    fails_with(unet.check_trained, make_blocks()[3](3, 1), "fallback cell")

    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return self.w + torch.zeros_like(x[:, :1])

    fails_with(unet.check_trained, Constant(), "r = 0.000")
    with pytest.raises(CheckFailed, match="nn.Module"):
        unet.check_trained(np.zeros(3))


@pytest.mark.slow
def test_fallback_model_passes_the_trained_check():
    from coursekit.grading import unet

    unet.check_trained(unet.fallback_model(steps=100, seed=0))


# ----------------------------------------------------------------- hallucinations (assignment 4)
def _hall(*, restrict=True, excess="truth", need_claim=True):
    def hallucination_map(prediction, truth, threshold, background):
        p, t = np.asarray(prediction, float), np.asarray(truth, float)
        empty = t <= threshold if restrict else np.ones(t.shape, bool)
        claims = p > threshold if need_claim else np.ones(t.shape, bool)
        base = {"truth": np.maximum(t, background), "threshold": threshold, "raw": t}[excess]
        return np.where(empty & claims, np.maximum(p - base, 0) if not need_claim else p - base, 0)

    return hallucination_map


def _miss(*, restrict=True, excess="prediction"):
    def miss_map(prediction, truth, threshold, background):
        p, t = np.asarray(prediction, float), np.asarray(truth, float)
        signal = t > threshold if restrict else np.ones(t.shape, bool)
        base = np.maximum(p, background) if excess == "prediction" else p
        return np.where(signal & (p <= threshold), t - base, 0)

    return miss_map


def test_hallucination_map():
    from coursekit.grading import hallucination as gh

    gh.check_hallucination_map(_hall())
    fails_with(gh.check_hallucination_map, _hall(restrict=False), "NO signal")
    fails_with(gh.check_hallucination_map, _hall(excess="threshold"), "not prediction - threshold")
    fails_with(gh.check_hallucination_map, _hall(need_claim=False), "claims signal")
    fails_with(gh.check_hallucination_map, lambda p, t, threshold, background: np.zeros_like(t))
    fails_with(gh.check_hallucination_map, _miss(), "that is the miss map")


def test_miss_map():
    from coursekit.grading import hallucination as gh

    gh.check_miss_map(_miss())
    fails_with(gh.check_miss_map, _miss(restrict=False), "HAS signal")
    fails_with(gh.check_miss_map, _hall(), "that is the hallucination map")
    fails_with(gh.check_miss_map, lambda p, t, threshold, background: np.ones_like(t))


def _score(*, over="claims", zero_safe=True):
    def hallucination_score(prediction, truth, threshold, background):
        p, t = np.asarray(prediction, float), np.asarray(truth, float)
        hall = _hall()(p, t, threshold, background).sum()
        if over == "claims":
            den = (p - background)[p > threshold].sum()
        elif over == "all":
            den = (p - background).sum()
        else:
            den = (t - background)[t > threshold].sum()
        if over == "mass":
            return hall
        return hall / den if (den > 0 or not zero_safe) else 0.0

    return hallucination_score


def test_hallucination_score():
    from coursekit.grading import hallucination as gh

    gh.check_hallucination_score(_score())
    fails_with(gh.check_hallucination_score, _score(over="mass"), "hallucinated mass itself")
    fails_with(gh.check_hallucination_score, _score(over="all"), "not over every pixel")
    fails_with(gh.check_hallucination_score, _score(over="truth"), "not the true one")
    fails_with(gh.check_hallucination_score, lambda p, t, threshold, background: 0.1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fails_with(gh.check_hallucination_score, _score(zero_safe=False), "return 0")


def test_uncertainty_spearman():
    from scipy.stats import pearsonr, spearmanr

    from coursekit.grading import hallucination as gh

    gh.check_uncertainty_spearman(
        lambda u, e: spearmanr(np.ravel(u), np.abs(np.ravel(e))).statistic
    )
    fails_with(gh.check_uncertainty_spearman,
               lambda u, e: spearmanr(np.ravel(u), np.ravel(e)).statistic, "ABSOLUTE")  # fmt: skip
    fails_with(gh.check_uncertainty_spearman,
               lambda u, e: pearsonr(np.ravel(u), np.abs(np.ravel(e))).statistic, "Pearson")  # fmt: skip
    fails_with(gh.check_uncertainty_spearman, lambda u, e: 0.4)


# ----------------------------------------------------------------- transfer (assignment 5)
def _new_label(*, copy_first=True, fresh=False, keep_head=False):
    import copy

    from coursekit.models import UNet

    def new_label_model(pretrained, n_labels):
        if fresh:
            cfg = pretrained.config
            cfg["out_channels"] = n_labels
            return UNet(**cfg)
        model = copy.deepcopy(pretrained) if copy_first else pretrained
        if not keep_head:
            model.head = nn.Conv2d(pretrained.channels[0], n_labels, 1)
        return model

    return new_label_model


def test_new_label_model():
    from coursekit.grading import transfer

    transfer.check_new_label_model(_new_label())
    fails_with(transfer.check_new_label_model, _new_label(copy_first=False), "deepcopy")
    fails_with(transfer.check_new_label_model, _new_label(fresh=True), "not from a new UNet")
    fails_with(transfer.check_new_label_model, _new_label(keep_head=True), "replace the head")


def _freeze(parts=("encoders", "downs", "bottleneck")):
    def freeze_encoder(model):
        for name, p in model.named_parameters():
            if name.split(".")[0] in parts:
                p.requires_grad = False

    return freeze_encoder


def test_freeze_encoder():
    from coursekit.grading import transfer

    transfer.check_freeze_encoder(_freeze())
    fails_with(transfer.check_freeze_encoder, _freeze(("encoders", "downs")), "bottleneck")
    fails_with(transfer.check_freeze_encoder,
               _freeze(("encoders", "downs", "bottleneck", "ups", "decoders", "head")), "decoder")  # fmt: skip
    fails_with(transfer.check_freeze_encoder, lambda m: None, "still trainable")


def _curve_stats(*, per_model=True, ddof=1, metric=None):
    def curve_stats(table, m):
        m = metric or m
        if not per_model:
            return table.groupby("n_fields")[m].agg(["mean", "std"])
        means = table.groupby(["n_fields", "seed"])[m].mean().groupby("n_fields")
        return means.agg(["mean", lambda v: v.std(ddof=ddof)]).set_axis(["mean", "std"], axis=1)

    return curve_stats


def test_curve_stats():
    import pandas as pd

    from coursekit.grading import transfer

    transfer.check_curve_stats(_curve_stats())
    fails_with(transfer.check_curve_stats, _curve_stats(per_model=False), "test images first")
    fails_with(transfer.check_curve_stats, _curve_stats(ddof=0), "ddof=1")
    fails_with(transfer.check_curve_stats, _curve_stats(metric="pearson_clean"), "metric passed in")
    fixed = pd.DataFrame({"mean": [0.5, 0.7], "std": [0.1, 0.1]}, index=[1, 4])
    fails_with(transfer.check_curve_stats, lambda t, m: fixed, "expected: index")
    fails_with(
        transfer.check_curve_stats, lambda t, m: t.groupby("n_fields")[m].mean(), "'mean' and 'std'"
    )


def test_fine_tuned_check_refuses_an_untrained_head_a_constant_and_a_two_label_model():
    from coursekit.grading import transfer
    from coursekit.models import UNet

    fails_with(transfer.check_fine_tuned, UNet(3, 1, depth=2, base_channels=8, seed=0), "r = ")

    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return self.w + torch.zeros_like(x[:, :1])

    fails_with(transfer.check_fine_tuned, Constant(), "r = 0.000")
    fails_with(
        transfer.check_fine_tuned,
        UNet(3, 2, depth=2, base_channels=8),
        "new_label_model(pretrained, 1)",
    )
    with pytest.raises(CheckFailed, match="nn.Module"):
        transfer.check_fine_tuned(np.zeros(3))


def test_fine_tuned_check_refuses_the_pretrained_model_and_an_untouched_trunk():
    """With ``pretrained`` given, the pretrained model itself and a new head on its untouched
    trunk (not trained, or only the head trained) fail before any r is computed: the DNA
    model's prediction correlates with the nuclear envelope as well (r 0.3 to 0.5), so the
    threshold alone would let it pass."""
    from coursekit.grading import transfer
    from coursekit.models import PairedPatches, UNet, freeze_trunk, train

    pretrained = UNet(3, 1, depth=2, base_channels=8, seed=1)
    check = transfer.check_fine_tuned

    fails_with(lambda m: check(m, pretrained), pretrained, "the pretrained DNA model itself")
    fails_with(lambda m: check(m, pretrained), pretrained.with_head(1, seed=0),
               "every trunk weight", "all of it")  # fmt: skip
    head_only = freeze_trunk(pretrained.with_head(1, seed=0))  # only the head trains
    rng = np.random.default_rng(0)
    data = PairedPatches([rng.normal(size=(3, 32, 32)).astype(np.float32)],
                         [rng.normal(size=(1, 32, 32)).astype(np.float32)],
                         patch_shape=(16, 16), n_patches_per_epoch=16)  # fmt: skip
    train(head_only, data, steps=2, progress=False)
    assert not torch.equal(head_only.head.weight, pretrained.head.weight)
    fails_with(lambda m: check(m, pretrained), head_only, "every trunk weight")


@pytest.mark.slow
def test_fine_tuned_check_passes_the_notebooks_recipe():
    """The solution's recipe (a DNA model, a new head, STEPS steps on N_FEW fields of the new
    label, all weights trained) passes, with the pretrained model given as in the notebook."""
    from coursekit.experiments import heldout_fields
    from coursekit.grading import transfer, unet
    from coursekit.learning_curve import field_arrays
    from coursekit.models import PairedPatches, train

    # solutions/05_transfer.ipynb's PRETRAIN_STEPS, STEPS, N_FEW and FIELD
    pretrain_steps, steps, n_few, field = 100, 40, 1, (256, 256)
    pretrained = unet.fallback_model(steps=pretrain_steps, seed=0)
    fields = heldout_fields(n_few, field, seed=1_000, labels=(transfer.NEW_LABEL,))
    x, y, _ = field_arrays(fields, (transfer.NEW_LABEL,))
    model = pretrained.with_head(1, seed=0)
    data = PairedPatches(x, y, patch_shape=(64, 64), augment=True, seed=0,
                         n_patches_per_epoch=steps * 8)  # fmt: skip
    train(model, data, steps=steps, lr=3e-3, seed=0, progress=False)
    transfer.check_fine_tuned(model, pretrained)
