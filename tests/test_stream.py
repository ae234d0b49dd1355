"""PatchStream and simulated_pairs: paired patches, determinism, workers, errors."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from coursekit.models.stream import PatchStream, field_seed, simulated_pairs

KW = dict(field_shape=(64, 64), patches_per_field=2, n_cells=3)


def _take(ds, n):
    out = []
    for item in ds:
        out.append(item)
        if len(out) == n:
            break
    return out


def test_patches_shapes_dtypes_and_masks():
    ds = PatchStream(
        (32, 32), ("dna", "membrane", "dead"), seed=0, n_patches=4, states="interphase", **KW
    )
    items = list(ds)
    assert len(items) == 4 == len(ds)
    for x, y, m in items:
        assert x.dtype == y.dtype == m.dtype == torch.float32
        assert tuple(x.shape) == (3, 32, 32) and tuple(y.shape) == (3, 32, 32)
        assert tuple(m.shape) == (3,)
        # no dead cell in an interphase field: that target carries no information
        assert m.tolist() == [1.0, 1.0, 0.0]
        assert torch.isfinite(x).all() and torch.isfinite(y).all()
    # z-scored per field: patches are roughly centred
    x_all = torch.stack([x for x, _, _ in items])
    assert abs(float(x_all.mean())) < 1.0


def test_determinism_and_different_seeds():
    a = _take(PatchStream((32, 32), ("dna",), seed=5, **KW), 3)
    b = _take(PatchStream((32, 32), ("dna",), seed=5, **KW), 3)
    c = _take(PatchStream((32, 32), ("dna",), seed=6, **KW), 3)
    for (xa, ya, _), (xb, yb, _) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(a[0][0], c[0][0])
    assert field_seed(5, 0, 0) != field_seed(5, 1, 0) != field_seed(6, 0, 0)


def test_workers_draw_disjoint_streams():
    ds = PatchStream((32, 32), ("dna",), seed=2, n_patches=4, **KW)
    loader = DataLoader(ds, batch_size=None, num_workers=2)
    items = list(loader)
    assert len(items) == 4
    # DataLoader interleaves the workers: items 0, 2 from worker 0 and 1, 3 from worker 1
    assert not torch.equal(items[0][0], items[1][0])
    single = list(ds)  # in the main process: worker 0's stream only
    assert torch.equal(items[0][0], single[0][0])
    again = list(DataLoader(ds, batch_size=None, num_workers=2))
    assert all(torch.equal(p[0], q[0]) for p, q in zip(items, again))


def test_3d_patches():
    ds = PatchStream((4, 24, 24), ("dna",), seed=0, field_shape=(8, 48, 48), n_patches=2, n_cells=2)
    (x, y, m), _ = list(ds)
    assert tuple(x.shape) == (1, 4, 24, 24) and tuple(y.shape) == (1, 4, 24, 24)


def test_clean_targets_and_pairs():
    noisy = _take(PatchStream((32, 32), ("dna",), seed=1, **KW), 1)[0][1]
    clean = _take(PatchStream((32, 32), ("dna",), seed=1, clean_target=True, **KW), 1)[0][1]
    assert not torch.equal(noisy, clean)
    x, y = simulated_pairs(2, (48, 48), seed=3, labels=("dna", "er"), n_cells=2)
    assert x.shape == (2, 3, 48, 48) and y.shape == (2, 2, 48, 48)
    assert x.dtype == y.dtype == np.float32
    x2, y2 = simulated_pairs(2, (48, 48), seed=3, labels=("dna", "er"), n_cells=2)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(x[0], x[1])


def test_bad_inputs():
    with pytest.raises(ValueError, match="larger than field_shape"):
        PatchStream((128, 128), ("dna",), field_shape=(64, 64))
    with pytest.raises(ValueError, match="same number of dimensions"):
        PatchStream((8, 32, 32), ("dna",), field_shape=(64, 64))
    with pytest.raises(ValueError, match="'dna'"):
        PatchStream((32, 32), ("tubulin",), field_shape=(64, 64))
    with pytest.raises(ValueError, match="zscore"):
        PatchStream((32, 32), ("dna",), field_shape=(64, 64), normalization="minmax")
    with pytest.raises(ValueError, match="modality"):
        PatchStream((32, 32), ("dna",), field_shape=(64, 64), modality="xray")
    with pytest.raises(TypeError, match="no length"):
        len(PatchStream((32, 32), ("dna",), field_shape=(64, 64)))


def test_old_import_paths_still_work():
    import coursekit.microscope as microscope
    from coursekit.microscope.stream import PatchStream as old
    from coursekit.models import PatchStream as exported

    assert old is PatchStream is exported is microscope.PatchStream
    with pytest.raises(ValueError, match="seed: expected an integer >= 0"):
        PatchStream((32, 32), ("dna",), seed=-1, **KW)
