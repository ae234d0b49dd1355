#!/usr/bin/env bash
# Create (or reuse) .venv with coursekit installed editable, its test extras and a
# Jupyter kernel. Safe to run again: a warm .venv costs a few seconds.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
# The CPU build of torch 2.13.0 is what this course is tested with; installing it first
# keeps pip from resolving "torch>=2.2" to a multi-GB CUDA build on machines without a GPU.
TORCH_SPEC=${COURSEKIT_TORCH_SPEC:-torch==2.13.0}

# pip on some machines warns about missing local index folders; keep the log readable.
quiet_pip() { "$PY" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }; }

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "[setup] installing $TORCH_SPEC"
    quiet_pip install --quiet "$TORCH_SPEC"
fi

# Re-install only when the project metadata changed since the last set-up.
stamp="$VENV/.coursekit-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "[setup] installing coursekit (editable) with test extras"
    quiet_pip install --quiet -e ".[test]"
    "$PY" -m ipykernel install --sys-prefix --name coursekit --display-name "Python (coursekit)" >/dev/null
    touch "$stamp"
fi
echo "[setup] ready: $("$PY" -c 'import coursekit, torch; print("coursekit", coursekit.__version__, "| torch", torch.__version__)')"
