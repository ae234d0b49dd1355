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
    assert (z.min, z.max, z.value) == (0, 4, 2)
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
