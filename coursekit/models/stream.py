"""Endless training data: paired patches cut from freshly simulated fields.

(Moved here from ``coursekit.microscope.stream`` so that the simulator holds no torch code;
``coursekit.microscope.PatchStream`` still works.)

:class:`PatchStream` is a :class:`torch.utils.data.IterableDataset`: every few patches it
simulates a new field of view (a new seed), normalizes it, and cuts random patches of the
transmitted-light input and the fluorescence targets. It never repeats a field, so a model
trained on it cannot memorize its training set, and it is deterministic: the same seed gives
the same patches, and each DataLoader worker draws its own, disjoint, stream of fields.

:func:`simulated_pairs` gives whole fields as NumPy arrays, for fixed validation and test
sets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from coursekit._validation import check_choice, check_int
from coursekit.normalize import NORMALIZATIONS, normalize

__all__ = ["PatchStream", "simulated_pairs", "field_seed"]


def _simulate(shape, **kwargs):
    from coursekit.microscope import simulate_field  # the simulator: numpy only

    return simulate_field(shape, **kwargs)


def _check_shape(shape) -> tuple[int, ...]:
    """A field shape, checked as the simulator checks it."""
    from coursekit.microscope.specimen import check_shape

    return check_shape(shape)


def _check_labels(labels) -> tuple[str, ...]:
    """Labels as a tuple without repeats, each one the simulator knows."""
    from coursekit.microscope.specimen import check_labels

    return tuple(check_labels(labels))


def field_seed(seed: int, worker: int, index: int) -> int:
    """The simulation seed of the ``index``-th field of a worker's stream.

    Derived with :class:`numpy.random.SeedSequence`, so streams of different seeds and
    workers do not overlap in practice.
    """
    ss = np.random.SeedSequence([int(seed), 11, int(worker), int(index)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _field_arrays(f, labels, clean_target, normalization):
    """Normalized input ``(C_in, ...)``, targets ``(C_out, ...)`` and label presence."""
    x = f.input_stack()
    x = normalize(x, normalization, channel_axis=0)
    ys = []
    present = []
    for lab in labels:
        y = f.target(lab, clean=clean_target)
        ys.append(normalize(y, normalization))
        present.append(_label_present(f, lab))
    return x, np.stack(ys).astype(np.float32), np.array(present, np.float32)


def _label_present(f, label) -> float:
    """1.0 when some cell in the field carries the label (a dead cell for "dead", an
    expressing cell otherwise): the target then shows the structure. An absent label gives
    an empty target that says nothing about where the structure would be."""
    for c in f.cells:
        if label == "dead" and c.state != "dead":
            continue
        if c.expression.get(label, 0.0) > 0:
            return 1.0
    return 0.0


def _check_patch(patch_shape, field_shape):
    try:
        ps = tuple(int(v) for v in patch_shape)
    except TypeError as exc:
        raise TypeError(f"patch_shape: expected a tuple of integers, got {patch_shape!r}") from exc
    if len(ps) != len(field_shape):
        raise ValueError(
            f"patch_shape {ps} and field_shape {tuple(field_shape)} must have the same number "
            "of dimensions (2 for (Y, X), 3 for (Z, Y, X))"
        )
    if any(p <= 0 for p in ps):
        raise ValueError(f"patch_shape: expected positive sizes, got {ps}")
    if any(p > s for p, s in zip(ps, field_shape)):
        raise ValueError(f"patch_shape {ps} is larger than field_shape {tuple(field_shape)}")
    return ps


class PatchStream(IterableDataset):
    """An endless (or ``n_patches``-long) stream of paired patches from simulated fields.

    Parameters
    ----------
    patch_shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)`` of each patch.
    labels : sequence of str
        Target labels, one output channel each.
    seed : int
        The stream's seed: the same seed (and worker count) gives the same patches.
    field_shape : tuple of int
        Shape of the simulated fields (same number of dimensions as ``patch_shape``).
    modality : str
        Transmitted-light modality (see :func:`~coursekit.microscope.field.simulate_field`).
    n_planes : int
        2D fields: number of transmitted-light planes (input channels).
    clean_target : bool
        Train on the noise-free targets instead of the recorded ones.
    normalization : {"zscore", "percentile", "none"}
        Per-field normalization (:func:`coursekit.normalize.normalize`), the input per
        channel, each target separately.
    pool_size : int
        Fields kept at once; each patch is cut from one of them drawn at random, so that a
        batch mixes several fields instead of holding patches of one field only (which
        biases batch-norm statistics and makes gradients noisy). A field leaves the pool
        once it has given ``patches_per_field`` patches.
    patches_per_field : int
        Patches cut from each simulated field before the next one is simulated.
    cell_types : str or sequence of str
        Cell types of the fields.
    n_patches : int, optional
        Stop after this many patches (split between DataLoader workers); None: endless.
    **field_kwargs
        Passed on to :func:`~coursekit.microscope.field.simulate_field`.

    Yields
    ------
    (torch.Tensor, torch.Tensor, torch.Tensor)
        ``input`` float32 ``(C_in, *patch_shape)`` (``C_in = n_planes`` in 2D, 1 in 3D),
        ``target`` float32 ``(C_out, *patch_shape)``, ``label_mask`` float32 ``(C_out,)``:
        1.0 where the field carries the label (0.0 e.g. for "dead" in a field without a
        dead cell; a loss can skip those channels).

    Examples
    --------
    >>> ds = PatchStream((32, 32), ("dna",), seed=0, field_shape=(64, 64), n_patches=2)
    >>> [tuple(x.shape) for x, y, m in ds]
    [(3, 32, 32), (3, 32, 32)]
    >>> loader = torch.utils.data.DataLoader(ds, batch_size=2)
    >>> x, y, m = next(iter(loader)); tuple(y.shape), m.tolist()
    ((2, 1, 32, 32), [[1.0], [1.0]])
    """

    def __init__(
        self,
        patch_shape=(64, 64),
        labels=("dna",),
        *,
        seed: int = 0,
        field_shape=(256, 256),
        modality: str = "brightfield",
        n_planes: int = 3,
        clean_target: bool = False,
        normalization: str = "zscore",
        patches_per_field: int = 8,
        pool_size: int = 8,
        cell_types=("epithelial",),
        n_patches: int | None = None,
        **field_kwargs,
    ):
        super().__init__()
        self.field_shape = _check_shape(field_shape)
        self.patch_shape = _check_patch(patch_shape, self.field_shape)
        self.labels = _check_labels(labels)
        self.seed = check_int(seed, "seed", minimum=0)
        check_choice(normalization, "normalization", NORMALIZATIONS)
        self.normalization = normalization
        self.patches_per_field = check_int(patches_per_field, "patches_per_field", minimum=1)
        self.pool_size = check_int(pool_size, "pool_size", minimum=1)
        self.n_patches = None if n_patches is None else check_int(n_patches, "n_patches", minimum=0)
        for bad in ("seed", "labels", "shape"):
            if bad in field_kwargs:
                raise TypeError(f"PatchStream sets {bad}= itself")
        self.field_kwargs = dict(
            modality=modality, n_planes=n_planes, cell_types=cell_types, **field_kwargs
        )
        self.clean_target = bool(clean_target)
        # fail early on bad field arguments rather than inside a DataLoader worker
        probe = (16, 16) if len(self.field_shape) == 2 else (2, 16, 16)
        _simulate(probe, seed=0, labels=self.labels[:1], **{**self.field_kwargs, "n_cells": 0})

    def __len__(self):
        if self.n_patches is None:
            raise TypeError("an endless PatchStream has no length; pass n_patches=...")
        return self.n_patches

    def _budget(self, worker, n_workers):
        if self.n_patches is None:
            return None
        return self.n_patches // n_workers + (1 if worker < self.n_patches % n_workers else 0)

    def fields(self, worker: int = 0):
        """The stream's fields, as ``(seed, input, target, label_mask)`` (whole fields)."""
        k = 0
        while True:
            fs = field_seed(self.seed, worker, k)
            f = _simulate(self.field_shape, seed=fs, labels=self.labels, **self.field_kwargs)
            x, y, m = _field_arrays(f, self.labels, self.clean_target, self.normalization)
            yield fs, x, y, m
            k += 1

    def __iter__(self):
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        budget = self._budget(worker, n_workers)
        if budget == 0:
            return
        done = 0
        fields = self.fields(worker)
        pick = np.random.default_rng(np.random.SeedSequence([self.seed, worker, 13]))
        pool = []  # [input, target, label mask, crop generator, patches left]
        pool_size = self.pool_size
        if budget is not None:  # a short stream needs no more fields than it has patches for
            pool_size = min(pool_size, -(-budget // self.patches_per_field))
        while True:
            while len(pool) < pool_size:
                fs, x, y, m = next(fields)
                rng = np.random.default_rng(np.random.SeedSequence([fs, 12]))
                pool.append([x, y, torch.from_numpy(m), rng, self.patches_per_field])
            k = int(pick.integers(len(pool)))
            x, y, mask, rng, _ = pool[k]
            starts = [
                int(rng.integers(0, s - p + 1)) for s, p in zip(self.field_shape, self.patch_shape)
            ]
            win = tuple(slice(a, a + p) for a, p in zip(starts, self.patch_shape))
            xi = np.ascontiguousarray(x[(slice(None), *win)])
            yi = np.ascontiguousarray(y[(slice(None), *win)])
            yield torch.from_numpy(xi), torch.from_numpy(yi), mask.clone()
            pool[k][4] -= 1
            if pool[k][4] == 0:
                pool.pop(k)
            done += 1
            if budget is not None and done >= budget:
                return


def simulated_pairs(
    n_fields: int,
    shape,
    *,
    seed: int,
    labels=("dna",),
    modality: str = "brightfield",
    n_planes: int = 3,
    clean_target: bool = False,
    normalization: str = "zscore",
    cell_types=("epithelial",),
    **field_kwargs,
) -> tuple[np.ndarray, np.ndarray]:
    """Whole simulated fields as arrays, e.g. a fixed validation or test set.

    Parameters
    ----------
    n_fields : int
        Number of fields.
    shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)``.
    seed : int
        Seed of the set (fields use seeds derived from it, disjoint from a
        :class:`PatchStream`'s streams with another seed).
    labels, modality, n_planes, clean_target, normalization, cell_types, **field_kwargs
        As in :class:`PatchStream`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``inputs`` float32 ``(N, C_in, *shape)`` and ``targets`` float32
        ``(N, C_out, *shape)``.

    Examples
    --------
    >>> x, y = simulated_pairs(2, (64, 64), seed=1, labels=("dna", "membrane"))
    >>> x.shape, y.shape
    ((2, 3, 64, 64), (2, 2, 64, 64))
    """
    n_fields = check_int(n_fields, "n_fields", minimum=1)
    shp = _check_shape(shape)
    labs = _check_labels(labels)
    check_choice(normalization, "normalization", NORMALIZATIONS)
    xs, ys = [], []
    for k in range(int(n_fields)):
        f = _simulate(
            shp,
            seed=field_seed(seed, 10_000, k),  # worker 10000: a stream no DataLoader uses
            labels=labs,
            modality=modality,
            n_planes=n_planes,
            cell_types=cell_types,
            **field_kwargs,
        )
        x, y, _ = _field_arrays(f, labs, clean_target, normalization)
        xs.append(x)
        ys.append(y)
    return np.stack(xs), np.stack(ys)
