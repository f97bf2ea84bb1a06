#!/usr/bin/env bash
# Run ON THE GPU MACHINE (carry .devdeps, made here by scripts/device/fetch_deps.sh):
#   bash scripts/device/gpu_prefill_bench.sh
# Builds the benches and the CUDA suite (incremental when build-gpu/ survives), runs the CUDA
# tests named by CUDA_TESTS (default: the attention and batched-encoding ones), writes a
# random-weight model of the Llama-3-8B shape and runs bench/bench_prefill: block encoding one
# by one vs batched vs full prefill, the warm prefill phase by phase, and a decode step.
# Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devdeps/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bash scripts/device/gpu_build.sh make_random_model bench_prefill bench_ttft blockattn_cuda_tests \
    ${EXTRA_TARGETS:-} || exit 1
build-gpu/tests/blockattn_cuda_tests --gtest_filter="${CUDA_TESTS:-Attention*:*Batched*:*CpuVsCuda*}" \
    2>&1 | tail -60 | tee "$OUT/cuda_tests.log"
M=${MODEL:-/tmp/llama8b}
{
  [ -f $M/config.json ] || build-gpu/bench/make_random_model --out $M --vocab 128256 --hidden 4096 \
      --intermediate 14336 --layers 32 --heads 32 --kv-heads 8 --context 40960 --dtype bfloat16 \
      --tokenizer tests/fixtures/models/tiny-llama/tokenizer.json
  build-gpu/bench/bench_prefill --model $M --device cuda --blocks ${BLOCKS:-64} \
      --block-tokens ${BLOCK_TOKENS:-500} --repeats ${REPEATS:-5}
  nvidia-smi --query-gpu=memory.used --format=csv
} 2>&1 | tee "$OUT/prefill_bench.log"
