"""The installable package: ``python -m build`` makes a wheel and an sdist, and the wheel works
in a fresh virtual environment with no editable install and no repository on ``sys.path``.

The fresh venv (``python -m venv --without-pip``) gets the wheel with ``pip --no-deps``; its
dependencies (torch, numpy, ...) come from this environment's site-packages through a
``.pth`` line, so the test does not download torch again. That line adds a plain folder: the
``.pth`` files inside it (this environment's editable coursekit) are not processed, and the
venv's own site-packages comes first anyway; the test asserts that coursekit is imported
from the new venv. About 1.5 min on 2 CPU cores (build 20 s, the 5-step chain 30 s).
Run by ``.ci/run`` and ``make wheel``; not part of ``make test``.
"""

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.classroom

COURSE_FILES = sorted(
    p.relative_to(ROOT)
    for d in ("lectures", "exercises")
    for p in (ROOT / d).iterdir()
    if p.is_file() and p.suffix in (".ipynb", ".md")
) + [Path(n) for n in ("PROJECTS.md",) if (ROOT / n).is_file()]

CHAIN = """
import json, math
import coursekit
from coursekit.experiments import heldout_fields, predict_fields, score_fields, train_on_simulator

model, history = train_on_simulator(
    ("dna",), steps=5, progress=False, seed=0, field_shape=(96, 96), patch_shape=(32, 32),
    batch_size=2, patches_per_field=4, device="cpu",
)
fields = heldout_fields(1, (64, 64), seed=10_000, labels=("dna",))
predictions = predict_fields(model, fields, device="cpu")
table = score_fields(model, fields, ("dna",), predictions=predictions)
print(json.dumps({
    "file": coursekit.__file__,
    "last_step": history.steps[-1],
    "shape": list(predictions[0].shape),
    "rows": len(table),
    "pearson": float(table["pearson_recorded"].iloc[0]),
    "c_max": float(table["c_max"].iloc[0]),
    "datasets": [d.name for d in coursekit.datasets.list_datasets()],
}))
"""


def _clean_env() -> dict:
    """This environment without PYTHONPATH: the repository (and the coursekit.egg-info that
    the sdist step leaves in it) must not be visible to the fresh venv or to its pip."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _run(cmd, **kwargs):
    kwargs.setdefault("env", _clean_env())
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n"
        f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], timeout=900)
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"build made {sorted(out.iterdir())}"
    return wheels[0], sdists[0]


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh venv with the wheel installed; returns (python, site-packages, work folder)."""
    base = tmp_path_factory.mktemp("venv")
    env_dir = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], timeout=120)
    python = env_dir / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).strip()
    )
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(dist[0])],
        timeout=300,
    )  # fmt: skip
    # Dependencies only: this environment's site-packages, after the venv's own.
    shared = sysconfig.get_paths()["purelib"]
    (site / "zz_shared_dependencies.pth").write_text(shared + "\n")
    work = base / "work"
    work.mkdir()
    return python, site, work


def _in_venv(venv, *args, timeout=600):
    python, _, work = venv
    # -I: no PYTHONPATH, no user site, no current folder on sys.path.
    return _run([str(python), "-I", *args], cwd=work, timeout=timeout)


def test_wheel_holds_the_library_registry_and_course(dist):
    wheel, sdist = dist
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "coursekit/_registry/registry.json" in names, "the dataset registry is not packaged"
    assert "coursekit/models/unet.py" in names, "a library subpackage is missing"
    missing = [str(p) for p in COURSE_FILES if f"coursekit/_course/{p.as_posix()}" not in names]
    assert not missing, f"course files missing from the wheel: {missing}"
    stray = [n for n in names if n.startswith("coursekit/_course/") and n.endswith(".py")]
    assert not stray, f"Python files packaged as course data: {stray}"
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        in_sdist = set(tar.getnames())
    missing = [str(p) for p in COURSE_FILES if f"{top}/{p.as_posix()}" not in in_sdist]
    assert not missing, f"course files missing from the sdist: {missing}"


def test_installed_wheel_is_imported_not_the_repository(venv):
    _, site, _ = venv
    info = json.loads(_in_venv(venv, "-c", "import json,sys,coursekit;print(json.dumps("
                                           "{'file': coursekit.__file__, 'path': sys.path}))"))  # fmt: skip
    assert Path(info["file"]).is_relative_to(site), f"coursekit came from {info['file']}"
    # the dependencies come from this environment's site-packages, which may lie inside the
    # checkout (.venv/); any other path inside the checkout would import its sources
    deps = Path(sysconfig.get_paths()["purelib"]).resolve()
    on_path = [
        p
        for p in info["path"]
        if p
        and Path(p).resolve().is_relative_to(ROOT)
        and not Path(p).resolve().is_relative_to(deps)
    ]
    assert not on_path, f"the repository is on sys.path: {on_path}"


def test_python_m_coursekit_info(venv):
    info = json.loads(_in_venv(venv, "-m", "coursekit", "info"))
    assert info["coursekit"] and info["torch"] != "missing", info
    assert info["device"].split()[0] in ("cpu", "cuda", "mps"), info


def test_simulate_train_predict_evaluate_and_packaged_registry(venv):
    _, site, _ = venv
    out = json.loads(_in_venv(venv, "-c", CHAIN).strip().splitlines()[-1])
    assert Path(out["file"]).is_relative_to(site), f"coursekit came from {out['file']}"
    assert out["last_step"] == 5, f"trained for {out['last_step']} steps, asked for 5"
    assert out["shape"] == [1, 64, 64], f"prediction shape {out['shape']}"
    assert out["rows"] == 1 and -1.0 <= out["pearson"] <= 1.0, out
    assert 0.0 < out["c_max"] <= 1.0, f"noise ceiling {out['c_max']}"
    registry = json.loads((ROOT / "data" / "registry.json").read_text())
    assert out["datasets"], "list_datasets() is empty in the installed package"
    assert len(out["datasets"]) == len(registry["datasets"]), (out["datasets"], registry.keys())


def test_copy_course_from_the_installed_package(venv, tmp_path):
    dest = tmp_path / "my-course"
    _in_venv(venv, "-m", "coursekit", "copy-course", str(dest))
    for rel in COURSE_FILES:
        copied = dest / rel
        assert copied.is_file(), f"copy-course did not write {rel}"
        assert copied.read_bytes() == (ROOT / rel).read_bytes(), f"{rel} differs from the repo"
    # A student's edited file is kept on a second run.
    first = dest / COURSE_FILES[0]
    first.write_text("my work")
    second = _in_venv(venv, "-m", "coursekit", "copy-course", str(dest))
    assert first.read_text() == "my work", "copy-course overwrote an existing file"
    assert "kept" in second, second
