#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian's `chromium` and `chromium-driver`:
# /usr/bin/chromium, /usr/bin/chromedriver) for the admin UI's browser tests.
# Idempotent and silent when both are already there. Exits non-zero when the install fails;
# the caller decides whether that is fatal (CI) or a reason to skip the browser tests.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-browser: not root and no sudo; cannot install chromium" >&2
    exit 1
  fi
  sudo=(sudo -n)
fi

echo "install-browser: installing chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "${sudo[@]}" apt-get update -qq >"$log" 2>&1 \
  || ! "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >>"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "install-browser: apt-get failed" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "install-browser: installed, but /usr/bin/chromium or /usr/bin/chromedriver is missing" >&2
  exit 1
fi
echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) installed"
