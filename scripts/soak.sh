#!/usr/bin/env bash
# The soak (issue 13, item 11): two `seatkeeper serve` nodes on one PostgreSQL database and one
# process on a SQLite file, each under mixed load (logins, heartbeats, logouts, grants, recalls,
# redistributions) with a node killed (SIGKILL) and restarted every SECS/6 seconds, then the
# checks of crates/cli/tests/cli/soak.rs. Loopback only. CI runs the same tests for 20 s.
#   bash scripts/soak.sh [SECS]      (default 600; both soaks run at the same time)
set -euo pipefail
cd "$(dirname "$0")/.."
export SEATKEEPER_SOAK_SECS="${1:-600}"
export SEATKEEPER_TEST_POSTGRES="${SEATKEEPER_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
cargo test --locked -p seatkeeper --test cli x13_soak -- --nocapture --test-threads 2 2>&1 \
  | grep -E '^soak \(|^test |test result|panicked|assert'
