"""Generate student exercises from solution notebooks (the nbgrader convention).

The solution notebook in ``solutions/`` is the one source. In its code cells, the lines
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become ``# YOUR CODE HERE`` and
``raise NotImplementedError()`` (indentation kept); in markdown cells they become
``YOUR ANSWER HERE``. Lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``
are removed. Outputs and execution counts are cleared: the student runs the notebook.

Command line: ``python -m coursekit make-exercises`` (``--check`` only reports stale files).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

__all__ = ["strip_solutions", "make_exercise", "make_all_exercises", "SolutionMarkupError"]

_BEGIN = re.compile(r"^\s*#+\s*BEGIN SOLUTION\s*$")
_END = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
_BEGIN_MD = re.compile(r"^\s*(#+|<!--)?\s*BEGIN SOLUTION\s*(-->)?\s*$")
_END_MD = re.compile(r"^\s*(#+|<!--)?\s*END SOLUTION\s*(-->)?\s*$")
_BEGIN_HIDDEN = re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS\s*$")
_END_HIDDEN = re.compile(r"^\s*#+\s*END HIDDEN TESTS\s*$")


class SolutionMarkupError(ValueError):
    """A solution region that is not closed, or closed without being opened."""


def _replace_regions(lines, begin, end, replacement, where):
    """Drop the lines between ``begin`` and ``end`` markers and put ``replacement`` there,
    indented like the BEGIN line (so a region inside a function stays inside it)."""
    out, inside, indent = [], False, ""
    for n, line in enumerate(lines, 1):
        if begin.match(line):
            if inside:
                raise SolutionMarkupError(f"{where}, line {n}: BEGIN inside an open region")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
        elif end.match(line):
            if not inside:
                raise SolutionMarkupError(f"{where}, line {n}: END without a BEGIN")
            inside = False
            out.extend(indent + r for r in replacement)
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkupError(f"{where}: a region is opened but never closed")
    return out


def strip_solutions(source: str, cell_type: str = "code", *, where: str = "cell") -> str:
    """Replace the solution regions of one cell's source.

    Parameters
    ----------
    source : str
        The cell's text.
    cell_type : {"code", "markdown"}
    where : str
        Names the cell in error messages.

    Returns
    -------
    str

    Examples
    --------
    >>> print(strip_solutions("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError()
    """
    lines = source.split("\n")
    if cell_type == "code":
        lines = _replace_regions(lines, _BEGIN_HIDDEN, _END_HIDDEN, [], where)
        lines = _replace_regions(
            lines, _BEGIN, _END, ["# YOUR CODE HERE", "raise NotImplementedError()"], where
        )
    elif cell_type == "markdown":
        lines = _replace_regions(lines, _BEGIN_MD, _END_MD, ["YOUR ANSWER HERE"], where)
    return "\n".join(lines)


def make_exercise(
    solution: nbformat.NotebookNode, *, name: str = "notebook"
) -> nbformat.NotebookNode:
    """The student's notebook for one solution notebook (a new object; the input is kept).

    Raises
    ------
    SolutionMarkupError
        For an unclosed or unopened region, naming the cell.
    """
    nb = copy.deepcopy(solution)
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        if cell.cell_type in ("code", "markdown"):
            cell.source = strip_solutions(cell.source, cell.cell_type, where=where)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def make_all_exercises(
    solutions_dir="solutions", exercises_dir="exercises", *, check: bool = False
) -> list[Path]:
    """Write ``exercises/X.ipynb`` for every ``solutions/X.ipynb``.

    Parameters
    ----------
    solutions_dir, exercises_dir : str or os.PathLike
    check : bool
        Write nothing; return the exercises that are missing or differ from what would be
        generated (stale).

    Returns
    -------
    list of pathlib.Path
        The files written (or, with ``check``, the stale ones).
    """
    sol, ex = Path(solutions_dir), Path(exercises_dir)
    changed = []
    for path in sorted(sol.glob("*.ipynb")):
        exercise = make_exercise(nbformat.read(path, as_version=4), name=path.name)
        text = nbformat.writes(exercise) + "\n"
        target = ex / path.name
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        changed.append(target)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return changed
