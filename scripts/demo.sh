#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, and answers a question over the
# example documents twice — the second run reuses every block's cached KV from disk.
#
# Until the trained default model ships (issue 3), this runs the engine on a tiny random-weight
# fixture model: the answer text is noise, the pipeline, timings and cache reuse are real.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
MODEL=${MODEL:-tests/fixtures/models/tiny-llama}
CACHE=${CACHE:-$(mktemp -d)/blockattn-cache}
run() {
  build/blockattn generate --model "$MODEL" \
    --block examples/docs/alder_archive.txt --block examples/docs/river_notes.txt --block examples/docs/greet.py \
    --query "What is the access code of the Alder archive?" --max-new-tokens 24 --cache-dir "$CACHE"
}
echo "== first run: every block is encoded and written to $CACHE"
run
echo "== second run: the same blocks come back from the cache"
run
