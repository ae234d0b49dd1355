"""What every check shares: the failure it raises, how it describes arrays and calls, how it
guesses the likely mistake behind a wrong value, and the scoreboard a notebook keeps.

A check never trusts the notebook's own example: it draws its inputs itself (shapes, seeds,
edge cases), calls the student's function and compares with a coursekit reference. When the
answer is wrong it raises :class:`CheckFailed` with four things a student can act on: what
was called, what came back, what was expected, and the likely mistake.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CheckFailed", "Check", "Scoreboard", "describe", "call", "fail", "close"]


class CheckFailed(AssertionError):
    """A student's answer is wrong; the message says why and what to try.

    A subclass of ``AssertionError`` so that nbgrader, pytest and a plain ``assert``-reading
    student all treat it as a failed check.
    """


def describe(x) -> str:
    """A short description of a value for a message: shape and dtype of arrays, repr of
    small things."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"an array of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, float):
        return f"{x:.6g}"
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def fail(called: str, got, expected, hint: str | None = None) -> CheckFailed:
    """Build the failure (the caller raises it) in the four-part form of every check."""
    lines = [f"{called}", f"  returned: {got if isinstance(got, str) else describe(got)}"]
    lines.append(f"  expected: {expected if isinstance(expected, str) else describe(expected)}")
    if hint:
        lines.append(f"  likely mistake: {hint}")
    return CheckFailed("\n".join(lines))


def call(func: Callable, called: str, *args, **kwargs):
    """Call the student's function; turn an unexpected exception into a readable failure.

    ``NotImplementedError`` passes through unchanged: it means the task is not done yet,
    and a notebook run as is must stop there with that error.
    """
    if not callable(func):
        raise CheckFailed(f"expected a function (or class), got {describe(func)}")
    try:
        return func(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:  # the student's bug: say where it happened
        raise CheckFailed(
            f"{called}\n  raised: {type(exc).__name__}: {exc}\n"
            "  expected: no error (run the cell of your function on these inputs to see the "
            "full traceback)"
        ) from exc


def as_float(value, called: str) -> float:
    """The student's return value as a Python float, or a failure saying why not."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.size != 1:
        raise fail(
            called,
            value,
            "a single number (a float)",
            "you returned an array; np.corrcoef, for example, returns a matrix: take the "
            "one entry you need, or reduce with .mean()/.sum()",
        )
    return float(arr.reshape(()))


def close(a: float, b: float, *, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Equal within tolerance, with inf == inf and nan == nan."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def diagnose(value: float, candidates: dict[str, float], *, rtol: float = 1e-4) -> str | None:
    """The hint of the first wrong formula that reproduces ``value`` (None if none does)."""
    for hint, wrong in candidates.items():
        try:
            if close(value, float(wrong), rtol=rtol, atol=1e-9):
                return hint
        except (TypeError, ValueError):
            continue
    return None


# --------------------------------------------------------------------------- scoreboard
@dataclass(frozen=True)
class Check:
    """One graded check: its function, its points and a one-line title."""

    func: Callable
    points: float
    title: str


@dataclass
class Scoreboard:
    """The checks of one assignment and how the student has done on them so far.

    Parameters
    ----------
    checks : dict of str to Check
        The assignment's checks by name (e.g. :data:`coursekit.grading.evaluation.CHECKS`).

    Examples
    --------
    >>> from coursekit.grading import evaluation
    >>> board = Scoreboard(evaluation.CHECKS)
    >>> board.total
    20
    """

    checks: dict[str, Check]
    results: dict[str, tuple[bool, str]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Points available in this assignment's automatic checks."""
        return sum(c.points for c in self.checks.values())

    def check(self, name: str, *args, **kwargs) -> None:
        """Run check ``name`` on the student's answer, record the result, print the points.

        Raises :class:`CheckFailed` (after recording it) when
        the answer is wrong, and ``NotImplementedError`` when the task is not done yet.
        """
        if name not in self.checks:
            raise KeyError(f"no check named {name!r}; this assignment has {sorted(self.checks)}")
        spec = self.checks[name]
        try:
            spec.func(*args, **kwargs)
        except NotImplementedError:
            self.results[name] = (False, "not done yet")
            raise
        except CheckFailed as exc:
            self.results[name] = (False, str(exc).splitlines()[0])
            raise
        self.results[name] = (True, "")
        print(f"PASSED {name} ({spec.title}): {spec.points:g} / {spec.points:g} points")

    def score(self) -> float:
        """Points earned so far."""
        return sum(self.checks[n].points for n, (ok, _) in self.results.items() if ok)

    def table(self) -> str:
        """A table of every check: passed, failed or not run yet, and the score so far."""
        rows = []
        for name, spec in self.checks.items():
            ok, why = self.results.get(name, (None, ""))
            status = "passed" if ok else ("not run yet" if ok is None else f"failed ({why})")
            earned = spec.points if ok else 0
            rows.append(f"  {name:<20} {earned:>4g} / {spec.points:<4g} {status}")
        rows.append(f"  {'score so far':<20} {self.score():>4g} / {self.total:<4g}")
        return "\n".join(rows)

    def summary(self) -> None:
        """Print :meth:`table` (the score-so-far cell of a notebook)."""
        print(self.table())


def points_of(checks: dict[str, Check], names: Iterable[str]) -> float:
    """Total points of the named checks."""
    return sum(checks[n].points for n in names)
