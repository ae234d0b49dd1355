"""One real field as many small training images: tiles of its training region.

A learning curve asks how a model's score grows with the amount of training data. The
simulator draws as many fields as asked; a real sample is often one field. Cutting its
training region into tiles gives a pool of small "fields" to draw 1, 4, 16, ... from, all
scored on the same held-out region (:func:`coursekit.learning_curve.learning_curve`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from coursekit._validation import check_int
from coursekit.realdata.images import PairedImages, SpatialSplit, spatial_split
from coursekit.realdata.normalization import apply_normalization, fit_normalization


class RegionTiles(NamedTuple):
    """The arrays :func:`~coursekit.learning_curve.learning_curve` takes, in its order.

    Attributes
    ----------
    train_inputs, train_targets : list of numpy.ndarray
        ``(C_in, tile, tile)`` and ``(C_out, tile, tile)`` float32 per tile, each tile
        entirely inside the training region, in row-major order.
    test_inputs, test_targets : list of numpy.ndarray
        One ``(C, Y, X)`` image each: the bounding box of the held-out region.
    """

    train_inputs: list
    train_targets: list
    test_inputs: list
    test_targets: list


def region_tiles(
    data: PairedImages,
    split: str | SpatialSplit | np.ndarray = "right_quarter",
    *,
    targets: Sequence[str] | None = None,
    tile: int = 96,
) -> RegionTiles:
    """Cut the training region of one field into square tiles; keep the held-out region.

    Inputs and targets are z-score normalized per channel with statistics of the
    training pixels only, so every tile and the held-out region are on one scale (a
    tile normalized on its own would stretch a tile without nuclei into noise). Pass
    ``normalization="none"`` to :func:`~coursekit.learning_curve.learning_curve`.

    Parameters
    ----------
    data : PairedImages
        One field, e.g. ``load_paired("isl_condition_blue").binned(2)``.
    split : str, SpatialSplit or array_like of bool
        Held-out pixels (see :func:`~coursekit.realdata.spatial_split`).
    targets : sequence of str, optional
        Target names, in channel order; default all of ``data.target_names``.
    tile : int
        Tile side in pixels (of ``data``, after any binning). No tile overlaps another
        or the held-out region.

    Returns
    -------
    RegionTiles

    Raises
    ------
    ValueError
        When no whole tile fits in the training region.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> data = PairedImages(rng.random((3, 64, 64)), {"DNA": rng.random((64, 64))}, "abc")
    >>> tiles = region_tiles(data, "right_quarter", tile=16)
    >>> len(tiles.train_inputs), tiles.train_inputs[0].shape, tiles.test_targets[0].shape
    (12, (3, 16, 16), (1, 64, 16))
    """
    if not isinstance(data, PairedImages):
        raise TypeError(
            f"data: expected PairedImages (e.g. realdata.load_paired(...)), got {type(data).__name__}"
        )
    tile = check_int(tile, "tile", minimum=8)
    if isinstance(targets, str):
        targets = [targets]
    names = list(data.target_names if targets is None else targets)
    data = data.select(targets=names)
    if not isinstance(split, SpatialSplit):
        split = spatial_split(data.shape, split)
    if split.shape != data.shape:
        raise ValueError(f"split: covers {split.shape} pixels, the field is {data.shape}")
    x = data.inputs
    y = np.stack([data.targets[n] for n in names])
    x = apply_normalization(x, fit_normalization(x, mask=split.train), name="inputs")
    y = apply_normalization(y, fit_normalization(y, mask=split.train), name="targets")
    train_x, train_y = [], []
    for i in range(0, data.shape[0] - tile + 1, tile):
        for j in range(0, data.shape[1] - tile + 1, tile):
            if split.train[i : i + tile, j : j + tile].all():
                train_x.append(x[:, i : i + tile, j : j + tile])
                train_y.append(y[:, i : i + tile, j : j + tile])
    if not train_x:
        raise ValueError(
            f"tile: no {tile} x {tile} tile fits in the training region "
            f"({split.describe()}); choose a smaller tile"
        )
    box = split.test_box
    return RegionTiles(train_x, train_y, [x[(slice(None), *box)]], [y[(slice(None), *box)]])
