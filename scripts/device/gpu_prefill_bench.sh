#!/usr/bin/env bash
# Run ON THE GPU MACHINE (carry .devdeps, made here by scripts/device/fetch_deps.sh):
#   bash scripts/device/gpu_prefill_bench.sh
# Builds the benches and the CUDA suite (incremental when build-gpu/ survives), runs the CUDA
# tests named by CUDA_TESTS (default: the attention and batched-encoding ones), writes a
# random-weight model of the Llama-3-8B shape and runs bench/bench_prefill: block encoding one
# by one vs batched vs full prefill, the warm prefill phase by phase, warm from the host tier,
# decode steps (SWEEP/AB: more shapes, the split-KV kernel off); then bench_ttft with a disk
# tier (DISK=0 skips it) and the files' read speed
# (python, and dd through the page cache and with O_DIRECT). Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.devdeps/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bash scripts/device/gpu_build.sh make_random_model bench_prefill bench_ttft blockattn_cuda_tests \
    ${EXTRA_TARGETS:-} || exit 1
build-gpu/tests/blockattn_cuda_tests --gtest_filter="${CUDA_TESTS:-Attention*:*Batched*:*CpuVsCuda*}" \
    2>&1 | tail -60 | tee "$OUT/cuda_tests.log"
M=${MODEL:-/tmp/llama8b}
{
  [ -f $M/config.json ] || build-gpu/bench/make_random_model --out $M --vocab 128256 --hidden 4096 \
      --intermediate 14336 --layers 32 --heads 32 --kv-heads 8 --context 40960 --dtype bfloat16 \
      --tokenizer tests/fixtures/models/tiny-llama/tokenizer.json
  build-gpu/bench/bench_prefill --model $M --device cuda --blocks ${BLOCKS:-64} \
      --block-tokens ${BLOCK_TOKENS:-500} --repeats ${REPEATS:-5}
  # SWEEP="64:24 8:1": warm prefill and decode per blocks:query-tokens; AB=1 repeats each with
  # the split-KV attention kernel off (the flash paths and the per-layer graphs instead).
  for cfg in ${SWEEP:-}; do
    for off in 1 ${AB:+0}; do
      [ "$off" = 0 ] && echo "--- BLOCKATTN_CACHED_ATTENTION=0" || echo "--- split-KV kernel on"
      BLOCKATTN_CACHED_ATTENTION=$off build-gpu/bench/bench_prefill --model $M --device cuda \
          --blocks ${cfg%%:*} --block-tokens ${BLOCK_TOKENS:-500} --query ${cfg##*:} \
          --repeats 3 --decode-steps 16 2>&1 | grep -E "^(warm|decode|final|blocks|query)"
    done
  done
  if [ "${DISK:-1}" = 1 ]; then  # warm from the disk tier (fresh engine), and the disk's read speed
    rm -rf /tmp/bacache
    build-gpu/bench/bench_ttft --model $M --device cuda --blocks ${BLOCKS:-64} \
        --block-tokens ${BLOCK_TOKENS:-500} --cache-dir /tmp/bacache --repeats 3
    du -sh /tmp/bacache
    python3 - <<'PY'
import glob, os, time
files = sorted(glob.glob("/tmp/bacache/*.bakv"))
t = time.perf_counter(); n = 0
for f in files:
    fd = os.open(f, os.O_RDONLY)
    while True:
        b = os.read(fd, 16 << 20)
        if not b: break
        n += len(b)
    os.close(fd)
dt = time.perf_counter() - t
print(f"read {len(files)} cache files, {n/1e9:.2f} GB in {dt*1e3:.0f} ms = {n/dt/1e9:.2f} GB/s (page cache not dropped)")
PY
    echo "dd through the page cache:"; cat /tmp/bacache/*.bakv | dd of=/dev/null bs=16M 2>&1 | tail -1
    python3 - <<'PY'
import glob, os, subprocess, time
files = sorted(glob.glob("/tmp/bacache/*.bakv"))[:16]
t = time.perf_counter(); n = 0
for f in files:
    r = subprocess.run(["dd", f"if={f}", "of=/dev/null", "bs=16M", "iflag=direct"], capture_output=True, text=True)
    if r.returncode != 0:
        print("dd iflag=direct failed:", r.stderr.strip().splitlines()[-1:]); break
    n += os.path.getsize(f)
else:
    dt = time.perf_counter() - t
    print(f"dd iflag=direct (the disk itself): {len(files)} files, {n/1e9:.2f} GB in {dt*1e3:.0f} ms = {n/dt/1e9:.2f} GB/s")
PY
    df -h /tmp | tail -1
  fi
} 2>&1 | tee "$OUT/prefill_bench.log"
