"""The package as a whole: metadata, lazy imports, command line."""

import subprocess
import sys
from importlib import metadata

import pytest

import coursekit


def test_version_matches_the_installed_metadata():
    assert coursekit.__version__ == metadata.version("coursekit")


def test_torch_requirement_is_a_range_not_a_pin():
    # Users share torch with other packages: pyproject must not pin it (the set-up script does).
    deps = metadata.requires("coursekit")
    torch_dep = [d for d in deps if d.replace(" ", "").startswith("torch") and "extra" not in d]
    assert torch_dep and "==" not in torch_dep[0] and ">=" in torch_dep[0]


def test_self_check_reports_versions_and_device():
    info = coursekit.self_check()
    assert info["coursekit"] == coursekit.__version__
    assert info["torch"] != "missing"
    assert info["device"].split()[0] in {"cpu", "cuda", "mps"}


def test_unknown_attribute_is_a_clear_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_module'"):
        coursekit.not_a_module  # noqa: B018


def test_command_line_info_prints_json():
    out = subprocess.run(
        [sys.executable, "-m", "coursekit", "info"], capture_output=True, text=True, check=True
    ).stdout
    assert '"coursekit"' in out and coursekit.__version__ in out


def test_command_line_rejects_unknown_command():
    proc = subprocess.run(
        [sys.executable, "-m", "coursekit", "frobnicate"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "invalid choice" in proc.stderr


@pytest.mark.parametrize("name", coursekit._SUBMODULES)
def test_every_advertised_submodule_imports(name):
    assert getattr(coursekit, name).__name__ == f"coursekit.{name}"


def test_import_coursekit_does_not_import_torch():
    # the course's first cell and the command line stay fast: torch loads only when needed
    code = "import sys, coursekit, coursekit.microscope; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
