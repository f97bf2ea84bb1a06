# Sourced by the install scripts: installs the Debian packages that are missing, in one place.
#   apt_install_missing NAME PACKAGE... [-- APT-GET-INSTALL-OPTION...]
# Prints "NAME: all N packages present" when nothing is missing; otherwise runs `apt-get update`
# and installs only the missing ones (with sudo unless root). Idempotent.
apt_install_missing() {
  local name=$1
  shift
  local packages=() options=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    packages+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift
  options=("$@")
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "$name: all ${#packages[@]} packages present"
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "$name: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${options[@]}" "${missing[@]}"
}
