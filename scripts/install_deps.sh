#!/usr/bin/env bash
# Installs blockattn's build and test dependencies from Debian 12 packages, then the server tests'
# Node packages (tests/server, `npm ci` from the committed package-lock.json). Idempotent: does
# nothing when everything is present. Needs root (or sudo) for apt-get.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config zstd
  libtorch-dev                      # libtorch 1.13, CPU
  libgloo-dev                       # c10d Gloo: data-parallel training over CPU processes (--nproc)
  libopenblas0-pthread              # without it libtorch runs on reference BLAS, ~50x slower
  libsentencepiece-dev sentencepiece
  nlohmann-json3-dev libcli11-dev
  libpcre2-dev libutf8proc-dev libxxhash-dev libzstd-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev                # blockattn serve's HTTP server
  libhiredis-dev redis-server       # the Redis cache tier; its tests start their own redis-server
  clang-14 libclang-rt-14-dev       # scripts/fuzz.sh: libFuzzer, ASan and UBSan runtimes
  prometheus wrk curl               # server tests and bench: promtool check metrics, load test, curl
)
# Node.js for the server tests (node --test, the openai SDK): Debian's nodejs and npm when there
# is no node. A node that is already there keeps its own npm (nodesource's nodejs bundles one and
# conflicts with Debian's npm); only a node without npm gets Debian's.
if ! command -v node >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(npm)
fi

source "$(dirname "$0")/apt_packages.sh"
apt_install_missing install_deps "${PACKAGES[@]}"

# tests/server/node_modules from the lock file, when absent or older than the lock file.
SERVER_TESTS="$(cd "$(dirname "$0")/../tests/server" && pwd)"
if [ ! -d "$SERVER_TESTS/node_modules" ] || [ "$SERVER_TESTS/package-lock.json" -nt "$SERVER_TESTS/node_modules" ]; then
  echo "install_deps: npm ci in tests/server"
  (cd "$SERVER_TESTS" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$SERVER_TESTS/node_modules"
fi
