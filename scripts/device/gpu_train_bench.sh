#!/usr/bin/env bash
# Distillation throughput against pretraining's on the same model shape and sequence length,
# ON THE GPU MACHINE (random weights, bf16, one GPU): `bench_pretrain` (random tokens, causal LM)
# and `blockattn distill` (a frozen teacher of the same shape, block-attention student with span
# attention, sinks and block dropout), both full runs with AdamW.
#   device: bash scripts/device/gpu_train_bench.sh          (carry: .devdeps)
# Env: SHAPE (default "1b": Llama-3.2-1B's shape), SEQ (4096), BATCH (2), STEPS (12),
#      CKPT (activation checkpointing for both, default false).
# Results: $OUT/train-bench.log; the last line compares the two rates.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
SEQ=${SEQ:-4096}
BATCH=${BATCH:-2}
STEPS=${STEPS:-12}
CKPT=${CKPT:-false}
W=/tmp/train-bench
M=$W/model
mkdir -p "$OUT" "$W"
LOG="$OUT/train-bench.log"
bash scripts/device/gpu_build.sh make_random_model blockattn_cli bench_pretrain > "$W/build.log" 2>&1 ||
  { tail -30 "$W/build.log"; exit 1; }
TOK=tests/fixtures/models/tiny-llama/tokenizer.json
[ -f $M/config.json ] || build-gpu/bench/make_random_model --out $M --vocab 128256 --hidden 2048 \
    --intermediate 8192 --layers 16 --heads 32 --kv-heads 8 --context 16384 --dtype bfloat16 \
    --tokenizer $TOK > /dev/null
python3 - "$W" "$M" "$SEQ" "$BATCH" "$STEPS" "$CKPT" <<'EOF'
import json, sys
w, m, seq, batch, steps, ckpt = sys.argv[1:]
training = {"seq_len": int(seq), "batch_size": int(batch), "grad_accum": 1, "lr": 1e-4,
            "min_lr": 1e-5, "warmup_steps": 1, "total_steps": int(steps), "eval_every": 0,
            "checkpoint_every": 0, "seed": 1, "log_every": 1, "device": "cuda",
            "activation_checkpointing": ckpt == "true"}
model = json.load(open(f"{m}/config.json"))
json.dump({"model": model, "training": training}, open(f"{w}/pretrain.json", "w"))
json.dump({"training": training, "distill": {"sink_tokens": 4, "block_dropout": 0.5,
           "token_weighting": 0, "full_fraction": 0}}, open(f"{w}/distill.json", "w"))
EOF
python3 scripts/device/make_block_samples.py "$W/data" 64 bench
{
  echo "=== shape $(python3 -c "import json;c=json.load(open('$M/config.json'));print(c['hidden_size'],c['intermediate_size'],c['num_hidden_layers'],c['vocab_size'])") (hidden, intermediate, layers, vocab), seq $SEQ, batch $BATCH, activation checkpointing $CKPT"
  echo "--- pretrain (bench_pretrain, $STEPS steps, 10 warm-up)"
  build-gpu/bench/bench_pretrain --config "$W/pretrain.json" --tokenizer $TOK --steps $((STEPS + 10)) --device cuda 2>&1 | tail -3
  echo "--- distill ($STEPS steps)"
  rm -rf "$W/out"
  build-gpu/blockattn distill --teacher $M --data "$W/data" --out "$W/out" --config "$W/distill.json" \
    --max-steps $STEPS 2>&1 | grep -v "^step [0-9]*/.*eta" | tail -6
} > "$W/run.log" 2>&1
cat "$W/run.log" >> "$LOG"
P=$(grep -o "timed steps: [0-9.]* tokens/s" "$W/run.log" | head -1 | cut -d' ' -f3)
D=$(grep -o "[0-9.]* sample tokens/s" "$W/run.log" | tail -1 | cut -d' ' -f1)
python3 -c "p=float('${P:-0}' or 0); d=float('${D:-0}' or 0); print(f'SUMMARY pretrain {p:.0f} tokens/s, distill {d:.0f} sample tokens/s: distill/pretrain = {d/p if p else 0:.2f}')" >> "$LOG"
cat "$LOG"
