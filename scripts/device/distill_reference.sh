#!/usr/bin/env bash
# Block distillation of the reference model, its baseline and ablations, and the evaluation table,
# ON THE GPU MACHINE (kind nvidia-h200-x2: single-GPU runs share the two GPUs, stage ddp uses both).
#   here:   bash scripts/reference/prepare_distill_data.sh      (-> .devdata/distill)
#   device: bash scripts/device/distill_reference.sh STAGES      (carry: .devdeps .devdata/distill)
# STAGES, comma-separated, in order: probe, data, sft, runs, lora, eval, ddp, pack (default: all but
# probe, sft and lora). Stage sft: supervised QA fine-tuning of the pretrained base in full
# attention (configs/sft-10m-h200.json: CE on the final block, i.e. question + answer, of synthetic
# QA samples with the train pools, plus corpus block samples), into runs/sft/model, which then is
# the TEACHER of every later stage (and of blockft: the model it fine-tunes). Stage lora: LoRA
# distillation at ranks LORA_RANKS (default "8 16 64", configs/lora/, the distill run's token
# budget), each adapter merged into runs/lora-rN/model for the suite; to put them in the table:
# SUITE_A="blockft distill lora-r8" SUITE_B="lora-r16 lora-r64". Stage pack also returns the
# adapters (results.tar.gz: adapters/lora-rN/).
# Runs of one stage may be split over concurrent calls of this script on one machine (ONLY=NAME,
# LORA_RANKS=R, SKIP_BUILD=1 after a first call has built): a 10M-parameter run leaves most of an
# H200 idle.
# Every stage skips work whose output exists, so a call cut short can be repeated on a warm machine.
# Results: $OUT/results.tar.gz (logs, suite-{a,b}.{md,json}, metrics) and $OUT/model-NAME.tar.part-*
# for each run named in PACK (default distill) — stage pack; without it they stay in $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
W=${WORK:-/tmp/distill}
STAGES=${1:-data,runs,eval,ddp,pack}
STEPS=${STEPS:-}             # overrides training.total_steps of every run (quick trials)
# The teacher is the full-attention base model. models/blockattn-10m is now its distilled version:
# check the base out for the call (git checkout 66c9897 -- models/blockattn-10m, then
# git checkout HEAD -- models/blockattn-10m afterwards) or point TEACHER at a copy.
TEACHER=${TEACHER:-models/blockattn-10m}
if grep -q '"block_sink_tokens": *[1-9]' "$TEACHER/config.json"; then
  echo "error: $TEACHER was trained with block sinks (already distilled); use the full-attention base as TEACHER"
  exit 1
fi
BA=build-gpu/blockattn
mkdir -p "$OUT" "$W/logs" "$W/src" "$W/data/train" "$W/data/validation" "$W/runs" "$W/cfg"
stamp() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/timeline.log"; }
has() { [[ ",$STAGES," == *",$1,"* ]]; }

# SKIP_BUILD=1: build-gpu/ is already built (concurrent calls of this script after a first one).
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/device/gpu_build.sh blockattn_cli > /dev/null || { tail -30 "$OUT/build.log"; exit 1; }
  stamp "built"
fi

if has probe; then
  TI=$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"include"))')
  ls -d "$TI"/gloo 2>&1 | head -2
  python3 -c 'import nvidia.nccl,os;print(os.path.dirname(nvidia.nccl.__file__))' 2>&1 | tail -1
  find / -name nccl.h -not -path '*/proc/*' 2>/dev/null | head -3
  grep -i "c10d" "$OUT/build.log" | tail -2
fi

