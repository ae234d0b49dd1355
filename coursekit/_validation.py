"""Input checks shared by every public function.

Each check raises an error that says what was expected and what came, so that a
student sees "expected a 2D or 3D float array, got int64 with shape (3,)" instead of a
traceback from deep inside NumPy or PyTorch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import numpy as np

__all__ = [
    "check_array",
    "check_same_shape",
    "check_positive",
    "check_choice",
    "check_int",
    "describe",
]


def describe(x) -> str:
    """A short description of an array-like value for error messages."""
    if isinstance(x, np.ndarray):
        return f"array of dtype {x.dtype} with shape {x.shape}"
    torch = sys.modules.get("torch")  # never import torch just to describe a value
    if torch is not None and isinstance(x, torch.Tensor):
        return f"tensor of dtype {x.dtype} with shape {tuple(x.shape)}"
    return f"{type(x).__name__}"


def check_array(
    x,
    name: str = "image",
    *,
    ndim: int | Iterable[int] | None = None,
    floating: bool = True,
    allow_int: bool = False,
    finite: bool = True,
    copy: bool = False,
) -> np.ndarray:
    """Validate an array-like input and return it as a NumPy array.

    Parameters
    ----------
    x : array_like
        The value to check.
    name : str
        The argument's name, used in error messages.
    ndim : int or iterable of int, optional
        Allowed numbers of dimensions.
    floating : bool
        Require a floating-point dtype (integer arrays are refused unless ``allow_int``).
    allow_int : bool
        Accept integer (and boolean) arrays, converted to float32 when ``floating``.
    finite : bool
        Refuse NaN and infinite values.
    copy : bool
        Always return a copy.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    TypeError
        For a value that is not array-like or has the wrong dtype.
    ValueError
        For an empty array, a wrong number of dimensions or non-finite values.
    """
    if x is None:
        raise TypeError(f"{name}: expected an array, got None")
    torch = sys.modules.get("torch")  # a tensor can only exist if torch is already imported
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # noqa: BLE001 - any conversion failure is a type error here
            raise TypeError(f"{name}: expected an array, got {type(x).__name__}") from exc
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"{name}: expected a numeric array, got {describe(x)}")
    if np.iscomplexobj(x):
        raise TypeError(f"{name}: expected a real-valued array, got {describe(x)}")
    if x.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got {describe(x)}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{d}D" for d in allowed)
            raise ValueError(f"{name}: expected a {want} array, got {x.ndim}D ({describe(x)})")
    if floating and not np.issubdtype(x.dtype, np.floating):
        if not allow_int:
            raise TypeError(
                f"{name}: expected a floating-point array (float32 or float64), got {describe(x)}; "
                f"convert it with {name}.astype(np.float32) after checking its scale"
            )
        x = x.astype(np.float32)
    elif copy:
        x = x.copy()
    if finite and np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        n_bad = int((~np.isfinite(x)).sum())
        raise ValueError(
            f"{name}: expected finite values, got {n_bad} NaN or infinite values in {describe(x)}"
        )
    return x


def check_same_shape(
    a: np.ndarray, b: np.ndarray, names: tuple[str, str] = ("prediction", "target")
) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {np.shape(a)} and {np.shape(b)}"
        )


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, raising ``ValueError`` unless it is positive (finite)."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a number, got {value!r}") from exc
    ok = v >= 0 if allow_zero else v > 0
    if not np.isfinite(v) or not ok:
        want = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name}: expected {want} finite number, got {value!r}")
    return v


def check_choice(value, name: str, choices: Iterable) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``, listing them."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(
            f"unknown {name} {value!r}; expected one of {', '.join(map(repr, choices))}"
        )


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise a clear error.

    Booleans are refused (``True`` is not a count). A wrong type raises ``TypeError``;
    a value outside ``[minimum, maximum]`` raises ``ValueError``.

    Examples
    --------
    >>> check_int(np.int64(3), "n_cells", minimum=1)
    3
    >>> check_int(0, "n_cells", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: n_cells: expected an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        want = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise TypeError(f"{name}: expected {want}, got {value!r} ({type(value).__name__})")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name}: expected an integer <= {maximum}, got {v}")
    return v
