#!/usr/bin/env bash
# Run HERE (Debian 12, has apt), before a GPU-machine call: downloads the Debian packages the
# GPU machine lacks (it has no apt and no network) and unpacks them into .devdeps/ (git-ignored).
# Name ".devdeps" in the device call's `carry`; it holds root.tar.xz, which
# scripts/device/gpu_build.sh unpacks into .devdeps/root on first use. Binaries that link
# libcpp-httplib (the server) need LD_LIBRARY_PATH=.devdeps/root/usr/lib/x86_64-linux-gnu there.
set -euo pipefail
cd "$(dirname "$0")/../.."
PKGS=(libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2 libxxhash-dev libxxhash0 libzstd-dev
      libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libsentencepiece-dev libsentencepiece0 zlib1g-dev
      libcpp-httplib-dev libcpp-httplib0.11 libssl-dev libbrotli-dev libbrotli1 libhiredis-dev)
mkdir -p .devdeps/debs
(cd .devdeps/debs && apt-get download "${PKGS[@]}" >/dev/null)
for f in .devdeps/debs/*.deb; do dpkg -x "$f" .devdeps/root; done
rm -rf .devdeps/debs
# What the build never reads: documentation, and static archives that nothing links statically
# (OpenSSL and brotli come in through libcpp-httplib's shared library; only 8-bit PCRE2 is used).
# Keeps the carried tree under the device call's 64 MiB.
rm -rf .devdeps/root/usr/share/doc .devdeps/root/usr/share/man
(cd .devdeps/root/usr/lib/x86_64-linux-gnu && rm -f libcrypto.a libssl.a libpcre2-16.a libpcre2-32.a \
  libpcre2-posix.a libbrotlicommon.a libbrotlidec.a libbrotlienc.a)
# Carried as one xz archive (about a quarter of the unpacked size); gpu_build.sh unpacks it.
tar -C .devdeps -cJf .devdeps/root.tar.xz root
rm -rf .devdeps/root
du -sh .devdeps/root.tar.xz
