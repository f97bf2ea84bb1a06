#!/usr/bin/env bash
# Run ON THE GPU MACHINE (carry .devdeps, made here by scripts/device/fetch_deps.sh):
#   bash scripts/device/gpu_server_bench.sh
# Builds the CLI (incremental when build-gpu/ survives), writes a random-weight model of the
# Llama-3-8B shape (speed does not depend on the values), starts `blockattn serve` on it (bf16,
# 16 slots, 16 GiB block memory tier) and runs bench/server_bench.py: TTFT of a 32K context in 64
# blocks cold / warm / reordered / full attention through the server, the server's overhead over
# the engine, and decode tokens/s at 1, 4 and 16 concurrent streams. Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devdeps/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bash scripts/device/gpu_build.sh blockattn_cli make_random_model ${EXTRA_TARGETS:-} || exit 1
if [ -n "${CUDA_TESTS:-}" ]; then  # e.g. CUDA_TESTS='AttentionAfterPrefix*:CpuVsCuda*' (needs EXTRA_TARGETS=blockattn_cuda_tests)
  build-gpu/tests/blockattn_cuda_tests --gtest_filter="$CUDA_TESTS" 2>&1 | tail -40 | tee "$OUT/cuda_tests.log"
fi
B=build-gpu
M=${MODEL:-/tmp/llama8b}
PORT=18080
{
  ldd $B/blockattn | grep -E "httplib|ssl|brotli|not found"
  [ -f $M/config.json ] || $B/bench/make_random_model --out $M --vocab 128256 --hidden 4096 --intermediate 14336 \
      --layers 32 --heads 32 --kv-heads 8 --context 40960 --dtype bfloat16 \
      --tokenizer tests/fixtures/models/tiny-llama/tokenizer.json
  run_bench() {  # $1: label; the rest: server environment
    local label=$1; shift
    echo "== $label"
    env "$@" $B/blockattn serve -m $M --port $PORT --device cuda --parallel 16 --memory-cache-mb ${MEMORY_MB:-16384} \
        --segmenter none > "$OUT/serve-$label.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 600); do
      curl -sf http://127.0.0.1:$PORT/health >/dev/null 2>&1 && break
      kill -0 $SERVER 2>/dev/null || { echo "server exited"; cat "$OUT/serve-$label.log"; return 1; }
      sleep 0.5
    done
    PYTHONUNBUFFERED=1 python3 bench/server_bench.py --url http://127.0.0.1:$PORT --blocks ${BLOCKS:-64} \
        --block-tokens ${BLOCK_TOKENS:-500} --streams ${STREAMS:-1,4,16} --decode-tokens ${DECODE_TOKENS:-64}
    curl -s http://127.0.0.1:$PORT/metrics | grep -E "^blockattn_(block_cache|requests_finished|generated)"
    nvidia-smi --query-gpu=memory.used --format=csv
    kill -TERM $SERVER
    wait $SERVER
    echo "server exit status $?"
    tail -3 "$OUT/serve-$label.log"
  }
  run_bench default
  # The same with cuDNN's SDPA allowed (libtorch's own choice), for comparison.
  if [ "${COMPARE_CUDNN:-1}" = 1 ]; then STREAMS=1,4 run_bench cudnn-sdpa BLOCKATTN_SDPA_CUDNN=1; fi
} 2>&1 | tee "$OUT/server_bench.log"
