"""The trained network together with everything needed to apply it to raw images:
input and target normalization, binning, names; saved in and loaded from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coursekit._validation import check_array, check_int
from coursekit.realdata.images import PairedImages
from coursekit.realdata.normalization import _warn_if_other_units, apply_normalization

__all__ = ["RealModel"]

_CHECKPOINT_KEY = "realdata"


class RealModel:
    """A trained network with everything needed to apply it to raw images.

    Attributes
    ----------
    net : torch.nn.Module
    input_names, label_names : tuple of str
    binning : int
        The model works on images binned by this factor (relative to acquisition).
    normalization, target_normalization : dict
        From :func:`fit_normalization`; applied by :meth:`predict` (inputs) and inverted
        (targets) so predictions come back in target units.
    settings : dict
        The preset and overrides it was trained with (``settings["preset"]`` its name).
    history : coursekit.models.History or None
    """

    def __init__(
        self,
        net,
        *,
        input_names,
        label_names,
        binning: int,
        normalization: dict,
        target_normalization: dict,
        settings: dict | None = None,
        history=None,
    ):
        self.net = net
        self.input_names = tuple(input_names)
        self.label_names = tuple(label_names)
        self.binning = check_int(binning, "binning", minimum=1)
        self.normalization = dict(normalization)
        self.target_normalization = dict(target_normalization)
        self.settings = dict(settings or {})
        self.history = history

    def __repr__(self) -> str:
        steps = len(self.history.steps) if self.history is not None else "?"
        return (
            f"RealModel({len(self.input_names)} inputs -> {list(self.label_names)}, binning "
            f"{self.binning}, normalization {self.normalization['method']} "
            f"({self.normalization['scope']}), preset {self.settings.get('preset')!r}, "
            f"{steps} steps)"
        )

    def _inputs_of(self, image) -> np.ndarray:
        """Raw inputs at the model's binning, from PairedImages or an array at binning 1."""
        if isinstance(image, PairedImages):
            if self.binning % image.binning:
                raise ValueError(
                    f"the model works at binning {self.binning}; these images are binned "
                    f"{image.binning}, which does not divide it"
                )
            image = image.binned(self.binning // image.binning)
            missing = [n for n in self.input_names if n not in image.input_names]
            if missing:
                raise KeyError(
                    f"the model needs inputs {list(self.input_names)}; these images lack "
                    f"{missing} (they have {list(image.input_names)})"
                )
            return image.select(inputs=self.input_names).inputs
        arr = check_array(image, "image", ndim=3, floating=False, allow_int=True)
        if arr.shape[0] != len(self.input_names):
            raise ValueError(
                f"image: expected ({len(self.input_names)}, Y, X) raw input planes "
                f"{list(self.input_names)} at acquisition resolution, got shape {arr.shape}"
            )
        if self.binning > 1:
            from coursekit.models.prepare import bin_image

            arr = bin_image(arr, self.binning)
        return arr

    def predict(
        self, image, *, tile: int = 256, tta=False, device="auto", progress: bool = False
    ) -> dict[str, np.ndarray]:
        """Predict every target from raw input planes, tile by tile.

        Parameters
        ----------
        image : PairedImages or array_like
            :class:`PairedImages` (its inputs are selected by name and binned as needed),
            or a ``(C, Y, X)`` array of raw input planes at acquisition resolution, in the
            order of ``input_names``. Never normalize them yourself: the model does.
        tile : int
            Tile size in pixels at the model's binning (see
            :func:`coursekit.models.predict_tiled`).
        tta : {False, True, "flips", "dihedral"}
            Flip test-time augmentation.
        device : {"auto", "cpu", "cuda", "mps"}
        progress : bool

        Returns
        -------
        dict of str to numpy.ndarray
            Target name -> float32 ``(Y // binning, X // binning)`` prediction in the
            target's units (the training targets' intensity scale).
        """
        from coursekit.models import predict_tiled

        raw = self._inputs_of(image)
        _warn_if_other_units(raw, self.normalization, self.input_names)
        x = apply_normalization(raw, self.normalization, name="image")
        out = predict_tiled(  # x is normalized here, with the statistics stored above
            self.net, x, tile=tile, tta=tta, device=device, progress=progress, normalization="none"
        )
        out = np.asarray(out).reshape(len(self.label_names), *x.shape[1:])
        tn = self.target_normalization
        return {
            name: (out[k] * np.float32(tn["scale"][k]) + np.float32(tn["offset"][k]))
            for k, name in enumerate(self.label_names)
        }

    def save(self, path) -> Path:
        """Write a checkpoint (:func:`coursekit.models.save_checkpoint`) that carries the
        normalization, binning, names, settings and training history."""
        from coursekit.models import save_checkpoint

        extra = {
            _CHECKPOINT_KEY: {
                "binning": self.binning,
                "normalization": self.normalization,
                "target_normalization": self.target_normalization,
                "settings": {k: v for k, v in self.settings.items() if k != "model"},
            }
        }
        if self.history is not None:
            extra["history"] = self.history.to_dict()
        method = {"method": self.normalization["method"]}  # per-image equivalent, for
        return save_checkpoint(  # predict(model, image, normalization=info[...])
            path,
            self.net,
            normalization=method,
            label_names=list(self.label_names),
            input_names=list(self.input_names),
            extra=extra,
        )

    @classmethod
    def load(cls, path, *, map_location="cpu") -> RealModel:
        """Read a checkpoint written by :meth:`save`; refuses one without the stored
        normalization (it could not be applied correctly)."""
        from coursekit.models import CheckpointError, History, load_checkpoint

        net, info = load_checkpoint(path, map_location=map_location)
        stored = (info.get("extra") or {}).get(_CHECKPOINT_KEY)
        if not stored:
            raise CheckpointError(
                f"{path} was not written by RealModel.save: it does not carry the real-data "
                "normalization and binning, so its predictions on raw images would be wrong. "
                "Use coursekit.models.load_checkpoint and normalize inputs as in training."
            )
        hist = info["extra"].get("history")
        return cls(
            net,
            input_names=info["input_names"],
            label_names=info["label_names"],
            binning=stored["binning"],
            normalization=stored["normalization"],
            target_normalization=stored["target_normalization"],
            settings=stored.get("settings"),
            history=None if hist is None else History.from_dict(hist),
        )
