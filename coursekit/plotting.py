"""Figures the course draws again and again, in one house style.

- :func:`use_style`: the course's readable defaults (dpi 100, text 10 pt, ticks 9 pt), set
  once at the top of a notebook;
- :func:`stretch` and :func:`composite`: display ranges and colour composites of channels;
- :func:`scale_bar`: a micrometre bar on an image panel;
- :func:`field_overview`: a field, every way the course images it;
- :func:`prediction_figure`: a prediction beside its input and truth, with colour bars, one
  shared contrast, and the signed error;
- :func:`unet_figure`: a U-Net's architecture drawn from the model itself.

Each figure function returns a matplotlib Figure; the caller shows or saves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "STYLE",
    "use_style",
    "stretch",
    "composite",
    "scale_bar",
    "field_overview",
    "prediction_figure",
    "unet_figure",
]

#: The house style: readable on a projector (a 256-pixel field fills a 2.5-inch panel at
#: 100 dpi, and 9 to 10 pt text is about 13 pixels high).
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "image.interpolation": "nearest",
}

#: Additive colours of :func:`composite`, in the order channels get them by default.
COMPOSITE_COLORS = ("magenta", "green", "cyan", "yellow", "red", "blue")
_RGB = {
    "red": (1, 0, 0),
    "green": (0, 1, 0),
    "blue": (0, 0, 1),
    "cyan": (0, 1, 1),
    "magenta": (1, 0, 1),
    "yellow": (1, 1, 0),
    "gray": (1, 1, 1),
    "white": (1, 1, 1),
}
DEFAULT_PERCENTILES = (0.5, 99.8)
#: Colour of the scale bar and its text.
SCALE_BAR_COLOR = "white"


def use_style() -> dict:
    """Apply the course's house style (:data:`STYLE`) to matplotlib; return the old values.

    Call it once at the top of a notebook, after ``import matplotlib.pyplot``.

    Examples
    --------
    >>> from coursekit.plotting import use_style
    >>> old = use_style()
    >>> import matplotlib
    >>> matplotlib.rcParams["figure.dpi"]
    100.0
    >>> matplotlib.rcParams.update(old)
    """
    import matplotlib

    old = {k: matplotlib.rcParams[k] for k in STYLE}
    matplotlib.rcParams.update(STYLE)
    return old


def _check_percentiles(percentiles) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in percentiles)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"percentiles: expected a pair (low, high) of numbers, got {percentiles!r}"
        ) from exc
    if not 0 <= lo < hi <= 100:
        raise ValueError(f"percentiles: expected 0 <= low < high <= 100, got {percentiles!r}")
    return lo, hi


def stretch(img, percentiles=DEFAULT_PERCENTILES) -> np.ndarray:
    """Map the ``percentiles=(low, high)`` of ``img`` to 0 and 1, clipped (for display).

    Parameters
    ----------
    img : array_like
        Any shape.
    percentiles : tuple of float
        Percentiles mapped to 0 and 1.

    Returns
    -------
    numpy.ndarray
        float32, same shape, values in [0, 1].

    Examples
    --------
    >>> stretch(np.arange(5), percentiles=(0, 100)).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    lo, hi = _check_percentiles(percentiles)
    img = np.asarray(img, dtype=np.float32)
    a, b = np.percentile(img, [lo, hi])
    return np.clip((img - a) / max(float(b - a), 1e-9), 0, 1)


def composite(channels: Mapping, colors=None, *, percentiles=DEFAULT_PERCENTILES) -> np.ndarray:
    """A colour image of several channels: each stretched, tinted and added, clipped to 1.

    Parameters
    ----------
    channels : dict of str to numpy.ndarray
        Channel name -> ``(Y, X)`` image (all of one shape).
    colors : dict of str to str or RGB tuple, optional
        Colour per channel name (``"magenta"``, ``"green"``, ``"cyan"``, ``"yellow"``,
        ``"red"``, ``"blue"``, ``"gray"`` or an RGB triple in [0, 1]). Default: magenta,
        green, cyan, ... in order (a magenta/green pair stays readable for red-green
        colour-blind viewers).
    percentiles : tuple of float
        Display range of each channel (see :func:`stretch`).

    Returns
    -------
    numpy.ndarray
        ``(Y, X, 3)`` float32 RGB in [0, 1], for ``imshow``.

    Examples
    --------
    >>> rgb = composite({"dna": np.eye(4), "membrane": np.ones((4, 4))})
    >>> rgb.shape
    (4, 4, 3)
    """
    if not isinstance(channels, Mapping) or len(channels) == 0:
        raise ValueError(
            "channels: expected a non-empty dict of name -> (Y, X) image, got "
            f"{type(channels).__name__}"
        )
    colors = dict(colors or {})
    unknown = set(colors) - set(channels)
    if unknown:
        raise ValueError(f"colors: names {sorted(unknown)} are not channels {list(channels)}")
    shape = None
    rgb = None
    for k, (name, img) in enumerate(channels.items()):
        img = np.asarray(img)
        if img.ndim != 2:
            raise ValueError(f"channels[{name!r}]: expected a (Y, X) image, got shape {img.shape}")
        if shape is None:
            shape = img.shape
            rgb = np.zeros((*shape, 3), np.float32)
        elif img.shape != shape:
            raise ValueError(f"channels[{name!r}] has shape {img.shape}, the first channel {shape}")
        color = colors.get(name, COMPOSITE_COLORS[k % len(COMPOSITE_COLORS)])
        if isinstance(color, str):
            if color not in _RGB:
                raise ValueError(f"colors[{name!r}]: unknown colour {color!r}; use {list(_RGB)}")
            color = _RGB[color]
        rgb += stretch(img, percentiles)[..., None] * np.asarray(color, np.float32)
    return np.clip(rgb, 0, 1)


