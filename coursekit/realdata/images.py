"""Real paired images: one acquired field of view with its label-free inputs and its
fluorescence targets, loaded by name, binned, and split spatially into a training and a
held-out region.

A real paired data set is often a single large field (the in silico labeling sample is one
1024 x 1024 field), so training and test pixels come from the same image: the split must
be spatial (a region, not random patches), stated, and reproducible. :func:`spatial_split`
names the common ones (``"right_quarter"``) and accepts a mask for anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from coursekit._validation import check_array, check_choice, check_int
from coursekit.models.prepare import bin_image

__all__ = [
    "PairedImages",
    "load_paired",
    "PAIRED_LOADERS",
    "SpatialSplit",
    "spatial_split",
    "SPLITS",
]

#: Named spatial splits: the held-out region, the rest is for training.
SPLITS = ("right_quarter", "left_quarter", "top_quarter", "bottom_quarter")


# ---------------------------------------------------------------------------- images
@dataclass(frozen=True)
class PairedImages:
    """One field of view: label-free input planes and registered fluorescence targets.

    Parameters
    ----------
    inputs : numpy.ndarray
        ``(C, Y, X)`` input planes (e.g. 13 phase-contrast z-slices), any real dtype
        (camera counts are kept as they come; models normalize them).
    targets : dict of str to numpy.ndarray
        Target name -> ``(Y, X)`` image registered to ``inputs``.
    input_names : tuple of str
        One name per input plane.
    pixel_size_um : float, optional
        Lateral pixel size in micrometres, ``None`` where the source does not state it.
    name : str
        The data set's name (e.g. the registry entry).
    citation : str
        Whom to cite for the data.
    binning : int
        How many original pixels each pixel here averages along Y and along X.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> data = PairedImages(rng.random((3, 8, 8)), {"DNA": rng.random((8, 8))}, ("a", "b", "c"))
    >>> data.shape, data.target_names, data.binned(2).shape
    ((8, 8), ('DNA',), (4, 4))
    """

    inputs: np.ndarray
    targets: Mapping[str, np.ndarray]
    input_names: tuple[str, ...]
    pixel_size_um: float | None = None
    name: str = "paired images"
    citation: str = ""
    binning: int = 1
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        inputs = check_array(self.inputs, "inputs", ndim=3, floating=False)
        if not isinstance(self.targets, Mapping) or not self.targets:
            raise TypeError(
                "targets: expected a non-empty dict mapping a name to a (Y, X) image, e.g. "
                f"{{'DAPI': image}}, got {type(self.targets).__name__}"
            )
        targets = {}
        for key, img in self.targets.items():
            img = check_array(img, f"targets[{key!r}]", ndim=2, floating=False)
            if img.shape != inputs.shape[1:]:
                raise ValueError(
                    f"targets[{key!r}] has shape {img.shape}, but the inputs are "
                    f"{inputs.shape[1:]} (Y, X); targets must be registered to the inputs"
                )
            targets[str(key)] = img
        names = tuple(str(n) for n in self.input_names)
        if len(names) != inputs.shape[0]:
            raise ValueError(
                f"input_names: {len(names)} names for {inputs.shape[0]} input planes "
                f"(inputs of shape {inputs.shape} are (C, Y, X))"
            )
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "input_names", names)
        object.__setattr__(self, "binning", check_int(self.binning, "binning", minimum=1))

    @property
    def shape(self) -> tuple[int, int]:
        """``(Y, X)`` in pixels."""
        return tuple(self.inputs.shape[1:])

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(self.targets)

    def _input_index(self, key) -> int:
        if isinstance(key, str):
            if key not in self.input_names:
                raise KeyError(f"no input plane {key!r}; the planes are {list(self.input_names)}")
            return self.input_names.index(key)
        i = check_int(key, "input index", minimum=-len(self.input_names))
        if i >= len(self.input_names):
            raise IndexError(f"input index {i} out of range for {len(self.input_names)} planes")
        return i % len(self.input_names)

    def select(self, inputs=None, targets=None) -> PairedImages:
        """The same field with only some input planes and targets, in the order given.

        Parameters
        ----------
        inputs : sequence of str or int, optional
            Input plane names (or indices); default all.
        targets : str or sequence of str, optional
            Target names; default all.
        """
        if isinstance(inputs, (str, int, np.integer)):
            inputs = [inputs]
        if isinstance(targets, str):
            targets = [targets]
        idx = list(range(len(self.input_names))) if inputs is None else []
        for key in [] if inputs is None else inputs:
            idx.append(self._input_index(key))
        if not idx:
            raise ValueError("inputs: choose at least one input plane")
        names = list(self.targets) if targets is None else list(targets)
        missing = [t for t in names if t not in self.targets]
        if missing or not names:
            raise KeyError(
                f"targets {missing or names}: not in this data set; it has {list(self.targets)}"
            )
        return PairedImages(
            self.inputs[idx],
            {t: self.targets[t] for t in names},
            tuple(self.input_names[i] for i in idx),
            pixel_size_um=self.pixel_size_um,
            name=self.name,
            citation=self.citation,
            binning=self.binning,
            extra=dict(self.extra),
        )

    def binned(self, factor: int) -> PairedImages:
        """Average ``factor x factor`` pixel blocks (float32; the edge is cropped to a
        multiple of ``factor``). Binning 2 quarters the pixels and the training cost, keeps
        cells several pixels wide, and averages noise (see docs/real-data.md)."""
        factor = check_int(factor, "factor", minimum=1)
        if factor == 1:
            return self
        return PairedImages(
            bin_image(self.inputs, factor),
            {k: bin_image(v, factor) for k, v in self.targets.items()},
            self.input_names,
            pixel_size_um=None if self.pixel_size_um is None else self.pixel_size_um * factor,
            name=self.name,
            citation=self.citation,
            binning=self.binning * factor,
            extra=dict(self.extra),
        )

    def crop(self, box: tuple[slice, slice]) -> PairedImages:
        """The pixels inside ``box`` = ``(slice_y, slice_x)``."""
        box = tuple(box)
        return PairedImages(
            self.inputs[(slice(None), *box)],
            {k: v[box] for k, v in self.targets.items()},
            self.input_names,
            pixel_size_um=self.pixel_size_um,
            name=self.name,
            citation=self.citation,
            binning=self.binning,
            extra=dict(self.extra),
        )

    def __repr__(self) -> str:
        px = "not stated" if self.pixel_size_um is None else f"{self.pixel_size_um:g} um"
        return (
            f"PairedImages({self.name!r}: {len(self.input_names)} input planes "
            f"{self.inputs.dtype} -> targets {list(self.targets)}, {self.shape[0]} x "
            f"{self.shape[1]} px, binning {self.binning}, pixel size {px})"
        )


# ---------------------------------------------------------------------------- loaders
def _load_isl(*, data_dir=None, base_url=None, progress=True, registry=None) -> PairedImages:
    from coursekit.datasets import dataset_info, load_isl_sample

    phase, targets = load_isl_sample(
        registry=registry, data_dir=data_dir, base_url=base_url, progress=progress
    )
    info = dataset_info("isl_condition_blue", registry=registry)
    return PairedImages(
        phase,
        targets,
        tuple(f"phase z{z}" for z in range(phase.shape[0])),
        pixel_size_um=None,  # not stated by the source
        name="isl_condition_blue",
        citation=info.citation,
    )


#: Data set name -> loader returning :class:`PairedImages`; an entry of the download
#: registry becomes usable here by adding a loader with the same keyword arguments.
PAIRED_LOADERS: dict[str, Callable[..., PairedImages]] = {"isl_condition_blue": _load_isl}


def load_paired(
    name: str = "isl_condition_blue",
    *,
    data_dir=None,
    base_url=None,
    progress: bool = True,
) -> PairedImages:
    """Load a real paired data set by name (downloaded once and checked, see
    :func:`coursekit.datasets.fetch`).

    Parameters
    ----------
    name : str
        One of :data:`PAIRED_LOADERS` (today ``"isl_condition_blue"``: 13 phase-contrast
        planes ``"phase z0"`` .. ``"phase z12"`` and the targets DAPI, MAP2, NFH, 1024 x
        1024 uint16).
    data_dir, base_url, progress
        As for :func:`coursekit.datasets.fetch` (a local folder or mirror works offline).

    Returns
    -------
    PairedImages

    Examples
    --------
    >>> data = load_paired("isl_condition_blue")  # doctest: +SKIP
    >>> data.inputs.shape, data.target_names  # doctest: +SKIP
    ((13, 1024, 1024), ('DAPI', 'MAP2', 'NFH'))
    """
    check_choice(name, "paired data set", sorted(PAIRED_LOADERS))
    return PAIRED_LOADERS[name](data_dir=data_dir, base_url=base_url, progress=progress)


# ---------------------------------------------------------------------------- split
@dataclass(frozen=True)
class SpatialSplit:
    """Training and held-out pixels of one field, as boolean ``(Y, X)`` masks.

    Attributes
    ----------
    train, test : numpy.ndarray
        Disjoint boolean masks. Training patches lie entirely inside ``train``; scores are
        computed inside ``test``.
    name : str
        The split's name (``"right_quarter"``) or ``"mask"``.
    """

    train: np.ndarray
    test: np.ndarray
    name: str = "mask"

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.test.shape)

    @property
    def test_box(self) -> tuple[slice, slice]:
        """Bounding box ``(slice_y, slice_x)`` of the held-out pixels."""
        ys, xs = np.nonzero(self.test)
        return slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1)

    def binned(self, factor: int) -> SpatialSplit:
        """The split on a grid binned by ``factor``: a binned pixel is held out if any of
        its pixels is, and used for training only if all of its pixels are."""
        factor = check_int(factor, "factor", minimum=1)
        if factor == 1:
            return self
        if self.name in SPLITS:
            return spatial_split((self.shape[0] // factor, self.shape[1] // factor), self.name)
        test = bin_image(self.test, factor) > 0
        train = bin_image(self.train, factor) == 1
        return SpatialSplit(train & ~test, test, self.name)

    def describe(self) -> str:
        frac = self.test.mean()
        return (
            f"{self.name}: {self.test.sum()} held-out pixels ({100 * frac:.0f} % of "
            f"{self.shape[0]} x {self.shape[1]}), {self.train.sum()} for training"
        )


def spatial_split(shape: Sequence[int], split="right_quarter") -> SpatialSplit:
    """A reproducible spatial split of one ``(Y, X)`` field.

    Parameters
    ----------
    shape : (int, int)
        ``(Y, X)`` of the field, e.g. ``data.shape``.
    split : str or array_like of bool
        A name from :data:`SPLITS` (``"right_quarter"``: the last ``X // 4`` columns are
        held out, the rest is for training; likewise left, top, bottom), or a boolean
        ``(Y, X)`` mask that is True on held-out pixels.

    Returns
    -------
    SpatialSplit

    Examples
    --------
    >>> s = spatial_split((8, 8), "right_quarter")
    >>> int(s.test.sum()), int(s.train.sum()), s.test_box
    (16, 48, (slice(0, 8, None), slice(6, 8, None)))
    """
    try:
        ny, nx = (check_int(int(s), "shape", minimum=2) for s in shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"shape: expected (Y, X) of at least 2 pixels each, got {shape!r}"
        ) from exc
    if isinstance(split, str):
        check_choice(split, "split", SPLITS)
        test = np.zeros((ny, nx), bool)
        if split == "right_quarter":
            test[:, nx - nx // 4 :] = True
        elif split == "left_quarter":
            test[:, : nx // 4] = True
        elif split == "top_quarter":
            test[: ny // 4] = True
        else:
            test[ny - ny // 4 :] = True
        return SpatialSplit(~test, test, split)
    test = check_array(split, "split mask", ndim=2, floating=False, allow_int=True)
    if test.shape != (ny, nx):
        raise ValueError(f"split mask: expected shape {(ny, nx)}, got {test.shape}")
    if not np.isin(test, (0, 1)).all():
        raise ValueError("split mask: expected booleans (True = held out)")
    test = test.astype(bool)
    if not test.any() or test.all():
        raise ValueError("split mask: hold out some pixels but not all (True = held out)")
    return SpatialSplit(~test, test, "mask")
