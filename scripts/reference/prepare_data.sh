#!/usr/bin/env bash
# Run HERE (Debian 12): the inputs of the default model's training run, into .devdata/ref/
# (git-ignored; name it in the device call's `carry`, then run scripts/device/train_reference.sh
# there). Steps, each skipped when its output exists:
#   1. corpus   `blockattn corpus build` (needs scripts/install_corpus_deps.sh) -> .devdata/corpus
#   2. select   scripts/reference/select_text.py: the train split with dictionary/glossary capped
#   3. tokenizer `blockattn tokenizer train` on the selection -> models/blockattn-10m/tokenizer.model
#      (committed; its fingerprint is in the model card; training is deterministic)
#   4. pack     xz -9 of the selection and the validation/test splits (~21 MB together)
# Usage: bash scripts/reference/prepare_data.sh [CORPUS_DIR]   (default: build it)
set -euo pipefail
cd "$(dirname "$0")/../.."
BA=${BA:-build/blockattn}
CORPUS=${1:-.devdata/corpus}
SRC=.devdata/refsrc   # uncompressed working copies (not carried)
REF=.devdata/ref      # what the device call carries
MODEL=models/blockattn-10m
mkdir -p "$SRC" "$REF" "$MODEL"
if [ ! -s "$CORPUS/train.jsonl" ]; then
  "$BA" corpus build --out "$CORPUS" --seed 1
fi
[ -s "$SRC/train.jsonl" ] || python3 scripts/reference/select_text.py "$CORPUS/train.jsonl" "$SRC/train.jsonl"
cp -n "$CORPUS/validation.jsonl" "$CORPUS/test.jsonl" "$SRC/" 2>/dev/null || true
[ -s "$MODEL/tokenizer.model" ] || "$BA" tokenizer train --in "$SRC/train.jsonl" --out "$MODEL" --vocab-size 12000 --seed 1
for f in train validation test; do
  [ -s "$REF/$f.jsonl.xz" ] || xz -9 -T2 -c "$SRC/$f.jsonl" > "$REF/$f.jsonl.xz"
done
du -sh "$REF"/*.xz
