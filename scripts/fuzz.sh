#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang + ASan + UBSan, torch-free) into ./build-fuzz and
# runs each for SECONDS (default 30) from its committed seed corpus, with -rss_limit_mb=2048.
# Fails (exit 1) on any finding: a crash, a sanitizer report, a leak, an out-of-memory or a
# timeout; the reproducer is left in build-fuzz/findings/<target>/. Prints one line per target
# with its executions. New corpus entries go to build-fuzz/corpus/<target>/ (not committed).
#   scripts/fuzz.sh [SECONDS]            all targets
#   FUZZ_TARGETS="kv_entry segment" scripts/fuzz.sh 60
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-30}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
CXX_FUZZ=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}
if [ ! -f "$BUILD/build.ninja" ]; then
  CXX="$CXX_FUZZ" cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBLOCKATTN_FUZZ=ON -DBLOCKATTN_WITH_TORCH=OFF -DBLOCKATTN_WITH_SENTENCEPIECE=OFF \
    -DBLOCKATTN_BUILD_TESTS=OFF -DBLOCKATTN_BUILD_BENCH=OFF >/dev/null
fi
targets=${FUZZ_TARGETS:-safetensors safetensors_index model_config tokenizer_json tokenizer_config kv_entry segment openai_request}
cmake --build "$BUILD" -j"${JOBS:-$(nproc)}" --target $(printf 'fuzz_%s ' $targets)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0 n_ok=0 n_failed=0
for t in $targets; do
  corpus="$BUILD/corpus/$t" findings="$BUILD/findings/$t" log="$BUILD/fuzz_$t.log"
  mkdir -p "$corpus" "$findings"
  rc=0
  "$BUILD/fuzz/fuzz_$t" "$corpus" "fuzz/corpus/$t" -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=2048 -timeout=25 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$findings/" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(find "$findings" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc, $found finding(s) in $findings, ${execs:-?} executions); log: $log"
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -5 || true
    failed=1 n_failed=$((n_failed + 1))
  else
    echo "fuzz_$t: ok, ${execs:-?} executions in ${SECONDS_PER_TARGET}s, 0 findings"
    n_ok=$((n_ok + 1))
  fi
done
echo "fuzz: $n_ok passed, $n_failed failed"
exit "$failed"
