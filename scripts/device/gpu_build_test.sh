#!/usr/bin/env bash
# Run ON THE GPU MACHINE (Ubuntu 24.04, CUDA 13, PyTorch 2.11's libtorch, no apt):
#   device run: bash scripts/device/gpu_build_test.sh      (carry: .devdeps)
# Builds against PyTorch's libtorch and runs the whole ctest suite, CUDA suite included.
# Logs go to $OUT (or ./gpu-out).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
bash scripts/device/gpu_build.sh || exit 1
(cd build-gpu && ctest -N -L cuda | tail -1 && ctest --output-on-failure -j4 2>&1) | tee "$OUT/ctest.log"
echo "ctest exit: ${PIPESTATUS[0]}"
