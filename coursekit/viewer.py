"""A small z-stack and channel viewer for notebooks.

Two views of the same channels:

- :func:`stack_viewer`: ipywidgets controls (a z slider, a channel menu) over a plane and an
  x-z section, for live use in JupyterLab, Colab or a JupyterHub;
- :func:`stack_figure`: a static montage (channels x planes, plus an x-z section) for
  headless runs, nbval and exported HTML, where a widget shows only its text.

And a prediction beside its truth: :func:`compare_viewer` (z and t sliders, one contrast
slider linked over every fluorescence panel) and its static twin :func:`compare_figure`
(input, prediction, recorded truth, clean truth and the signed error, plane by plane).

Both take a dict of channel name -> ``(Z, Y, X)`` array (or a simulated 3D
:class:`~coursekit.microscope.field.Field`). Each channel's contrast is fixed over the whole
stack (percentiles of all planes), so that a plane that looks brighter is brighter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from coursekit._validation import check_array, check_positive

__all__ = [
    "field_channels",
    "stack_figure",
    "plane_figure",
    "stack_viewer",
    "compare_images",
    "compare_figure",
    "compare_plane_figure",
    "compare_viewer",
]


def field_channels(field, labels: Sequence[str] | None = None, *, clean: bool = False) -> dict:
    """The channels of a 3D simulated field as a dict for the viewer.

    Parameters
    ----------
    field : Field
        A 3D field from :func:`~coursekit.microscope.field.simulate_field`.
    labels : sequence of str, optional
        Fluorescence labels to include (default: every simulated label).
    clean : bool
        Use the noise-free images instead of the recorded ones.

    Returns
    -------
    dict of str to numpy.ndarray
        The transmitted-light stack first (under the modality's name), then the labels.
    """
    if getattr(field, "ndim", None) != 3:
        raise ValueError(
            "field_channels: expected a 3D Field (a z-stack), got "
            f"{type(field).__name__} with ndim={getattr(field, 'ndim', None)!r}"
        )
    imgs = field.transmitted_clean if clean else field.transmitted
    out = {field.modality.replace("_", " "): imgs}
    for lab in field.labels if labels is None else labels:
        out[lab] = field.target(lab, clean=clean)
    return out


def _as_channels(channels) -> dict[str, np.ndarray]:
    if hasattr(channels, "transmitted") and hasattr(channels, "recorded"):
        channels = field_channels(channels)
    elif not isinstance(channels, Mapping):
        arr = check_array(channels, "channels", ndim=3, allow_int=True)
        channels = {"image": arr}
    if len(channels) == 0:
        raise ValueError("channels: expected at least one channel, got an empty dict")
    out, shape, first = {}, None, None
    for name, img in channels.items():
        arr = check_array(img, f"channels[{name!r}]", ndim=3, allow_int=True)
        if shape is None:
            shape, first = arr.shape, name
        elif arr.shape != shape:
            raise ValueError(
                f"every channel must have the same (Z, Y, X) shape: {first!r} has {shape}, "
                f"{name!r} has {arr.shape}"
            )
        out[str(name)] = arr
    return out


def _limits(img: np.ndarray, percentiles) -> tuple[float, float]:
    lo, hi = np.percentile(img, percentiles)
    return float(lo), float(max(hi, lo + 1e-9))


def _default_cmap(name: str) -> str:
    low = name.lower()
    if "bright" in low or "phase" in low or "dic" in low or low == "image":
        return "gray"
    return "magma"


def _z_label(k: int, z_step_um, z0_um: float = 0.0) -> str:
    return f"plane {k}" if z_step_um is None else f"z = {z0_um + k * z_step_um:.1f} um"


def _z_slider(widgets, n_planes: int, value: int, z_step_um, z0_um: float):
    """A slider over plane indices that reads as heights in um when the z step is known."""
    if z_step_um is None:
        return widgets.IntSlider(
            value=value, min=0, max=n_planes - 1, step=1, description="z", continuous_update=False
        )
    options = [(f"{z0_um + k * z_step_um:.1f} um", k) for k in range(n_planes)]
    return widgets.SelectionSlider(
        options=options, value=value, description="z", continuous_update=False
    )


def _sampling(channels, z_step_um, pixel_size_um, z0_um):
    """Sizes given explicitly, else from a Field's metadata (heights above the coverslip)."""
    meta = getattr(channels, "metadata", None)
    if isinstance(meta, Mapping):
        if z_step_um is None:
            z_step_um = meta.get("z_step_um")
        if pixel_size_um is None:
            pixel_size_um = meta.get("pixel_size_um")
        if z0_um is None and meta.get("coverslip_um") is not None:
            z0_um = -float(meta["coverslip_um"])
    if z_step_um is not None:
        z_step_um = check_positive(z_step_um, "z_step_um")
    if pixel_size_um is not None:
        pixel_size_um = check_positive(pixel_size_um, "pixel_size_um")
    return z_step_um, pixel_size_um, 0.0 if z0_um is None else float(z0_um)


def _section(ax, img, row, lim, cmap, z_step_um, pixel_size_um, marks=(), current=None):
    """x-z section at ``row`` (z upwards) with planes marked."""
    aspect = 1.0 if z_step_um is None or pixel_size_um is None else z_step_um / pixel_size_um
    ax.imshow(img[:, row, :], cmap=cmap, vmin=lim[0], vmax=lim[1], aspect=aspect, origin="lower")
    for k in marks:
        ax.axhline(k, color="cyan", lw=0.8)
    if current is not None:
        ax.axhline(current, color="yellow", lw=1.2)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("x")
    ax.set_ylabel("z (up)")


def _scale_bar(ax, shape, pixel_size_um):
    """The course's scale bar (:func:`coursekit.plotting.scale_bar`) where the size is known."""
    if pixel_size_um is None:
        return
    from coursekit.plotting import scale_bar

    scale_bar(ax, pixel_size_um, shape)


def _section_width(shape, z_step_um, pixel_size_um) -> float:
    """Width of the section column relative to a plane's, so that the section is legible."""
    Z, _, X = shape
    aspect = 1.0 if z_step_um is None or pixel_size_um is None else z_step_um / pixel_size_um
    return float(np.clip(0.5 * X / (Z * aspect), 1.0, 2.5))


def stack_figure(
    channels,
    *,
    planes: Sequence[int] | None = None,
    n_planes: int = 4,
    z_step_um: float | None = None,
    pixel_size_um: float | None = None,
    z0_um: float | None = None,
    cmaps: Mapping[str, str] | None = None,
    section: bool = True,
    percentiles: tuple[float, float] = (0.5, 99.8),
    panel_size: float = 1.9,
):
    """Static montage of a z-stack: one row per channel, one column per plane.

    Parameters
    ----------
    channels : dict of str to ndarray, ndarray or Field
        ``(Z, Y, X)`` arrays of one shape, or one array, or a 3D simulated field.
    planes : sequence of int, optional
        Plane indices to show (default ``n_planes`` planes evenly spaced through the stack).
    n_planes : int
        Number of planes when ``planes`` is not given.
    z_step_um, pixel_size_um : float, optional
        Sampling, for the titles, the section's aspect ratio and a scale bar. Taken from the
        field's metadata when a Field is passed.
    z0_um : float, optional
        Height of plane 0 in the titles (default 0; for a Field, minus its ``coverslip_um``,
        so that titles give the height above the coverslip).
    cmaps : dict of str to str, optional
        Colormap per channel (default gray for transmitted light, magma for fluorescence).
    section : bool
        Add an x-z section through the middle row, with the shown planes marked.
    percentiles : tuple of float
        Display range of each channel, from all its planes.
    panel_size : float
        Size of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    z_step_um, pixel_size_um, z0_um = _sampling(channels, z_step_um, pixel_size_um, z0_um)
    chans = _as_channels(channels)
    Z, Y, X = next(iter(chans.values())).shape
    if planes is None:
        if isinstance(n_planes, bool) or not isinstance(n_planes, (int, np.integer)):
            raise TypeError(f"n_planes: expected an integer, got {n_planes!r}")
        if n_planes < 1:
            raise ValueError(f"n_planes: expected at least 1, got {n_planes!r}")
        if n_planes >= Z:
            planes = list(range(Z))
        else:
            planes = [int(round(v)) for v in np.linspace(0, Z - 1, n_planes + 2)[1:-1]]
    planes = [int(p) for p in planes]
    if not planes or any(not 0 <= p < Z for p in planes):
        raise ValueError(f"planes: expected indices in [0, {Z - 1}], got {planes!r}")
    cmaps = dict(cmaps or {})
    widths = [1.0] * len(planes)
    if section:
        widths.append(_section_width((Z, Y, X), z_step_um, pixel_size_um))
    nrow = len(chans)
    fig, axes = plt.subplots(
        nrow,
        len(widths),
        figsize=(panel_size * sum(widths), panel_size * nrow + 0.3),
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    for i, (name, img) in enumerate(chans.items()):
        cmap = cmaps.get(name, _default_cmap(name))
        lim = _limits(img, percentiles)
        for j, k in enumerate(planes):
            ax = axes[i, j]
            ax.imshow(img[k], cmap=cmap, vmin=lim[0], vmax=lim[1])
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(_z_label(k, z_step_um, z0_um), fontsize=9)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
                if i == 0:
                    _scale_bar(ax, (Y, X), pixel_size_um)
        if section:
            _section(axes[i, -1], img, Y // 2, lim, cmap, z_step_um, pixel_size_um, planes)
            if i == 0:
                axes[i, -1].set_title("x-z section", fontsize=9)
    fig.tight_layout()
    return fig


def plane_figure(
    channels,
    z: int,
    channel: str | None = None,
    *,
    z_step_um: float | None = None,
    pixel_size_um: float | None = None,
    z0_um: float | None = None,
    cmaps: Mapping[str, str] | None = None,
    percentiles: tuple[float, float] = (0.5, 99.8),
    row: int | None = None,
):
    """One plane of one channel beside an x-z section with that plane marked.

    Parameters
    ----------
    channels : dict of str to ndarray, ndarray or Field
        As in :func:`stack_figure`.
    z : int
        Plane index.
    channel : str, optional
        Channel name (default the first).
    z_step_um, pixel_size_um, z0_um, cmaps, percentiles
        As in :func:`stack_figure`.
    row : int, optional
        Row of the x-z section (default the middle row); marked on the plane.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    z_step_um, pixel_size_um, z0_um = _sampling(channels, z_step_um, pixel_size_um, z0_um)
    chans = _as_channels(channels)
    name = next(iter(chans)) if channel is None else channel
    if name not in chans:
        raise ValueError(f"channel: unknown channel {name!r}; expected one of {list(chans)}")
    img = chans[name]
    Z, Y, X = img.shape
    z = int(z)
    if not 0 <= z < Z:
        raise ValueError(f"z: expected a plane index in [0, {Z - 1}], got {z}")
    row = Y // 2 if row is None else int(row)
    cmap = dict(cmaps or {}).get(name, _default_cmap(name))
    lim = _limits(img, percentiles)
    w = _section_width(img.shape, z_step_um, pixel_size_um)
    fig, (a0, a1) = plt.subplots(
        1, 2, figsize=(3.4 * (1 + w), 3.6), gridspec_kw={"width_ratios": [1.0, w]}
    )
    a0.imshow(img[z], cmap=cmap, vmin=lim[0], vmax=lim[1])
    a0.axhline(row, color="yellow", lw=0.6, ls="--")
    a0.set_xticks([])
    a0.set_yticks([])
    a0.set_title(f"{name}, {_z_label(z, z_step_um, z0_um)}", fontsize=10)
    _scale_bar(a0, (Y, X), pixel_size_um)
    _section(a1, img, row, lim, cmap, z_step_um, pixel_size_um, current=z)
    a1.set_title(f"x-z section at the dashed row ({row})", fontsize=10)
    fig.tight_layout()
    return fig


def stack_viewer(
    channels,
    *,
    z: int | None = None,
    channel: str | None = None,
    z_step_um: float | None = None,
    pixel_size_um: float | None = None,
    z0_um: float | None = None,
    cmaps: Mapping[str, str] | None = None,
    percentiles: tuple[float, float] = (0.5, 99.8),
):
    """An ipywidgets viewer: a z slider and a channel menu over :func:`plane_figure`.

    A widget needs a live front end (JupyterLab, Notebook, Colab, VS Code). Headless runs
    (nbval, nbconvert, exported HTML) keep only its text, so draw a :func:`stack_figure`
    as well.

    Parameters
    ----------
    channels : dict of str to ndarray, ndarray or Field
        As in :func:`stack_figure`.
    z : int, optional
        First plane shown (default the middle one).
    channel : str, optional
        First channel shown (default the first).
    z_step_um, pixel_size_um, z0_um, cmaps, percentiles
        As in :func:`stack_figure`.

    Returns
    -------
    ipywidgets.VBox
        Children: an ``HBox`` of the controls (a "z" slider that reads in um when the z step
        is known, a ``Dropdown`` "channel")
        and the ``Output`` that holds the figure.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    z_step_um, pixel_size_um, z0_um = _sampling(channels, z_step_um, pixel_size_um, z0_um)
    chans = _as_channels(channels)
    Z = next(iter(chans.values())).shape[0]
    names = list(chans)
    z_first = Z // 2 if z is None else int(z)
    if not 0 <= z_first < Z:
        raise ValueError(f"z: expected a plane index in [0, {Z - 1}], got {z_first}")
    c_first = names[0] if channel is None else channel
    if c_first not in chans:
        raise ValueError(f"channel: unknown channel {c_first!r}; expected one of {names}")
    z_slider = _z_slider(widgets, Z, z_first, z_step_um, z0_um)
    menu = widgets.Dropdown(options=names, value=c_first, description="channel")

    def draw(z, channel):
        fig = plane_figure(
            chans,
            z,
            channel,
            z_step_um=z_step_um,
            pixel_size_um=pixel_size_um,
            z0_um=z0_um,
            cmaps=cmaps,
            percentiles=percentiles,
        )
        display(fig)
        plt.close(fig)

    out = widgets.interactive_output(draw, {"z": z_slider, "channel": menu})
    return widgets.VBox([widgets.HBox([z_slider, menu]), out])


# ---------------------------------------------------------------------- prediction vs truth
#: Colour maps of the compare views: transmitted light, fluorescence, signed error.
INPUT_CMAP, FLUO_CMAP, ERROR_CMAP = "gray", "magma", "RdBu_r"
#: Percentile of |error| that sets the symmetric error scale (a few extreme pixels aside).
ERROR_PERCENTILE = 99.5


def _as_tzyx(img, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim != ndim:
        raise ValueError(
            f"{name}: expected {ndim} dimensions like the prediction, got shape {arr.shape}"
        )
    return arr.reshape((1,) * (4 - ndim) + arr.shape)


def compare_images(
    transmitted, prediction, recorded=None, clean=None, *, percentiles=(0.5, 99.8)
) -> dict:
    """The panels of the compare views, on one scale, as ``(T, Z, Y, X)`` arrays.

    The fluorescence panels share one scale: the reference is the clean target when given
    (else the recorded one); the prediction and the recorded target are mapped onto it by
    least squares over the whole stack (:func:`coursekit.metrics.fit_affine`). The error
    is ``prediction - reference`` on that scale.

    Parameters
    ----------
    transmitted, prediction : numpy.ndarray
        ``(Y, X)``, ``(Z, Y, X)`` or ``(T, Z, Y, X)``, all of one shape.
    recorded, clean : numpy.ndarray, optional
        The targets, same shape; at least one of them.
    percentiles : tuple of float
        Display range of the reference, used for every fluorescence panel.

    Returns
    -------
    dict
        ``"panels"``: name -> ``(T, Z, Y, X)`` float32 array; ``"limits"``: name ->
        ``(vmin, vmax)``; ``"cmaps"``: name -> colour map; ``"ndim"``: the input's ndim.
    """
    from coursekit.metrics import rescale_to_target

    pred = np.asarray(prediction, dtype=np.float32)
    if pred.ndim not in (2, 3, 4):
        raise ValueError(
            f"prediction: expected (Y, X), (Z, Y, X) or (T, Z, Y, X), got shape {pred.shape}"
        )
    if recorded is None and clean is None:
        raise ValueError("compare: give the recorded target, the clean target, or both")
    nd = pred.ndim
    arrays = {"input": transmitted, "prediction": pred, "recorded": recorded, "clean": clean}
    arrays = {k: _as_tzyx(v, k, nd) for k, v in arrays.items() if v is not None}
    for k, v in arrays.items():
        if v.shape != arrays["prediction"].shape:
            raise ValueError(
                f"{k}: expected the prediction's shape {pred.shape}, got {v.shape[4 - nd :]}"
            )
    ref_name = "clean" if "clean" in arrays else "recorded"
    ref = arrays[ref_name]
    panels = {"input": arrays["input"]}
    for k in ("prediction", "recorded"):
        if k in arrays and k != ref_name:
            panels[k] = rescale_to_target(target=ref, prediction=arrays[k]).astype(np.float32)
        elif k in arrays:
            panels[k] = ref
    if "clean" in arrays:
        panels["clean"] = arrays["clean"]
    panels["error"] = panels["prediction"] - ref
    lo, hi = np.percentile(ref, percentiles)
    lim = float(np.percentile(np.abs(panels["error"]), ERROR_PERCENTILE)) or 1.0
    limits = {"input": _limits(panels["input"], (0.1, 99.9)), "error": (-lim, lim)}
    cmaps = {"input": INPUT_CMAP, "error": ERROR_CMAP}
    for k in ("prediction", "recorded", "clean"):
        if k in panels:
            limits[k] = (float(lo), float(max(hi, lo + 1e-9)))
            cmaps[k] = FLUO_CMAP
    return {"panels": panels, "limits": limits, "cmaps": cmaps, "ndim": nd, "reference": ref_name}


_TITLES = {
    "input": "input (transmitted)",
    "prediction": "prediction",
    "recorded": "recorded truth",
    "clean": "clean truth",
}


def _draw_compare_row(axes, images, t, z, *, colorbars: bool, fig):
    for ax, (name, arr) in zip(axes, images["panels"].items()):
        vmin, vmax = images["limits"][name]
        im = ax.imshow(arr[t, z], cmap=images["cmaps"][name], vmin=vmin, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        if colorbars and name in ("error", "clean" if "clean" in images["panels"] else "recorded"):
            cb = fig.colorbar(im, ax=ax, shrink=0.8)
            if name == "error":
                cb.set_label("red: too bright\nblue: too dim")


def compare_plane_figure(
    images: dict,
    *,
    z: int = 0,
    t: int = 0,
    z_step_um: float | None = None,
    z0_um: float = 0.0,
    pixel_size_um: float | None = None,
):
    """One plane (and time point) of :func:`compare_images`' panels side by side."""
    import matplotlib.pyplot as plt

    panels = images["panels"]
    T, Z, Y, X = panels["input"].shape
    if not 0 <= z < Z:
        raise ValueError(f"z: expected a plane index in [0, {Z - 1}], got {z}")
    if not 0 <= t < T:
        raise ValueError(f"t: expected a time index in [0, {T - 1}], got {t}")
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(2.9 * n, 3.2), layout="constrained")
    _draw_compare_row(axes, images, t, z, colorbars=True, fig=fig)
    ref = images["reference"]
    for ax, name in zip(axes, panels):
        ax.set_title(_TITLES.get(name, f"prediction - {ref} truth"))
    if pixel_size_um is not None:
        _scale_bar(axes[0], (Y, X), pixel_size_um)
    where = []
    if images["ndim"] >= 3:
        where.append(_z_label(z, z_step_um, z0_um))
    if images["ndim"] == 4:
        where.append(f"t = {t}")
    if where:
        fig.suptitle(", ".join(where))
    return fig


