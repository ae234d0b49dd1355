"""Paired patches: crops, label masks, normalization, augmentation, splits by field."""

import numpy as np
import pytest
import torch

from coursekit.models import PairedPatches, augment_pair, split_by_field
from coursekit.models.data import normalize_channels


def _fields(n=3, shape=(40, 48), c_in=1, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(c_in, *shape)).astype(np.float32) * 5 + 100 for _ in range(n)]
    ys = [np.concatenate([x[:1] ** 2, 2 * x[:1]]) for x in xs]
    return xs, ys


def test_patches_shapes_dtype_and_mask():
    xs, ys = _fields(c_in=3)
    mask = np.array([[1, 1], [1, 0], [0, 1]])
    ds = PairedPatches(xs, ys, patch_shape=(16, 24), label_mask=mask, n_patches_per_epoch=30)
    assert len(ds) == 30 and ds.in_channels == 3 and ds.out_channels == 2
    for i in range(len(ds)):
        x, y, m = ds[i]
        assert x.dtype == y.dtype == m.dtype == torch.float32
        assert x.shape == (3, 16, 24) and y.shape == (2, 16, 24) and m.shape == (2,)
        assert m.tolist() in mask.tolist()
    # whole fields were normalized per channel (zscore)
    for f in ds.inputs + ds.targets:
        assert np.allclose(f.mean(axis=(1, 2)), 0, atol=1e-4)
        assert np.allclose(f.std(axis=(1, 2)), 1, atol=1e-3)


def test_patch_is_a_crop_of_the_normalized_field():
    xs, ys = _fields(n=1)
    ds = PairedPatches(xs, ys, patch_shape=(8, 8), augment=False, normalization="percentile")
    assert ds.normalization == {"method": "percentile"}
    rng = np.random.default_rng(0)
    xp, yp, f, corner = ds.sample(rng)
    sl = (slice(None), slice(corner[0], corner[0] + 8), slice(corner[1], corner[1] + 8))
    assert np.array_equal(xp, ds.inputs[f][sl]) and np.array_equal(yp, ds.targets[f][sl])
    assert np.allclose(ds.inputs[0], normalize_channels(xs[0], "percentile"))


def test_patches_are_repeatable_and_change_with_the_epoch():
    xs, ys = _fields()
    a = PairedPatches(xs, ys, patch_shape=(16, 16), seed=3)
    b = PairedPatches(xs, ys, patch_shape=(16, 16), seed=3)
    assert torch.equal(a[5][0], b[5][0]) and torch.equal(a[5][1], b[5][1])
    first = a[5][0].clone()
    a.set_epoch(1)
    assert not torch.equal(a[5][0], first)
    assert len(a) >= 64  # default length


def test_3d_patches_and_unchannelled_fields():
    rng = np.random.default_rng(0)
    xs = [rng.random((10, 20, 20)), rng.random((12, 20, 24))]  # (Z, Y, X), one channel
    ys = [x**2 for x in xs]
    ds = PairedPatches(xs, ys, patch_shape=(8, 16, 16), n_patches_per_epoch=8, seed=1)
    x, y, m = ds[0]
    assert ds.ndim == 3 and x.shape == (1, 8, 16, 16) and y.shape == (1, 8, 16, 16)
    assert m.tolist() == [1.0]


@pytest.mark.parametrize("shape", [(1, 6, 6), (2, 6, 9), (1, 4, 6, 6), (1, 4, 5, 7)])
def test_augment_pair_applies_the_same_transform(shape):
    """A target that is a pointwise function of the input stays that function."""
    rng = np.random.default_rng(0)
    x = rng.random(shape)
    y = np.concatenate([np.sin(x[:1]), x[-1:] ** 3])
    seen = set()
    for _ in range(80):
        xa, ya = augment_pair(x, y, rng)
        assert xa.shape[0] == shape[0] and sorted(xa.shape) == sorted(shape)
        assert np.allclose(ya[0], np.sin(xa[0])) and np.allclose(ya[1], xa[-1] ** 3)
        assert xa.flags.c_contiguous and ya.flags.c_contiguous
        assert np.isclose(xa.sum(), x.sum())  # a permutation of the pixels
        if xa.ndim == 4:  # the optical axis is never swapped with a lateral one
            assert xa.shape[1] == shape[1]
        seen.add(xa.tobytes())
    # all the symmetries of a square are used; only 4 for a rectangle (shape kept)
    square = shape[-1] == shape[-2]
    if len(shape) == 3:
        assert len(seen) == (8 if square else 4)
    else:
        assert len(seen) == (16 if square else 8)  # YX dihedral x Z flip


