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

# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
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
apt_install install-slapd slapd ldap-utils || status=1
if [ "$added_policy" = 1 ]; then
  "${sudo[@]}" rm -f "$policy"
fi
[ "$status" = 0 ] || exit 1
if ! slapd_bin >/dev/null || ! command -v ldapadd >/dev/null; then
  echo "install-slapd: installed, but slapd or ldapadd is missing" >&2
  exit 1
fi
echo "install-slapd: $(slapd_bin) installed"
