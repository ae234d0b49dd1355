"""Set the nbgrader cell metadata of the solution notebooks, reproducibly.

Usage::

    .venv/bin/python scripts/nbgrader_metadata.py             # every solutions/*.ipynb
    .venv/bin/python scripts/nbgrader_metadata.py --execute   # re-run them first (outputs)
    .venv/bin/python scripts/nbgrader_metadata.py --check     # exit 1 if a file would change

Rules (nbgrader schema 3), decided from each cell's text so nobody sets them by hand:

- a code cell with ``### BEGIN SOLUTION``: autograded answer (``solution: true``), grade id
  ``answer_<function or class defined>`` (else ``answer_<cell number>``);
- a code cell calling ``board.check("NAME", ...)``: autograder test, locked, grade id
  ``check_NAME``, points from the assignment's ``coursekit.grading.<module>.CHECKS``;
- a markdown cell with a solution region: manually graded answer, points from the
  ``(N points)`` in its visible text, grade id ``written_<k>``;
- every other cell: no nbgrader metadata (students may edit and run it freely).

The kernelspec is set to ``coursekit`` / ``Python (coursekit)``. With ``--execute`` each
notebook is first executed and cleaned by ``scripts/refresh_notebooks.py``.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "coursekit", "display_name": "Python (coursekit)", "language": "python"}
_CHECK = re.compile(r"""board\.check\(\s*["'](\w+)["']""")
_BOARD = re.compile(r"Scoreboard\(\s*(\w+)\.CHECKS\s*\)")
_DEF = re.compile(r"^(?:def|class)\s+(\w+)", re.MULTILINE)
_POINTS = re.compile(r"\((\d+(?:\.\d+)?) points?\)")


def _meta(*, grade: bool, solution: bool, locked: bool, grade_id: str, points=None) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def _checks_table(nb, name: str) -> dict:
    for cell in nb.cells:
        m = _BOARD.search(cell.source) if cell.cell_type == "code" else None
        if m:
            return importlib.import_module(f"coursekit.grading.{m.group(1)}").CHECKS
    raise SystemExit(f"{name}: no 'board = Scoreboard(<module>.CHECKS)' cell found")


def annotate(nb, *, name: str = "notebook"):
    """Set the nbgrader metadata and the kernelspec of ``nb`` in place; return it."""
    checks = _checks_table(nb, name)
    seen: set[str] = set()
    written = 0
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("nbgrader", None)
        src = cell.source
        meta = None
        if cell.cell_type == "code" and (m := _CHECK.search(src)):
            check = m.group(1)
            if check not in checks:
                raise SystemExit(f"{name}, cell {i}: no check {check!r} in {sorted(checks)}")
            meta = _meta(grade=True, solution=False, locked=True, grade_id=f"check_{check}",
                         points=checks[check].points)  # fmt: skip
        elif cell.cell_type == "code" and "BEGIN SOLUTION" in src:
            d = _DEF.search(src)
            meta = _meta(grade=False, solution=True, locked=False,
                         grade_id=f"answer_{d.group(1) if d else i}")  # fmt: skip
        elif cell.cell_type == "markdown" and "BEGIN SOLUTION" in src:
            written += 1
            p = _POINTS.search(src.split("BEGIN SOLUTION")[0])
            if not p:
                raise SystemExit(f"{name}, cell {i}: a written answer needs '(N points)' above it")
            meta = _meta(grade=True, solution=True, locked=False, grade_id=f"written_{written}",
                         points=float(p.group(1)))  # fmt: skip
        if meta is None:
            continue
        if meta["grade_id"] in seen:
            raise SystemExit(f"{name}, cell {i}: grade id {meta['grade_id']!r} used twice")
        seen.add(meta["grade_id"])
        cell.metadata["nbgrader"] = meta
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def _execute(path: Path, *, timeout: int) -> float:
    """Execute in place as scripts/refresh_notebooks.py does, with a per-cell timeout (a
    loaded machine trains slower than the default 600 s allows)."""
    import os
    import subprocess
    import time

    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           "--inplace", "--ExecutePreprocessor.kernel_name=python3",
           f"--ExecutePreprocessor.timeout={timeout}",
           "--ExecutePreprocessor.record_timing=False", str(path)]  # fmt: skip
    subprocess.run(cmd, check=True, env={**os.environ, "MPLBACKEND": "agg"})
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--execute", action="store_true", help="re-execute and clean first")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (--execute)")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "solutions").glob("*.ipynb"))
    stale = []
    for path in paths:
        if args.execute:
            sys.path.insert(0, str(ROOT / "scripts"))
            import refresh_notebooks

            seconds = _execute(path, timeout=args.timeout)
            problems = refresh_notebooks.clean(path)
            print(f"{path.name}: executed in {seconds:.0f} s")
            if problems:
                print("\n".join(f"  {p}" for p in problems))
                return 1
        before = path.read_text(encoding="utf-8")
        nb = annotate(nbformat.read(path, as_version=4), name=path.name)
        after = nbformat.writes(nb) + "\n"
        if after != before:
            stale.append(path)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    for path in stale:
        print(("stale: " if args.check else "updated: ") + str(path))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
