"""Exercises are generated from solutions: the regions, the errors, and that exercises/ in
this repository is up to date with solutions/."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from coursekit.exercises import (
    SolutionMarkupError,
    make_all_exercises,
    make_exercise,
    strip_solutions,
)

ROOT = Path(__file__).resolve().parents[1]


def test_code_region_becomes_a_stub_with_the_same_indentation():
    src = "def double(x):\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n    ### END SOLUTION\n"
    assert strip_solutions(src) == (
        "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )


def test_hidden_tests_are_removed_and_visible_code_kept():
    src = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(5) == 10\n### END HIDDEN TESTS\nprint('ok')"
    assert strip_solutions(src) == "assert f(1) == 2\nprint('ok')"


def test_markdown_answer_region():
    src = "Why?\n\n### BEGIN SOLUTION\nBecause the ceiling.\n### END SOLUTION"
    assert strip_solutions(src, "markdown") == "Why?\n\nYOUR ANSWER HERE"


@pytest.mark.parametrize(
    "src, message",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "line 2: END without a BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "line 2: BEGIN inside"),
    ],
)
def test_broken_regions_are_clear_errors(src, message):
    with pytest.raises(SolutionMarkupError, match=message):
        strip_solutions(src, where="lab.ipynb, cell 3")


def _solution_notebook():
    code = new_code_cell("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION", execution_count=4)
    code.outputs = [new_output("stream", name="stdout", text="2\n")]
    return new_notebook(
        cells=[
            new_markdown_cell("# Lab"),
            code,
            new_markdown_cell("### BEGIN SOLUTION\nA\n### END SOLUTION"),
        ]
    )


def test_make_exercise_clears_outputs_and_keeps_the_solution_intact():
    sol = _solution_notebook()
    ex = make_exercise(sol)
    assert ex.cells[1].source == "x = 1\n# YOUR CODE HERE\nraise NotImplementedError()"
    assert ex.cells[1].outputs == [] and ex.cells[1].execution_count is None
    assert ex.cells[2].source == "YOUR ANSWER HERE"
    assert "x = 2" in sol.cells[1].source and sol.cells[1].outputs  # input not modified


def test_make_all_exercises_writes_then_reports_nothing_stale(tmp_path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(_solution_notebook(), tmp_path / "solutions" / "lab.ipynb")
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    assert make_all_exercises(sol, ex, check=True) == [ex / "lab.ipynb"]
    assert make_all_exercises(sol, ex) == [ex / "lab.ipynb"]
    assert make_all_exercises(sol, ex, check=True) == []
    assert "NotImplementedError" in (ex / "lab.ipynb").read_text()


def test_exercises_in_this_repository_are_up_to_date():
    proc = subprocess.run(
        [sys.executable, "-m", "coursekit", "make-exercises", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
