"""The course's table of lectures, from one source: the notebooks themselves.

Usage::

    .venv/bin/python scripts/course_index.py           # rewrite the README table and the index
    .venv/bin/python scripts/course_index.py --check   # exit 1 when either is out of date

Each row comes from a lecture notebook: its title (the first ``#`` heading), what a student
learns (the first sentence of each bullet of its "Summary" section) and its measured run time
(``docs/timings.json``, written by ``scripts/measure_notebooks.py``). The same table is
written to three places, so they cannot disagree:

- the README, between the ``lectures`` markers;
- ``lectures/README.md``, the lecture index beside the notebooks (in JupyterLab's file
  browser where ``make lab`` opens, and on the repository's web page of ``lectures/``);
- the course website's index (``scripts/build_site.py`` imports :func:`lectures_table`).

A lecture without a Summary section gets "(no Summary section)", which the test of this
script refuses.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "lectures" / "README.md"
README = ROOT / "README.md"
TIMINGS = ROOT / "docs" / "timings.json"
BEGIN, END = "<!-- lectures:begin -->", "<!-- lectures:end -->"
NO_SUMMARY = "(no Summary section)"

INDEX_INTRO = """\
# The course: deep learning for label-free microscopy

*Data science in cell imaging, Lecture 4: deep learning in microscopy*, made runnable.
Work through the parts in order; each notebook runs from top to bottom on a laptop CPU
(training budgets are in steps; a `LONG` switch at the top trains longer on a GPU).
The graded exercises are in `../exercises/`, the course projects in `../PROJECTS.md`;
in JupyterLab, right-click this file and choose "Open With > Markdown Preview" to follow
the links.
"""


def lecture_notebooks(root: Path = ROOT) -> list[Path]:
    """The lecture notebooks in course order."""
    return sorted((root / "lectures").glob("*.ipynb"))


def title(nb) -> str:
    """The notebook's first ``#`` heading."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return "(untitled)"


def goals(nb) -> list[str]:
    """The bullets of the notebook's "Summary" section (what a student takes away)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        m = re.search(r"^##\s+Summary.*$", cell.source, re.M)
        if m is None:
            continue
        bullets, current = [], None
        for line in cell.source[m.end() :].splitlines():
            if line.startswith("## "):
                break
            if line.startswith("- **Next"):  # a pointer to the next lecture, not a goal
                current = None
            elif line.startswith("- "):
                current = line[2:].strip()
                bullets.append(current)
            elif current is not None and line.startswith("  ") and line.strip():
                bullets[-1] += " " + line.strip()
        return bullets
    return []


def first_sentence(text: str) -> str:
    m = re.match(r"(.+?\.)(\s|$)", text)
    return (m.group(1) if m else text).replace("|", "\\|")


def load_timings(path: Path = TIMINGS) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def lectures_table(notebooks: list[Path], timings: dict, *, link=None) -> str:
    """A Markdown table: lecture (linked by ``link(path)``), learning goals, run times."""
    link = link or (lambda p: p.relative_to(ROOT).as_posix())
    runs = timings.get("runs", {})
    labels = sorted(runs)
    head = ["lecture", "what a student learns"] + [
        f"time, {lab} ({runs[lab]['machine']['cores']} cores)" for lab in labels
    ]
    if not labels:
        head.append("time")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(ROOT).as_posix()
        learn = "<br>".join(f"- {first_sentence(g)}" for g in goals(nb)) or NO_SUMMARY
        times = []
        for lab in labels:
            s = runs[lab]["notebooks"].get(rel)
            times.append("not yet measured" if s is None else f"{s / 60:.1f} min")
        times = times or ["not yet measured"]
        lines.append(f"| [{title(nb)}]({link(path)}) | {learn} | " + " | ".join(times) + " |")
    return "\n".join(lines) + "\n"


def readme_text(current: str, table: str) -> str:
    if BEGIN not in current or END not in current:
        raise SystemExit(f"README.md: the markers {BEGIN} and {END} are missing")
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def index_text(table: str) -> str:
    return (
        INDEX_INTRO
        + "\n"
        + table
        + "\nThis page is generated from the notebooks by `scripts/course_index.py`; edit a\n"
        + "notebook's title or Summary section, then run the script.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    args = parser.parse_args(argv)
    notebooks = lecture_notebooks()
    timings = load_timings()
    readme_table = lectures_table(notebooks, timings)
    index_table = lectures_table(notebooks, timings, link=lambda p: p.name)
    want = {
        README: readme_text(README.read_text(), readme_table),
        INDEX: index_text(index_table),
    }
    stale = [p for p, text in want.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"{p.relative_to(ROOT)} is out of date: run scripts/course_index.py")
        return 1 if stale else 0
    for p in stale:
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(want[p])
        tmp.replace(p)
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
