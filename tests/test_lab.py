"""`make lab` serves the course: JupyterLab starts from this environment, its API answers,
and the lecture folder opens. (A real server on 127.0.0.1, stopped at the end.)
Then what a class uses beside `make lab`: the Colab cells of every notebook, the Binder
configuration and the kernel the README names."""

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
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
        deadline = time.monotonic() + 180  # a loaded CI machine starts it slowly
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    status = json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("JupyterLab did not start within 180 s") from None
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


# --- Colab and Binder -------------------------------------------------------------------------
# Every course notebook starts with an "Open in Colab" badge and an install-if-missing cell
# (written by scripts/add_colab_cells.py), and names the kernel the README names.


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


colab = _load_script("add_colab_cells")
REPO, BRANCH = colab.repository(ROOT)
COURSE_NOTEBOOKS = colab.course_notebooks(ROOT)


def test_readme_names_the_kernel_the_notebooks_declare():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert colab.KERNELSPEC["display_name"] in readme, "README does not name the course kernel"
    assert f"--name {colab.KERNELSPEC['name']}" in readme, "README registers another kernel name"


@pytest.mark.parametrize(
    "path", COURSE_NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in COURSE_NOTEBOOKS]
)
def test_notebook_has_colab_badge_install_cell_and_course_kernel(path):
    nb = nbformat.read(path, as_version=4)
    found = colab.problems(nb, path.relative_to(ROOT), REPO, BRANCH)
    assert not found, f"{path.name}: {found}; run `python scripts/add_colab_cells.py`"


def test_colab_script_is_idempotent_and_keeps_the_other_cells(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1")]
    rel = Path("solutions") / "01_data.ipynb"
    once = colab.apply(nb, rel, REPO, BRANCH)
    twice = colab.apply(once, rel, REPO, BRANCH)
    assert nbformat.writes(once) == nbformat.writes(twice), "a second run changed the notebook"
    assert [c.source for c in twice.cells[2:]] == ["# Title", "x = 1"], "other cells changed"
    assert colab.problems(twice, rel, REPO, BRANCH) == [], "the script's output fails its check"
    # A solution's badge opens the generated exercise, which inherits the cell unchanged.
    assert f"blob/{BRANCH}/exercises/01_data.ipynb" in twice.cells[0].source
    assert colab.problems(twice, Path("exercises") / "01_data.ipynb", REPO, BRANCH) == []
    assert colab.problems(nb, rel, REPO, BRANCH), "the check passes a notebook without cells"


# A fresh kernel: record any process the install cell would start instead of starting it.
_RECORD_CALLS = """
import importlib.util, json, os, subprocess
CALLS = []
def _recorder(name):
    def record(*args, **kwargs):
        CALLS.append([name, [str(a) for a in (args[0] if args else kwargs.get("args", []))]])
        return 0
    return record
for _name in ("run", "call", "check_call", "check_output", "Popen"):
    setattr(subprocess, _name, _recorder(_name))
os.system = _recorder("os.system")
"""
_HIDE_COURSEKIT = """
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a, **k: None if name == "coursekit" else _find_spec(name, *a, **k)
"""


def _run_in_fresh_kernel(cells: list[str]) -> list:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    NotebookClient(nb, kernel_name="python3", timeout=120).execute(env=env)
    return nb.cells


def test_install_cell_does_nothing_where_coursekit_is_installed():
    lecture = nbformat.read(ROOT / "lectures" / "01_look_at_a_cell.ipynb", as_version=4)
    install = lecture.cells[1].source
    assert "colab-install" in lecture.cells[1].metadata.get("tags", []), "cell 1 is not it"
    report = 'import coursekit; print(json.dumps({"calls": CALLS, "file": coursekit.__file__}))'
    cells = _run_in_fresh_kernel([_RECORD_CALLS, install, report, _HIDE_COURSEKIT, install, report])
    assert cells[1].outputs == [], f"the install cell printed: {cells[1].outputs}"
    first = json.loads(cells[2].outputs[0]["text"])
    assert first["calls"] == [], f"the install cell started a process: {first['calls']}"
    assert first["file"].startswith(str(ROOT)), f"coursekit came from {first['file']}"
    # Control: where coursekit is missing, the same cell does call pip (recorded, not run).
    second = json.loads(cells[5].outputs[0]["text"])
    assert len(second["calls"]) == 1, f"expected one pip call, got {second['calls']}"
    argv = second["calls"][0][1]
    assert argv[1:4] == ["-m", "pip", "install"], f"not a pip install: {argv}"
    assert argv[-1] == f"coursekit @ git+https://github.com/{REPO}@{BRANCH}", argv


def _torch_spec(lines) -> str:
    specs = [ln.strip() for ln in lines if re.match(r"^\s*torch\s*[=<>~!]", ln)]
    assert len(specs) == 1, f"expected one torch requirement, got {specs}"
    return specs[0].replace(" ", "")


def test_binder_pins_the_torch_of_the_readme_and_registers_the_kernel():
    spec = _torch_spec((ROOT / "binder" / "requirements.txt").read_text().splitlines())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"pip install {spec}" in readme, f"README does not install {spec}"
    setup = (ROOT / "scripts" / "setup_env.sh").read_text()
    assert f"COURSEKIT_TORCH_SPEC:-{spec}" in setup, f"setup_env.sh does not default to {spec}"
    reqs = (ROOT / "binder" / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in reqs, "Binder must take the CPU build of torch"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK), "postBuild must be executable"
    ks = colab.KERNELSPEC
    assert f'--name {ks["name"]} --display-name "{ks["display_name"]}"' in post, post
    badge = f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}"
    assert badge in readme, f"README has no launch-Binder badge for {REPO} ({badge})"
    assert f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/" in readme


def _reachable(host: str, port: int = 443) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


@pytest.mark.classroom
def test_binder_requirements_resolve_with_pip(tmp_path):
    """What Binder installs (binder/requirements.txt, then the package in postBuild) resolves
    from scratch (--ignore-installed), with the pinned torch. The CPU index may be unreachable
    from a sandbox: then pip falls back to PyPI and the test says so."""
    if not _reachable("pypi.org"):
        pytest.skip("pypi.org is unreachable: cannot check that binder/requirements.txt resolves")
    cpu_index = _reachable("download.pytorch.org")
    requirements = ROOT / "binder" / "requirements.txt"
    if not cpu_index:  # pip would try that index for every package: leave it out, say so
        lines = requirements.read_text().splitlines()
        requirements = tmp_path / "requirements-without-cpu-index.txt"
        requirements.write_text("\n".join(ln for ln in lines if "download.pytorch.org" not in ln))
    report = tmp_path / "report.json"
    cmd = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
        "--retries", "0", "--timeout", "20", "--report", str(report),
        "-r", str(requirements), str(ROOT),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"pip could not resolve Binder's requirements:\n{done.stderr[-3000:]}"
    )
    chosen = {i["metadata"]["name"].lower(): i for i in json.loads(report.read_text())["install"]}
    spec = _torch_spec((ROOT / "binder" / "requirements.txt").read_text().splitlines())
    version = chosen["torch"]["metadata"]["version"]
    assert version.split("+")[0] == spec.split("==")[1], f"pip chose torch {version} for {spec}"
    assert "coursekit" in chosen, "the package itself was not part of the resolution"
    if not cpu_index:
        print("download.pytorch.org unreachable: torch resolved from the other indexes only")
