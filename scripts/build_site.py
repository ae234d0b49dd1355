"""Build the course website: static HTML of every lecture notebook (stored outputs, nothing
re-executed), the projects page, the instructor guide and the API reference.

Usage::

    .venv/bin/python scripts/build_site.py --out build/site      # make site

Sphinx + myst-nb (the ``site`` extra). The sources are staged in a temporary folder:
``docs/site/`` (conf.py, index.md), the notebooks of ``lectures/``, the projects page
(``PROJECTS.md`` or ``lectures/projects.md``, when present), ``docs/teaching.md``, and two
generated pages: the lecture table on the index (title, what a student learns: the
notebook's "Summary" bullets, and the measured run time from ``docs/timings.json``) and the
API reference (autodoc over every submodule ``coursekit`` advertises). Open
``OUT/index.html`` in a browser. Exit status non-zero when Sphinx fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_index import lecture_notebooks, lectures_table, load_timings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SITE_SRC = ROOT / "docs" / "site"
PROJECT_PAGES = ("PROJECTS.md", "lectures/projects.md")
SUBPACKAGES = ("microscope", "models", "metrics")


def api_page() -> str:
    import coursekit

    modules = [f"coursekit.{m}" for m in coursekit._SUBMODULES]
    lines = [
        "# API reference",
        "",
        "The helpers the notebooks use, from their docstrings (NumPy style: shapes, units,",
        "an example). `import coursekit` is cheap: submodules load on first use.",
        "",
        "```{eval-rst}",
        ".. automodule:: coursekit",
        "   :members: self_check",
        "```",
        "",
    ]
    for mod in modules:
        lines += [f"## `{mod}`", "", "```{eval-rst}", f".. automodule:: {mod}", "```", ""]
    return "\n".join(lines)


def course_toc(projects: bool) -> str:
    pages = (["projects"] if projects else []) + ["teaching", "api"]
    return "```{toctree}\n:maxdepth: 1\n:caption: The course\n\n" + "\n".join(pages) + "\n```\n"


def stage(src: Path) -> list[Path]:
    """Copy the site sources into ``src``; return the lecture notebooks staged."""
    shutil.copytree(SITE_SRC, src, ignore=shutil.ignore_patterns("_build", "__pycache__"))
    notebooks = lecture_notebooks()
    (src / "lectures").mkdir()
    for path in notebooks:
        # The reader of a web page installs nothing: the Colab install cell is left out.
        nb = nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if "colab-install" not in c.metadata.get("tags", [])]
        nbformat.write(nb, src / "lectures" / path.name)
    projects = next((ROOT / p for p in PROJECT_PAGES if (ROOT / p).is_file()), None)
    if projects is not None:
        shutil.copy(projects, src / "projects.md")
    teaching = ROOT / "docs" / "teaching.md"
    if teaching.is_file():
        shutil.copy(teaching, src / "teaching.md")
    table = lectures_table(notebooks, load_timings(), link=lambda p: f"lectures/{p.stem}.ipynb")
    (src / "_lectures_table.md").write_text(table)
    (src / "api.md").write_text(api_page())
    index = (src / "index.md").read_text()
    index = re.sub(
        r"```\{toctree\}\n:maxdepth: 1\n:caption: The course\n.*?```\n",
        course_toc(projects is not None),
        index,
        flags=re.S,
    )
    (src / "index.md").write_text(index)
    return notebooks


def build(out: Path, *, quiet: bool = True) -> int:
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="coursekit-site-") as tmp:
        src = Path(tmp) / "src"
        stage(src)
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "--keep-going", "-j", "1"]
        cmd += ["-q"] if quiet else []
        cmd += ["-d", str(Path(tmp) / "doctrees"), str(src), str(out)]
        env = {**os.environ, "COURSEKIT_SITE_ROOT": str(ROOT), "MPLBACKEND": "agg"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        done = subprocess.run(cmd, env=env)
    if done.returncode == 0:
        print(f"site: {out / 'index.html'}")
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--verbose", action="store_true", help="Sphinx's full log")
    args = parser.parse_args(argv)
    return build(args.out, quiet=not args.verbose)


if __name__ == "__main__":
    sys.exit(main())
