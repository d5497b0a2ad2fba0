#!/usr/bin/env bash
# The test command: the whole suite, on SQLite and on the PostgreSQL server at
# $SEATKEEPER_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test).
# Starts the local PostgreSQL cluster if it is installed but down. Outside CI the
# PostgreSQL runs skip with a notice when no server is reachable; with CI=true they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url="${SEATKEEPER_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
export SEATKEEPER_TEST_POSTGRES="$pg_url"

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down; starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  fi
fi

if [ "${CI:-}" = "true" ]; then
  if ! command -v pg_isready >/dev/null || ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "FATAL: PostgreSQL at $pg_url is unreachable; CI runs every test on both backends" >&2
    exit 1
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# cargo ends with the (empty) doc-test run; close with the whole suite's totals instead.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