def scale_bar(ax, pixel_size_um: float, shape, *, length_um: float | None = None) -> float:
    """Draw a micrometre scale bar in the lower left of an image panel.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Showing an image in pixel coordinates (``imshow`` without ``extent``).
    pixel_size_um : float
        Pixel size (um).
    shape : tuple of int
        ``(Y, X)`` of the shown image.
    length_um : float, optional
        Bar length; default 10 um, or 5 um / 2 um when 10 um would cover over half the panel.

    Returns
    -------
    float
        The bar's length (um).
    """
    ny, nx = int(shape[0]), int(shape[1])
    if length_um is None:
        length_um = next((v for v in (10.0, 5.0, 2.0, 1.0) if v / pixel_size_um <= 0.5 * nx), 1.0)
    n = length_um / pixel_size_um
    y = ny * 0.92
    x0 = nx * 0.05
    ax.plot([x0, x0 + n], [y, y], color=SCALE_BAR_COLOR, lw=3, solid_capstyle="butt")
    ax.text(x0, y - ny * 0.04, f"{length_um:g} µm", color=SCALE_BAR_COLOR, fontsize=9)
    return float(length_um)


def _simulate_overview_fields(seed, size, cell_types, states, defocus_um, labels):
    """The three fields :func:`field_overview` draws when it is given none (for scripts)."""
    from coursekit.microscope.field import simulate_field

    kw = dict(seed=seed, cell_types=cell_types, states=states)
    shape = (size, size)
    bf = simulate_field(
        shape, modality="brightfield", defocus_step_um=defocus_um, labels=labels, **kw
    )
    pc = simulate_field(shape, modality="phase_contrast", n_planes=1, labels=labels[:1], **kw)
    dic = simulate_field(shape, modality="dic", n_planes=1, labels=labels[:1], **kw)
    return bf, pc, dic


