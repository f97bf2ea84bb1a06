#!/usr/bin/env bash
# LoRA block distillation of an 8B-shaped model (random weights, Llama-3-8B shape, bf16) on ONE
# GPU, ON THE GPU MACHINE: peak device memory, sample tokens/s and MFU per sequence length.
#   device: bash scripts/device/gpu_lora_scale.sh            (carry: .devdeps)
# Env: SEQS (default "4096 8192"), STEPS (default 3), RANK (16), TARGETS (all-linear),
#      CKPT (activation checkpointing: "true" (default) or "false"; "both" runs each length twice).
# The teacher is the same frozen base with the adapter off: one copy of the 16 GB of weights.
# Results: $OUT/lora-scale.log (each run's output and a summary line per length).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
SEQS=${SEQS:-"4096 8192"}
STEPS=${STEPS:-3}
RANK=${RANK:-16}
TARGETS=${TARGETS:-all-linear}
CKPT=${CKPT:-true}
[ "$CKPT" = both ] && CKPT="false true"
M=${MODEL:-/tmp/llama8b}
W=/tmp/lora-scale
mkdir -p "$OUT" "$W"
LOG="$OUT/lora-scale.log"
bash scripts/device/gpu_build.sh make_random_model blockattn_cli > "$W/build.log" 2>&1 ||
  { tail -30 "$W/build.log"; exit 1; }
[ -f $M/config.json ] || build-gpu/bench/make_random_model --out $M --vocab 128256 --hidden 4096 \
    --intermediate 14336 --layers 32 --heads 32 --kv-heads 8 --context 40960 --dtype bfloat16 \
    --tokenizer tests/fixtures/models/tiny-llama/tokenizer.json > /dev/null
python3 scripts/device/make_block_samples.py "$W/data" 16 scale
N=$(python3 -c "import json;c=json.load(open('$M/config.json'));h=c['hidden_size'];i=c['intermediate_size'];l=c['num_hidden_layers'];v=c['vocab_size'];kv=c['num_key_value_heads']*h//c['num_attention_heads'];print(l*(2*h*h+2*h*kv+3*h*i)+2*v*h)")
for SEQ in $SEQS; do for C in $CKPT; do
  R=$SEQ-ckpt-$C
  cat > "$W/cfg-$R.json" <<EOF
{"training": {"seq_len": $SEQ, "batch_size": 1, "grad_accum": 1, "lr": 1e-4, "min_lr": 1e-5,
  "warmup_steps": 1, "total_steps": $STEPS, "eval_every": 0, "checkpoint_every": 0, "seed": 1,
  "log_every": 1, "device": "cuda", "activation_checkpointing": $C},
 "distill": {"sink_tokens": 4, "block_dropout": 0.5, "token_weighting": 0, "full_fraction": 0,
  "lora": {"r": $RANK, "lora_alpha": $((2 * RANK)), "target_modules": "$TARGETS"}}}
EOF
  rm -rf "$W/out-$R"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$W/mem-$R.txt" &
  SMI=$!
  T0=$(date +%s)
  build-gpu/blockattn distill --teacher $M --data "$W/data" --out "$W/out-$R" \
    --config "$W/cfg-$R.json" --max-steps $STEPS > "$W/run-$R.log" 2>&1
  RC=$?
  kill $SMI 2>/dev/null; wait $SMI 2>/dev/null
  PEAK=$(sort -n "$W/mem-$R.txt" | tail -1)
  { echo "=== seq $SEQ, activation checkpointing $C: rc $RC, $(( $(date +%s) - T0 )) s"; grep -v "^step [0-9]*/.*eta" "$W/run-$R.log" | tail -12; } >> "$LOG"
  TPS=$(grep -o "[0-9.]* sample tokens/s" "$W/run-$R.log" | tail -1 | cut -d' ' -f1)
  python3 - "$SEQ ckpt $C" "$RC" "${PEAK:-0}" "${TPS:-0}" "$N" >> "$LOG" <<'EOF'
import sys
seq, rc, peak, tps, n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4] or 0), float(sys.argv[5])
# Model FLOPs per sample token: student forward 2N + input-gradient backward 2N (the base is
# frozen, so no weight gradients) + the teacher's forward 2N = 6N; attention FLOPs not counted.
mfu = 6 * n * tps / 989e12
print(f"SUMMARY seq {seq}: rc {rc}, peak device memory {peak / 1024:.1f} GiB (nvidia-smi, "
      f"allocator cache included), {tps:.0f} sample tokens/s, MFU {100 * mfu:.1f}% of 989 TFLOP/s "
      f"(6N per token, N = {n / 1e9:.2f} B)")
EOF
done; done
cat "$LOG"
