"""The lectures' real-data path: lecture 4 sections 1 to 3 and lecture 6 sections 1 to 3
with ``DATA = "isl"``, on the in silico labeling sample served by a local HTTP server
(skipped where the sample is absent).

nbval runs every lecture on the simulator; this runs the other branch of the switch, so both
paths are executed, asserts included. Only the sections that use the switch run (lecture 4's
3D section is simulator only)."""

from pathlib import Path

import pytest
from _shared import ISL_DIR

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

LECTURES = Path(__file__).resolve().parents[1] / "lectures"
SWITCH = 'DATA = "simulator"'


def _with_data_switch(path: Path, data: str, stop_at: str | None):
    """The notebook with its DATA switch set to ``data``, cut before the first cell that
    contains ``stop_at``."""
    nb = nbformat.read(path, as_version=4)
    setup = [c for c in nb.cells if c.cell_type == "code" and SWITCH in c.source]
    assert len(setup) == 1, f"{path.name}: expected one cell with {SWITCH!r}, found {len(setup)}"
    setup[0].source = setup[0].source.replace(SWITCH, f'DATA = "{data}"', 1)
    if stop_at is not None:
        k = next((i for i, c in enumerate(nb.cells) if stop_at in c.source), None)
        assert k is not None, f"{path.name}: no cell contains {stop_at!r}"
        nb.cells = nb.cells[:k]
    return nb


#: notebook, the first cell not run, texts its outputs must contain
REAL_PATHS = {
    "04": (
        "04_predicting_dna.ipynb",
        "## 4. Predictions are 3D",
        ("r (prediction, recorded DNA)", "no clean truth"),
    ),
    "06": (
        "06_small_data.ipynb",
        "## 4. Why the curve flattens",
        ("tiles of 96 x 96 px", "gain 1 -> 4 fields"),
    ),
}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 2 min each on an idle machine; 10 min and more under load
@pytest.mark.skipif(not ISL_DIR.is_dir(), reason=f"no local copy of the ISL sample at {ISL_DIR}")
@pytest.mark.parametrize("lecture", sorted(REAL_PATHS))
def test_lecture_on_the_real_sample(lecture, serve_directory, tmp_path, monkeypatch):
    name, stop_at, expected = REAL_PATHS[lecture]
    server = serve_directory(ISL_DIR.parent)  # mirror layout: <base>/<data set>/<file>
    monkeypatch.setenv("COURSEKIT_DATA_BASE_URL", server.url)
    monkeypatch.setenv("COURSEKIT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "agg")
    nb = _with_data_switch(LECTURES / name, "isl", stop_at)
    client = nbclient.NotebookClient(
        nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(LECTURES)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell and its assert message
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    missing = [text for text in expected if text not in outputs]
    assert not missing, f"{name} on the real sample should print {missing}"
    assert any("isl_condition_blue" in r for r in server.requests), server.requests[:3]
