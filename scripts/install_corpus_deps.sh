#!/usr/bin/env bash
# Installs the Debian packages whose freely licensed text `blockattn corpus build` reads
# (docs/block-attention.md, DESIGN.md §4). Idempotent: does nothing when all are present;
# runs `apt-get update` only when something is missing. Needs root (or sudo). ~500 MB installed.
# Also read, with no package of their own: /usr/share/common-licenses and the changelog.Debian.gz
# of every installed package. Not used: bible-kjv-text (its text is in the `bible` program's own
# compressed format), so the scripture source reads plain text from /usr/share/bible only.
set -euo pipefail

PACKAGES=(
  debian-reference-en debian-handbook          # manuals (HTML)
  bash-doc git-doc sqlite3-doc postgresql-doc-15 python3.11-doc   # manuals, API references (HTML/text)
  perl-doc                                      # POD
  manpages manpages-dev                         # groff
  dict-gcide dict-jargon dict-foldoc wordnet-base   # dictionaries, glossaries
  fortunes fortunes-min                         # fortune files
  golang-1.19-src node-typescript               # Go and TypeScript source
  libpython3.11-stdlib libc6-dev linux-libc-dev # Python source, C headers (usually present)
)

source "$(dirname "$0")/apt_packages.sh"
# Upgrade-By-Source-Package=false: installing e.g. perl-doc must not upgrade the perl, python3.11
# or postgresql packages already installed from the same source (others use them).
# The dict-* packages pull in dictd; Debian's policy-rc.d keeps it from starting in containers.
apt_install_missing install_corpus_deps "${PACKAGES[@]}" -- \
  -o APT::Get::Upgrade-By-Source-Package=false
