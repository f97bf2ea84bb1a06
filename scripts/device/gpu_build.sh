#!/usr/bin/env bash
# Run ON THE GPU MACHINE: configure and build build-gpu/ against PyTorch's libtorch (carry
# .devdeps, made here by scripts/device/fetch_deps.sh). Incremental when build-gpu/ survives.
# Usage: bash scripts/device/gpu_build.sh [ninja targets...]   (log: $OUT/build.log)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
# fetch_deps.sh ships the packages as one archive (Python's tarfile: the machine may lack xz).
if [ ! -d .devdeps/root ] && [ -s .devdeps/root.tar.xz ]; then
  python3 -c 'import tarfile as t; k = {"filter": "fully_trusted"} if hasattr(t, "data_filter") else {}
t.open(".devdeps/root.tar.xz").extractall(".devdeps", **k)'
fi
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PWD/.devdeps/root/usr" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DBLOCKATTN_WITH_SENTENCEPIECE=${WITH_SPM:-ON} >/dev/null
  time cmake --build build-gpu -j"$(nproc)" ${1:+--target "$@"}
} 2>&1 | tee -a "$OUT/build.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "BUILD FAILED"; exit 1; }
