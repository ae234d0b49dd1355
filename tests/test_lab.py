"""`make lab` serves the course: JupyterLab starts from this environment, its API answers,
and the lecture folder opens. (A real server on 127.0.0.1, stopped at the end.)"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None,
    reason="jupyter not installed",
)
def test_jupyterlab_serves_the_lectures(tmp_path):
    port, token = _free_port(), "coursekit-test"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={ROOT}", "--allow-root",
        "--LabApp.default_url=/lab/tree/lectures",
    ]  # fmt: skip
    env_dir = tmp_path / "runtime"
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(env_dir)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    status = json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("JupyterLab did not start within 60 s") from None
                time.sleep(0.5)
        assert "started" in status
        with urllib.request.urlopen(f"{base}/api/contents/lectures?token={token}", timeout=5) as r:
            listing = json.load(r)
        assert listing["type"] == "directory"
        with urllib.request.urlopen(f"{base}/lab/tree/lectures?token={token}", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
