#!/usr/bin/env bash
# Data for block distillation of the reference model, made HERE (CPU) from the reference corpus
# (.devdata/ref, made by scripts/reference/prepare_data.sh) and the segmentation test set
# (.devdata/segdata, docs/segdata.md), into .devdata/distill (carried to the GPU machine by
# scripts/device/distill_reference.sh):
#   train-docs.jsonl.xz       block samples of corpus training documents (`blockattn blockdata`,
#                             learned segmenter, blocks <= 256 tokens, samples <= 2048 tokens),
#                             documents sharing lines with the evaluation documents left out
#   validation-docs.jsonl.xz  the same from the corpus validation split (monitoring only, not filtered)
#   passages.jsonl.xz         training-split documents the synthetic QA passages are cut from
#   test.jsonl.xz             the corpus test split (evaluation passages)
#   segdata-test.jsonl.xz     held-out segmented documents (final-block evaluation)
# Usage: bash scripts/reference/prepare_distill_data.sh [BLOCKATTN_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
BA=${1:-build/blockattn}
SRC=.devdata/ref
OUTD=.devdata/distill
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUTD"
for s in train validation test; do xz -dc "$SRC/$s.jsonl.xz" > "$TMP/$s.jsonl"; done
xz -dc .devdata/segdata/test.jsonl.xz > "$TMP/segdata-test.jsonl"
xz -dc .devdata/segdata/validation.jsonl.xz > "$TMP/segdata-validation.jsonl"
# Every 2nd training document for block samples, every 4th+1 for QA passages: ~1/2 and ~1/4 of the
# corpus, enough for the runs' token budget and small enough to carry (the device call carries
# the whole tree, 64 MiB in all).
awk 'NR % 2 == 0' "$TMP/train.jsonl" > "$TMP/train-half.jsonl"
awk 'NR % 4 == 1' "$TMP/train.jsonl" > "$TMP/passages.jsonl"
EXCLUDE="$TMP/segdata-test.jsonl,$TMP/segdata-validation.jsonl,$TMP/test.jsonl"
"$BA" blockdata --out "$TMP/train-docs.jsonl" --exclude "$EXCLUDE" --threads "$(nproc)" "$TMP/train-half.jsonl"
"$BA" blockdata --out "$TMP/validation-docs.jsonl" --threads "$(nproc)" \
  --max-samples 400 "$TMP/validation.jsonl"
for f in train-docs validation-docs passages test segdata-test; do
  xz -T0 -6 -c "$TMP/$f.jsonl" > "$OUTD/$f.jsonl.xz"
done
ls -la "$OUTD"
du -sh "$OUTD"
