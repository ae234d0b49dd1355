"""Paired training patches from whole fields: random crops, augmentation, label masks.

A *field* is one acquired image: an input ``(C_in, *spatial)`` (transmitted light) and a
target ``(C_out, *spatial)`` (fluorescence labels), with ``spatial`` ``(Y, X)`` or
``(Z, Y, X)``. :class:`PairedPatches` normalizes every field once (per image and channel,
with :func:`coursekit.normalize.normalize`) and serves random crops as
``(input, target, label_mask)`` float32 tensors, the same format as the virtual
microscope's ``PatchStream``, so :func:`coursekit.models.train` accepts either.

Split fields (not patches) into training and validation with :func:`split_by_field`:
overlapping patches of one field in both sets would make the validation loss optimistic.
"""

from __future__ import annotations

import numpy as np
import torch

from coursekit._validation import check_array, check_int, describe
from coursekit.normalize import normalization_spec, normalize_channels

__all__ = [
    "PairedPatches",
    "augment_pair",
    "split_by_field",
    "normalize_channels",
    "normalization_spec",
    "DEFAULT_PATCH_SHAPE",
]

#: Default training patch: 64 x 64 pixels in 2D (the course's CPU budget; about four times
#: the default U-Net's receptive radius), 16 x 64 x 64 in 3D.
DEFAULT_PATCH_SHAPE = {2: (64, 64), 3: (16, 64, 64)}


