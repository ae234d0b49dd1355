"""The z-stack viewer: static montage, one-plane figure, widget controls, input errors."""

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from coursekit.microscope import simulate_field  # noqa: E402
from coursekit.viewer import field_channels, plane_figure, stack_figure, stack_viewer  # noqa: E402


@pytest.fixture(scope="module")
def f3d():
    return simulate_field((6, 32, 32), seed=0, n_cells=1, labels=("dna", "membrane"))


@pytest.fixture
def stack():
    rng = np.random.default_rng(0)
    return {"a": rng.random((5, 16, 20)).astype(np.float32), "b": np.ones((5, 16, 20))}


def test_field_channels(f3d):
    ch = field_channels(f3d)
    assert list(ch) == ["brightfield", "dna", "membrane"]
    assert all(v.shape == (6, 32, 32) for v in ch.values())
    assert field_channels(f3d, ["dna"], clean=True)["dna"] is f3d.clean["dna"]
    f2d = simulate_field((32, 32), seed=0, n_cells=1, labels=("dna",))
    with pytest.raises(ValueError, match="3D Field"):
        field_channels(f2d)


def test_stack_figure_layout(stack, f3d):
    fig = stack_figure(stack, n_planes=3)
    axes = np.array(fig.axes).reshape(2, 4)  # 2 channels x (3 planes + section)
    assert [ax.get_title() for ax in axes[0]] == ["plane 1", "plane 2", "plane 3", "x-z section"]
    assert axes[1, 0].get_ylabel() == "b"
    plt.close(fig)
    # from a field: titles in micrometres above the coverslip, sizes from the metadata
    fig = stack_figure(f3d, planes=[0, 4], section=False)
    assert len(fig.axes) == 3 * 2
    assert [ax.get_title() for ax in fig.axes[:2]] == ["z = -1.0 um", "z = 1.0 um"]
    plt.close(fig)
    fig = stack_figure(f3d, planes=[4], section=False, z0_um=0.0)
    assert fig.axes[0].get_title() == "z = 2.0 um"
    plt.close(fig)
    # one plane per column when fewer planes than asked
    fig = stack_figure(stack["a"], n_planes=10)
    assert len(fig.axes) == 5 + 1
    plt.close(fig)


def test_contrast_is_fixed_over_the_stack(stack):
    fig = stack_figure({"a": stack["a"]}, planes=[0, 4], section=False)
    lims = [ax.images[0].get_clim() for ax in fig.axes]
    assert lims[0] == lims[1]
    plt.close(fig)


def test_plane_figure(stack):
    fig = plane_figure(stack, 2, "b", z_step_um=0.5, pixel_size_um=0.3)
    assert fig.axes[0].get_title() == "b, z = 1.0 um"
    plt.close(fig)
    with pytest.raises(ValueError, match="unknown channel 'c'"):
        plane_figure(stack, 0, "c")
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        plane_figure(stack, 5)


