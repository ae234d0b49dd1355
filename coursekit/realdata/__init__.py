"""Real paired data through the course's pipeline, in about ten lines.

The same shape as :mod:`coursekit.experiments` for the simulator: load a real paired
field, split it spatially, train with a step budget, predict the held-out region tile by
tile and score it next to the input-as-prediction baseline. The model keeps its
normalization and binning (and the checkpoint carries them), so raw images go in.

Examples
--------
>>> from coursekit import realdata
>>> data = realdata.load_paired("isl_condition_blue")                       # doctest: +SKIP
>>> model = realdata.train_real(data, targets=["DAPI", "MAP2", "NFH"],
...                             split="right_quarter", preset="real_2d", steps=1500)  # doctest: +SKIP
>>> realdata.evaluate_real(model, data, "right_quarter")                    # doctest: +SKIP
>>> model.save("isl_real_2d.pt")                                            # doctest: +SKIP
>>> model = realdata.RealModel.load("isl_real_2d.pt")                       # doctest: +SKIP
>>> model.predict(data)["DAPI"].shape                                       # doctest: +SKIP
(512, 512)
"""

from coursekit.realdata.images import (
    PAIRED_LOADERS,
    SPLITS,
    PairedImages,
    SpatialSplit,
    load_paired,
    spatial_split,
)
from coursekit.realdata.model import RealModel
from coursekit.realdata.normalization import apply_normalization, fit_normalization
from coursekit.realdata.pipeline import (
    PRESETS,
    evaluate_real,
    input_baseline,
    train_real,
)
from coursekit.realdata.plots import plot_heldout
from coursekit.realdata.tiles import RegionTiles, region_tiles

__all__ = [
    "PairedImages",
    "load_paired",
    "PAIRED_LOADERS",
    "SpatialSplit",
    "spatial_split",
    "SPLITS",
    "PRESETS",
    "RealModel",
    "train_real",
    "evaluate_real",
    "input_baseline",
    "fit_normalization",
    "apply_normalization",
    "plot_heldout",
    "region_tiles",
    "RegionTiles",
]