def compare_figure(
    transmitted,
    prediction,
    recorded=None,
    clean=None,
    *,
    planes: Sequence[int] | None = None,
    n_planes: int = 3,
    t: int = 0,
    z_step_um: float | None = None,
    z0_um: float = 0.0,
    pixel_size_um: float | None = None,
    percentiles: tuple[float, float] = (0.5, 99.8),
    panel_size: float = 2.3,
):
    """Static compare montage: input, prediction, recorded and clean truth and the error.

    The twin of :func:`compare_viewer` for nbval and exported HTML: one row per plane (one
    row for a 2D image), one column per panel, the fluorescence panels on one shared
    contrast (see :func:`compare_images`), a colour bar for the fluorescence and one for
    the signed error.

    Parameters
    ----------
    transmitted, prediction, recorded, clean : numpy.ndarray
        ``(Y, X)``, ``(Z, Y, X)`` or ``(T, Z, Y, X)``, one shape (``transmitted`` is the
        plane or stack shown as input).
    planes : sequence of int, optional
        z indices to show (default ``n_planes`` evenly spaced planes).
    t : int
        Time point shown (for ``(T, Z, Y, X)``).
    z_step_um, z0_um, pixel_size_um : float, optional
        Sampling, for row titles in um and a scale bar.
    percentiles, panel_size
        Display range of the reference target; panel size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random((4, 16, 16))
    >>> fig = compare_figure(truth, truth + 0.1 * rng.random(truth.shape), clean=truth)
    >>> len(fig.axes) >= 3 * 4
    True
    """
    import matplotlib.pyplot as plt

    images = compare_images(transmitted, prediction, recorded, clean, percentiles=percentiles)
    panels = images["panels"]
    T, Z, Y, X = panels["input"].shape
    if not 0 <= int(t) < T:
        raise ValueError(f"t: expected a time index in [0, {T - 1}], got {t}")
    if planes is None:
        if isinstance(n_planes, bool) or not isinstance(n_planes, (int, np.integer)):
            raise TypeError(f"n_planes: expected an integer, got {n_planes!r}")
        if n_planes < 1:
            raise ValueError(f"n_planes: expected at least 1, got {n_planes!r}")
        planes = (
            list(range(Z))
            if n_planes >= Z
            else [int(round(v)) for v in np.linspace(0, Z - 1, n_planes + 2)[1:-1]]
        )
    planes = [int(p) for p in planes]
    if not planes or any(not 0 <= p < Z for p in planes):
        raise ValueError(f"planes: expected indices in [0, {Z - 1}], got {planes!r}")
    n = len(panels)
    fig, axes = plt.subplots(
        len(planes),
        n,
        figsize=(panel_size * n + 1.2, panel_size * len(planes) + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for i, z in enumerate(planes):
        _draw_compare_row(axes[i], images, int(t), z, colorbars=(i == 0), fig=fig)
        if images["ndim"] >= 3:
            axes[i, 0].set_ylabel(_z_label(z, z_step_um, z0_um))
    ref = images["reference"]
    for ax, name in zip(axes[0], panels):
        ax.set_title(_TITLES.get(name, f"prediction - {ref} truth"))
    if pixel_size_um is not None:
        _scale_bar(axes[0, 0], (Y, X), pixel_size_um)
    return fig


def compare_viewer(
    transmitted,
    prediction,
    recorded=None,
    clean=None,
    *,
    z_step_um: float | None = None,
    z0_um: float = 0.0,
    pixel_size_um: float | None = None,
    percentiles: tuple[float, float] = (0.5, 99.8),
):
    """An ipywidgets compare viewer: input, prediction, truths and error side by side.

    A z slider (in um when ``z_step_um`` is given) for stacks, a t slider for time-lapses
    ``(T, Z, Y, X)``, and a contrast slider (display percentiles) that sets one contrast
    for every fluorescence panel at once. Headless runs keep only the widget's text: draw
    :func:`compare_figure` as well.

    Parameters
    ----------
    transmitted, prediction, recorded, clean, z_step_um, z0_um, pixel_size_um, percentiles
        As in :func:`compare_figure`.

    Returns
    -------
    ipywidgets.VBox
        Children: an ``HBox`` of the controls (``"z"``, ``"t"`` where present, and
        ``"contrast"``) and the ``Output`` holding the figure.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    first = compare_images(transmitted, prediction, recorded, clean, percentiles=percentiles)
    T, Z = first["panels"]["input"].shape[:2]
    cache = {tuple(percentiles): first}
    controls = {}
    if first["ndim"] >= 3:
        controls["z"] = _z_slider(widgets, Z, Z // 2, z_step_um, z0_um)
    if first["ndim"] == 4:
        controls["t"] = widgets.IntSlider(
            value=0, min=0, max=T - 1, description="t", continuous_update=False
        )
    controls["percentiles"] = widgets.FloatRangeSlider(
        value=tuple(percentiles),
        min=0.0,
        max=100.0,
        step=0.1,
        description="contrast",
        continuous_update=False,
    )

    def draw(z=0, t=0, percentiles=tuple(percentiles)):
        key = tuple(percentiles)
        if key not in cache:
            cache[key] = compare_images(transmitted, prediction, recorded, clean, percentiles=key)
        fig = compare_plane_figure(
            cache[key],
            z=z,
            t=t,
            z_step_um=z_step_um,
            z0_um=z0_um,
            pixel_size_um=pixel_size_um,
        )
        display(fig)
        plt.close(fig)

    out = widgets.interactive_output(draw, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), out])
