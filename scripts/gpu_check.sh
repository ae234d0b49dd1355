#!/usr/bin/env bash
# The checks that need a GPU, in one short run (about 3 min on one H100/H200):
# the model tests on CUDA, the demo on CUDA, the time-to-quality benchmark on CUDA.
# Run from the repository root on a machine with torch+CUDA; OUT (optional) collects files.
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
nvidia-smi -L || true
python3 -c "import coursekit, torch; print(coursekit.self_check(), torch.cuda.is_available())"
python3 -m pytest -q -p no:cacheprovider tests/test_unet.py tests/test_train.py tests/test_predict.py \
    tests/test_checkpoint.py tests/test_science.py 2>&1 | tail -4
python3 -m coursekit demo --out "$OUT/demo" --seconds 30 --device cuda 2>&1 | grep -v "step/s\|s/step\|it/s" | tail -45
python3 benchmarks/bench_models.py --device cuda --quick 2>&1 | tail -12
