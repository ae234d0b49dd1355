#!/usr/bin/env bash
# Re-execute every lecture and solution notebook with nbval and compare stored outputs.
# No notebooks yet is not a failure; a failing notebook is.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mapfile -t nbs < <(find lectures solutions -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null | sort)
if [ ${#nbs[@]} -eq 0 ]; then
    echo "[notebooks] no notebooks in lectures/ or solutions/ yet: nothing to re-check"
    exit 0
fi
echo "[notebooks] nbval over ${#nbs[@]} notebooks"
# scripts/nbval_shared_data.py skips a notebook whose shared real-data sample is absent.
# MPLBACKEND keeps figures off-screen; the sanitize file masks timings and progress bars.
# One notebook at a time (NB_JOBS=1): training already uses both cores, and two torch
# processes on two cores slow each other down more than they gain.
MPLBACKEND=agg "$PY" -m pytest -q -p no:cacheprovider -n "${NB_JOBS:-1}" --dist loadfile --nbval --nbval-current-env \
    -p scripts.nbval_shared_data \
    --nbval-sanitize-with scripts/nbval_sanitize.cfg "${nbs[@]}"
