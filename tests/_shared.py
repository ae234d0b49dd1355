"""Where the read-only shared data lie for tests: beside the checkout (``../shared``), as
on the developers' machines and in CI, or where ``COURSEKIT_TEST_ISL_DIR`` points. Tests that
need them skip when they are absent."""

import os
from pathlib import Path


def _find_isl_sample() -> Path:
    env = os.environ.get("COURSEKIT_TEST_ISL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "isl_condition_blue"


#: The real in silico labeling sample (Christiansen et al. 2018), 16 PNG files.
ISL_DIR = _find_isl_sample()
