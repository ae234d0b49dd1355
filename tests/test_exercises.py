"""Exercises are generated from solutions/ by nbgrader's own preprocessors: near-miss
markup is refused or handled as nbgrader does, errors say where, exercises/ is up to date,
each exercise stops at its first task, and nbgrader autogrades solutions and exercises."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from coursekit.exercises import (
    SolutionMarkupError,
    lint_notebook,
    make_all_exercises,
    make_exercise,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
VENV_BIN = Path(sys.executable).parent


def meta(*, solution=False, grade=False, grade_id="c1", points=None, locked=False):
    m = {"schema_version": 3, "solution": solution, "grade": grade, "locked": locked,
         "task": False, "grade_id": grade_id}  # fmt: skip
    if grade:
        m["points"] = points if points is not None else 1
    return {"nbgrader": m}


def notebook(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "coursekit", "display_name": "Python (coursekit)",
                                 "language": "python"}  # fmt: skip
    return nb


def answer(source, **kw):
    return new_code_cell(source, metadata=meta(solution=True, **kw))


# ----------------------------------------------------------------- nbgrader does the work
def test_solution_region_becomes_nbgraders_stub_with_indentation():
    nb = notebook(
        answer("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION")
    )
    ex = make_exercise(nb)
    assert ex.cells[0].source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert "return 2 * x" in nb.cells[0].source  # the input is kept
    assert ex.cells[0].metadata.nbgrader["checksum"]  # nbgrader's ComputeChecksums ran


def test_hidden_tests_removed_and_grade_cell_locked():
    cell = new_code_cell(
        "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(5) == 10\n### END HIDDEN TESTS",
        metadata=meta(grade=True, grade_id="t1", points=2),
    )
    ex = make_exercise(notebook(answer("### BEGIN SOLUTION\nf = abs\n### END SOLUTION"), cell))
    assert ex.cells[1].source == "assert f(1) == 2"
    assert ex.cells[1].metadata["editable"] is False  # nbgrader's LockCells


def test_markdown_answer_region():
    cell = new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION",
                             metadata=meta(solution=True, grade=True, points=2))  # fmt: skip
    assert make_exercise(notebook(cell)).cells[0].source == "Why?\n\nYOUR ANSWER HERE"


def test_whole_cell_solution_without_markers_is_replaced_whole_as_nbgrader_does():
    ex = make_exercise(notebook(answer("secret = 42")))
    assert ex.cells[0].source == "# YOUR CODE HERE\nraise NotImplementedError()"


def test_marker_with_trailing_text_is_a_marker_for_nbgrader_and_nothing_leaks():
    nb = notebook(answer("x = 1\n### BEGIN SOLUTION (hint: use numpy)\nx = 2\n### END SOLUTION"))
    src = make_exercise(nb).cells[0].source
    assert src == "x = 1\n# YOUR CODE HERE\nraise NotImplementedError()"
    assert "x = 2" not in src and "hint" not in src


def test_outputs_are_cleared():
    cell = answer("### BEGIN SOLUTION\nprint(2)\n### END SOLUTION")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    cell.execution_count = 3
    ex = make_exercise(notebook(cell))
    assert ex.cells[0].outputs == [] and ex.cells[0].execution_count is None


# ----------------------------------------------------------------- near misses are refused
@pytest.mark.parametrize(
    "cell, message",
    [
        (answer("x = 1\n### begin solution\nx = 2\n### end solution"),
         "cell 0, line 2: '### begin solution' looks like a marker but is not nbgrader's"),
        (answer("x = 1\n<!-- BEGIN SOLUTION -->\nx = 2\n<!-- END SOLUTION -->"),
         "cell 0, line 2: an HTML-comment marker in a code cell"),
        (new_raw_cell("### BEGIN SOLUTION\nsecret\n### END SOLUTION"),
         "cell 0, line 1: a solution or hidden-test marker in a raw cell"),
        (new_code_cell("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION"),
         "cell 0, line 2: a solution region in a cell without nbgrader metadata"),
        (answer("### BEGIN SOLUTION\nx = 2"), "cell 0, line 1: the solution region opened here is never closed"),
        (answer("x = 2\n### END SOLUTION"), "cell 0, line 2: END SOLUTION without a matching BEGIN"),
        (answer("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"), "cell 0, line 2: BEGIN SOLUTION inside"),
        (answer("### BEGIN SOLUTION\nx = 2\n### END SOLUTON"), "cell 0, line 1: the solution region opened here is never closed"),
        (answer("# Begin Hidden Tests\nassert x\n# End Hidden Tests"), "cell 0, line 1: '# Begin Hidden Tests' looks like"),
        (new_code_cell("### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS"),
         "cell 0, line 1: a hidden tests region in a cell without nbgrader metadata 'grade: true'"),
    ],
)  # fmt: skip
def test_near_miss_markup_is_an_error_naming_file_cell_and_line(cell, message):
    with pytest.raises(SolutionMarkupError, match="lab.ipynb, " + message.replace("(", r"\(")
                       .replace(")", r"\)")):  # fmt: skip
        make_exercise(notebook(cell), name="lab.ipynb")


def test_nbgrader_itself_refuses_a_region_in_a_cell_without_metadata():
    """What our lint says in advance is what nbgrader would say: the same notebook through
    nbgrader's ClearSolutions alone is refused."""
    from nbgrader.preprocessors import ClearSolutions

    nb = notebook(new_code_cell("### BEGIN SOLUTION\nx = 2\n### END SOLUTION"))
    with pytest.raises(RuntimeError, match="non-solution cell"):
        ClearSolutions().preprocess(nb, {})