def augment_pair(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """Apply the same random flips and 90-degree rotations to an input and its target.

    2D (``(C, Y, X)``): one of the 8 symmetries of the square (rotations by 0, 90, 180,
    270 degrees, each with or without a flip); for non-square patches only the 4 that
    keep the shape. 3D (``(C, Z, Y, X)``): rotations in the YX plane as in 2D, and a flip
    along Z, Y and X each with probability 1/2 (the optical axis is never swapped with
    a lateral one).

    Parameters
    ----------
    x : numpy.ndarray
        Input patch ``(C_in, *spatial)``.
    y : numpy.ndarray
        Target patch ``(C_out, *spatial)``, same spatial shape.
    rng : numpy.random.Generator

    Returns
    -------
    x, y : numpy.ndarray
        Contiguous transformed copies.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.random.default_rng(1).random((1, 4, 4))
    >>> a, b = augment_pair(x, 2 * x, rng)
    >>> bool(np.allclose(b, 2 * a))
    True
    """
    x = check_array(x, "x", ndim=(3, 4), floating=False)
    y = check_array(y, "y", ndim=(3, 4), floating=False)
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(
            f"x and y must have the same spatial shape, got {x.shape[1:]} and {y.shape[1:]}"
        )
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    square = x.shape[-1] == x.shape[-2]
    k = int(rng.integers(4)) if square else 2 * int(rng.integers(2))
    flips = [ax for ax in range(1, x.ndim) if rng.random() < 0.5]
    if x.ndim == 3:  # 2D: a flip of X is enough, with the rotations it gives all 8
        flips = [ax for ax in flips if ax == 2]
    out = []
    for a in (x, y):
        a = np.rot90(a, k, axes=(-2, -1)) if k else a
        if flips:
            a = np.flip(a, axis=tuple(flips))
        out.append(np.ascontiguousarray(a))
    return out[0], out[1]


def split_by_field(n_fields: int, val_fraction: float = 0.2, seed: int = 0):
    """Split field indices into training and validation sets.

    Parameters
    ----------
    n_fields : int
        Number of fields (whole images).
    val_fraction : float
        Fraction of fields (0 <= val_fraction < 1) for validation, rounded to the nearest
        count, at least one when ``val_fraction > 0``, and at least one field left for
        training.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    train_idx, val_idx : numpy.ndarray
        Sorted int64 indices, disjoint, together ``range(n_fields)``.

    Examples
    --------
    >>> train_idx, val_idx = split_by_field(10, 0.2, seed=0)
    >>> len(train_idx), len(val_idx), set(train_idx) & set(val_idx)
    (8, 2, set())
    """
    n_fields = check_int(n_fields, "n_fields", minimum=1)
    val_fraction = float(val_fraction)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction: expected a number in [0, 1), got {val_fraction!r}")
    n_val = int(round(val_fraction * n_fields))
    if val_fraction > 0:
        n_val = max(n_val, 1)
        if n_fields < 2:
            raise ValueError(
                f"cannot split {n_fields} field into training and validation; a validation "
                "set needs at least 2 fields (or use val_fraction=0)"
            )
    n_val = min(n_val, n_fields - 1)
    order = np.random.default_rng(seed).permutation(n_fields)
    return np.sort(order[n_val:]).astype(np.int64), np.sort(order[:n_val]).astype(np.int64)


def _as_fields(arrays, name: str, ndim: int) -> list[np.ndarray]:
    """A list of ``(C, *spatial)`` float arrays from a list or a stacked array."""
    if isinstance(arrays, (np.ndarray, torch.Tensor)):
        arr = check_array(arrays, name, ndim=(ndim + 1, ndim + 2), floating=False)
        arrays = [arr] if arr.ndim == ndim + 1 else list(arr)
    elif not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{name}: expected a list of arrays, got {type(arrays).__name__}")
    if len(arrays) == 0:
        raise ValueError(f"{name}: expected at least one field, got an empty list")
    fields = []
    for i, a in enumerate(arrays):
        a = check_array(a, f"{name}[{i}]", ndim=(ndim, ndim + 1), allow_int=True)
        if a.ndim == ndim:
            a = a[None]
        fields.append(a)
    return fields


def _default_patch_shape(inputs) -> tuple[int, ...]:
    """:data:`DEFAULT_PATCH_SHAPE` for the fields' dimensionality, clipped to the smallest."""
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        nd = 3 if np.ndim(inputs) >= 5 else 2
        fields = [inputs] if np.ndim(inputs) <= nd + 1 else list(inputs)
    elif isinstance(inputs, (list, tuple)) and len(inputs) > 0:
        nd = 3 if np.ndim(inputs[0]) == 4 else 2
        fields = inputs
    else:
        return DEFAULT_PATCH_SHAPE[2]  # the field checks then say what is wrong
    smallest = np.min([np.shape(f)[-nd:] for f in fields], axis=0)
    return tuple(int(min(d, s)) for d, s in zip(DEFAULT_PATCH_SHAPE[nd], smallest))


def _warn_constant_targets(targets, mask) -> None:
    """Warn about constant target channels (normalized, they are all zeros)."""
    import warnings

    for i, y in enumerate(targets):
        for c in range(y.shape[0]):
            if mask[i, c] and np.ptp(y[c]) == 0:
                warnings.warn(
                    f"target field {i}, channel {c} is constant (every pixel "
                    f"{float(y[c].flat[0]):g}): normalized, it is all zeros, and the model learns "
                    f"to predict nothing there. Check that this is the right target; if the "
                    f"field lacks this label, pass label_mask with [{i}, {c}] = 0",
                    UserWarning,
                    stacklevel=3,
                )


class PairedPatches(torch.utils.data.Dataset):
    """Random paired patches from whole fields, as a map-style torch ``Dataset``.

    Item ``i`` is a random crop (and, with ``augment``, a random flip/rotation) chosen by
    a generator seeded with ``(seed, epoch, i)``: the same index gives the same patch
    until :meth:`set_epoch` changes the epoch (:func:`~coursekit.models.train` calls it),
    whatever the worker or the order.

    Parameters
    ----------
    inputs : list of array_like
        Input fields, each ``(C_in, *spatial)`` (or ``spatial`` for one channel); or one
        array ``(N, C_in, *spatial)``. Fields may differ in size.
    targets : list of array_like
        Target fields ``(C_out, *spatial)``, the same spatial shape as their input.
    patch_shape : tuple of int, optional
        ``(Y, X)`` or ``(Z, Y, X)`` in pixels; sets 2D or 3D. No larger than any field.
        Default: :data:`DEFAULT_PATCH_SHAPE` (64 x 64 in 2D, 16 x 64 x 64 in 3D) clipped
        to the smallest field; 2D unless the fields are 4D ``(C, Z, Y, X)`` (or one 5D
        array). Give it for one-channel 3D stacks without a channel axis.
    label_mask : array_like, optional
        ``(N, C_out)`` of 0/1: 0 where a field lacks a label (its target channel is then
        ignored by the loss, whatever it holds). Default: every label present.
    augment : bool
        Random flips and 90-degree rotations (:func:`augment_pair`).
    n_patches_per_epoch : int, optional
        Length of the dataset. Default: enough patches to cover every field's area about
        4 times, at least 64.
    seed : int
    normalization : {"zscore", "percentile", "none"} or dict
        Per-field, per-channel normalization of inputs and targets (see
        :func:`coursekit.normalize.normalize`); a dict passes ``percentiles`` too, e.g.
        ``{"method": "percentile", "percentiles": (1, 99.8)}``.
    target_normalization : str or dict, optional
        A different normalization for the targets; default: the same as the inputs.

    Attributes
    ----------
    normalization : dict
        The input normalization, to store with :func:`~coursekit.models.save_checkpoint`
        and to pass to :func:`~coursekit.models.predict`.
    ndim, in_channels, out_channels : int

    Warns
    -----
    UserWarning
        When a target channel of a field is constant (and its label mask is 1): after
        normalization it is all zeros, and the model would learn to predict nothing there.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = [rng.random((1, 64, 64)), rng.random((1, 80, 70))]
    >>> y = [a**2 for a in x]
    >>> ds = PairedPatches(x, y, patch_shape=(32, 32), n_patches_per_epoch=10)
    >>> xi, yi, mask = ds[0]
    >>> tuple(xi.shape), tuple(yi.shape), mask.tolist()
    ((1, 32, 32), (1, 32, 32), [1.0])
    """

    def __init__(
        self,
        inputs,
        targets,
        *,
        patch_shape=None,
        label_mask=None,
        augment: bool = True,
        n_patches_per_epoch: int | None = None,
        seed: int = 0,
        normalization="zscore",
        target_normalization=None,
    ):
        if patch_shape is None:
            patch_shape = _default_patch_shape(inputs)
        try:
            patch_shape = tuple(int(p) for p in patch_shape)
        except TypeError as exc:
            raise TypeError(
                f"patch_shape: expected a tuple such as (64, 64), got {patch_shape!r}"
            ) from exc
        if len(patch_shape) not in (2, 3) or any(p < 1 for p in patch_shape):
            raise ValueError(
                f"patch_shape: expected 2 or 3 positive sizes ((Y, X) or (Z, Y, X)), "
                f"got {patch_shape}"
            )
        nd = len(patch_shape)
        self.ndim = nd
        self.patch_shape = patch_shape
        xs = _as_fields(inputs, "inputs", nd)
        ys = _as_fields(targets, "targets", nd)
        if len(xs) != len(ys):
            raise ValueError(f"got {len(xs)} input fields but {len(ys)} target fields")
        for i, (x, y) in enumerate(zip(xs, ys)):
            if x.shape[1:] != y.shape[1:]:
                raise ValueError(
                    f"field {i}: input {describe(x)} and target {describe(y)} differ in "
                    "spatial shape"
                )
            if x.shape[0] != xs[0].shape[0] or y.shape[0] != ys[0].shape[0]:
                raise ValueError(
                    f"field {i}: {x.shape[0]} input / {y.shape[0]} target channels, but field "
                    f"0 has {xs[0].shape[0]} / {ys[0].shape[0]}"
                )
            if any(s < p for s, p in zip(x.shape[1:], patch_shape)):
                raise ValueError(
                    f"field {i} of spatial shape {x.shape[1:]} is smaller than patch_shape "
                    f"{patch_shape}"
                )
        self.in_channels = xs[0].shape[0]
        self.out_channels = ys[0].shape[0]
        if label_mask is None:
            mask = np.ones((len(xs), self.out_channels), np.float32)
        else:
            mask = check_array(label_mask, "label_mask", ndim=(1, 2), allow_int=True)
            if mask.ndim == 1:
                mask = np.broadcast_to(mask, (len(xs), mask.shape[0]))
            if mask.shape != (len(xs), self.out_channels):
                raise ValueError(
                    f"label_mask: expected shape (n_fields, C_out) = "
                    f"{(len(xs), self.out_channels)}, got {mask.shape}"
                )
            if not np.isin(mask, (0, 1)).all():
                raise ValueError("label_mask: expected only 0 and 1 values")
            mask = np.ascontiguousarray(mask, dtype=np.float32)
        self.label_mask = mask
        _warn_constant_targets(ys, mask)
        self.normalization = normalization_spec(normalization)
        self.target_normalization = normalization_spec(
            normalization if target_normalization is None else target_normalization
        )
        self.inputs = [normalize_channels(x, self.normalization) for x in xs]
        self.targets = [normalize_channels(y, self.target_normalization) for y in ys]
        # crop positions per field, and field probabilities proportional to them
        self._n_positions = np.array(
            [np.prod([s - p + 1 for s, p in zip(x.shape[1:], patch_shape)]) for x in xs],
            dtype=np.float64,
        )
        sizes = np.array([np.prod(x.shape[1:]) for x in xs], dtype=np.float64)
        self._field_p = sizes / sizes.sum()
        if n_patches_per_epoch is None:
            n_patches_per_epoch = max(64, int(round(4 * sizes.sum() / np.prod(patch_shape))))
        self.n_patches_per_epoch = check_int(n_patches_per_epoch, "n_patches_per_epoch", minimum=1)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.epoch = 0

    @property
    def n_fields(self) -> int:
        return len(self.inputs)

    def set_epoch(self, epoch: int) -> None:
        """Draw new patches: item ``i`` depends on ``(seed, epoch, i)``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_patches_per_epoch

    def sample(self, rng: np.random.Generator):
        """One random ``(input, target, field index, corner)`` as NumPy arrays."""
        f = int(rng.choice(self.n_fields, p=self._field_p))
        x, y = self.inputs[f], self.targets[f]
        corner = tuple(int(rng.integers(s - p + 1)) for s, p in zip(x.shape[1:], self.patch_shape))
        sl = (slice(None),) + tuple(slice(c, c + p) for c, p in zip(corner, self.patch_shape))
        xp, yp = x[sl], y[sl]
        if self.augment:
            xp, yp = augment_pair(xp, yp, rng)
        return np.ascontiguousarray(xp), np.ascontiguousarray(yp), f, corner

    def __getitem__(self, index: int):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} patches")
        index %= len(self)
        rng = np.random.default_rng((self.seed, self.epoch, index))
        xp, yp, f, _ = self.sample(rng)
        return (
            torch.from_numpy(xp.astype(np.float32, copy=False)),
            torch.from_numpy(yp.astype(np.float32, copy=False)),
            torch.from_numpy(self.label_mask[f].copy()),
        )

    def __repr__(self) -> str:
        return (
            f"PairedPatches({self.n_fields} fields, patch_shape={self.patch_shape}, "
            f"{self.in_channels} -> {self.out_channels} channels, "
            f"{len(self)} patches per epoch, augment={self.augment})"
        )
