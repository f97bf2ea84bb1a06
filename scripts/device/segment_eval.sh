#!/usr/bin/env bash
# Segmentation evaluation of the methods that want a GPU (the "semantic" baseline embeds text with
# the reference model), ON THE GPU MACHINE:
#   here:   xz -c SEGDATA/{validation,test}.jsonl > .devdata/segdata/{validation,test}.jsonl.xz
#   device: bash scripts/device/segment_eval.sh [METHODS] [MAX_TOKENS]   (carry: .devdeps .devdata/segdata)
# Same protocol and options as the CPU run of `blockattn segmenter eval` (docs/segmentation.md);
# results in $OUT/segeval-<methods>-<max>.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
METHODS=${1:-semantic}
MAX=${2:-512}
W=${WORK:-/tmp/segeval}
mkdir -p "$OUT" "$W/data"
bash scripts/device/gpu_build.sh blockattn_cli >/dev/null
for s in validation test; do
  [ -s "$W/data/$s.jsonl" ] || python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" \
      .devdata/segdata/$s.jsonl.xz "$W/data/$s.jsonl"
done
time build-gpu/blockattn segmenter eval --data "$W/data" --methods "$METHODS" --device cuda --max-tokens "$MAX" \
  --max-validation "${MAX_VALIDATION:-100}" --json "$OUT/segeval-${METHODS//,/-}-$MAX.json" \
  --markdown "$OUT/segeval-${METHODS//,/-}-$MAX.md" 2>&1 | grep -v "^eval: " | tail -40
