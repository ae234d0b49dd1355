"""The course's main job, headless: ``make demo`` / ``python -m coursekit demo``.

1. Simulate a field with the virtual microscope and draw every way it is imaged.
2. Train the compact U-Net to predict DNA from a bright-field z-stack (3 planes) on a stream
   of simulated fields, for a fixed number of steps (:data:`DEMO_STEPS`), so that the result
   is the same on every machine (only the time differs).
3. Save the model (checkpoint), load it back, and predict a 512 x 512 held-out field tile
   by tile.
4. Score held-out fields against the recorded and the clean target, with the noise ceiling.
5. Run the hallucination probes (blank field, noise, a removed cell, another cell type,
   another microscope, no optical signature).

Everything goes to one folder: figures (PNG), tables (CSV), the field and its prediction
(OME-TIFF), the checkpoint and ``summary.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo", "DEMO_STEPS"]

#: Training steps of the demo (batch 8 of 3 x 64 x 64 patches): deterministic on the CPU, so
#: every machine gets the same model. Twice the 150 steps of tests/test_science.py (about
#: 25 s on 2 idle CPU cores there, r 0.84 against the clean DNA); the demo's own r and time
#: are in its summary.json ("scores", "training").
DEMO_STEPS = 300


def run_demo(
    out="demo-output",
    *,
    steps: int = DEMO_STEPS,
    seconds: float | None = None,
    seed: int = 0,
    device="auto",
    progress: bool = True,
) -> dict:
    """Run the demo and return its summary (also written to ``out/summary.json``).

    Parameters
    ----------
    out : str or os.PathLike
        Output folder (created).
    steps : int
        Training budget in optimizer steps (the same result on every CPU).
    seconds : float, optional
        An additional wall-clock limit (training stops at whichever comes first; the
        result then depends on the machine).
    seed : int
        Seeds the training stream and the model.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        Numbers of the run: training steps, Pearson r against the clean and the recorded
        target, C_max, hallucination scores, file names.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit import self_check
    from coursekit.experiments import (
        heldout_fields,
        predict_fields,
        score_fields,
        train_on_simulator,
    )
    from coursekit.hallucination import make_probes, run_probes
    from coursekit.metrics import pearson_r, plot_scores
    from coursekit.models import load_checkpoint, predict, predict_tiled, save_checkpoint
    from coursekit.plotting import field_overview, prediction_figure

    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {
        "system": self_check(),
        "training_budget_steps": steps,
        "training_budget_s": seconds,
        "seed": seed,
    }

    def log(msg):
        print(f"[demo {time.perf_counter() - t_start:6.1f} s] {msg}", flush=True)

    log("1/5 simulating a field of hiPS-like cells")
    fig = field_overview(seed=1)
    fig.savefig(out / "field_overview.png", dpi=70)
    plt.close(fig)

    log(f"2/5 training the compact U-Net on DNA for {steps} steps")
    model, history = train_on_simulator(
        ("dna",), steps=steps, seconds=seconds, seed=seed, device=device, progress=progress
    )
    fig, ax = plt.subplots(figsize=(5, 3.5))
    history.plot(ax=ax)
    fig.tight_layout()
    fig.savefig(out / "loss_curve.png", dpi=80)
    plt.close(fig)
    summary["training"] = {
        "steps": int(history.steps[-1]),
        "device": str(history.device),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "final_loss": float(history.train_loss[-1]),
        "elapsed_s": round(float(history.elapsed_s), 1),
    }

    log("3/5 checkpoint round trip and tiled prediction of a 512 x 512 field")
    ckpt = save_checkpoint(  # the model carries its training normalization into the file
        out / "dna_model.pt",
        model,
        label_names=["dna"],
        input_names=["brightfield_-1um", "brightfield_0um", "brightfield_+1um"],
    )
    model, info = load_checkpoint(ckpt)
    big = heldout_fields(1, (512, 512), seed=30_000, labels=("dna",))[0]
    x = big.input_stack()  # raw: predict normalizes as in training (from the checkpoint)
    tiled = predict_tiled(model, x, tile=256, device=device, progress=progress)[0]
    one_pass = predict(model, x, device=device)[0]
    summary["tiled_prediction"] = {
        "shape": list(tiled.shape),
        "max_abs_difference_to_one_pass": float(np.abs(tiled - one_pass).max()),
        "r_clean": pearson_r(target=big.clean["dna"], prediction=tiled),
    }
    fig = prediction_figure(
        big.transmitted[1],
        big.recorded["dna"],
        big.clean["dna"],
        tiled,
        title="DNA predicted from bright field (held-out field, tiled prediction)",
    )
    fig.savefig(out / "prediction.png", dpi=70)
    plt.close(fig)
    from coursekit.io import write_ome_tiff

    stack = np.stack([big.transmitted[1], big.recorded["dna"], big.clean["dna"], tiled]).astype(
        np.float32
    )
    write_ome_tiff(
        out / "heldout_field_prediction.ome.tif",
        stack,
        axes="CYX",
        pixel_size_um=big.metadata["pixel_size_um"],
        channel_names=["brightfield", "dna_recorded", "dna_clean", "dna_predicted"],
    )

    log("4/5 scoring held-out fields against the recorded and the clean target")
    fields = heldout_fields(4, (256, 256), seed=20_000, labels=("dna",))
    table = score_fields(
        model, fields, ("dna",), predictions=predict_fields(model, fields, device=device)
    )
    table.to_csv(out / "scores.csv", index=False)
    fig, ax = plt.subplots(figsize=(3.5, 3.5))
    plot_scores(table, ax=ax)
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=80)
    plt.close(fig)
    summary["scores"] = {
        "pearson_clean": float(table["pearson_clean"].mean()),
        "pearson_recorded": float(table["pearson_recorded"].mean()),
        "c_max": float(table["c_max"].mean()),
        "r_over_cmax": float(table["r_over_cmax"].mean()),
        "n_fields": len(fields),
    }

    log("5/5 hallucination probes")

    probes = make_probes((256, 256), seed=40_000, label="dna")
    probe_table = run_probes(model, probes)  # through predict, with the model's normalization
    probe_table.to_csv(out / "hallucination_probes.csv", index=False)
    cols = [
        c
        for c in ("probe", "hallucination_score", "miss_score", "pearson_truth")
        if c in probe_table
    ]
    summary["hallucination"] = json.loads(probe_table[cols].to_json(orient="records"))

    summary["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    summary["files"] = sorted(p.name for p in out.iterdir())
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    log(f"done: {out}/summary.json")
    return summary
