"""Measure how long each course notebook takes to run top to bottom, and record it.

Usage::

    .venv/bin/python scripts/measure_notebooks.py                      # every lecture and solution
    .venv/bin/python scripts/measure_notebooks.py lectures/01_look_at_a_cell.ipynb
    .venv/bin/python scripts/measure_notebooks.py --label gpu ...      # a GPU machine's column

Each notebook is executed on a temporary copy (the repository's files are not touched) in a
fresh kernel from this environment. The wall-clock seconds go to ``docs/timings.json`` under
the label (``cpu`` by default) with the machine (cores, device, date); the table between the
``timings`` markers in ``docs/teaching.md`` is rewritten from that file, and the course
website's index shows the same numbers. Measure on an idle machine: a loaded one inflates
the times (the file records the load average at the start).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "docs" / "timings.json"
TEACHING = ROOT / "docs" / "teaching.md"
BEGIN, END = "<!-- timings:begin -->", "<!-- timings:end -->"


def _machine(label: str) -> dict:
    import coursekit

    info = coursekit.self_check()
    return {
        "label": label,
        "cores": os.cpu_count(),
        "device": info["device"],
        "torch": info["torch"],
        "python": platform.python_version(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "date": datetime.date.today().isoformat(),
    }


def run_notebook(path: Path, timeout: int = 3600) -> float:
    """Seconds to execute a copy of ``path`` (raises when a cell fails)."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        nb = nbformat.read(copy, as_version=4)
        env = {**os.environ, "MPLBACKEND": "agg", "PYTHONPATH": str(ROOT)}
        client = NotebookClient(
            nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": tmp}}
        )
        t0 = time.perf_counter()
        with client.setup_kernel(env=env):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
        return time.perf_counter() - t0


def load() -> dict:
    if TIMINGS.exists():
        return json.loads(TIMINGS.read_text(encoding="utf-8"))
    return {"about": "wall-clock seconds to run each notebook top to bottom", "runs": {}}


def table(data: dict) -> str:
    """Markdown table: one row per notebook, one column per label (cpu, gpu, ...)."""
    labels = sorted(data["runs"])
    names = sorted({nb for run in data["runs"].values() for nb in run["notebooks"]})
    head = "| notebook | " + " | ".join(
        f"{lab} ({data['runs'][lab]['machine']['cores']} cores, "
        f"{data['runs'][lab]['machine']['device']})"
        for lab in labels
    )
    lines = [head + " |", "| --- |" + " --- |" * len(labels)]
    for name in names:
        cells = []
        for lab in labels:
            s = data["runs"][lab]["notebooks"].get(name)
            cells.append("not measured" if s is None else f"{s / 60:.1f} min ({s:.0f} s)")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_teaching_table(data: dict) -> None:
    if not TEACHING.exists():
        return
    text = TEACHING.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    TEACHING.write_text(f"{head}{BEGIN}\n{table(data)}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--label", default="cpu", help="column name: cpu, gpu, ...")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(
        p for d in ("lectures", "solutions") for p in (ROOT / d).glob("*.ipynb")
    )
    data = load()
    run = data["runs"].setdefault(args.label, {"notebooks": {}})
    run["machine"] = _machine(args.label)
    for path in paths:
        rel = path.relative_to(ROOT).as_posix()
        seconds = run_notebook(path)
        run["notebooks"][rel] = round(seconds, 1)
        print(f"{rel}: {seconds:.0f} s", flush=True)
        TIMINGS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    write_teaching_table(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
