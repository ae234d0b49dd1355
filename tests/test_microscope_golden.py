"""Golden outputs of the virtual microscope: refactors must keep them bit-identical.

Every array that :func:`simulate_field`, :func:`simulate_timelapse` and
:func:`build_specimen` return is hashed (SHA-256 of its bytes, dtype and shape) over a
handful of configurations that together reach every drawing path: 2D and 3D, the three
modalities, every cell type, mitotic and dead states, ``drop_cells`` and ``delta_n``
overrides. The hashes are stored in ``tests/data/microscope_golden.json``.

A refactor that is meant to change nothing must leave them equal. A change that is meant
to change the output re-records them on purpose (and says so in its commit)::

    PYTHONPATH=$PWD .venv/bin/python tests/test_microscope_golden.py --record

Floating-point results depend on the NumPy/SciPy build (FFT and BLAS kernels), so the
exact hashes are compared only on the versions they were recorded with; on other versions
the test compares each array's sum and sum of squares to a relative 1e-4 instead.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy

GOLDEN = Path(__file__).parent / "data" / "microscope_golden.json"

STATES_ALL = {
    "interphase": 0.3,
    "prophase": 0.14,
    "metaphase": 0.14,
    "anaphase": 0.14,
    "telophase": 0.14,
    "dead": 0.14,
}

# name -> (function, keyword arguments); small fields, so the whole set runs in seconds
CONFIGS = {
    "field2d_bf_epithelial_mix": (
        "field",
        dict(shape=(160, 160), seed=3, states=STATES_ALL, labels=None),
    ),
    "field2d_phase_fibroblast": (
        "field",
        dict(
            shape=(96, 128),
            seed=5,
            cell_types="fibroblast",
            n_cells=3,
            modality="phase_contrast",
            labels=("dna", "actin", "focal_adhesions", "microtubules"),
        ),
    ),
    "field2d_dic_neuron_poisson": (
        "field",
        dict(
            shape=(96, 96),
            seed=11,
            cell_types="neuron",
            n_cells=2,
            modality="dic",
            labels=("dna", "microtubules", "mitochondria"),
            shot_noise="poisson",
        ),
    ),
    "field2d_mixed_types_drop_deltan": (
        "field",
        dict(
            shape=(96, 96),
            seed=2,
            cell_types=("epithelial", "fibroblast", "neuron"),
            n_cells=5,
            states={"interphase": 0.5, "metaphase": 0.25, "dead": 0.25},
            drop_cells=(2,),
            delta_n={"dna": 0.0, "mitochondria": 0.05},
            labels=("dna", "nucleoli", "dead", "membrane"),
        ),
    ),
    "field2d_mitosis_states": (
        "field",
        dict(
            shape=(80, 80),
            seed=9,
            n_cells=6,
            states=["prophase", "anaphase", "telophase"],
            labels=("dna", "nuclear_envelope", "microtubules", "nucleoli", "actin"),
            photons={"dna": 100.0},
            n_planes=2,
        ),
    ),
    "field3d_bf_mix": (
        "field",
        dict(
            shape=(10, 96, 96),
            seed=4,
            states=STATES_ALL,
            labels=("dna", "membrane", "mitochondria", "nucleoli", "er"),
        ),
    ),
    "field3d_phase_fibroblast_neuron": (
        "field",
        dict(
            shape=(8, 64, 64),
            seed=6,
            cell_types=("fibroblast", "neuron"),
            n_cells=3,
            modality="phase_contrast",
            labels=("dna", "actin", "microtubules", "focal_adhesions", "dead"),
            states={"interphase": 0.6, "dead": 0.4},
        ),
    ),
    "specimen2d_all": (
        "specimen",
        dict(shape=(128, 128), seed=1, states=STATES_ALL, drop_cells=(3,)),
    ),
    "specimen3d_neuron": (
        "specimen",
        dict(
            shape=(8, 64, 64),
            seed=8,
            cell_types="neuron",
            n_cells=3,
            states={"interphase": 0.5, "prophase": 0.25, "dead": 0.25},
        ),
    ),
    "timelapse2d": (
        "timelapse",
        dict(shape=(64, 64), n_frames=4, seed=1, n_cells=3, labels=("dna", "microtubules")),
    ),
}


def _arrays(kind: str, kwargs: dict) -> dict[str, np.ndarray]:
    """Every array a configuration returns, by a stable name."""
    if kind == "field":
        from coursekit.microscope.field import simulate_field

        f = simulate_field(**kwargs)
        out = {
            "transmitted": f.transmitted,
            "transmitted_clean": f.transmitted_clean,
            "cell_mask": f.cell_mask,
            "nucleus_mask": f.nucleus_mask,
        }
        out.update({f"recorded/{k}": v for k, v in f.recorded.items()})
        out.update({f"clean/{k}": v for k, v in f.clean.items()})
        out["cells"] = np.array(
            [
                (c.id, *c.centroid_um, *(c.nucleus_centroid_um or (-1.0, -1.0)), c.area_um2)
                for c in f.cells
            ],
            np.float64,
        ).reshape(-1, 6)
        return out
    if kind == "specimen":
        from coursekit.microscope.specimen import build_specimen

        sp = build_specimen(**kwargs)
        out = {"cell_mask": sp.cell_mask, "nucleus_mask": sp.nucleus_mask}
        out.update({f"densities/{k}": v for k, v in sp.densities.items()})
        out.update({f"labels/{k}": v for k, v in sp.labels.items()})
        for group, maps in (("path_um", sp.path_um), ("label_path_um", sp.label_path_um)):
            if maps is not None:
                out.update({f"{group}/{k}": v for k, v in maps.items()})
        return out
    from coursekit.microscope.timelapse import simulate_timelapse

    t = simulate_timelapse(**kwargs)
    out = {
        "transmitted": t.transmitted,
        "cell_mask": t.cell_mask,
        "nucleus_mask": t.nucleus_mask,
        "stage_um": t.stage_um,
    }
    out.update({f"recorded/{k}": v for k, v in t.recorded.items()})
    out.update({f"clean/{k}": v for k, v in t.clean.items()})
    return out


def _fingerprint(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    a64 = a.astype(np.float64)
    return {"sha256": h.hexdigest(), "sum": float(a64.sum()), "sumsq": float((a64 * a64).sum())}


def _versions() -> dict:
    return {"numpy": np.__version__, "scipy": scipy.__version__}


def _record() -> None:
    data = {"versions": _versions(), "configs": {}}
    for name, (kind, kwargs) in CONFIGS.items():
        data["configs"][name] = {k: _fingerprint(v) for k, v in _arrays(kind, kwargs).items()}
        print(name, len(data["configs"][name]), "arrays")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    tmp = GOLDEN.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(GOLDEN)


@pytest.fixture(scope="module")
def golden():
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} is missing; record it with `python {__file__} --record`")
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_outputs_match_golden(name, golden):
    kind, kwargs = CONFIGS[name]
    want = golden["configs"][name]
    got = {k: _fingerprint(v) for k, v in _arrays(kind, kwargs).items()}
    assert sorted(got) == sorted(want), (
        f"{name}: the arrays returned changed: extra {sorted(set(got) - set(want))}, "
        f"missing {sorted(set(want) - set(got))}"
    )
    exact = golden["versions"] == _versions()
    changed = []
    for key, fp in want.items():
        if exact:
            if got[key]["sha256"] != fp["sha256"]:
                changed.append(
                    f"{key}: sum {fp['sum']:.9g} -> {got[key]['sum']:.9g}, "
                    f"sumsq {fp['sumsq']:.9g} -> {got[key]['sumsq']:.9g}"
                )
        else:
            for stat in ("sum", "sumsq"):
                if not np.isclose(got[key][stat], fp[stat], rtol=1e-4, atol=1e-6):
                    changed.append(f"{key}: {stat} {fp[stat]:.9g} -> {got[key][stat]:.9g}")
    assert not changed, (
        f"{name}: {len(changed)} of {len(want)} arrays differ from the golden outputs "
        f"({'exact hashes' if exact else 'sums, other NumPy/SciPy versions'}):\n"
        + "\n".join(changed[:20])
        + "\nIf this change is intended, re-record with --record and say so in the commit."
    )


if __name__ == "__main__":
    if "--record" in sys.argv:
        _record()
    else:
        print(__doc__)
