#!/usr/bin/env bash
# The default model (models/blockattn-10m), end to end, ON THE GPU MACHINE:
#   here:   bash scripts/reference/prepare_data.sh          (makes .devdata/ref, git-ignored)
#   device: bash scripts/device/train_reference.sh          (carry: .devdeps .devdata/ref)
# Resumable: every stage is skipped when its output exists (the machine keeps ignored files
# while it stays warm), and pretraining resumes from its checkpoint, so re-running the same
# command after a 10-minute cut continues where it stopped. Results land in $OUT:
#   model-0000{1,2}-of-00002.safetensors (bf16 shards <= 15 MiB), results.tar.gz (config, index,
#   metrics.jsonl, eval JSON, logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
W=${WORK:-/tmp/ref}
MODEL=models/blockattn-10m
CONFIG=configs/reference-10m-h200.json
MAX_MINUTES=${MAX_MINUTES:-6.5}
EVAL=${EVAL:-1}  # 0: skip the per-task evaluation below (~6.5 minutes; `eval --suite` on the CPU covers it)
mkdir -p "$OUT" "$W/corpus" "$W/synth" "$W/eval" "$W/logs"
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

bash scripts/device/gpu_build.sh blockattn_cli >/dev/null
BA=$PWD/build-gpu/blockattn
stamp "built"

unxz() { python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2] + '.tmp','wb')); import os; os.rename(sys.argv[2] + '.tmp', sys.argv[2])" "$1" "$2"; }
for f in train validation test; do
  [ -s "$W/corpus/$f.jsonl" ] || unxz .devdata/ref/$f.jsonl.xz "$W/corpus/$f.jsonl"
done
stamp "corpus unpacked"

# Synthetic tasks (train split pools): 17 jobs in parallel, ~2500 items each. The qa jobs are
# the varied extractive QA task (train templates and entities, 20% unanswerable); the eval split
# of its templates is what `eval --suite`'s qa-varied column measures.
if [ ! -s "$W/data/synth/dataset.json" ]; then
  jobs=()
  i=0
  for spec in retrieval:4:200 retrieval:8:200 retrieval:12:200 retrieval:16:200 retrieval:8:100 retrieval:16:100 \
              retrieval:24:100 far:8:200 far:16:200 distractors:8:200 distractors:16:200 two-facts:8:200 \
              two-facts:16:200 two-facts:12:100 qa:4:200 qa:8:200 qa:16:200; do
    IFS=: read -r task n tok <<<"$spec"
    i=$((i + 1))
    "$BA" -q synth --corpus "$W/corpus/train.jsonl" --tokenizer "$MODEL" --task "$task" --passages "$n" \
      --passage-tokens "$tok" --n 2500 --seed $((100 + i)) --split train --out "$W/synth/$i.jsonl" > "$W/logs/synth-$i.log" 2>&1 &
    jobs+=($!)
  done
  [ -s "$W/data/corpus/dataset.json" ] || "$BA" shard --tokenizer $MODEL/tokenizer.model --in "$W/corpus/train.jsonl" \
      --out "$W/data/corpus" --validation-every 50 --threads 4 > "$W/logs/shard-corpus.log" 2>&1
  for j in "${jobs[@]}"; do
    wait "$j" || { echo "a synth job failed:"; grep -h error "$W"/logs/synth-*.log; exit 1; }
  done
  stamp "synth written"
  "$BA" shard --tokenizer $MODEL/tokenizer.model --in "$(ls "$W"/synth/*.jsonl | paste -sd,)" \
      --out "$W/data/synth" --validation-every 200 --threads "$(nproc)" > "$W/logs/shard-synth.log" 2>&1
fi
tail -q -n 1 "$W/logs/shard-corpus.log" "$W/logs/shard-synth.log"
stamp "shards ready"

"$BA" pretrain --config $CONFIG --data "$W/data" --out "$W/run" --resume --max-minutes "$MAX_MINUTES" \
  --max-shard-mb 15 2>&1 | tee -a "$W/logs/pretrain.log" | grep -v "^step [0-9]*/" || true
stamp "pretrain command ended"
if [ ! -s "$W/run/model/config.json" ]; then
  echo "NOT FINISHED: re-run this script to resume"
  tar czf "$OUT/results.tar.gz" -C "$W" logs run/metrics.jsonl
  exit 0
fi

M="$W/run/model"
if [ "$EVAL" = 1 ]; then
ev() { local name=$1; shift; "$BA" eval -m "$M" --json "$W/eval/$name.json" "$@" 2>&1 | tail -3 | tee "$W/logs/eval-$name.log"; }
ev retrieval-8-full --task retrieval --passages 8 --corpus "$W/corpus/test.jsonl" --n 300
ev retrieval-16-full --task retrieval --passages 16 --corpus "$W/corpus/test.jsonl" --n 300
ev two-facts-8-full --task two-facts --passages 8 --corpus "$W/corpus/test.jsonl" --n 300
ev distractors-8-full --task distractors --passages 8 --corpus "$W/corpus/test.jsonl" --n 300
ev far-8-full --task far --passages 8 --corpus "$W/corpus/test.jsonl" --n 300
ev retrieval-8-block --task retrieval --passages 8 --corpus "$W/corpus/test.jsonl" --n 300 --mode block
ev perplexity --task perplexity --corpus "$W/corpus/validation.jsonl" --window 2048
stamp "evaluated"
fi

cp "$M"/model-*.safetensors "$OUT"/
tar czf "$OUT/results.tar.gz" -C "$W" logs eval run/metrics.jsonl run/model/config.json \
  run/model/model.safetensors.index.json
ls -la "$OUT"
