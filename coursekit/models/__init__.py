"""Models, training and prediction: a compact 2D/3D U-Net and the tools around it.

- :class:`UNet` (``UNet.fnet_like`` for the architecture of Ounkomol et al. 2018,
  ``UNet(..., seed=)`` for repeatable initial weights), ``model.describe()`` for its levels,
  parameters and receptive field;
- data: :class:`PairedPatches`, :func:`augment_pair`, :func:`split_by_field`,
  :func:`bin_image` (the spatial split of one real field: :func:`coursekit.realdata.spatial_split`); :class:`PatchStream` and
  :func:`simulated_pairs` (the virtual microscope's endless training data);
- :func:`train` returning a :class:`History` (losses in :mod:`coursekit.models.losses`);
  :func:`pick_device`;
- :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`load_weights`;
- :func:`predict`, :func:`predict_tiled` (smooth blending, flip test-time augmentation;
  the model's training normalization by default), :func:`predict_mc_dropout`;
- transfer learning: ``model.with_head(n)``, :func:`freeze_trunk`, :func:`unfreeze`.
"""

from importlib import import_module

from coursekit.models.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from coursekit.models.data import (
    PairedPatches,
    augment_pair,
    normalization_spec,
    normalize_channels,
    split_by_field,
)
from coursekit.models.device import pick_device
from coursekit.models.history import History
from coursekit.models.losses import masked_loss, per_channel_loss, ssim_torch
from coursekit.models.mc_dropout import enable_mc_dropout, predict_mc_dropout
from coursekit.models.predict import predict, predict_tiled
from coursekit.models.prepare import bin_image
from coursekit.models.train import train, validation_loss
from coursekit.models.transfer import freeze_trunk, trainable_parameters, unfreeze
from coursekit.models.unet import UNet

__all__ = [
    "UNet",
    "PairedPatches",
    "PatchStream",
    "simulated_pairs",
    "augment_pair",
    "split_by_field",
    "bin_image",
    "normalize_channels",
    "normalization_spec",
    "train",
    "History",
    "masked_loss",
    "per_channel_loss",
    "ssim_torch",
    "validation_loss",
    "pick_device",
    "save_checkpoint",
    "load_checkpoint",
    "load_weights",
    "CheckpointError",
    "predict",
    "predict_tiled",
    "predict_mc_dropout",
    "enable_mc_dropout",
    "freeze_trunk",
    "unfreeze",
    "trainable_parameters",
]

# the patch stream imports the simulator; load it on first use
_LAZY = {"PatchStream": "stream", "simulated_pairs": "stream"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