def test_viewer_controls_redraw(stack, monkeypatch):
    plt.close("all")
    calls = []
    import coursekit.viewer as viewer

    real = viewer.plane_figure

    def spy(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(viewer, "plane_figure", spy)
    w = stack_viewer(stack)
    controls, out = w.children
    z, menu = controls.children
    assert (z.min, z.max, z.value) == (0, 4, 2)  # no z step: plane indices
    assert list(menu.options) == ["a", "b"] and menu.value == "a"
    z.value = 4
    menu.value = "b"
    assert calls == [(2, "a"), (4, "a"), (4, "b")]
    assert plt.get_fignums() == []  # every drawn figure is closed


def test_bad_inputs(stack):
    with pytest.raises(ValueError, match="same"):
        stack_figure({"a": np.zeros((2, 4, 4)), "b": np.zeros((3, 4, 4))})
    with pytest.raises(ValueError, match="empty"):
        stack_figure({})
    with pytest.raises(ValueError, match="planes"):
        stack_figure(stack, planes=[7])
    with pytest.raises(ValueError):
        stack_figure(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="unknown channel"):
        stack_viewer(stack, channel="x")


def test_viewer_slider_reads_in_micrometres(f3d):
    w = stack_viewer(f3d)
    z = w.children[0].children[0]
    labels = [label for label, _ in z.options]
    assert labels[0] == "-1.0 um" and labels[-1] == "1.5 um"  # 6 planes of 0.5 um
    assert z.value == 3 and z.label == "0.5 um"
    plt.close("all")


@pytest.fixture
def pair():
    rng = np.random.default_rng(1)
    clean = rng.random((4, 24, 24)).astype(np.float32)
    recorded = 100 + 50 * clean + rng.normal(0, 5, clean.shape)
    pred = 3 * clean - 1 + rng.normal(0, 0.05, clean.shape)
    return rng.random((4, 24, 24)), pred, recorded, clean


def test_compare_images_share_one_scale(pair):
    from coursekit.viewer import compare_images

    x, pred, rec, clean = pair
    im = compare_images(x, pred, rec, clean)
    assert list(im["panels"]) == ["input", "prediction", "recorded", "clean", "error"]
    assert all(v.shape == (1, 4, 24, 24) for v in im["panels"].values())
    # prediction and recorded mapped onto the clean scale: one contrast for all three
    assert im["limits"]["prediction"] == im["limits"]["clean"] == im["limits"]["recorded"]
    assert abs(im["panels"]["prediction"].mean() - clean.mean()) < 1e-3
    lo, hi = im["limits"]["error"]
    assert lo == -hi and hi < 0.2  # symmetric, small: the prediction is nearly exact
    # without a clean truth the recorded one is the reference
    im2 = compare_images(x[0], pred[0], rec[0])
    assert im2["reference"] == "recorded" and im2["ndim"] == 2


def test_compare_figure_layout(pair):
    from coursekit.viewer import compare_figure

    x, pred, rec, clean = pair
    fig = compare_figure(x, pred, rec, clean, n_planes=2, z_step_um=0.5, pixel_size_um=0.3)
    image_axes = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(image_axes) == 2 * 5
    titles = [ax.get_title() for ax in image_axes[:5]]
    assert titles == [
        "input (transmitted)",
        "prediction",
        "recorded truth",
        "clean truth",
        "prediction - clean truth",
    ]
    assert image_axes[0].get_ylabel() == "z = 0.5 um"
    clims = {ax.images[0].get_clim() for ax in image_axes[1:4]}
    assert len(clims) == 1  # linked contrast
    plt.close(fig)
    fig = compare_figure(x[0], pred[0], clean=clean[0])  # 2D: one row, four panels
    assert sum(1 for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>") == 4
    plt.close(fig)


def test_compare_viewer_controls(pair, monkeypatch):
    import coursekit.viewer as viewer
    from coursekit.viewer import compare_viewer

    plt.close("all")
    calls = []
    real = viewer.compare_plane_figure

    def spy(images, **kw):
        calls.append((kw["z"], kw["t"], images["limits"]["clean"]))
        return real(images, **kw)

    monkeypatch.setattr(viewer, "compare_plane_figure", spy)
    x, pred, rec, clean = pair
    tl = np.stack([clean, clean])  # a time-lapse (T, Z, Y, X)
    w = compare_viewer(np.stack([x, x]), tl, clean=tl, z_step_um=1.0)
    controls = w.children[0].children
    assert [c.description for c in controls] == ["z", "t", "contrast"]
    z, t, contrast = controls
    z.value = 0
    t.value = 1
    contrast.value = (10.0, 90.0)
    assert [c[:2] for c in calls] == [(2, 0), (0, 0), (0, 1), (0, 1)]
    assert calls[-1][2] != calls[0][2]  # the contrast slider changed every panel's range
    assert plt.get_fignums() == []


def test_compare_bad_inputs(pair):
    from coursekit.viewer import compare_figure

    x, pred, rec, clean = pair
    with pytest.raises(ValueError, match="recorded target, the clean target"):
        compare_figure(x, pred)
    with pytest.raises(ValueError, match="shape"):
        compare_figure(x, pred, clean=clean[:, :10])
    with pytest.raises(ValueError, match="planes"):
        compare_figure(x, pred, clean=clean, planes=[9])
