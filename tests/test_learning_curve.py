"""Learning curve on a fixed pool of fields, and the input-as-prediction baseline."""

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from coursekit.learning_curve import (  # noqa: E402
    field_arrays,
    input_baseline,
    learning_curve,
    plot_learning_curve,
)


def _pairs(n, seed):
    """Toy pairs: the target is a blurred square of the input's middle channel."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        x = rng.normal(size=(3, 32, 32)).astype(np.float32)
        y = (x[1:2] ** 2).astype(np.float32)
        xs.append(x)
        ys.append(y)
    return xs, ys


def test_input_baseline_is_the_rescaled_input():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 16, 16))
    y = -2 * x[1:2] + 5  # the middle plane, inverted and shifted: a perfect affine match
    table = input_baseline([x], [y], clean=[y])
    assert table["pearson_recorded"].iloc[0] == pytest.approx(1.0)
    assert table["pearson_clean"].iloc[0] == pytest.approx(1.0)
    other = input_baseline([x], [y], channel=0)  # an unrelated plane
    assert abs(other["pearson_recorded"].iloc[0]) < 0.3
    with pytest.raises(ValueError, match="index below 3"):
        input_baseline([x], [y], channel=3)
    with pytest.raises(ValueError, match="as many inputs as targets"):
        input_baseline([x, x], [y])


def test_learning_curve_table_and_plot():
    xs, ys = _pairs(3, 0)
    tx, ty = _pairs(1, 1)
    table = learning_curve(
        xs, ys, tx, ty, test_clean=ty, sizes=(1, 3), seeds=(0, 1), steps=3,
        patch_shape=(16, 16), batch_size=2, progress=False, device="cpu",
    )  # fmt: skip
    assert list(table.columns) == [
        "n_fields", "seed", "steps", "image", "channel", "pearson_recorded", "pearson_clean"
    ]  # fmt: skip
    assert len(table) == 2 * 2 * 1
    assert sorted(set(table["n_fields"])) == [1, 3] and set(table["steps"]) == {3}
    assert np.isfinite(table["pearson_recorded"]).all()
    assert (table["pearson_recorded"] == table["pearson_clean"]).all()  # clean given = target
    fig = plot_learning_curve(table, baseline=0.1)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "distinct training fields"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("the input") for t in legend), legend
    plt.close(fig)
    with pytest.raises(ValueError, match="metric"):
        plot_learning_curve(table, metric="ssim")


def test_learning_curve_bad_inputs():
    xs, ys = _pairs(2, 0)
    with pytest.raises(ValueError, match="cannot train on 4"):
        learning_curve(xs, ys, xs, ys, sizes=(4,), steps=1, progress=False)
    with pytest.raises(ValueError, match="steps"):
        learning_curve(xs, ys, xs, ys, sizes=(1,), steps=0, progress=False)
    with pytest.raises(ValueError, match="same spatial shape"):
        learning_curve(xs, [y[:, :8] for y in ys], xs, ys, steps=1, progress=False)


def test_field_arrays():
    from coursekit.microscope import simulate_field

    f = simulate_field((32, 32), seed=0, n_cells=1, labels=("dna", "membrane"))
    x, y, c = field_arrays([f], ("membrane",))
    assert x[0].shape == (3, 32, 32) and y[0].shape == (1, 32, 32)
    assert np.array_equal(c[0][0], f.clean["membrane"].astype(np.float32))
