#!/usr/bin/env bash
# Bounded load test of `blockattn serve` (about 25 s, at most 55 s; stops by itself): starts the
# server on a free loopback port with the default model (or $MODEL), runs
#   wrk -t2 -c4 -d20s --latency -s bench/server_load.lua http://127.0.0.1:PORT/v1/chat/completions
# (small chat requests with 2 context blocks, max_tokens 8), fails when any response was not 2xx or
# a socket error happened, prints requests/s and p50/p99 latency, and stops the server.
#   BLOCKATTN_CLI=build/blockattn MODEL=models/blockattn-10m DURATION=20s (seconds, "Ns") SERVE_ARGS="--parallel 4"
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=${BLOCKATTN_CLI:-build/blockattn}
MODEL=${MODEL:-models/blockattn-10m}
DURATION=${DURATION:-20s}
SERVE_ARGS=${SERVE_ARGS:-}
command -v wrk >/dev/null || { echo "server_load: wrk not found (scripts/install_deps.sh)" >&2; exit 1; }
command -v curl >/dev/null || { echo "server_load: curl not found (scripts/install_deps.sh)" >&2; exit 1; }
[ -x "$CLI" ] || { echo "server_load: no $CLI (scripts/build.sh)" >&2; exit 1; }

# A port that is free on 127.0.0.1: the kernel picks it (node), else the first of a few tries.
free_port() {
  if command -v node >/dev/null; then
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
    return
  fi
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "server_load: no free port found" >&2
  return 1
}

PORT=$(free_port)
LOG=$(mktemp -t blockattn-serve.XXXXXX.log)
unset BLOCKATTN_API_KEY
# shellcheck disable=SC2086  # SERVE_ARGS is a list of options
"$CLI" serve --model "$MODEL" --port "$PORT" $SERVE_ARGS 2>"$LOG" &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
}
trap stop_server EXIT

# Ready: /health 200 within 15 s.
for i in $(seq 150); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "server_load: the server exited while starting:" >&2; cat "$LOG" >&2; exit 1
  fi
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] && break
  if [ "$i" = 150 ]; then echo "server_load: /health not 200 after 15 s:" >&2; cat "$LOG" >&2; exit 1; fi
  sleep 0.1
done

MODEL_ID=$(basename "$(cd "$MODEL" && pwd)")
for a in $SERVE_ARGS; do [ "${prev:-}" = --alias ] && MODEL_ID=$a; prev=$a; done
export MODEL_ID
echo "server_load: $CLI serve --model $MODEL on 127.0.0.1:$PORT; wrk -t2 -c4 -d$DURATION"
# wrk stops after DURATION; the timeout is a backstop (DURATION + 15 s).
LIMIT=$(( ${DURATION%s} + 15 ))
OUT=$(timeout "$LIMIT" wrk -t2 -c4 -d"$DURATION" --timeout 10s --latency -s bench/server_load.lua \
  "http://127.0.0.1:$PORT/v1/chat/completions") || {
  rc=$?; echo "$OUT"; echo "server_load: FAIL: wrk did not finish (status $rc)" >&2; exit 1; }
echo "$OUT"

RESULT=$(grep '^RESULT ' <<<"$OUT" || true)
[ -n "$RESULT" ] || { echo "server_load: no RESULT line from wrk" >&2; exit 1; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$RESULT"; }
fail=0
if grep -q 'Non-2xx or 3xx responses' <<<"$OUT" || [ "$(field non2xx)" != 0 ]; then
  echo "server_load: FAIL: $(field non2xx) responses were not 2xx" >&2; fail=1
fi
if grep -q 'Socket errors' <<<"$OUT"; then
  echo "server_load: FAIL: socket errors: $(grep 'Socket errors' <<<"$OUT")" >&2; fail=1
fi
if [ "$(field requests)" = 0 ]; then echo "server_load: FAIL: no request completed" >&2; fail=1; fi
echo "server_load: requests/s $(field rps)  p50 $(field p50_ms) ms  p99 $(field p99_ms) ms  ($(field requests) requests)"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^blockattn_(requests_total|block_cache_hits_total|errors_total)' || true
if [ "$fail" = 1 ]; then
  echo "server_load: server log: $LOG" >&2
  exit 1
fi
rm -f "$LOG"
