#!/usr/bin/env bash
# Run ON THE GPU MACHINE (Ubuntu 24.04, CUDA 13, PyTorch 2.11's libtorch, no apt):
#   device run: bash scripts/device/gpu_build_test.sh      (carry: .devdeps)
# Builds against PyTorch's libtorch, runs the whole ctest suite with CUDA required, then the
# CUDA benchmarks. Logs go to $OUT (or ./gpu-out).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PWD/.devdeps/root/usr" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DBLOCKATTN_WITH_SENTENCEPIECE=${WITH_SPM:-ON}
  time cmake --build build-gpu -j"$(nproc)"
} 2>&1 | tee "$OUT/build.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "BUILD FAILED"; exit 1; }
(cd build-gpu && ctest -N -L cuda | tail -1 && ctest --output-on-failure -j4 2>&1) | tee "$OUT/ctest.log"
echo "ctest exit: ${PIPESTATUS[0]}"
