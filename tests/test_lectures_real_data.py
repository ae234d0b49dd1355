"""The lectures' real-data path: lecture 4 sections 1 to 3 with ``DATA = "isl"``, on the in
silico labeling sample served by a local HTTP server (skipped where the sample is absent).

nbval runs every lecture on the simulator; this runs the other branch of the switch, so both
paths are executed. Only the sections that use the switch run (the 3D section is simulator
only)."""

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


@pytest.mark.slow
@pytest.mark.skipif(not ISL_DIR.is_dir(), reason=f"no local copy of the ISL sample at {ISL_DIR}")
def test_lecture_04_on_the_real_sample(serve_directory, tmp_path, monkeypatch):
    server = serve_directory(ISL_DIR.parent)  # mirror layout: <base>/<data set>/<file>
    monkeypatch.setenv("COURSEKIT_DATA_BASE_URL", server.url)
    monkeypatch.setenv("COURSEKIT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "agg")
    nb = _with_data_switch(LECTURES / "04_predicting_dna.ipynb", "isl", "## 4. Predictions are 3D")
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(LECTURES)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell and its assert message
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "r (prediction, recorded DNA)" in outputs, "the real path should print its score"
    assert "no clean truth" in outputs, "the real path should say it cannot measure the noise"
    assert any("isl_condition_blue" in r for r in server.requests), server.requests[:3]
