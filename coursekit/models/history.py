"""What :func:`~coursekit.models.train` records: losses per step, validation, timing, and
the normalization of the data the model was trained on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["History"]


# ---------------------------------------------------------------------------- history
@dataclass
class History:
    """Losses recorded by :func:`train`.

    Attributes
    ----------
    steps : list of int
        Optimizer steps (1-based) at which ``train_loss`` was recorded (every step).
    train_loss : list of float
        Training loss of each step's batch.
    val_steps, val_loss : list
        Steps at which the validation loss was computed, and its value.
    elapsed_s : float
        Wall-clock training time, seconds (validation included).
    device : str
    n_parameters : int
    loss : str
        The loss function's name.
    batch_size : int
        Samples in the first batch.
    time_s : list of float
        Seconds since the start at each entry of ``steps``.
    normalization : dict or None
        The normalization the training data applied (``PairedPatches``/``PatchStream``),
        as :func:`coursekit.normalize.normalization_spec` writes it; None for arrays.
    input_stats : dict or None
        Per-channel ``mean`` and ``std`` (lists) of the training inputs as the model saw
        them.
    """

    steps: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_steps: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    elapsed_s: float = 0.0
    device: str = "cpu"
    n_parameters: int = 0
    loss: str = "mse"
    batch_size: int = 0
    time_s: list = field(default_factory=list)
    normalization: dict | None = None
    input_stats: dict | None = None

    @property
    def steps_per_s(self) -> float:
        """Optimizer steps per second of wall-clock time."""
        return len(self.steps) / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def smoothed_train_loss(self, window: int | None = None) -> np.ndarray:
        """Running mean of the training loss over ``window`` steps (default ~2 % of steps)."""
        y = np.asarray(self.train_loss, dtype=float)
        if y.size == 0:
            return y
        window = window or max(1, len(y) // 50)
        c = np.cumsum(np.insert(y, 0, 0.0))
        out = np.empty_like(y)
        for i in range(len(y)):
            lo = max(0, i + 1 - window)
            out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
        return out

    def plot(self, ax=None, *, logy: bool = True):
        """Draw the training (raw and smoothed) and validation loss against the step.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Default: a new figure.
        logy : bool
            Logarithmic loss axis (when all losses are positive).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        if self.steps:
            ax.plot(self.steps, self.train_loss, color="C0", alpha=0.25, lw=0.8)
            ax.plot(self.steps, self.smoothed_train_loss(), color="C0", label="training")
        if self.val_steps:
            ax.plot(self.val_steps, self.val_loss, "o-", color="C1", label="validation")
        ax.set_xlabel("training step")
        ax.set_ylabel(f"loss ({self.loss})")
        values = list(self.train_loss) + list(self.val_loss)
        if logy and values and min(values) > 0:
            ax.set_yscale("log")
        if self.steps or self.val_steps:
            ax.legend(loc="upper right")
        ax.set_title(f"{len(self.steps)} steps in {self.elapsed_s:.0f} s on {self.device}")
        return ax

    def to_dict(self) -> dict:
        """Plain lists, numbers and strings (JSON- and checkpoint-friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Rebuild from :meth:`to_dict` (also of an older version without the newer keys)."""
        return cls(**d)
