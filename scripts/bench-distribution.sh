#!/usr/bin/env bash
# Scale benchmark of role-based redistribution (issue 4; see docs/PERFORMANCE.md).
#
# Builds seatkeeper-bench-distribution in release mode and runs it, forwarding every
# argument. By default: 1 000 000 users, 5 000 roles in 6 levels, 20 products, ~3
# memberships per user, on SQLite (a file in the temporary folder) and on PostgreSQL (a
# database seatkeeper_bench_dist created in the server of --postgres and dropped after).
# It prints, per backend, the floor, (1) full redistribution, (2) redistribution after 1%
# of memberships changed, (3) p99 of concurrent manual grants, (4) peak memory, each with
# its target and whether it is met. A missed target is not a failure; a failed run is.
#
# Examples:
#   bash scripts/bench-distribution.sh                         # the issue's scale, both backends
#   bash scripts/bench-distribution.sh --users 20000 --backend sqlite
#   bash scripts/bench-distribution.sh --breakdown             # + time per SQL statement
#   bash scripts/bench-distribution.sh --help
#
# Environment:
#   CARGO_TARGET_DIR   where cargo builds (default /work/bench-target, apart from ./target so
#                      that the benchmark's release build does not disturb other builds)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/bench-target}

# Start the local PostgreSQL cluster if it is installed but down (as scripts/test.sh does),
# unless only SQLite is asked for.
if [[ " $* " != *" --backend sqlite "* && " $* " != *" --backend=sqlite "* ]] &&
  command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down; starting the local cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  fi
fi

cargo build --release --locked -q -p seatkeeper-bench --bin seatkeeper-bench-distribution
exec "$CARGO_TARGET_DIR/release/seatkeeper-bench-distribution" "$@"