def field_overview(
    field=None,
    *,
    phase_contrast=None,
    dic=None,
    crop: int = 0,
    labels: Sequence[str] | None = None,
    seed: int = 1,
    size: int = 256,
    cell_types: Sequence[str] = ("epithelial",),
    states=None,
    defocus_um: float = 2.0,
):
    """One field, every way the course images it.

    The transmitted-light planes of ``field`` (bright field through focus: a dense object
    flips from dark to bright), phase contrast and DIC of the same specimen when given,
    the instance masks, and each fluorescence label noise-free and as recorded.

    Parameters
    ----------
    field : Field, optional
        A 2D field from :func:`~coursekit.microscope.simulate_field`. When omitted, a
        bright-field, a phase-contrast and a DIC field are simulated from ``seed``,
        ``size``, ``cell_types``, ``states`` and ``defocus_um`` (a convenience for
        scripts; notebooks pass the fields they made).
    phase_contrast, dic : Field, optional
        The same specimen in other modalities (one plane shown each).
    crop : int
        Show only the central ``crop`` pixels (0: all).
    labels : sequence of str, optional
        Labels to show (default every label of ``field``).
    seed, size, cell_types, states, defocus_um
        Only used when ``field`` is omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from coursekit.microscope.specimen import LABELS

    if field is None:
        types = (cell_types,) if isinstance(cell_types, str) else tuple(cell_types)
        field, phase_contrast, dic = _simulate_overview_fields(
            seed, size, types, states, defocus_um, tuple(LABELS if labels is None else labels)
        )
    if getattr(field, "ndim", None) != 2:
        raise ValueError(
            "field: expected a 2D Field from simulate_field, got "
            f"{type(field).__name__} with ndim={getattr(field, 'ndim', None)!r}"
        )
    labels = tuple(field.labels if labels is None else labels)
    missing = [lab for lab in labels if lab not in field.recorded]
    if missing:
        raise ValueError(f"labels {missing} were not simulated in field ({list(field.labels)})")
    ny, nx = field.cell_mask.shape

    def cropped(img):
        if not crop or crop >= min(ny, nx):
            return img
        oy, ox = (ny - crop) // 2, (nx - crop) // 2
        return img[oy : oy + crop, ox : ox + crop]

    panels = []
    dz = field.metadata.get("defocus_um", [0.0] * field.transmitted.shape[0])
    name = field.modality.replace("_", " ")
    for k in range(field.transmitted.shape[0]):
        panels.append((f"{name} {dz[k]:+.1f} µm", field.transmitted[k], "gray"))
    for other in (phase_contrast, dic):
        if other is not None:
            panels.append((other.modality.replace("_", " "), other.transmitted[0], "gray"))
    rng = np.random.default_rng(0)  # fixed random colours for the instances
    n_id = int(field.cell_mask.max()) + 1
    lut = np.concatenate([[[0, 0, 0]], rng.uniform(0.25, 1.0, (n_id, 3))])[:n_id]
    overlay = lut[field.cell_mask] * 0.6
    nuc = field.nucleus_mask > 0
    overlay[nuc] = overlay[nuc] * 0.5 + 0.45
    panels.append(("cell + nucleus masks", overlay, None))
    for lab in labels:
        panels.append((f"{lab} (clean)", field.clean[lab], "magma"))
        panels.append((f"{lab} (recorded)", field.recorded[lab], "magma"))
    ncol = min(6, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.75 * nrow), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    px = field.metadata["pixel_size_um"]
    for i, (ax, (title, img, cmap)) in enumerate(zip(axes.flat, panels)):
        img = cropped(img)
        if cmap is None:
            ax.imshow(img)
        elif cmap == "gray":
            ax.imshow(stretch(img, percentiles=(0.1, 99.9)), cmap="gray")
        else:
            ax.imshow(stretch(img), cmap=cmap)
        ax.set_title(title)
        if i == 0:
            scale_bar(ax, px, img.shape)
    fig.suptitle(
        f"virtual microscope: {', '.join(sorted({c.cell_type for c in field.cells}))}, "
        f"seed {field.metadata.get('seed')}, {ny} x {nx} px of {px} µm, "
        f"NA {field.metadata['na_objective']}, {len(field.cells)} cells "
        f"({', '.join(sorted({c.state for c in field.cells}))})"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    return fig


def prediction_figure(
    transmitted,
    recorded,
    clean,
    prediction,
    *,
    title: str = "",
    crop=None,
    pixel_size_um: float | None = None,
    percentiles=DEFAULT_PERCENTILES,
):
    """Input, recorded target, clean target, prediction and the prediction's signed error.

    The recorded target and the prediction are mapped to the clean target's scale by least
    squares (:func:`coursekit.metrics.fit_affine`; a model trained on z-scored targets
    predicts in z units, a camera records in ADU), so that the three fluorescence panels
    share one contrast and one colour bar. The error panel is ``prediction - clean`` on a
    symmetric diverging scale: red where the prediction is too bright, blue where it is
    too dim.

    Parameters
    ----------
    transmitted : numpy.ndarray
        ``(Y, X)``, one transmitted-light plane.
    recorded, clean, prediction : numpy.ndarray
        ``(Y, X)``.
    title : str
    crop : tuple of slice, optional
        Region to show.
    pixel_size_um : float, optional
        Adds a scale bar to the input panel.
    percentiles : tuple of float
        Display range of the clean target, shared by the fluorescence panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from coursekit.metrics import fit_affine, pearson_r

    clean = np.asarray(clean, np.float64)
    scaled = {}
    for name, img in (("recorded", recorded), ("prediction", prediction)):
        img = np.asarray(img, np.float64)
        if img.shape != clean.shape:
            raise ValueError(f"{name}: expected shape {clean.shape} (as clean), got {img.shape}")
        a, b = fit_affine(prediction=img, target=clean)
        scaled[name] = a * img + b
    err = scaled["prediction"] - clean
    win = crop if crop is not None else (slice(None), slice(None))
    lo, hi = _check_percentiles(percentiles)
    vmin, vmax = np.percentile(clean[win], [lo, hi])
    lim = float(np.percentile(np.abs(err[win]), 99.5)) or 1.0
    r_rec = pearson_r(prediction=prediction, target=recorded)
    r_clean = pearson_r(prediction=prediction, target=clean)
    fig, axes = plt.subplots(1, 5, figsize=(15, 3.5), layout="constrained")
    t = np.asarray(transmitted)[win]
    axes[0].imshow(stretch(t, percentiles=(0.1, 99.9)), cmap="gray")
    axes[0].set_title("transmitted light (input)")
    if pixel_size_um is not None:
        scale_bar(axes[0], pixel_size_um, t.shape)
    shared = [
        (axes[1], scaled["recorded"], "recorded target"),
        (axes[2], clean, "clean target (simulator only)"),
        (
            axes[3],
            scaled["prediction"],
            f"prediction\nr = {r_rec:.2f} recorded, {r_clean:.2f} clean",
        ),
    ]
    for ax, img, name in shared:
        im = ax.imshow(img[win], cmap="magma", vmin=vmin, vmax=vmax)
        ax.set_title(name)
    fig.colorbar(im, ax=axes[1:4], shrink=0.85, label="intensity (clean target's units)")
    im = axes[4].imshow(err[win], cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[4].set_title("prediction - clean target")
    cb = fig.colorbar(im, ax=axes[4], shrink=0.85)
    cb.set_label("red: too bright, blue: too dim")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig


#: Colours of :func:`unet_figure`: encoder, bottleneck, decoder, input/output stages.
UNET_COLORS = {"encoder": "#4C72B0", "bottleneck": "#8172B2", "decoder": "#55A868", "io": "#999999"}


def unet_figure(model, input_shape=None):
    """The architecture of a :class:`~coursekit.models.UNet`, drawn from ``model.describe``.

    Each stage is a box whose height is proportional to its spatial size (halved at each
    level down) and whose width grows with its feature maps (log scale); encoder stages go
    down on the left, decoder stages up on the right, dashed arrows are the skip
    connections. Labels give each stage's features ``C x Y x X`` and parameters.

    Parameters
    ----------
    model : coursekit.models.UNet
    input_shape : tuple of int, optional
        Example input for :meth:`~coursekit.models.UNet.describe`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    summary = model.describe(input_shape)
    stages = [r for r in summary.rows if r[0] != "padded" and not r[0].startswith("downsample")]
    depth = model.depth
    full = max(r[1][-1] for r in stages)
    fig, ax = plt.subplots(figsize=(11, 1.2 * (depth + 1) + 1.6), layout="constrained")
    centres = {}
    x = 0.0
    for name, shape, n_par in stages:
        kind = name.split()[0]
        level = int(name.split()[1]) if kind in ("encoder", "decoder") else None
        if kind == "bottleneck":
            level = depth
        y = -(level if level is not None else 0) * 1.2
        h = max(0.15, 1.0 * shape[-1] / full)
        w = 0.25 + 0.18 * np.log2(max(shape[0], 1))
        color = UNET_COLORS.get(kind, UNET_COLORS["io"])
        ax.add_patch(Rectangle((x, y - h / 2), w, h, facecolor=color, edgecolor="k", alpha=0.85))
        dims = " x ".join(str(v) for v in shape)
        label = f"{name}\n{dims}" + (f"\n{n_par:,} par." if n_par else "")
        ax.text(x + w / 2, y - h / 2 - 0.08, label, ha="center", va="top", fontsize=9)
        centres[name] = (x, y, w)
        x += w + 1.1
    xs = [c for c in centres.values()]
    for (x0, y0, w0), (x1, y1, _) in zip(xs, xs[1:]):  # the data path
        ax.add_patch(FancyArrowPatch((x0 + w0, y0), (x1, y1), arrowstyle="-|>",
                                     mutation_scale=12, color="k", lw=1))  # fmt: skip
    for i in range(depth):  # skip connections: encoder i -> decoder i
        x0, y0, w0 = centres[f"encoder {i}"]
        x1, y1, _ = centres[f"decoder {i}"]
        ax.add_patch(FancyArrowPatch((x0 + w0, y0 + 0.55), (x1, y1 + 0.55), arrowstyle="-|>",
                                     mutation_scale=12, color="gray", ls="--", lw=1,
                                     connectionstyle="arc3,rad=-0.08"))  # fmt: skip
    ax.set_xlim(-0.3, x)
    ax.set_ylim(-depth * 1.2 - 1.4, 1.0)
    ax.axis("off")
    ax.set_title(
        f"U-Net, depth {depth}: {summary.n_parameters:,} parameters, receptive field "
        f"{summary.receptive_field} px (dashed: skip connections; box height = spatial size)"
    )
    return fig
