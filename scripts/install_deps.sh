#!/usr/bin/env bash
# Installs blockattn's build and test dependencies from Debian 12 packages. Idempotent: does
# nothing when everything is present. Needs root (or sudo).
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
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
