"""Give every course notebook an "Open in Colab" badge, an install-if-missing first code
cell and the course kernelspec. Idempotent: run it again after adding or renaming notebooks.

Usage::

    .venv/bin/python scripts/add_colab_cells.py                    # lectures/, solutions/, exercises/
    .venv/bin/python scripts/add_colab_cells.py lectures/01_look_at_a_cell.ipynb
    .venv/bin/python scripts/add_colab_cells.py --check            # exit 1 when a notebook lacks them

What it writes (cells found again by their tag, so a rerun updates instead of duplicating):

- cell 0, markdown, tag ``colab-badge``: the Colab badge and the Binder link, built from
  ``[tool.coursekit] repository`` and ``branch`` in ``pyproject.toml`` (the one place that
  names the GitHub repository; a fork changes it there and reruns this script);
- cell 1, code, tag ``colab-install``: ``pip install`` of coursekit from that repository,
  only when ``import coursekit`` would fail (Colab); a no-op in ``make lab``, Binder, a
  JupyterHub or CI, where coursekit is installed;
- ``metadata.kernelspec``: name ``coursekit``, display name "Python (coursekit)", the kernel
  that ``make lab`` and ``binder/postBuild`` register, and ``metadata.language_info`` as the
  kernel reports it (Python version of this environment), so that a notebook does not open
  marked modified in JupyterLab (autosave would then rewrite it in git).

A solution notebook's badge opens the *exercise* of the same name: exercises/ is generated
from solutions/ cell by cell (``make exercises``), so the badge the exercise inherits must
already point at the exercise. Run this script on solutions/ before ``make exercises``; on
exercises/ it then changes nothing.

Stored outputs of other cells are kept; the notebook is rewritten only when it changes
(atomically, through a temporary file).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import sys
import tempfile
from pathlib import Path

import nbformat

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("lectures", "solutions", "exercises")
KERNELSPEC = {"name": "coursekit", "display_name": "Python (coursekit)", "language": "python"}
# What the kernel reports when JupyterLab connects (ipykernel's language_info). A notebook
# that stores less (no version, no nbconvert_exporter) is updated on opening and so opens
# marked modified, and autosave would rewrite it in git.
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": platform.python_version(),
}
BADGE_TAG = "colab-badge"
INSTALL_TAG = "colab-install"
COLAB_BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE_SVG = "https://mybinder.org/badge_logo.svg"


def repository(root: Path = ROOT) -> tuple[str, str]:
    """``(ORG/REPO, branch)`` from ``[tool.coursekit]`` in pyproject.toml."""
    conf = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    tool = conf.get("tool", {}).get("coursekit", {})
    try:
        return tool["repository"], tool["branch"]
    except KeyError as err:
        raise SystemExit(
            f"pyproject.toml: [tool.coursekit] needs 'repository' (ORG/REPO) and 'branch'; "
            f"missing {err}"
        ) from None


def badge_target(rel: Path) -> Path:
    """The notebook a badge opens: itself, or for a solution the generated exercise."""
    if rel.parts[0] == "solutions":
        return Path("exercises", *rel.parts[1:])
    return rel


def badge_source(rel: Path, repo: str, branch: str) -> str:
    target = badge_target(rel).as_posix()
    colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{target}"
    binder = f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{target}"
    return (
        f"[![Open In Colab]({COLAB_BADGE_SVG})]({colab}) "
        f"[![Launch Binder]({BINDER_BADGE_SVG})]({binder})"
    )


def install_source(repo: str, branch: str) -> str:
    return (
        "# Colab (or any Python without the course): install coursekit when it is missing.\n"
        "# Where coursekit is installed (make lab, Binder, a JupyterHub, CI) this does nothing.\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("coursekit") is None:\n'
        "    subprocess.check_call(\n"
        f'        [sys.executable, "-m", "pip", "install", "--quiet", '
        f'"coursekit @ git+https://github.com/{repo}@{branch}"]\n'
        "    )"
    )


def _tagged(nb, tag: str):
    for i, cell in enumerate(nb.cells):
        if tag in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def _put(nb, index: int, tag: str, cell_type: str, source: str) -> None:
    """Put a tagged cell at ``index``: update and move it if it exists, else insert it."""
    found = _tagged(nb, tag)
    if found is not None:
        cell = nb.cells.pop(found)
        if cell.cell_type != cell_type:
            cell = None
    else:
        cell = None
    if cell is None:
        maker = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
        cell = maker(source)
        cell.metadata["tags"] = [tag]
    if nb.nbformat_minor >= 5:
        cell["id"] = tag  # a fixed id: reruns and the exercise generator make no churn
    cell.source = source
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    nb.cells.insert(index, cell)


def apply(nb, rel: Path, repo: str, branch: str):
    """Return a copy of ``nb`` with the badge, the install cell and the kernelspec."""
    nb = copy.deepcopy(nb)
    _put(nb, 0, BADGE_TAG, "markdown", badge_source(rel, repo, branch))
    _put(nb, 1, INSTALL_TAG, "code", install_source(repo, branch))
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = copy.deepcopy(LANGUAGE_INFO)
    return nb


def problems(nb, rel: Path, repo: str, branch: str) -> list[str]:
    """What a notebook lacks (empty when it has the badge, the install cell, the kernel)."""
    out = []
    cells = nb.cells
    if not cells or BADGE_TAG not in cells[0].get("metadata", {}).get("tags", []):
        out.append("cell 0 is not the Colab badge cell")
    elif cells[0].source != badge_source(rel, repo, branch):
        out.append("the badge cell is out of date")
    if len(cells) < 2 or INSTALL_TAG not in cells[1].get("metadata", {}).get("tags", []):
        out.append("cell 1 is not the install-if-missing cell")
    elif cells[1].source != install_source(repo, branch):
        out.append("the install cell is out of date")
    ks = nb.metadata.get("kernelspec", {})
    if {k: ks.get(k) for k in KERNELSPEC} != KERNELSPEC:
        out.append(f"kernelspec is {ks!r}, expected {KERNELSPEC!r}")
    li = nb.metadata.get("language_info", {})
    if {k: li.get(k) for k in LANGUAGE_INFO if k != "version"} != {
        k: v for k, v in LANGUAGE_INFO.items() if k != "version"
    } or not li.get("version"):
        out.append(f"language_info is {li!r}: JupyterLab would mark the notebook modified")
    return out


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def course_notebooks(root: Path = ROOT) -> list[Path]:
    return sorted(p for d in FOLDERS for p in (root / d).glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every course notebook")
    parser.add_argument("--check", action="store_true", help="report, write nothing; exit 1")
    args = parser.parse_args(argv)
    repo, branch = repository()
    paths = [p.resolve() for p in args.notebooks] or course_notebooks()
    bad = 0
    for path in paths:
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in FOLDERS:
            raise SystemExit(f"{rel}: expected a notebook in one of {FOLDERS}")
        text = path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        if args.check:
            found = problems(nb, rel, repo, branch)
            for p in found:
                print(f"{rel}: {p}")
            bad += bool(found)
            continue
        new = nbformat.writes(apply(nb, rel, repo, branch)) + "\n"
        if new != text:
            _write_atomic(path, new)
            print(f"updated: {rel}")
    if args.check and bad:
        print(f"{bad} notebook(s) lack the Colab cells: run scripts/add_colab_cells.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
