#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, and answers a question over the
# example documents (examples/docs) with the default model (models/blockattn-10m) twice — the
# second run reuses every block's cached KV from disk. MODEL=dir picks another model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
MODEL=${MODEL:-models/blockattn-10m}
CACHE=${CACHE:-$(mktemp -d)/blockattn-cache}
run() {
  build/blockattn generate --model "$MODEL" \
    --block examples/docs/apt_notes.txt --block examples/docs/walnut_archive.txt --block examples/docs/river_notes.txt --block examples/docs/greet.py \
    --query "What is the access code of the Walnut archive?" --max-new-tokens 24 --cache-dir "$CACHE"
}
echo "== first run: every block is encoded and written to $CACHE"
run
echo "== second run: the same blocks come back from the cache"
run
