"""A look at the held-out region: input plane, target and prediction side by side."""

from __future__ import annotations

from coursekit.realdata.images import PairedImages, SpatialSplit, spatial_split
from coursekit.realdata.model import RealModel

__all__ = ["plot_heldout"]

PANEL_INCHES = 2.6  # per image panel: readable on a projector at dpi 100
FIGURE_DPI = 100


def plot_heldout(
    model: RealModel, data: PairedImages, split="right_quarter", *, plane=None, tta=False
):
    """Show, for every target of ``model``, the held-out region's input plane, target and
    prediction (each contrast-stretched to its 0.5 to 99.8 percentiles).

    Parameters
    ----------
    model : RealModel
    data : PairedImages
        Raw images, as given to :func:`~coursekit.realdata.train_real`.
    split : str, array_like of bool or SpatialSplit
    plane : str, optional
        The input plane to show; default the middle one of the model's inputs.
    tta : bool or str
        Passed to :meth:`RealModel.predict`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from coursekit.plotting import stretch

    split = split if isinstance(split, SpatialSplit) else spatial_split(data.shape, split)
    factor = model.binning // data.binning
    held_out = data.binned(factor).crop(split.binned(factor).test_box)
    preds = model.predict(held_out, tta=tta)
    plane = plane or model.input_names[len(model.input_names) // 2]
    image = held_out.select(inputs=[plane]).inputs[0]
    rows = len(model.label_names)
    aspect = image.shape[0] / image.shape[1]
    fig, axes = plt.subplots(
        rows,
        3,
        figsize=(3 * PANEL_INCHES, rows * PANEL_INCHES * min(aspect, 2.0)),
        dpi=FIGURE_DPI,
        squeeze=False,
    )
    for k, name in enumerate(model.label_names):
        panels = [
            (image, plane),
            (held_out.targets[name], f"{name} (target)"),
            (preds[name], f"{name} (prediction)"),
        ]
        for ax, (img, title) in zip(axes[k], panels):
            ax.imshow(stretch(img), cmap="gray")
            ax.set_title(title, fontsize=10)
            ax.set_axis_off()
    fig.suptitle(f"held-out region ({split.name}), binning {model.binning}", fontsize=11)
    fig.tight_layout()
    return fig
