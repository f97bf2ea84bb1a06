#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test suite:
#   1. the whole ctest suite (libtorch engine + torch-free parts),
#   2. the torch-free suites again under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. every libFuzzer target for FUZZ_SECONDS (default 30) each (scripts/fuzz.sh; SKIP_FUZZ=1
#      skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j"${JOBS:-2}")
if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBLOCKATTN_WITH_TORCH=OFF \
      -DBLOCKATTN_BUILD_BENCH=OFF -DBLOCKATTN_SANITIZE=ON
  fi
  cmake --build build-asan -j"${JOBS:-$(nproc)}"
  (cd build-asan && ctest --output-on-failure -j"${JOBS:-2}")
fi
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
