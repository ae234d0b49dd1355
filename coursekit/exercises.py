"""Generate student exercises from solution notebooks with nbgrader's own preprocessors.

``solutions/`` is the nbgrader source: answers between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in cells that carry nbgrader metadata (see
``scripts/nbgrader_metadata.py``), hidden tests between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``. :func:`make_exercise` runs the preprocessors that
``nbgrader generate_assignment`` runs (locking, clearing solutions, outputs and hidden tests,
checksums, metadata checks), minus the ones that need a course database, so
``python -m coursekit make-exercises`` writes exactly what ``generate_assignment`` releases.

Before nbgrader sees a notebook, :func:`lint_notebook` refuses what nbgrader would let
through to students or reject without saying where: near-miss markers (``### begin
solution``, an HTML-comment marker in a code cell), markers in raw cells, unclosed or nested
regions, and regions in cells without nbgrader metadata. Every error names the file, the
cell and the line. All notebooks are generated in memory before anything is written.

Command line: ``python -m coursekit make-exercises [--check]``.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from pathlib import Path

import nbformat

__all__ = ["make_exercise", "make_all_exercises", "lint_notebook", "SolutionMarkupError"]

# nbgrader's delimiters (substrings of a line, case-sensitive: see its ClearSolutions)
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
_EXACT = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
# anything that looks like a marker to a person: other case, other spacing
_LOOSE = re.compile(r"\b(begin|end)[\s_-]*(solution|hidden[\s_-]*tests?)\b", re.IGNORECASE)


class SolutionMarkupError(ValueError):
    """A solution notebook that nbgrader would leak or refuse; the message says where."""


def _where(name: str, index: int, line: int | None = None) -> str:
    return f"{name}, cell {index}" + (f", line {line}" if line is not None else "")


def _nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def lint_notebook(nb, *, name: str = "notebook") -> None:
    """Refuse solution markup that nbgrader would copy to students or reject.

    Raises
    ------
    SolutionMarkupError
        Naming the file, cell and line, and what to do.
    """
    for i, cell in enumerate(nb.cells):
        meta = _nbgrader_meta(cell)
        lines = cell.source.split("\n")
        open_region = None  # (kind, line number)
        for n, line in enumerate(lines, 1):
            loose = _LOOSE.search(line)
            exact = next((m for m in _EXACT if m in line), None)
            if not loose and not exact:
                continue
            where = _where(name, i, n)
            if cell.cell_type == "raw":
                raise SolutionMarkupError(
                    f"{where}: a solution or hidden-test marker in a raw cell; nbgrader does "
                    "not process raw cells, so the students would see it. Make it a code or "
                    "markdown cell."
                )
            if exact is None:
                raise SolutionMarkupError(
                    f"{where}: {line.strip()!r} looks like a marker but is not nbgrader's "
                    f"(exactly 'BEGIN SOLUTION', 'END SOLUTION', 'BEGIN HIDDEN TESTS' or 'END "
                    "HIDDEN TESTS', upper case); nbgrader would copy it and the solution to "
                    "the students"
                )
            if cell.cell_type == "code" and "<!--" in line:
                raise SolutionMarkupError(
                    f"{where}: an HTML-comment marker in a code cell; write '### {exact}'"
                )
            kind = "solution" if "SOLUTION" in exact else "hidden tests"
            if exact.startswith("BEGIN"):
                if open_region is not None:
                    raise SolutionMarkupError(
                        f"{where}: {exact} inside the {open_region[0]} region opened on line "
                        f"{open_region[1]}; close it first"
                    )
                open_region = (kind, n)
                needed = "solution" if kind == "solution" else "grade"
                if not meta.get(needed):
                    raise SolutionMarkupError(
                        f"{where}: a {kind} region in a cell without nbgrader metadata "
                        f"'{needed}: true' (nbgrader refuses it: 'Solution region detected in "
                        "a non-solution cell'); run scripts/nbgrader_metadata.py"
                    )
            else:
                if open_region is None or open_region[0] != kind:
                    raise SolutionMarkupError(f"{where}: {exact} without a matching BEGIN")
                open_region = None
        if open_region is not None:
            raise SolutionMarkupError(
                f"{_where(name, i, open_region[1])}: the {open_region[0]} region opened here "
                "is never closed"
            )


def _preprocessors():
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    # generate_assignment's list without IncludeHeaderFooter (no header), InstantiateTests
    # (no automatic tests) and SaveCells (the course database): same order
    return [
        LockCells(),
        ClearSolutions(),
        ClearOutput(),
        CheckCellMetadata(),
        ComputeChecksums(),
        ClearHiddenTests(),
        ClearMarkScheme(),
        ComputeChecksums(),
        CheckCellMetadata(),
    ]


def make_exercise(solution, *, name: str = "notebook"):
    """The student's notebook for one solution notebook (a new object; the input is kept).

    Raises
    ------
    SolutionMarkupError
        For markup nbgrader would leak or refuse (see :func:`lint_notebook`), or an error
        nbgrader raises, with the file name.
    """
    lint_notebook(solution, name=name)
    nb = copy.deepcopy(solution)
    resources: dict = {}
    try:
        for pre in _preprocessors():
            nb, resources = pre.preprocess(nb, resources)
    except Exception as exc:  # nbgrader's own refusal: say which file
        raise SolutionMarkupError(f"{name}: nbgrader refused the notebook: {exc}") from exc
    return nb


def _notebooks(solutions_dir: Path) -> list[Path]:
    if not solutions_dir.is_dir():
        raise FileNotFoundError(
            f"solutions folder {str(solutions_dir)!r} does not exist (run from the repository "
            "root, or pass --solutions PATH)"
        )
    paths = sorted(solutions_dir.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"solutions folder {str(solutions_dir)!r} holds no .ipynb files")
    return paths


def exercise_text(path: Path) -> str:
    """The exercise generated from the solution notebook at ``path``, as file text."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise SolutionMarkupError(f"{path}: not a readable notebook: {exc}") from exc
    return nbformat.writes(make_exercise(nb, name=str(path))) + "\n"


def make_all_exercises(
    solutions_dir="solutions", exercises_dir="exercises", *, check: bool = False
) -> list[Path]:
    """Write ``exercises/X.ipynb`` for every ``solutions/X.ipynb``.

    Every exercise is generated in memory first, so a broken notebook stops the run before
    anything is written; each file is written to a temporary file and moved into place.

    Parameters
    ----------
    solutions_dir, exercises_dir : str or os.PathLike
    check : bool
        Write nothing; return the exercises that are missing or differ (stale).

    Returns
    -------
    list of pathlib.Path
        The files written (or, with ``check``, the stale ones).

    Raises
    ------
    FileNotFoundError
        When the solutions folder is missing or holds no notebook.
    SolutionMarkupError
        For a notebook nbgrader would leak or refuse, naming file, cell and line.
    """
    sol, ex = Path(solutions_dir), Path(exercises_dir)
    texts = {ex / path.name: exercise_text(path) for path in _notebooks(sol)}
    changed = [
        target
        for target, text in texts.items()
        if not (target.exists() and target.read_text(encoding="utf-8") == text)
    ]
    if not check:
        ex.mkdir(parents=True, exist_ok=True)
        for target in changed:
            fd, tmp = tempfile.mkstemp(dir=ex, prefix=f".{target.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(texts[target])
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    return changed
