#!/usr/bin/env bash
# Run ON THE GPU MACHINE after gpu_build_test.sh (uses build-gpu/):
#   bash scripts/device/gpu_bench.sh
# Time to first token on CUDA (bf16) for a ~32K-token context in 64 blocks: block mode cold,
# warm (memory tier), warm from disk, and full attention; a Llama-3.2-1B-shaped random model
# (speed does not depend on weight values). Also the load-time peak RSS. Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
B=build-gpu/bench
TOK=tests/fixtures/models/tiny-llama/tokenizer.json
M=/tmp/llama1b
{
  [ -f $M/model.safetensors ] || $B/make_random_model --out $M --vocab 128256 --hidden 2048 --intermediate 8192 \
      --layers 16 --heads 32 --kv-heads 8 --context 40960 --dtype bfloat16 --tokenizer $TOK
  $B/bench_load --model $M --device cuda --dtype bfloat16
  rm -rf /tmp/bacache
  $B/bench_ttft --model $M --device cuda --blocks ${BLOCKS:-64} --block-tokens ${BLOCK_TOKENS:-500} \
      --cache-dir /tmp/bacache --repeats 5
} 2>&1 | tee "$OUT/bench.log"
