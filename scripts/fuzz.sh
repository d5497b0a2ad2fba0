#!/usr/bin/env bash
# The fuzz targets (issue 13, item 10) run long, with a table of executions and findings.
#
#   scripts/fuzz.sh                         # 20,000 cases per pure target (the HTTP one: 10,000)
#   SEATKEEPER_FUZZ_CASES=200000 scripts/fuzz.sh
#   SEATKEEPER_FUZZ_PROFILE=release scripts/fuzz.sh   # faster per case; overflow checks off
#
# SEATKEEPER_FUZZ_CASES is the case count of the pure targets (license files, users CSV, SCIM filters);
# the HTTP target runs half as many. CI runs the same tests with their defaults (2,000 and
# 1,000 cases) as part of `cargo test`. A finding fails its test with proptest's smallest
# failing input; keep it as a regression test next to the targets before fixing it.
set -uo pipefail
cd "$(dirname "$0")/.."

export SEATKEEPER_FUZZ_CASES="${SEATKEEPER_FUZZ_CASES:-20000}"
profile=()
if [ "${SEATKEEPER_FUZZ_PROFILE:-debug}" = "release" ]; then
  profile=(--release)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for target in "seatkeeper-core fuzz" "seatkeeper-server fuzz"; do
  set -- $target
  echo "== $1 --test $2 (SEATKEEPER_FUZZ_CASES=$SEATKEEPER_FUZZ_CASES)" >&2
  cargo test --locked "${profile[@]}" -p "$1" --test "$2" -- --nocapture --test-threads 1 \
    >>"$log" 2>&1 || status=1
done

printf '\n%-34s %12s %9s %9s\n' "target" "executions" "findings" "seconds"
grep -o 'FUZZ-RESULT .*' "$log" | sed 's/^FUZZ-RESULT //' | awk '
  { t = $0; sub(/ executions=.*/, "", t); sub(/^target=/, "", t)
    match($0, /executions=[0-9]+/); e = substr($0, RSTART + 11, RLENGTH - 11)
    match($0, /findings=[0-9]+/);   f = substr($0, RSTART + 9, RLENGTH - 9)
    match($0, /seconds=[0-9.]+/);   s = substr($0, RSTART + 8, RLENGTH - 8)
    printf "%-34s %12d %9d %9s\n", t, e, f, s; te += e; tf += f }
  END { printf "%-34s %12d %9d\n", "all", te, tf }'
if [ "$status" -ne 0 ]; then
  echo
  echo "FINDINGS (or a build failure); the failing inputs:"
  grep -E 'found a failing input|minimal failing input|^error' -A 30 "$log" | head -200
fi
exit "$status"
