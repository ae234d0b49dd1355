"""Models, training and prediction: a compact 2D/3D U-Net and the tools around it.

- :class:`UNet` (``UNet.fnet_like`` for the architecture of Ounkomol et al. 2018),
  ``model.describe()`` for its levels, parameters and receptive field;
- :class:`PairedPatches`, :func:`augment_pair`, :func:`split_by_field`: training patches;
- :func:`train` returning a :class:`History`; :func:`pick_device`;
- :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`load_weights`;
- :func:`predict`, :func:`predict_tiled` (smooth blending, flip test-time augmentation),
  :func:`predict_mc_dropout`.
"""

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
from coursekit.models.predict import predict, predict_mc_dropout, predict_tiled
from coursekit.models.train import (
    History,
    masked_loss,
    per_channel_loss,
    ssim_torch,
    train,
    validation_loss,
)
from coursekit.models.unet import UNet

__all__ = [
    "UNet",
    "PairedPatches",
    "augment_pair",
    "split_by_field",
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
]
