#!/usr/bin/env bash
# Installs OpenLDAP's server and client tools (Debian's `slapd` and `ldap-utils`) for the
# directory tests, which start their own private slapd on a loopback port (never the system
# one). Idempotent and silent when both are already there. Exits non-zero when the install
# fails; the caller decides whether that is fatal (CI) or a reason to skip the slapd tests.
set -euo pipefail

slapd_bin() { command -v slapd || { [ -x /usr/sbin/slapd ] && echo /usr/sbin/slapd; }; }

if slapd_bin >/dev/null && command -v ldapadd >/dev/null; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-slapd: not root and no sudo; cannot install slapd" >&2
    exit 1
  fi
  sudo=(sudo -n)
fi

echo "install-slapd: installing slapd and ldap-utils"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The package's postinst would start the system slapd; policy-rc.d (exit 101) forbids any
# service start during the install. Only added when no policy is there already.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  added_policy=1
fi
status=0
if ! "${sudo[@]}" apt-get update -qq >"$log" 2>&1 \
  || ! "${sudo[@]}" apt-get install -y -qq slapd ldap-utils >>"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "install-slapd: apt-get failed" >&2
  status=1
fi
if [ "$added_policy" = 1 ]; then
  "${sudo[@]}" rm -f "$policy"
fi
[ "$status" = 0 ] || exit 1
if ! slapd_bin >/dev/null || ! command -v ldapadd >/dev/null; then
  echo "install-slapd: installed, but slapd or ldapadd is missing" >&2
  exit 1
fi
echo "install-slapd: $(slapd_bin) installed"
