"""Running a predictor on an image: a function, or a torch model through
:func:`coursekit.models.predict` (the one inference path: device, the model's training
normalization, padding)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit._validation import check_array


def _is_torch_module(obj) -> bool:
    import sys

    torch = sys.modules.get("torch")  # a torch model can only exist if torch is imported
    return torch is not None and isinstance(obj, torch.nn.Module)


def as_predictor(predictor) -> Callable[[np.ndarray], np.ndarray]:
    """A callable numpy -> numpy; a torch model runs through :func:`coursekit.models.predict`
    (eval mode, no gradients, its stored normalization)."""
    if _is_torch_module(predictor):
        from coursekit.models import predict

        model = predictor

        def run(image: np.ndarray) -> np.ndarray:
            return predict(model, image)

        return run
    if not callable(predictor):
        raise TypeError(
            f"predictor: expected a function mapping an input array (C, Y, X) to an output "
            f"array (C_out, Y, X), or a torch model, got {type(predictor).__name__}"
        )
    return predictor


def run_predictor(predictor, image, name: str = "prediction") -> np.ndarray:
    """``predictor(image)`` as a checked NumPy array."""
    out = as_predictor(predictor)(image)
    return check_array(out, name, allow_int=True)
