"""How much data does a label-free model need? A learning curve on a fixed pool of fields.

:func:`learning_curve` trains one model per (number of distinct training fields, seed) at
a fixed budget of optimizer steps, and scores each on the same held-out fields: a tidy
table with one row per model and test image. :func:`plot_learning_curve` draws the mean and
the spread over seeds against the number of fields. :func:`input_baseline` scores the input
itself (affinely rescaled to the target), the "do nothing" row every score is read against.

Works on any paired arrays (simulated fields through :func:`field_arrays`, or a real data
set cut into tiles).

Examples
--------
>>> from coursekit.experiments import heldout_fields
>>> from coursekit.learning_curve import field_arrays, learning_curve
>>> pool = heldout_fields(4, (96, 96), seed=0, labels=("dna",))           # doctest: +SKIP
>>> test = heldout_fields(2, (96, 96), seed=10_000, labels=("dna",))      # doctest: +SKIP
>>> x, y, _ = field_arrays(pool, ("dna",))                                # doctest: +SKIP
>>> tx, ty, tc = field_arrays(test, ("dna",))                             # doctest: +SKIP
>>> table = learning_curve(x, y, tx, ty, test_clean=tc, sizes=(1, 4),
...                        seeds=(0,), steps=20, progress=False)          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from coursekit._validation import check_int

__all__ = ["field_arrays", "input_baseline", "learning_curve", "plot_learning_curve"]


def field_arrays(fields, labels: Sequence[str]):
    """Inputs, recorded targets and clean targets of simulated fields, as arrays.

    Parameters
    ----------
    fields : list of coursekit.microscope.Field
    labels : sequence of str

    Returns
    -------
    inputs, recorded, clean : list of numpy.ndarray
        ``(C_in, Y, X)`` transmitted light, ``(C_out, Y, X)`` recorded and clean targets
        (float32), one per field.
    """
    labels = tuple(labels)
    inputs = [np.asarray(f.input_stack(), np.float32) for f in fields]
    recorded = [np.stack([f.recorded[lab] for lab in labels]).astype(np.float32) for f in fields]
    clean = [np.stack([f.clean[lab] for lab in labels]).astype(np.float32) for f in fields]
    return inputs, recorded, clean


def _check_pairs(inputs, targets, name: str):
    if len(inputs) != len(targets) or len(inputs) == 0:
        raise ValueError(
            f"{name}: expected as many inputs as targets (at least one), got "
            f"{len(inputs)} inputs and {len(targets)} targets"
        )
    for i, (x, y) in enumerate(zip(inputs, targets)):
        if np.ndim(x) != np.ndim(y) or np.shape(x)[1:] != np.shape(y)[1:]:
            raise ValueError(
                f"{name}[{i}]: input {np.shape(x)} and target {np.shape(y)} must be "
                "(C, *spatial) arrays of the same spatial shape"
            )


def input_baseline(inputs, targets, *, clean=None, channel: int | None = None):
    """Score the input itself as a prediction: the row that says what doing nothing gives.

    Each target channel is compared with one input channel (default the middle one: the
    in-focus plane of a z-stack) mapped to the target's scale by least squares (as
    ZeroCostDL4Mic and CARE do). An affine map keeps the magnitude of Pearson r and makes
    it positive, so the baseline is ``|r|``.

    Parameters
    ----------
    inputs, targets : list of numpy.ndarray
        ``(C_in, *spatial)`` and ``(C_out, *spatial)`` per image.
    clean : list of numpy.ndarray, optional
        Noise-free targets, same layout as ``targets``.
    channel : int, optional
        Input channel used (default ``C_in // 2``).

    Returns
    -------
    pandas.DataFrame
        One row per image and target channel: ``image``, ``channel``,
        ``pearson_recorded`` and ``pearson_clean`` (NaN without ``clean``).
    """
    import pandas as pd

    from coursekit.metrics import pearson_r, rescale_to_target

    _check_pairs(inputs, targets, "baseline")
    rows = []
    for i, (x, y) in enumerate(zip(inputs, targets)):
        x = np.asarray(x, np.float64)
        c = x.shape[0] // 2 if channel is None else check_int(channel, "channel", minimum=0)
        if c >= x.shape[0]:
            raise ValueError(f"channel: expected an index below {x.shape[0]}, got {c}")
        for k in range(np.shape(y)[0]):
            row = {"image": i, "channel": k, "pearson_clean": float("nan")}
            truths = (
                {"recorded": y[k]} if clean is None else {"recorded": y[k], "clean": clean[i][k]}
            )
            for kind, truth in truths.items():
                t = np.asarray(truth, np.float64)
                scaled = rescale_to_target(target=t, prediction=x[c])
                row[f"pearson_{kind}"] = pearson_r(target=t, prediction=scaled)
            rows.append(row)
    return pd.DataFrame(rows)


def _score(model, inputs, targets, clean, device):
    from coursekit.metrics import pearson_r
    from coursekit.models import predict
    from coursekit.normalize import normalize

    out = []
    for i, (x, y) in enumerate(zip(inputs, targets)):
        p = predict(model, normalize(np.asarray(x, np.float32), "zscore", channel_axis=0),
                    device=device)  # fmt: skip
        for k in range(np.shape(y)[0]):
            row = {
                "image": i,
                "channel": k,
                "pearson_recorded": pearson_r(prediction=p[k], target=np.asarray(y[k])),
                "pearson_clean": float("nan"),
            }
            if clean is not None:
                row["pearson_clean"] = pearson_r(prediction=p[k], target=np.asarray(clean[i][k]))
            out.append(row)
    return out


def learning_curve(
    train_inputs,
    train_targets,
    test_inputs,
    test_targets,
    *,
    test_clean=None,
    sizes: Sequence[int] = (1, 2, 4, 8),
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 100,
    make_model: Callable | None = None,
    patch_shape=(48, 48),
    batch_size: int = 8,
    lr: float = 2e-3,
    augment: bool = True,
    device="auto",
    progress: bool = True,
):
    """Train one model per (number of training fields, seed) at a fixed step budget.

    For seed ``s``, the pool of training fields is shuffled with ``s`` and the first ``n``
    fields are used, for each ``n`` in ``sizes`` (so the sets are nested: 2 fields include
    the 1). Each model is trained for ``steps`` optimizer steps on random patches of its
    fields (:class:`coursekit.models.PairedPatches`, z-score normalized, augmented) and
    scored on every test image. With a fixed budget every model sees the same number of
    patches; only their variety changes.

    Parameters
    ----------
    train_inputs, train_targets : list of numpy.ndarray
        The pool: ``(C_in, Y, X)`` inputs and ``(C_out, Y, X)`` targets per field.
    test_inputs, test_targets : list of numpy.ndarray
        Held-out images, same layout (never in the pool).
    test_clean : list of numpy.ndarray, optional
        Noise-free test targets (simulator only), for ``pearson_clean``.
    sizes : sequence of int
        Numbers of distinct training fields, each at most the pool's size.
    seeds : sequence of int
        One model per seed and size (initial weights, patch draws, field order).
    steps : int
        Optimizer steps per model (the same for every size).
    make_model : callable, optional
        ``make_model(in_channels, out_channels) -> torch.nn.Module``; default a compact
        2D :class:`~coursekit.models.UNet` with 8 base channels.
    patch_shape, batch_size, lr, augment, device
        Training settings (:func:`coursekit.models.train`).
    progress : bool
        One progress bar over all the models.

    Returns
    -------
    pandas.DataFrame
        One row per model and test image and target channel: ``n_fields``, ``seed``,
        ``steps``, ``image``, ``channel``, ``pearson_recorded``, ``pearson_clean``.
    """
    import pandas as pd
    import torch
    from tqdm.auto import tqdm

    from coursekit.models import PairedPatches, UNet, train

    _check_pairs(train_inputs, train_targets, "training pool")
    _check_pairs(test_inputs, test_targets, "test set")
    steps = check_int(steps, "steps", minimum=1)
    sizes = [check_int(n, "sizes", minimum=1) for n in sizes]
    seeds = [check_int(s, "seeds", minimum=0) for s in seeds]
    if not sizes or not seeds:
        raise ValueError("sizes and seeds: expected at least one value each")
    if max(sizes) > len(train_inputs):
        raise ValueError(
            f"sizes: the pool holds {len(train_inputs)} fields, cannot train on {max(sizes)}"
        )
    c_in, c_out = np.shape(train_inputs[0])[0], np.shape(train_targets[0])[0]
    if make_model is None:

        def make_model(c_in, c_out):
            return UNet(c_in, c_out, ndim=2, base_channels=8)

    rows = []
    bar = tqdm(total=len(sizes) * len(seeds), desc="learning curve", disable=not progress)
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(train_inputs))
        for n in sizes:
            chosen = order[:n]
            data = PairedPatches(
                [train_inputs[i] for i in chosen],
                [train_targets[i] for i in chosen],
                patch_shape=patch_shape,
                augment=augment,
                seed=seed,
                n_patches_per_epoch=steps * batch_size,
            )
            torch.manual_seed(seed)
            model = make_model(c_in, c_out)
            train(model, data, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                  device=device, progress=False)  # fmt: skip
            for row in _score(model, test_inputs, test_targets, test_clean, device):
                rows.append({"n_fields": n, "seed": seed, "steps": steps, **row})
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def plot_learning_curve(
    table, *, metric: str = "pearson_recorded", baseline: float | None = None, ax=None
):
    """Score against the number of training fields: mean over seeds, error bars = std.

    Each seed's score is first averaged over the test images; the error bar is the
    standard deviation of those per-seed means (the spread from training, not from the
    test images).

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`learning_curve`'s output.
    metric : str
        A score column.
    baseline : float, optional
        Drawn as a dashed line (e.g. :func:`input_baseline`'s mean).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if metric not in table.columns:
        raise ValueError(f"metric: {metric!r} is not a column of the table ({list(table.columns)})")
    per_seed = table.groupby(["n_fields", "seed"])[metric].mean()
    stats = per_seed.groupby("n_fields").agg(["mean", "std", "count"])
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    else:
        fig = ax.figure
    ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0.0), marker="o",
                capsize=4, label=f"U-Net, {int(stats['count'].iloc[0])} seeds (mean ± std)")  # fmt: skip
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls="--", label="the input itself (baseline)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(stats.index, [str(n) for n in stats.index])
    ax.set_xlabel("distinct training fields")
    ax.set_ylabel(metric.replace("_", " "))
    steps = table["steps"].iloc[0] if "steps" in table.columns else None
    ax.set_title("learning curve" + (f" ({steps} steps per model)" if steps is not None else ""))
    ax.legend(loc="lower right")
    return fig
