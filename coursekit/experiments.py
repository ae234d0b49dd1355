"""The course's recurring experiment in a few calls: train a label-free model on the virtual
microscope, predict held-out fields, score them against the recorded and the clean truth.

The demo (``make demo``), the science tests, the benchmarks and the lectures all run this
experiment with different knobs (structure, refractive-index contrast, budget, model), so
it lives here once.

Examples
--------
Not run as a doctest (+SKIP): it trains a model on simulated fields, about a minute on a
CPU; tests/test_science.py runs it.

>>> from coursekit.experiments import train_on_simulator, heldout_fields, score_fields
>>> model, history = train_on_simulator(("dna",), steps=5, progress=False)  # doctest: +SKIP
>>> fields = heldout_fields(2, (128, 128), seed=1000, labels=("dna",))      # doctest: +SKIP
>>> score_fields(model, fields, ("dna",))                                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

from coursekit._validation import check_int

__all__ = ["train_on_simulator", "heldout_fields", "predict_fields", "score_fields"]


def train_on_simulator(
    labels: Sequence[str] = ("dna",),
    *,
    model=None,
    steps: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    patch_shape=(64, 64),
    field_shape=(256, 256),
    batch_size: int = 8,
    loss: str = "mse",
    lr: float = 1e-3,
    schedule: str = "constant",
    device="auto",
    progress: bool = True,
    live_plot: bool = False,
    clean_target: bool = False,
    patches_per_field: int = 32,
    **field_kwargs,
):
    """Train a U-Net to predict ``labels`` from transmitted light on a stream of simulated
    fields (fresh fields all along, so the model never sees the same cell twice).

    Parameters
    ----------
    labels : sequence of str
        Fluorescence labels to predict (one output channel each).
    model : torch.nn.Module, optional
        The model to train; default a compact :class:`~coursekit.models.UNet` with one
        input channel per transmitted-light plane (2D) or one (3D), its initial weights
        seeded by ``seed``.
    steps, seconds : int or float, optional
        Training budget (see :func:`coursekit.models.train`).
    seed : int
        Seeds the stream of fields, the default model's initial weights and the training:
        one seed makes the run repeatable.
    patch_shape, field_shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)``.
    batch_size, loss, lr, schedule, device, progress, live_plot
        Passed to :func:`coursekit.models.train`.
    clean_target : bool
        Train on the noise-free targets (only a simulator can do this).
    patches_per_field : int
        Random patches cut from each simulated field. 32 patches of 64 x 64 from a
        256 x 256 field keep the stream ahead of a CPU training loop (simulating a field
        costs about as much as 3 training steps) while every batch still mixes fields.
    **field_kwargs
        Passed to :func:`coursekit.microscope.simulate_field` (e.g. ``modality``,
        ``n_planes``, ``delta_n``, ``cell_types``).

    Returns
    -------
    (torch.nn.Module, coursekit.models.History)
        The model carries the stream's normalization (``model.normalization``), so
        :func:`predict_fields` and :func:`~coursekit.models.save_checkpoint` need not be
        told it.
    """
    from coursekit.models import UNet, train
    from coursekit.models.stream import PatchStream

    stream = PatchStream(
        patch_shape,
        tuple(labels),
        seed=seed,
        field_shape=field_shape,
        clean_target=clean_target,
        patches_per_field=patches_per_field,
        **field_kwargs,
    )
    if model is None:
        x0, _, _ = next(iter(stream))
        model = UNet(x0.shape[0], len(stream.labels), ndim=len(patch_shape), seed=seed)
    history = train(
        model,
        stream,
        steps=steps,
        seconds=seconds,
        batch_size=batch_size,
        loss=loss,
        lr=lr,
        schedule=schedule,
        device=device,
        seed=seed,
        progress=progress,
        live_plot=live_plot,
    )
    return model, history


def heldout_fields(
    n_fields: int, shape, *, seed: int, labels: Sequence[str] = ("dna",), **field_kwargs
):
    """Simulate ``n_fields`` fields with seeds ``seed, seed + 1, ...`` (whole fields, kept
    with their clean truth and camera calibration, for evaluation).

    Use seeds far from the training stream's (e.g. 10,000 and up) so that no held-out field
    was seen in training.

    Returns
    -------
    list of coursekit.microscope.Field
    """
    from coursekit.microscope import simulate_field

    n_fields = check_int(n_fields, "n_fields", minimum=1)
    return [
        simulate_field(shape, seed=seed + k, labels=tuple(labels), **field_kwargs)
        for k in range(n_fields)
    ]


def predict_fields(model, fields, *, normalization=None, tile=None, device="auto", progress=False):
    """Predict every field's targets from its transmitted light.

    :func:`coursekit.models.predict` normalizes each input channel as in training, then
    predicts in one pass, or tile by tile (:func:`coursekit.models.predict_tiled`) when
    ``tile`` is given.

    Parameters
    ----------
    model : torch.nn.Module
    fields : list of coursekit.microscope.Field
    normalization : str or dict, optional
        Default: the model's training normalization (``model.normalization``, recorded by
        :func:`train_on_simulator`), or ``"zscore"`` (the patch stream's) for a model that
        has none, such as an untrained one.
    tile : int or tuple of int, optional
    device : str
    progress : bool

    Returns
    -------
    list of numpy.ndarray
        One ``(C_out, Y, X)`` or ``(C_out, Z, Y, X)`` float32 array per field.
    """
    from coursekit.models import predict, predict_tiled

    if normalization is None:
        normalization = "model" if getattr(model, "normalization", None) else "zscore"
    out = []
    for f in fields:
        x = f.input_stack()
        if tile is None:
            out.append(predict(model, x, device=device, normalization=normalization))
        else:
            out.append(
                predict_tiled(
                    model,
                    x,
                    tile=tile,
                    device=device,
                    progress=progress,
                    normalization=normalization,
                )
            )
    return out


def score_fields(
    model, fields, labels: Sequence[str], *, predictions=None, mask=None, **predict_kwargs
):
    """Score a model on held-out fields: one row per label and field.

    Parameters
    ----------
    model : torch.nn.Module
        Trained to output ``labels`` in this order.
    fields : list of coursekit.microscope.Field
    labels : sequence of str
    predictions : list of numpy.ndarray, optional
        Reuse predictions already made by :func:`predict_fields`.
    mask : optional
        Passed to :func:`coursekit.metrics.evaluate`.

    Returns
    -------
    pandas.DataFrame
        :func:`coursekit.metrics.evaluate`'s table: Pearson r against the recorded and the
        clean target, the noise ceiling C_max (from the recorded image and the camera
        calibration), NRMSE, SSIM and PSNR.
    """
    from coursekit.metrics import evaluate

    labels = tuple(labels)
    if predictions is None:
        predictions = predict_fields(model, fields, **predict_kwargs)
    preds = {lab: [p[i] for p in predictions] for i, lab in enumerate(labels)}
    recorded = {lab: [f.recorded[lab] for f in fields] for lab in labels}
    clean = {lab: [f.clean[lab] for f in fields] for lab in labels}
    camera = fields[0].metadata["camera"]
    ids = [f.metadata.get("seed", i) for i, f in enumerate(fields)]
    return evaluate(preds, recorded, clean=clean, camera=camera, field_ids=ids, mask=mask)
