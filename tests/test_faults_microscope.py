"""Faults of the virtual microscope (issue 8, items 6a and 9): every bad request gets a
clear, early error, and large fields are bounded in memory.

Each case failed before its fix: ``drop_cells=[9999]`` returned an unchanged field;
``(100000, 100000)`` and ``n_cells=100000`` asked NumPy for petabytes after 20 to 30 s;
cell placement built an all-pairs distance matrix (12 GB for a (4096, 4096) field);
``labels=()`` said "need at least one array to stack"; ``seed=-1`` raised TypeError.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from coursekit.microscope.field import estimate_memory_gb, simulate_field
from coursekit.microscope.specimen import build_specimen, plan_cells
from coursekit.microscope.specimen.planning import dart_throw


def test_drop_cells_unknown_id_is_refused_and_names_the_valid_ids():
    ids = [c.id for c in simulate_field((64, 64), seed=1, n_cells=3, labels="dna").cells]
    with pytest.raises(ValueError, match=r"drop_cells.*9999.*1, 2, 3") as err:
        simulate_field((64, 64), seed=1, n_cells=3, labels="dna", drop_cells=[9999])
    assert "9999" in str(err.value), f"the message should name the unknown id: {err.value}"
    assert ids, "the reference field should hold cells"
    with pytest.raises(ValueError, match="drop_cells"):
        build_specimen((64, 64), seed=1, n_cells=3, drop_cells=(0,))
    # a valid id still works, and changes the field
    f = simulate_field((64, 64), seed=1, n_cells=3, labels="dna", drop_cells=[ids[0]])
    assert ids[0] not in {c.id for c in f.cells}, "the dropped cell should be gone"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(shape=(100000, 100000)),
        dict(shape=(400, 4096, 4096)),
    ],
)
def test_huge_fields_are_refused_fast_with_the_estimate_and_the_limit(kwargs):
    t0 = time.perf_counter()
    with pytest.raises(MemoryError, match=r"GB.*limit") as err:
        simulate_field(seed=0, **kwargs)
    elapsed = time.perf_counter() - t0
    msg = str(err.value)
    assert "memory_limit_gb" in msg, f"the message should say how to raise the limit: {msg}"
    assert elapsed < 2.0, f"the refusal took {elapsed:.1f} s; it must come before any work"


def test_memory_limit_keyword_is_honoured():
    est = estimate_memory_gb((512, 512), n_labels=10)
    assert 0 < est < 2, f"a 512 x 512 2D field should need well under 2 GB, estimated {est}"
    with pytest.raises(MemoryError, match="limit of 0.01 GB"):
        simulate_field((512, 512), seed=0, memory_limit_gb=0.01)


def test_absurd_cell_counts_are_refused_fast():
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"n_cells=100000.*at most"):
        simulate_field((256, 256), seed=0, n_cells=100000)
    with pytest.raises(ValueError, match=r"n_cells=100000.*at most"):
        plan_cells((76.8, 76.8), seed=0, n_cells=100000)
    assert time.perf_counter() - t0 < 2.0, "refusing an absurd n_cells must be immediate"


def test_dart_throw_memory_grows_with_the_points_not_their_square():
    """Placing 10,000 points never builds the 40,000 x 40,000 candidate distance matrix
    (13 GB) the all-pairs version needed."""
    rng = np.random.default_rng(0)
    side = 3000.0

    def sampler(k):
        return rng.uniform(0, side, (k, 2))

    tracemalloc.start()
    pts = dart_throw(rng, 10000, sampler, 10.0, [])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(pts) == 10000, f"expected 10000 points, placed {len(pts)}"
    assert peak < 100e6, f"placement peaked at {peak / 1e6:.0f} MB; it must not be quadratic"
    p = np.asarray(pts)
    from scipy.spatial import cKDTree

    d, _ = cKDTree(p).query(p, k=2)
    assert d[:, 1].min() >= 10.0, f"points closer than the minimum distance: {d[:, 1].min()}"


def test_large_field_plan_fits_in_memory():
    """The plan of a (2048, 2048) field (2,000+ epithelial cells) in little memory (the
    all-pairs placement needed 0.5 GB for the matrix and several GB for its list copy)."""
    tracemalloc.start()
    plans = plan_cells((2048 * 0.3, 2048 * 0.3), seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(plans) > 1000, f"expected thousands of cells, got {len(plans)}"
    assert peak < 100e6, f"planning peaked at {peak / 1e6:.0f} MB"


def test_empty_labels_is_a_clear_error():
    with pytest.raises(ValueError, match=r"labels: expected at least one label.*'dna'"):
        simulate_field((64, 64), seed=0, labels=())


def test_negative_seed_is_a_value_error():
    with pytest.raises(ValueError, match="seed"):
        simulate_field((64, 64), seed=-1)
    with pytest.raises(ValueError, match="seed"):
        build_specimen((64, 64), seed=-1)
    with pytest.raises(TypeError, match="seed"):
        simulate_field((64, 64), seed=1.5)
