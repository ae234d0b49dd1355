"""simulate_timelapse: a cell divides over frames while the stage drifts."""

import numpy as np
import pytest

from coursekit.microscope.timelapse import MITOSIS_SCHEDULE, TimeLapse, simulate_timelapse

ORDER = ["interphase", "prophase", "metaphase", "anaphase", "telophase"]


@pytest.fixture(scope="module")
def movie():
    return simulate_timelapse(
        (128, 128),
        12,
        seed=5,
        n_cells=5,
        labels=("dna", "nuclear_envelope"),
        drift_um_per_frame=(0.3, -0.2),
    )


def test_shapes(movie):
    tl = movie
    assert isinstance(tl, TimeLapse) and tl.n_frames == 12
    assert tl.transmitted.shape == (12, 3, 128, 128) and tl.transmitted.dtype == np.float32
    for lab in ("dna", "nuclear_envelope"):
        assert tl.recorded[lab].shape == (12, 128, 128) and tl.clean[lab].shape == (12, 128, 128)
    assert tl.cell_mask.shape == (12, 128, 128) and tl.cell_mask.dtype == np.int32
    assert len(tl.states) == len(tl.cells) == 12 and tl.stage_um.shape == (12, 2)
    assert "dividing cell" in repr(tl)


def test_the_cell_goes_through_mitosis(movie):
    tl = movie
    seq = tl.state_of(tl.mitotic_id)
    seen = [s for s in seq if s is not None]
    # every stage appears, in order, then the mother is replaced by its two daughters
    assert [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]] == ORDER
    assert seq[-1] is None
    last = tl.states[-1]
    assert all(d in last and last[d] == "interphase" for d in tl.daughter_ids)
    assert all(tl.states[0].get(d) is None for d in tl.daughter_ids)
    parents = {c.parent for c in tl.cells[-1] if c.id in tl.daughter_ids}
    assert parents == {tl.mitotic_id}
    # a cell keeps its expression levels through mitosis, and its daughters inherit them
    levels = [
        c.expression
        for cells in tl.cells
        for c in cells
        if c.id == tl.mitotic_id or c.id in tl.daughter_ids
    ]
    assert all(lv == levels[0] for lv in levels)
    # the other cells stay in interphase
    for st in tl.states:
        assert all(s == "interphase" for cid, s in st.items() if cid != tl.mitotic_id)
    # the nuclear envelope breaks down in metaphase (this cell expresses lamin B1)
    mother = next(c for c in tl.cells[0] if c.id == tl.mitotic_id)
    assert mother.expression["nuclear_envelope"] > 0
    meta = seq.index("metaphase")
    m = tl.cell_mask[meta] == tl.mitotic_id
    env = tl.clean["nuclear_envelope"]
    m0 = tl.cell_mask[0] == tl.mitotic_id
    floor = np.median(env[0][tl.cell_mask[0] == 0])
    ring = lambda img, mask: np.percentile(img[mask], 95) - floor  # noqa: E731 (robust to puncta)
    assert ring(env[meta], m) < 0.5 * ring(env[0], m0)
    # the rounded mitotic cell covers less area than in interphase
    assert m.sum() < m0.sum()


def test_drift_moves_the_cells(movie):
    tl = movie
    drift = np.array(tl.metadata["drift_um_per_frame"])
    assert np.allclose(tl.stage_um[-1], drift * 11)
    # the nucleus of a cell that stays in interphase, in view, moves with the stage
    moved = []
    for cid in [c.id for c in tl.cells[0] if c.id != tl.mitotic_id]:
        a, b = (tl.nucleus_mask[t] == cid for t in (0, 4))
        if a.sum() < 200 or abs(int(a.sum()) - int(b.sum())) > 0.03 * a.sum():
            continue  # cut by the border
        ca = np.array(np.nonzero(a)).mean(axis=1) * 0.3
        cb = np.array(np.nonzero(b)).mean(axis=1) * 0.3
        moved.append(cb - ca)
    assert moved
    assert np.allclose(np.median(moved, axis=0), drift * 4, atol=0.2)


def test_determinism_and_errors():
    kw = dict(seed=1, n_cells=2, labels=("dna",))
    a = simulate_timelapse((48, 48), 3, **kw)
    b = simulate_timelapse((48, 48), 3, **kw)
    assert np.array_equal(a.recorded["dna"], b.recorded["dna"])
    assert np.array_equal(a.transmitted, b.transmitted)
    # every frame has its own camera noise
    assert not np.array_equal(a.recorded["dna"][0], a.recorded["dna"][1])
    with pytest.raises(ValueError, match="n_frames"):
        simulate_timelapse((48, 48), 1, seed=0)
    with pytest.raises(ValueError, match="drift"):
        simulate_timelapse((48, 48), 3, seed=0, drift_um_per_frame=(1.0,))
    with pytest.raises(ValueError, match="mitotic_cell"):
        simulate_timelapse((48, 48), 3, seed=0, n_cells=2, mitotic_cell=99)
    with pytest.raises(TypeError, match="states"):
        simulate_timelapse((48, 48), 3, seed=0, states="dead")
    assert sum(w for _, w in MITOSIS_SCHEDULE) == pytest.approx(1.0)