def test_split_by_field_is_disjoint_and_complete():
    for n, frac in ((10, 0.2), (7, 0.3), (2, 0.1), (50, 0.25)):
        train_idx, val_idx = split_by_field(n, frac, seed=1)
        assert set(train_idx).isdisjoint(val_idx)
        assert sorted([*train_idx, *val_idx]) == list(range(n))
        assert len(val_idx) >= 1 and len(train_idx) >= 1
    assert len(split_by_field(10, 0.2)[1]) == 2
    assert np.array_equal(split_by_field(10, 0.3, seed=4)[1], split_by_field(10, 0.3, seed=4)[1])
    assert len(split_by_field(5, 0.0)[1]) == 0
    with pytest.raises(ValueError, match="at least 2 fields"):
        split_by_field(1, 0.2)
    with pytest.raises(ValueError, match="val_fraction"):
        split_by_field(10, 1.0)


def test_bad_inputs_are_rejected_clearly():
    xs, ys = _fields()
    with pytest.raises(ValueError, match="smaller than patch_shape"):
        PairedPatches(xs, ys, patch_shape=(64, 64))
    bad = [x.copy() for x in xs]
    bad[1][0, 3, 3] = np.nan
    with pytest.raises(ValueError, match=r"inputs\[1\].*NaN"):
        PairedPatches(bad, ys, patch_shape=(8, 8))
    with pytest.raises(ValueError, match="spatial shape"):
        PairedPatches(xs, [y[:, :30] for y in ys], patch_shape=(8, 8))
    with pytest.raises(ValueError, match="label_mask"):
        PairedPatches(xs, ys, patch_shape=(8, 8), label_mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="0 and 1"):
        PairedPatches(xs, ys, patch_shape=(8, 8), label_mask=np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="patch_shape"):
        PairedPatches(xs, ys, patch_shape=(8,))
    with pytest.raises(ValueError, match="3 input fields but 2"):
        PairedPatches(xs, ys[:2], patch_shape=(8, 8))
    with pytest.raises(ValueError, match="empty"):
        PairedPatches([], [], patch_shape=(8, 8))
    with pytest.raises(ValueError, match="normalization"):
        PairedPatches(xs, ys, patch_shape=(8, 8), normalization="minmax")
    with pytest.raises(ValueError, match=r"expected a 2D or 3D array"):
        PairedPatches([np.zeros((1, 2, 8, 8, 8))], [np.zeros((1, 2, 8, 8, 8))], patch_shape=(8, 8))
    with pytest.raises(ValueError, match="spatial shape"):
        augment_pair(np.zeros((1, 4, 4)), np.zeros((1, 4, 5)), np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        augment_pair(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), 0)
    # camera counts (integers) are fine: they are normalized
    with pytest.warns(UserWarning, match="constant"):
        ds = PairedPatches(
            [np.ones((1, 8, 8), np.uint16)], [np.ones((1, 8, 8), np.uint16)], patch_shape=(4, 4)
        )
    assert ds[0][0].dtype == torch.float32


# --------------------------------------------------------------------------- one real image
def test_bin_image_means_and_sums_blocks():
    from coursekit.models import bin_image

    x = np.arange(2 * 5 * 7, dtype=np.uint16).reshape(2, 5, 7)
    out = bin_image(x, 2)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    assert out[1, 1, 2] == pytest.approx(x[1, 2:4, 4:6].mean())
    assert bin_image(x, (1, 7), reduce="sum")[0, 3, 0] == x[0, 3].sum()
    with pytest.raises(ValueError, match="larger than"):
        bin_image(x, 8)
    with pytest.raises(ValueError, match="factor"):
        bin_image(x, 0)


def test_default_patch_shape_fits_the_fields():
    xs, ys = _fields()
    ds = PairedPatches(xs, ys)
    expected = tuple(min(64, min(x.shape[d] for x in xs)) for d in (1, 2))
    assert ds.patch_shape == expected and ds.ndim == 2
    big = [np.random.default_rng(0).random((1, 100, 90))]
    assert PairedPatches(big, big).patch_shape == (64, 64)
    vol = [np.random.default_rng(0).random((1, 20, 70, 70))]
    assert PairedPatches(vol, vol).patch_shape == (16, 64, 64)