# synth_blocks DIR PREFIX SEED TASK:PASSAGES:N...: synthetic QA block samples (train pools) into
# DIR/PREFIX-TASK-PASSAGES-K.jsonl, cut into jobs of <= 1000 items run nproc at a time (one job
# writes ~15 items/s, so 27,500 items in one job per spec would take ~6 minutes).
synth_blocks() {
  local dir=$1 prefix=$2 seed=$3 spec task p n k f running=0 failed=0
  shift 3
  for spec in "$@"; do
    IFS=: read -r task p n <<<"$spec"
    for ((k = 0; k * 1000 < n; k++)); do
      f="$dir/$prefix-$task-$p-$k.jsonl"
      seed=$((seed + 1))
      [ -s "$f" ] && continue
      "$BA" -q synth --format blocks --corpus "$W/src/passages.jsonl" --tokenizer "$TEACHER" --task "$task" \
        --passages "$p" --n $((n - k * 1000 < 1000 ? n - k * 1000 : 1000)) --seed "$seed" --out "$f.tmp" \
        > "$W/logs/$(basename "$f" .jsonl).log" 2>&1 && mv "$f.tmp" "$f" &
      running=$((running + 1))
      if [ "$running" -ge "$(nproc)" ]; then wait -n || failed=1; running=$((running - 1)); fi
    done
  done
  while [ "$running" -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done
  [ "$failed" = 0 ] || { echo "a synth job failed:"; grep -h error "$W"/logs/$prefix-*.log | head -3; return 1; }
}

if has data; then
  for f in .devdata/distill/*.jsonl.xz; do
    b=$(basename "$f" .xz)
    [ -s "$W/src/$b" ] || python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$f" "$W/src/$b"
  done
  cp -n "$W/src/train-docs.jsonl" "$W/data/train/docs.jsonl"
  cp -n "$W/src/validation-docs.jsonl" "$W/data/validation/docs.jsonl"
  # QA block samples from the training split's names and values (evaluation uses the other pool).
  synth_blocks "$W/data/train" qa 500 retrieval:8:${QA_N:-1500} retrieval:16:${QA_N:-1500} \
    two-facts:8:${QA_N:-1500} distractors:8:${QA_N:-1500} far:8:${QA_N:-1500} qa:8:${QA_N:-1500} || exit 1
  wc -l "$W"/data/train/*.jsonl "$W"/data/validation/*.jsonl | tee -a "$OUT/timeline.log"
  stamp "data ready"
fi

# run NAME METHOD CONFIG GPU [extra args]; RUN_DATA (default $W/data) and RUN_MODEL (default
# $TEACHER) override the data and the teacher/model of one call.
run() {
  local name=$1 method=$2 config=$3 gpu=$4
  shift 4
  [ -s "$W/runs/$name/model/config.json" ] && return 0
  [[ -n "${ONLY:-}" && " $ONLY " != *" $name "* ]] && return 0  # ONLY="distill blockft": a subset
  local cfg="$W/cfg/$name.json"
  python3 - "$config" "$cfg" "$STEPS" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
if sys.argv[3]:
    c["training"]["total_steps"] = int(sys.argv[3])
json.dump(c, open(sys.argv[2], "w"))
PY
  local who=--teacher
  [ "$method" = blockft ] && who=--model
  CUDA_VISIBLE_DEVICES=$gpu "$BA" "$method" $who "${RUN_MODEL:-$TEACHER}" --data "${RUN_DATA:-$W/data}" \
    --config "$cfg" --out "$W/runs/$name" \
    --max-shard-mb 15 --resume "$@" > "$OUT/run-$name.log" 2>&1 || { echo "run $name failed:"; tail -5 "$OUT/run-$name.log"; }
}

if has sft; then
  # Supervised QA data: more and harder items than the distillation mix (the skills pretraining
  # left weak: two hops, near-miss keys, varied wording, abstention), the corpus block samples so
  # that language modelling is kept, and the distillation validation set.
  [ -s "$W/data/train/docs.jsonl" ] || { echo "error: stage sft needs stage data (this call or an earlier one)"; exit 1; }
  mkdir -p "$W/sft/train" "$W/sft/validation"
  ln -sf "$W/data/train/docs.jsonl" "$W/sft/train/docs.jsonl"
  ln -sf "$W/data/validation/docs.jsonl" "$W/sft/validation/docs.jsonl"
  synth_blocks "$W/sft/train" sft 700 qa:4:4000 qa:8:8000 qa:16:4000 two-facts:8:5000 two-facts:16:2000 \
    distractors:8:5000 distractors:16:2000 retrieval:8:1500 retrieval:16:1000 far:8:1000 || exit 1
  wc -l "$W"/sft/train/*.jsonl | tail -1 | tee -a "$OUT/timeline.log"
  RUN_DATA=$W/sft run sft blockft configs/sft-10m-h200.json 0
  grep -E "^blockft:|done:|validation" "$OUT/run-sft.log" | sed "s/^/sft: /" | tail -4 | tee -a "$OUT/timeline.log"
  [ -s "$W/runs/sft/model/config.json" ] || { echo "sft did not finish"; exit 1; }
  stamp "sft done"
  # Returned at once (a later stage may run into the call's time limit): it is every later
  # stage's teacher.
  ls "$OUT"/model-sft.tar.part-* > /dev/null 2>&1 ||
    tar -C "$W/runs/sft" -cf - model | split -b 15M - "$OUT/model-sft.tar.part-"
fi
# After stage sft (this call or an earlier one on this machine), its model is the teacher.
[ -s "$W/runs/sft/model/config.json" ] && TEACHER=$W/runs/sft/model

if has runs; then
  NGPU=$(nvidia-smi -L | wc -l)
  G1=$((NGPU > 1 ? 1 : 0))
  # Balanced by measured cost (trial: distill and no-sinks ~0.6 s/step, no-dropout 0.35, no-weighting 0.3, blockft 0.2).
  ( run distill distill configs/distill-10m-h200.json 0
    run blockft blockft configs/blockft-10m-h200.json 0
    run no-dropout distill configs/ablations/distill-no-dropout.json 0 ) &
  ( run no-sinks distill configs/ablations/distill-no-sinks.json $G1
    run no-weighting distill configs/ablations/distill-no-weighting.json $G1 ) &
  wait
  for r in distill blockft no-sinks no-dropout no-weighting; do
    grep -E "^(distill|blockft):|done:|validation" "$OUT/run-$r.log" | sed "s/^/$r: /" | tail -4
  done | tee -a "$OUT/timeline.log"
  stamp "runs done"
fi

if has lora; then
  for r in ${LORA_RANKS:-8 16 64}; do
    name=lora-r$r
    run $name distill configs/lora/distill-10m-lora-r$r.json 0
    if [ -s "$W/runs/$name/adapter/adapter_config.json" ] && [ ! -s "$W/runs/$name/model/config.json" ]; then
      "$BA" adapter merge --model "$TEACHER" --adapter "$W/runs/$name/adapter" --out "$W/runs/$name/model" \
        > "$OUT/merge-$name.log" 2>&1 || { echo "merge $name failed:"; tail -3 "$OUT/merge-$name.log"; }
    fi
    grep -E "^(distill|LoRA):|done:|validation" "$OUT/run-$name.log" | sed "s/^/$name: /" | tail -4 | tee -a "$OUT/timeline.log"
  done
  stamp "lora done"
fi

if has eval; then
  SUITE="--corpus $W/src/test.jsonl --segdata $W/src/segdata-test.jsonl --n ${EVAL_N:-200} --needle-n ${NEEDLE_N:-20}"
  m() { [ -s "$W/runs/$1/model/config.json" ] && printf ',%s=%s' "$1" "$W/runs/$1/model"; }  # no newline
  # Two halves, one per GPU, merged below (SUITE_A / SUITE_B: run names of each half; SUITE_B=""
  # runs one half only, SUITE_A="" SUITE_B="" scores the teacher alone).
  NGPU=$(nvidia-smi -L | wc -l)
  SA=${SUITE_A-blockft distill}
  SB=${SUITE_B-no-sinks no-dropout no-weighting}
  CUDA_VISIBLE_DEVICES=0 $BA eval --suite --models "teacher=$TEACHER$(for r in $SA; do m $r; done)" $SUITE \
    --json "$OUT/suite-a.json" > "$OUT/suite-a.md" 2> "$OUT/suite-a.log" &
  reports=$OUT/suite-a.json
  if [ -n "$SB" ]; then
    CUDA_VISIBLE_DEVICES=$((NGPU > 1 ? 1 : 0)) $BA eval --suite \
      --models "teacher=$TEACHER$(for r in $SB; do m $r; done)" $SUITE \
      --json "$OUT/suite-b.json" > "$OUT/suite-b.md" 2> "$OUT/suite-b.log" &
    reports=$reports,$OUT/suite-b.json
  fi
  wait
  $BA eval --suite-report "$reports" | tee "$OUT/suite.md"
  stamp "eval done"
fi

if has ddp; then
  # The distill run again on two GPUs (NCCL), same global batch: its loss curve against run-distill.
  NGPU=$(nvidia-smi -L | wc -l)
  if [ "$NGPU" -ge 2 ]; then
    run distill-2gpu distill configs/distill-10m-h200.json 0,1 --nproc 2
    # The 1-GPU curve: this machine's run, or DDP_REF (a metrics.jsonl kept from an earlier call).
    REF=${DDP_REF:-$W/runs/distill/metrics.jsonl}
    [ -s "$REF" ] || run distill distill configs/distill-10m-h200.json 0
    python3 - "$REF" "$W/runs/distill-2gpu/metrics.jsonl" <<'PY' | tee "$OUT/ddp-compare.txt"
import json, sys
def steps(p):
    out = {}
    for line in open(p):
        j = json.loads(line)
        if "loss" in j and "step" in j and "tokens_per_s" in j:
            out[j["step"]] = (j["loss"], j["tokens_per_s"])
    return out
a, b = steps(sys.argv[1]), steps(sys.argv[2])
common = sorted(set(a) & set(b))
print("step  loss(1 GPU)  loss(2 GPUs)  |diff|")
for s in common:
    print(f"{s:5d}  {a[s][0]:.6f}  {b[s][0]:.6f}  {abs(a[s][0]-b[s][0]):.2e}")
print(f"max |diff| {max(abs(a[s][0]-b[s][0]) for s in common):.2e} over {len(common)} logged steps")
print(f"throughput (last logged step): 1 GPU {a[common[-1]][1]:.0f} tok/s, 2 GPUs {b[common[-1]][1]:.0f} tok/s, "
      f"speed-up {b[common[-1]][1]/a[common[-1]][1]:.2f}x")
PY
  else
    echo "ddp: only $NGPU GPU here" | tee "$OUT/ddp-compare.txt"
  fi
  stamp "ddp done"
fi

if has pack; then
  # $OUT takes at most 8 files: the models as 15 MB tar parts, everything else in one archive.
  for r in ${PACK:-distill}; do
    [ -d "$W/runs/$r/model" ] && ! ls "$OUT/model-$r.tar.part-"* > /dev/null 2>&1 &&
      tar -C "$W/runs/$r" -cf - model | split -b 15M - "$OUT/model-$r.tar.part-"
  done
  for r in ${LORA_RANKS:-8 16 64}; do
    [ -d "$W/runs/lora-r$r/adapter" ] && mkdir -p "$OUT/adapters" && cp -r "$W/runs/lora-r$r/adapter" "$OUT/adapters/lora-r$r"
  done
  for r in sft distill blockft no-sinks no-dropout no-weighting distill-2gpu lora-r8 lora-r16 lora-r64; do
    cp "$W/runs/$r/metrics.jsonl" "$OUT/metrics-$r.jsonl" 2>/dev/null
  done
  (cd "$OUT" && tar czf /tmp/results.tar.gz --exclude='model-*' . &&
    find . -mindepth 1 -maxdepth 1 ! -name 'model-*' -exec rm -rf {} + && mv /tmp/results.tar.gz .)
  ls -la "$OUT"
fi
