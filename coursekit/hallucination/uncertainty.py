"""Does a model's own spread flag its errors? Ensembles, Monte Carlo dropout (one
implementation, :func:`coursekit.models.predict_mc_dropout`) and how well an uncertainty map
ranks the errors."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from coursekit._validation import check_array
from coursekit.hallucination._predictors import run_predictor
from coursekit.metrics.similarity import _check_mask, pearson_r

__all__ = [
    "ensemble_uncertainty",
    "mc_dropout_uncertainty",  # noqa: F822 - provided by __getattr__ (needs torch)
    "uncertainty_calibration",
]

#: As coursekit.models.mc_dropout.SPREAD_DDOF (kept here so that this module needs no torch).
SPREAD_DDOF = 1


def ensemble_uncertainty(predictors: Sequence, image) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of the predictions of several models (a deep ensemble).

    Parameters
    ----------
    predictors : sequence of callables or torch models
        At least two; each maps ``image`` to an array of the same shape as the others
        (e.g. models trained from different seeds).
    image : array_like
        The input, ``(C, Y, X)`` or ``(C, Z, Y, X)``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The pixel-wise mean and standard deviation (``ddof=1``, as for MC dropout) over the
        predictors,
        float32, each of the predictions' shape, in the predictions' units.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 4, 4), np.float32)
    >>> mean, std = ensemble_uncertainty([lambda v: v, lambda v: 3 * v], x)
    >>> float(mean.max()), round(float(std.max()), 4)  # std of (1, 3), ddof=1: sqrt(2)
    (2.0, 1.4142)
    """
    if isinstance(predictors, Mapping):
        predictors = list(predictors.values())
    predictors = list(predictors)
    if len(predictors) < 2:
        raise ValueError(f"ensemble_uncertainty needs at least 2 predictors, got {len(predictors)}")
    image = check_array(image, "image", allow_int=True)
    outs = []
    for i, pr in enumerate(predictors):
        out = run_predictor(pr, image, f"prediction of predictor {i}")
        if outs and out.shape != outs[0].shape:
            raise ValueError(
                f"predictor {i} returned shape {out.shape}, predictor 0 returned {outs[0].shape}"
            )
        outs.append(out.astype(np.float64))
    stack = np.stack(outs)
    return (
        stack.mean(axis=0).astype(np.float32),
        stack.std(axis=0, ddof=SPREAD_DDOF).astype(np.float32),
    )


def __getattr__(name):
    if name == "mc_dropout_uncertainty":  # MC dropout exists once, in coursekit.models
        from coursekit.models.mc_dropout import predict_mc_dropout

        return predict_mc_dropout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def uncertainty_calibration(uncertainty, error, *, top_fraction: float = 0.1, mask=None) -> dict:
    """How well an uncertainty map flags the largest errors.

    Parameters
    ----------
    uncertainty : array_like
        Per-pixel uncertainty (e.g. the std of :func:`ensemble_uncertainty`), any shape.
    error : array_like
        Per-pixel error of the prediction, same shape (e.g. ``mean - truth``, in the same
        units); its absolute value is used.
    top_fraction : float
        The share of most-uncertain pixels to compare with the rest, in (0, 1).
    mask : array_like of bool, optional
        Only these pixels count.

    Returns
    -------
    dict
        ``spearman`` and ``pearson``: correlation of uncertainty with absolute error
        (1: uncertainty ranks the errors perfectly; about 0: it says nothing);
        ``mae_top`` and ``mae_rest``: mean absolute error in the ``top_fraction`` most
        uncertain pixels and in the others; ``ratio`` = mae_top / mae_rest (about 1 for
        an uninformative uncertainty, large when it flags the errors);
        ``top_error_overlap``: the share of the ``top_fraction`` largest errors that are
        among the ``top_fraction`` most uncertain pixels (about ``top_fraction`` at
        random, 1 at best); ``top_fraction``; ``n_pixels``. For a constant uncertainty
        (nothing ranked) every score is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> err = np.random.default_rng(0).standard_normal((32, 32))
    >>> cal = uncertainty_calibration(np.abs(err), err)
    >>> cal["spearman"], cal["top_error_overlap"]
    (1.0, 1.0)
    """
    from scipy.stats import spearmanr

    u = check_array(uncertainty, "uncertainty", allow_int=True)
    e = check_array(error, "error", allow_int=True)
    if u.shape != e.shape:
        raise ValueError(
            f"uncertainty and error must have the same shape, got {u.shape} and {e.shape}"
        )
    if not 0 < float(top_fraction) < 1:
        raise ValueError(f"top_fraction: expected a number in (0, 1), got {top_fraction!r}")
    mask = _check_mask(mask, u.shape)
    uv = (u[mask] if mask is not None else u.ravel()).astype(np.float64)
    ev = np.abs((e[mask] if mask is not None else e.ravel()).astype(np.float64))
    n = uv.size
    k = int(round(top_fraction * n))
    if k < 1 or k >= n:
        raise ValueError(
            f"top_fraction={top_fraction} of {n} pixels leaves an empty group; use more pixels "
            "or another top_fraction"
        )
    out = {"top_fraction": float(top_fraction), "n_pixels": int(n)}
    nan = float("nan")
    if np.ptp(uv) == 0:
        out.update(spearman=nan, pearson=nan, mae_top=nan, mae_rest=nan, ratio=nan)
        out["top_error_overlap"] = nan
        return out
    order = np.argsort(-uv, kind="stable")
    top = np.zeros(n, bool)
    top[order[:k]] = True
    mae_top, mae_rest = float(ev[top].mean()), float(ev[~top].mean())
    if mae_rest > 0:
        ratio = mae_top / mae_rest
    else:
        ratio = float("inf") if mae_top > 0 else nan
    if np.ptp(ev) == 0:
        rho = r = nan
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = float(spearmanr(uv, ev).statistic)
        r = pearson_r(target=ev, prediction=uv)
    big = np.zeros(n, bool)
    big[np.argsort(-ev, kind="stable")[:k]] = True
    out.update(
        spearman=rho,
        pearson=r,
        mae_top=mae_top,
        mae_rest=mae_rest,
        ratio=ratio,
        top_error_overlap=float((big & top).sum() / k),
    )
    return out
