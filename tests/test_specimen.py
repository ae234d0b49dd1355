"""The specimen: cell types, states, structures, masks, expression and determinism."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from coursekit.microscope import specimen as S
from coursekit.microscope.specimen import (
    CELL_TYPES,
    DELTA_N,
    LABELS,
    STATES,
    STRUCTURES,
    build_specimen,
    plan_cells,
)

SHAPE = (128, 128)


@pytest.fixture(scope="module")
def mixed():
    """A 2D specimen with interphase, mitotic and dead cells."""
    return build_specimen(
        SHAPE,
        seed=4,
        n_cells=12,
        slab_um=2.0,
        states={"interphase": 0.5, "metaphase": 0.2, "dead": 0.3},
    )


def test_constants_cover_every_structure():
    assert LABELS[0] == "dna" and LABELS[-1] == "dead" and len(LABELS) == 10
    assert set(DELTA_N) == set(STRUCTURES)
    assert all(np.isfinite(v) and v >= 0 for v in DELTA_N.values())
    assert DELTA_N["dead"] == 0.0  # a stain, not a structure
    # predictable structures are optically denser than thin filaments
    assert min(DELTA_N["dna"], DELTA_N["nucleoli"]) > 5 * DELTA_N["microtubules"]
    assert {"epithelial", "fibroblast", "neuron"} <= set(CELL_TYPES)


def test_shapes_dtypes_and_ranges(mixed):
    sp = mixed
    assert sp.shape == SHAPE and sp.ndim == 2
    assert set(sp.densities) == set(STRUCTURES)
    assert set(sp.labels) == set(LABELS)
    for name, d in sp.densities.items():
        assert d.shape == SHAPE and d.dtype == np.float32, name
        assert d.min() >= 0 and d.max() <= 1, name
        assert sp.path_um[name].min() >= 0
    for name, d in sp.labels.items():
        assert d.shape == SHAPE and d.dtype == np.float32 and d.min() >= 0, name
    assert sp.cell_mask.dtype == np.int32 and sp.nucleus_mask.dtype == np.int32
    ids = {c.id for c in sp.cells}
    assert set(np.unique(sp.cell_mask)) - {0} == ids
    assert all(c.area_um2 > 0 for c in sp.cells)


def test_nucleus_inside_its_cell(mixed):
    n = mixed.nucleus_mask
    assert (n > 0).sum() > 100
    assert np.array_equal(mixed.cell_mask[n > 0], n[n > 0])


def test_every_label_present_where_expected(mixed):
    sp = mixed
    for lab in LABELS:
        assert sp.labels[lab].max() > 0.01, lab
    # the dead label lives in the nuclei of dead cells only
    dead_ids = [c.id for c in sp.cells if c.state == "dead"]
    assert dead_ids, "the fixture should hold a dead cell"
    dead_cells = np.isin(sp.cell_mask, dead_ids)
    near_dead = ndimage.binary_dilation(dead_cells, iterations=2)
    stained = sp.labels["dead"] > 1e-3
    assert stained.any() and not (stained & ~near_dead).any()
    # ... and every dead cell's nucleus is stained (unless it sits mostly outside the field)
    for cid in dead_ids:
        nuc = sp.nucleus_mask == cid
        if nuc.sum() > 20:
            assert sp.labels["dead"][nuc].mean() > 0.1


def test_metaphase_has_no_envelope_and_condensed_chromosomes():
    meta = build_specimen(SHAPE, seed=1, n_cells=3, states="metaphase", slab_um=2.0)
    inter = build_specimen(SHAPE, seed=1, n_cells=3, states="interphase", slab_um=2.0)
    assert meta.densities["nuclear_envelope"].max() == 0
    assert inter.densities["nuclear_envelope"].max() > 0.3
    assert meta.densities["nucleoli"].max() == 0  # nucleoli disassemble in mitosis
    # chromosomes are condensed: denser than interphase chromatin
    assert (
        meta.densities["dna"].max()
        > 0.9
        > np.percentile(inter.densities["dna"][inter.nucleus_mask > 0], 50)
    )
    # a rounded cell: smaller footprint than a spread interphase cell of the same type
    a_meta = np.mean([c.area_um2 for c in meta.cells])
    a_int = np.mean([c.area_um2 for c in inter.cells])
    assert a_meta < a_int


def test_telophase_has_two_nuclei_per_cell():
    sp = build_specimen(SHAPE, seed=2, n_cells=1, states="telophase", slab_um=2.0)
    (cell,) = sp.cells
    lab, n = ndimage.label(sp.nucleus_mask == cell.id)
    sizes = np.bincount(lab.ravel())[1:]
    assert (sizes > 10).sum() == 2


def test_cell_types_differ_in_shape():
    def mean_elongation(sp):
        out = []
        for c in sp.cells:
            yy, xx = np.nonzero(sp.cell_mask == c.id)
            if yy.size < 50:
                continue
            ev = np.linalg.eigvalsh(np.cov(np.stack([yy, xx])))
            out.append(np.sqrt(ev[1] / ev[0]))
        return np.mean(out)

    epi = build_specimen((192, 192), seed=4, cell_types="epithelial", states="interphase")
    fib = build_specimen((192, 192), seed=4, cell_types="fibroblast", states="interphase")
    assert mean_elongation(fib) > 1.5 * mean_elongation(epi)
    # fibroblasts are flat, epithelial cells tall: more cytoplasm path per area
    assert (
        epi.path_um["cytoplasm"][epi.cell_mask > 0].mean()
        > 2 * fib.path_um["cytoplasm"][fib.cell_mask > 0].mean()
    )
    neu = build_specimen((192, 192), seed=4, cell_types="neuron", n_cells=1, states="interphase")
    (c,) = neu.cells
    # neurites reach far beyond the soma
    yy, xx = np.nonzero(neu.cell_mask == c.id)
    ny, nx = c.nucleus_centroid_um
    reach = np.hypot(yy * 0.3 - ny, xx * 0.3 - nx).max()
    assert reach > 2 * CELL_TYPES["neuron"].diameter_um / 2


def test_new_cell_type_in_a_few_lines():
    CELL_TYPES["keratocyte"] = replace(
        CELL_TYPES["fibroblast"], name="keratocyte", aspect=1.5, diameter_um=30.0
    )
    try:
        sp = build_specimen(SHAPE, seed=0, cell_types="keratocyte", n_cells=2)
        assert {c.cell_type for c in sp.cells} == {"keratocyte"}
    finally:
        del CELL_TYPES["keratocyte"]


@pytest.mark.parametrize("shape", [SHAPE, (12, 64, 64)])
def test_determinism(shape):
    a = build_specimen(shape, seed=7, n_cells=4, slab_um=2.0)
    b = build_specimen(shape, seed=7, n_cells=4, slab_um=2.0)
    c = build_specimen(shape, seed=8, n_cells=4, slab_um=2.0)
    for k in a.densities:
        assert np.array_equal(a.densities[k], b.densities[k]), k
    for k in a.labels:
        assert np.array_equal(a.labels[k], b.labels[k]), k
    assert np.array_equal(a.cell_mask, b.cell_mask)
    assert not np.array_equal(a.densities["dna"], c.densities["dna"])


def test_3d_masks_and_volumes():
    sp = build_specimen((16, 96, 96), seed=1, n_cells=3, states="interphase")
    assert sp.cell_mask.shape == (16, 96, 96) and sp.densities["dna"].shape == (16, 96, 96)
    n = sp.nucleus_mask
    assert (n > 0).any() and np.array_equal(sp.cell_mask[n > 0], n[n > 0])
    # the nucleus sits above the coverslip, inside the cell, not in the bottom plane
    assert not (n[0] > 0).any()


def test_drop_cells_removes_exactly_that_cell(mixed):
    kw = dict(
        seed=4, n_cells=12, slab_um=2.0, states={"interphase": 0.5, "metaphase": 0.2, "dead": 0.3}
    )
    full = mixed
    victim = max(full.cells, key=lambda c: c.area_um2).id
    dropped = build_specimen(SHAPE, drop_cells=(victim,), **kw)
    gone = full.cell_mask == victim
    assert gone.any() and not (dropped.cell_mask == victim).any()
    assert (dropped.cell_mask[gone] == 0).all()  # background, neighbours do not grow
    assert np.array_equal(dropped.cell_mask[~gone], full.cell_mask[~gone])
    assert [c.id for c in dropped.cells] == [c.id for c in full.cells if c.id != victim]
    # identical beyond the dropped cell's own blur (thin structures are splatted and blurred
    # by about a pixel, the centrosome spreads a little further)
    far = ~ndimage.binary_dilation(gone, iterations=6)
    for k in full.densities:
        assert np.array_equal(dropped.densities[k][far], full.densities[k][far]), k
    for k in full.labels:
        assert np.array_equal(dropped.labels[k][far], full.labels[k][far]), k


def test_mosaic_expression_statistics():
    rng = np.random.default_rng(0)
    draws = [S._expression(rng) for _ in range(3000)]
    for lab in ("membrane", "focal_adhesions", "dna"):
        v = np.array([d[lab] for d in draws])
        p_off = S.EXPRESSION[lab][1]
        assert abs((v == 0).mean() - p_off) < 0.02, lab
        assert abs(v[v > 0].mean() - 1.0) < 0.05, lab


def test_label_only_features_have_no_optical_density(mixed):
    """Puncta and unbound pools are in the labels, not in the refractive index."""
    sp = mixed
    inside = sp.cell_mask > 0
    for lab in ("membrane", "microtubules", "actin"):
        no_structure = inside & (sp.densities[lab] < 1e-4)
        assert (sp.labels[lab][no_structure] > 1e-3).any(), lab
    # a cell that does not express a tag still has the structure
    for c in sp.cells:
        if c.expression["membrane"] == 0 and c.area_um2 > 20:
            m = sp.cell_mask == c.id
            assert sp.densities["membrane"][m].max() > 0.05
            assert sp.labels["membrane"][m].max() < 0.05


def test_plan_cells_and_errors():
    plans = plan_cells((40.0, 40.0), seed=0, n_cells=5, cell_types=("epithelial", "neuron"))
    assert [p.id for p in plans] == [1, 2, 3, 4, 5]
    assert {p.cell_type for p in plans} == {"epithelial", "neuron"}
    with pytest.raises(ValueError, match="fibroblast"):
        plan_cells((40.0, 40.0), seed=0, cell_types="astrocyte")
    with pytest.raises(ValueError, match="metaphase"):
        plan_cells((40.0, 40.0), seed=0, states="mitosis")
    with pytest.raises(ValueError, match="'dna'"):
        build_specimen(SHAPE, seed=0, labels=("DNA",))
    with pytest.raises(ValueError, match="2D .* 3D"):
        build_specimen((4, 8, 8, 8), seed=0)
    with pytest.raises(ValueError, match="positive"):
        build_specimen((0, 64), seed=0)
    assert set(STATES) >= {"interphase", "prophase", "metaphase", "anaphase", "telophase", "dead"}


def _objects(density, threshold):
    lab, n = ndimage.label(density > threshold)
    return n, (density > threshold).sum() / max(n, 1)


def test_perturbations_change_the_structure_in_the_set_direction():
    """Issue 11: a drug-like knob; each perturbation moves its structure's statistic."""
    kw = dict(seed=2, cell_types="fibroblast", n_cells=3, labels=("mitochondria",))
    ref = build_specimen((256, 256), **kw)
    mito = ref.densities["mitochondria"]
    fewer = build_specimen((256, 256), perturb={"mitochondria": {"amount": 0.5}}, **kw)
    ratio = fewer.densities["mitochondria"].sum() / mito.sum()
    assert 0.3 < ratio < 0.7, f"half the mitochondria: density ratio {ratio:.2f}"
    frag = build_specimen((256, 256), perturb={"mitochondria": {"size": 0.35, "amount": 2.5}}, **kw)
    n0, size0 = _objects(mito, 0.1)
    n1, size1 = _objects(frag.densities["mitochondria"], 0.1)
    assert size1 < 0.9 * size0, f"fragmented: mean object {size1:.1f} vs {size0:.1f} px"
    assert n1 > n0, f"fragmented: more objects ({n1} vs {n0})"
    mt = build_specimen((256, 256), perturb={"microtubules": {"amount": 0.15}}, **kw)
    ratio = mt.densities["microtubules"].sum() / ref.densities["microtubules"].sum()
    assert ratio < 0.4, f"nocodazole-like: microtubule density ratio {ratio:.2f}"
    big = build_specimen((256, 256), perturb={"dna": {"size": 1.25}}, **kw)
    grow = (big.nucleus_mask > 0).sum() / (ref.nucleus_mask > 0).sum()
    assert grow > 1.2, f"larger nuclei: nucleus area ratio {grow:.2f}"
    # the cells stay where they were, with the same footprints
    assert np.array_equal(fewer.cell_mask, ref.cell_mask)
    assert np.array_equal(mt.cell_mask, ref.cell_mask)


def test_perturb_errors():
    with pytest.raises(ValueError, match="'mitochondria'"):
        build_specimen((64, 64), seed=0, perturb={"golgi": {"amount": 0.5}})
    with pytest.raises(ValueError, match="'amount'"):
        build_specimen((64, 64), seed=0, perturb={"mitochondria": {"shape": 0.5}})
    with pytest.raises(ValueError, match="only 'amount'"):
        build_specimen((64, 64), seed=0, perturb={"microtubules": {"size": 2.0}})
    with pytest.raises(TypeError, match="perturb"):
        build_specimen((64, 64), seed=0, perturb=["mitochondria"])
