"""Re-execute the course notebooks and store clean outputs, so that nbval re-checks them.

Usage::

    .venv/bin/python scripts/refresh_notebooks.py                 # every lecture and solution
    .venv/bin/python scripts/refresh_notebooks.py lectures/01_look_at_a_cell.ipynb

Run it after a change to the library that changes what a notebook prints, then review the
diff. Hygiene (nbstripout-style, outputs kept): no execution timings, no widget state, only
cell tags kept in cell metadata, a fixed kernelspec; widget cells (marked
``# NBVAL_IGNORE_OUTPUT`` and calling a viewer) are stored without outputs, since a widget's
stored text is not what a person sees. A notebook whose run prints to stderr or raises is
reported and the script exits non-zero.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import add_colab_cells  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# the kernel that `make lab` registers (scripts/setup_env.sh): opening a notebook in JupyterLab
# then finds its kernel as stored and does not mark the notebook modified
KERNELSPEC = {"name": "coursekit", "display_name": "Python (coursekit)", "language": "python"}
WIDGET_CALLS = ("stack_viewer(", "compare_viewer(", "interact(")
LANGUAGE_KEYS = ("name", "mimetype", "file_extension", "codemirror_mode", "pygments_lexer")


def _is_widget_cell(cell) -> bool:
    return (
        cell.cell_type == "code"
        and "NBVAL_IGNORE_OUTPUT" in cell.source
        and any(w in cell.source for w in WIDGET_CALLS)
    )


def execute(path: Path, timeout: int = 1800) -> float:
    """Run the notebook top to bottom in a fresh kernel and store its outputs in place.

    Widget cells (marked ``# NBVAL_IGNORE_OUTPUT`` and calling a viewer) are stored without
    outputs anyway; nbclient can wait for an ``Output`` widget's messages until its timeout
    under the inline backend, so they are not run here (nbval runs them).
    """
    from nbclient import NotebookClient

    t0 = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    widget_sources = {}
    for i, cell in enumerate(nb.cells):
        if _is_widget_cell(cell):
            widget_sources[i] = cell.source
            # keep the imports and assignments; only the viewer calls are left to nbval
            cell.source = "\n".join(
                "pass  # viewer call: run by nbval, not by the refresh"
                if any(w in line for w in WIDGET_CALLS)
                and not line.lstrip().startswith(("from", "import"))
                else line
                for line in cell.source.splitlines()
            )
    os.environ["MPLBACKEND"] = "agg"
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    client.execute()
    for i, source in widget_sources.items():
        nb.cells[i].source = source
        nb.cells[i].outputs, nb.cells[i].execution_count = [], None
    nbformat.write(nb, path)
    return time.perf_counter() - t0


def clean(path: Path) -> list[str]:
    """Strip the metadata noise in place; return problems found in the outputs."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    li = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = {k: li[k] for k in LANGUAGE_KEYS if k in li}
    problems = []
    for i, cell in enumerate(nb.cells):
        # tags (nbval, the Colab cells) and nbgrader's cell metadata (solutions) are kept
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags", "nbgrader")}
        if cell.cell_type != "code":
            continue
        if "NBVAL_IGNORE_OUTPUT" in cell.source and any(w in cell.source for w in WIDGET_CALLS):
            cell.outputs, cell.execution_count = [], None
        for out in cell.outputs:
            out.get("metadata", {}).pop("execution", None)
            if out.get("name") == "stderr":
                problems.append(f"cell {i} writes to stderr: {out['text'][:200]!r}")
            if out.get("output_type") == "error":
                problems.append(f"cell {i} raises {out.get('ename')}")
    # the badge, the install-if-missing cell and the full language_info (scripts/add_colab_cells.py)
    nb = add_colab_cells.apply(nb, path.resolve().relative_to(ROOT), *add_colab_cells.repository())
    nbformat.write(nb, path)
    return problems


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(
        # solutions/ are executed by scripts/nbgrader_metadata.py --execute (nbgrader metadata)
        p
        for d in ("lectures",)
        for p in (ROOT / d).glob("*.ipynb")
    )
    failed = False
    for path in paths:
        seconds = execute(path)
        problems = clean(path)
        size = path.stat().st_size / 1e6
        print(f"{path.name}: executed in {seconds:.0f} s, {size:.2f} MB")
        for p in problems:
            print(f"  {p}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