def test_what_nbgrader_alone_would_leak_or_refuse_without_saying_where():
    """Why the lint exists: nbgrader copies lower-case markers (and the solution between them)
    unchanged from a cell without metadata, and refuses markers in a raw cell without naming
    the cell; lint_notebook refuses both, naming file, cell and line."""
    from nbgrader.preprocessors import ClearSolutions

    lower = new_code_cell("x = 1\n### begin solution\nx = 2\n### end solution")
    nb, _ = ClearSolutions().preprocess(notebook(answer("y = 0"), lower), {})
    assert "x = 2" in nb.cells[1].source  # leaked by nbgrader
    with pytest.raises(SolutionMarkupError, match="cell 1, line 2"):
        lint_notebook(notebook(answer("y = 0"), lower))

    def raw():
        return new_raw_cell("### BEGIN SOLUTION\nsecret\n### END SOLUTION")

    with pytest.raises(RuntimeError, match="non-solution cell"):
        ClearSolutions().preprocess(notebook(raw()), {})
    with pytest.raises(SolutionMarkupError, match="cell 0, line 1: .* raw cell"):
        lint_notebook(notebook(raw()))


# ----------------------------------------------------------------- folders and the CLI
def _write(folder: Path, name: str, nb) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


def test_make_all_writes_then_reports_nothing_stale(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    _write(sol, "lab.ipynb", notebook(answer("### BEGIN SOLUTION\nx = 2\n### END SOLUTION")))
    assert make_all_exercises(sol, ex, check=True) == [ex / "lab.ipynb"]
    assert not ex.exists()  # check writes nothing
    assert make_all_exercises(sol, ex) == [ex / "lab.ipynb"]
    assert make_all_exercises(sol, ex, check=True) == []
    assert "NotImplementedError" in (ex / "lab.ipynb").read_text()


def test_a_broken_notebook_stops_the_run_before_anything_is_written(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    _write(sol, "a_good.ipynb", notebook(answer("### BEGIN SOLUTION\nx = 2\n### END SOLUTION")))
    _write(sol, "b_bad.ipynb", notebook(answer("x\n### begin solution\nx = 2")))
    with pytest.raises(SolutionMarkupError, match="b_bad.ipynb, cell 0, line 2"):
        make_all_exercises(sol, ex)
    assert not ex.exists() or not any(ex.iterdir())


def test_unreadable_notebook_names_the_file(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "broken.ipynb").write_text("{not json")
    with pytest.raises(SolutionMarkupError, match="broken.ipynb: not a readable notebook"):
        make_all_exercises(tmp_path / "s", tmp_path / "e")


@pytest.mark.parametrize("make_folder", [False, True])
def test_missing_or_empty_solutions_folder_is_an_error_on_the_command_line(tmp_path, make_folder):
    sol = tmp_path / "solutionz"
    if make_folder:
        sol.mkdir()
    cmd = [sys.executable, "-m", "coursekit", "make-exercises", "--solutions", str(sol),
           "--exercises", str(tmp_path / "ex"), "--check"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert res.returncode == 2, res.stdout + res.stderr
    assert "solutionz" in res.stderr
    assert ("holds no .ipynb" if make_folder else "does not exist") in res.stderr


# ----------------------------------------------------------------- the course's notebooks
def test_there_are_solution_notebooks():
    assert len(SOLUTIONS) >= 3, [p.name for p in SOLUTIONS]


def test_exercises_folder_is_up_to_date_with_solutions():
    """(a) Regenerating from solutions/ reproduces exercises/ exactly."""
    stale = make_all_exercises(ROOT / "solutions", ROOT / "exercises", check=True)
    assert stale == [], (
        f"exercises/ is out of date: run `python -m coursekit make-exercises` ({stale})"
    )
    extra = {p.name for p in (ROOT / "exercises").glob("*.ipynb")} - {p.name for p in SOLUTIONS}
    assert not extra, f"exercises without a solution: {sorted(extra)}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_metadata_is_what_the_script_sets(path):
    sys.path.insert(0, str(ROOT / "scripts"))
    from nbgrader_metadata import annotate

    nb = nbformat.read(path, as_version=4)
    assert nbformat.writes(annotate(nbformat.read(path, as_version=4), name=path.name)) == (
        nbformat.writes(nb)
    ), f"{path.name}: run scripts/nbgrader_metadata.py"
    assert nb.metadata.kernelspec["name"] == "coursekit"
    assert nb.metadata.kernelspec["display_name"] == "Python (coursekit)"


@pytest.mark.parametrize("path", sorted((ROOT / "exercises").glob("*.ipynb")), ids=lambda p: p.name)
def test_exercises_have_no_outputs_and_no_solutions(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        assert "BEGIN SOLUTION" not in cell.source, f"{path.name}, cell {i}"
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}, cell {i}"


def _first_task_cells(nb) -> tuple[int, int]:
    """Index of the first solution cell and of the first check cell after it."""
    first = next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")
    )
    check = next(i for i, c in enumerate(nb.cells) if i > first
                 and c.metadata.get("nbgrader", {}).get("grade"))  # fmt: skip
    return first, check


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted((ROOT / "exercises").glob("*.ipynb")), ids=lambda p: p.name)
def test_exercise_run_as_is_stops_at_its_first_task_with_not_implemented(path, tmp_path):
    """(b) Run top to bottom, an untouched exercise raises the stub's NotImplementedError at
    its first task (the first check calls the unwritten function), not later and not with
    another error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    failed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.outputs)]  # fmt: skip
    first, check = _first_task_cells(nb)
    assert info.value.ename == "NotImplementedError", info.value
    assert len(failed) == 1 and first <= failed[0] <= check, (failed, first, check)


# ----------------------------------------------------------------- nbgrader, for real
def _course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.db_url = 'sqlite:///' + " + repr(str(course / "gradebook.db")) + "\n"
        "c.Execute.kernel_name = 'python3'\n"
        "c.Execute.timeout = 600\n"
        "c.ClearSolutions.code_stub = {'python': '# YOUR CODE HERE\\nraise NotImplementedError()'}\n"
    )
    return course


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT), "MPLBACKEND": "agg"}  # fmt: skip
    res = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def _scores(course: Path, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    """{grade id: (score, max)} of the autograded cells, read from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(assignment, student)
        return {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades
                if g.cell.cell_type == "code"}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_nbgrader_generate_and_autograde_full_marks_for_solutions_zero_for_exercises(
    path, tmp_path
):
    """(c) In a temporary course folder with its own gradebook, one assignment per notebook:
    generate_assignment releases exactly our exercise, autograde gives the solution full
    marks and the untouched exercise zero on every autograded cell."""
    course = _course(tmp_path)
    assignment = path.stem
    (course / "source" / assignment).mkdir()
    shutil.copy(path, course / "source" / assignment / path.name)
    # two nbgrader runs per assignment (each costs seconds of start-up): generate_assignment
    # adds the assignment to the gradebook and autograde the students it finds (nbgrader's
    # defaults create_assignment and create_student), both submissions in one autograde
    _nbgrader(course, "generate_assignment", assignment, "--force")
    released = course / "release" / assignment / path.name
    ours = nbformat.read(ROOT / "exercises" / path.name, as_version=4)
    theirs = nbformat.read(released, as_version=4)
    assert [c.source for c in ours.cells] == [c.source for c in theirs.cells]
    assert [c.metadata for c in ours.cells] == [c.metadata for c in theirs.cells]
    for student, source in (("teacher", path), ("untouched", released)):
        dest = course / "submitted" / student / assignment
        dest.mkdir(parents=True)
        shutil.copy(source, dest / path.name)
        (dest / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
    _nbgrader(course, "autograde", assignment, "--force")
    full = _scores(course, assignment, "teacher")
    zero = _scores(course, assignment, "untouched")
    assert full and all(s == m and m > 0 for s, m in full.values()), json.dumps(full)
    assert set(zero) == set(full)
    assert all(s == 0 for s, _ in zero.values()), json.dumps(zero)
