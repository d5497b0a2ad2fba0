# Sourced by the install scripts: Debian packages installed as root, or with `sudo -n`.
# Sets `sudo` (an array, empty as root) and defines `apt_install WHO PACKAGE...`, which runs
# `apt-get update` and `apt-get install`, quietly, and on failure shows the last lines of
# apt's output and returns 1. WHO prefixes the messages (the calling script's name).

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "${0##*/}: not root and no sudo; cannot install packages" >&2
    exit 1
  fi
  sudo=(sudo -n)
fi

apt_install() {
  local who=$1 log status=0
  shift
  echo "$who: installing $*"
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq >"$log" 2>&1 \
    || ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "$who: apt-get failed" >&2
    status=1
  fi
  rm -f "$log"
  return "$status"
}
