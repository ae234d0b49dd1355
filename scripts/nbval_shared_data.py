"""A pytest plugin for nbval over the lectures (``-p scripts.nbval_shared_data``, loaded by
``scripts/run_notebooks.sh``): a notebook that needs the shared real-data sample is skipped,
with its reason, where the sample is absent (CI and the developers' machines have it beside
the checkout as ``../shared``; a fresh clone elsewhere does not). Its stored outputs are then
not re-checked here, rather than failing on a download it cannot make.

A plugin rather than ``lectures/conftest.py``: lectures/ ships in the wheel as course data,
where a Python file does not belong (tests/test_wheel.py checks it)."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: notebook file name -> the data set it reads from SHARED_DATA
NEEDS_SHARED_DATA = {"09b_isl_real_data.ipynb": "isl_condition_blue"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = Path(str(getattr(item, "path", item.fspath))).name
        dataset = NEEDS_SHARED_DATA.get(name)
        if dataset and not (SHARED_DATA / dataset).is_dir():
            item.add_marker(
                pytest.mark.skip(reason=f"{name} needs the shared sample {SHARED_DATA / dataset}")
            )
