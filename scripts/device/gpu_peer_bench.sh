#!/usr/bin/env bash
# Run ON THE GPU MACHINE (carry .devdeps): blockattn against transformers on the same
# random-weight checkpoint of the Llama-3-8B shape and the same tokens, at 4K/8K/16K/32K
# (SWEEP block counts of 500 tokens + a 24-token question):
#   bash scripts/device/gpu_peer_bench.sh
# bench_prefill --sweep measures ours and writes the token ids; bench/peer_bench.py runs
# transformers (sdpa; the Block-Attention recipe cold and warm; generate) and prints both with
# ratios. Logs, peer.csv/peer.json and (with matplotlib) ttft_vs_context.png go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devdeps/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bash scripts/device/gpu_build.sh make_random_model bench_prefill || exit 1
M=${MODEL:-/tmp/llama8b}
[ -f $M/config.json ] || build-gpu/bench/make_random_model --out $M --vocab 128256 --hidden 4096 \
    --intermediate 14336 --layers 32 --heads 32 --kv-heads 8 --context 40960 --dtype bfloat16 \
    --tokenizer tests/fixtures/models/tiny-llama/tokenizer.json
{
  build-gpu/bench/bench_prefill --model $M --device cuda --blocks 64 --block-tokens 500 \
      --sweep ${SWEEP:-8,16,32,64} --json "$OUT/ours.json" --repeats ${REPEATS:-3}
  python3 bench/peer_bench.py --model $M --ours "$OUT/ours.json" --out "$OUT" \
      --repeats ${REPEATS:-3}
} 2>&1 | tee "$OUT/peer_bench.log"
