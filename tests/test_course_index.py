"""The lecture table (README, lectures/README.md, the website) is generated from the notebooks."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import course_index  # noqa: E402


def test_readme_and_lecture_index_are_up_to_date():
    assert course_index.main(["--check"]) == 0, (
        "README.md or lectures/README.md differs from the notebooks: run "
        "scripts/course_index.py and commit the result"
    )


def test_every_lecture_is_listed_with_its_goals():
    notebooks = course_index.lecture_notebooks()
    assert notebooks, "no lecture notebooks found"
    index = course_index.INDEX.read_text()
    readme = (ROOT / "README.md").read_text()
    for path in notebooks:
        assert f"]({path.name})" in index, f"{path.name} is not linked from lectures/README.md"
        assert f"](lectures/{path.name})" in readme, f"{path.name} is not in the README table"
    assert course_index.NO_SUMMARY not in index, (
        "a lecture has no '## Summary' section: its learning goals come from there"
    )


def test_goals_read_the_summary_bullets_only(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lecture 4, part 9: A title\n\ntext"),
        nbformat.v4.new_markdown_cell(
            "Closing words.\n\n## Summary\n\n- First goal. More words\n  on a second line.\n"
            "- **Next**: lecture 10.\n- Second goal\n\n## Try it\n\n- not a goal\n"
        ),
    ]
    assert course_index.title(nb) == "Lecture 4, part 9: A title"
    assert course_index.goals(nb) == ["First goal. More words on a second line.", "Second goal"]
