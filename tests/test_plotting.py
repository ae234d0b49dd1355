"""House style, display stretch, colour composites, and the course's recurring figures."""

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from coursekit.microscope import simulate_field  # noqa: E402
from coursekit.plotting import (  # noqa: E402
    STYLE,
    composite,
    field_overview,
    prediction_figure,
    scale_bar,
    stretch,
    use_style,
)


def test_use_style_is_readable_and_reversible():
    old = use_style()
    try:
        assert matplotlib.rcParams["figure.dpi"] >= 100
        assert matplotlib.rcParams["font.size"] >= 9
        assert all(matplotlib.rcParams[k] == v for k, v in STYLE.items() if k != "font.size")
    finally:
        matplotlib.rcParams.update(old)
    assert matplotlib.rcParams["figure.dpi"] == old["figure.dpi"]


def test_stretch_percentiles():
    img = np.arange(101, dtype=float)
    out = stretch(img, percentiles=(10, 90))
    assert out.min() == 0 and out.max() == 1
    assert out[50] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="low < high"):
        stretch(img, percentiles=(90, 10))
    with pytest.raises(TypeError, match="pair"):
        stretch(img, percentiles=5)


def test_composite_colours_add():
    a = np.zeros((4, 4))
    a[0, 0] = 1
    b = np.zeros((4, 4))
    b[0, 0] = 1
    b[1, 1] = 1
    rgb = composite({"a": a, "b": b}, {"a": "red", "b": "green"}, percentiles=(0, 100))
    assert rgb.shape == (4, 4, 3)
    assert rgb[0, 0].tolist() == [1, 1, 0]  # red + green
    assert rgb[1, 1].tolist() == [0, 1, 0]
    assert rgb[2, 2].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="not channels"):
        composite({"a": a}, {"x": "red"})
    with pytest.raises(ValueError, match="unknown colour"):
        composite({"a": a}, {"a": "mauve"})
    with pytest.raises(ValueError, match="shape"):
        composite({"a": a, "b": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="non-empty dict"):
        composite([a])


def test_scale_bar_length():
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((100, 100)))
    assert scale_bar(ax, 0.3, (100, 100)) == 10.0  # 33 px of 100
    assert scale_bar(ax, 0.3, (20, 20)) == 2.0  # 10 and 5 um would cover over half
    assert ax.texts[0].get_text() == "10 µm"
    plt.close(fig)


@pytest.fixture(scope="module")
def field():
    return simulate_field((48, 48), seed=0, n_cells=2, labels=("dna", "membrane"))


def test_field_overview_takes_fields(field):
    fig = field_overview(field, labels=("dna",))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[:3] == ["brightfield -1.0 µm", "brightfield +0.0 µm", "brightfield +1.0 µm"]
    assert "dna (recorded)" in titles and "membrane (clean)" not in titles
    plt.close(fig)
    with pytest.raises(ValueError, match="not simulated"):
        field_overview(field, labels=("actin",))


def test_prediction_figure_shares_contrast(field):
    rng = np.random.default_rng(0)
    pred = 2 * field.clean["dna"] + rng.normal(0, 1, field.clean["dna"].shape)
    fig = prediction_figure(
        field.transmitted[1], field.recorded["dna"], field.clean["dna"], pred, pixel_size_um=0.3
    )
    panels = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(panels) == 5
    clims = {ax.images[0].get_clim() for ax in panels[1:4]}
    assert len(clims) == 1  # recorded, clean and prediction on one contrast
    lo, hi = panels[4].images[0].get_clim()
    assert lo == -hi  # the error on a symmetric scale
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert "red: too bright, blue: too dim" in labels
    plt.close(fig)


def test_unet_figure_is_drawn_from_the_model():
    from coursekit.models import UNet
    from coursekit.plotting import unet_figure

    model = UNet(3, 1, depth=2, base_channels=4)
    fig = unet_figure(model, (3, 64, 64))
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
    assert len(boxes) == 1 + 2 + 1 + 2 + 1  # input, encoders, bottleneck, decoders, output
    heights = [b.get_height() for b in boxes]
    assert heights[1] == 2 * heights[2]  # one level down: half the size
    assert f"{model.n_parameters:,} parameters" in ax.get_title()
    assert f"receptive field {model.receptive_field} px" in ax.get_title()
    plt.close(fig)
