#!/usr/bin/env bash
# SCIM provisioning benchmark (issue 16, I2; see docs/PERFORMANCE.md): N users into N/100
# groups over SCIM, as Entra ID provisions them.
#
# Builds seatkeeper and seatkeeper-bench-scim (release). For each backend (a fresh SQLite file,
# a fresh PostgreSQL database) it prepares a ledger with the CLI — a license with one named
# all-modules product ("suite", N seats, room for N users), role-based distribution on with
# redistribution on role changes, an organizational role "SCIM groups" bound to "suite" under
# which the config's `[scim] group_parent` places every group created over SCIM (so that each
# member added to a group is given a seat by D5), a provisioning token — starts
# `seatkeeper serve` and runs crates/bench/src/scim.rs against it, C requests in flight:
#   users    GET /Users?filter=userName eq "…" then POST /Users, for each user
#   groups   GET /Groups?excludedAttributes=members&filter=displayName eq "…" then POST /Groups
#   members  PATCH /Groups/{id} {"op":"Add","path":"members","value":[…]}, BATCH per request,
#            each user in 1–3 groups (1.83 on average)
# Prints a table per backend and phase: requests, seconds, requests/s, p50/p99 latency.
# Fails when a request fails, a group does not hold its members, or D5 did not give every
# member its seat.
#
# Settings (environment):
#   N=10000                  users (groups: N/100, at least 1)
#   C=8                      requests in flight
#   BATCH=50                 members per PATCH
#   BACKENDS="sqlite postgres"
#   ANALYZE_EVERY=0          PostgreSQL: run ANALYZE every this many seconds during the run, as
#                            autovacuum's autoanalyze would (0: never). Where autovacuum is off,
#                            pooled connections keep the generic plans made while `users` held
#                            one row (a sequential scan for `lower(login) = $1`), so lookups
#                            grow with the users until a connection is replaced; the table
#                            notes the server's setting.
#   BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432   server for the PostgreSQL run (a
#                            database sk_bench_scim_<pid> is created and dropped after)
#   SEATKEEPER_BIN=          use this seatkeeper binary instead of building one
#   SEATKEEPER_BENCH_SCIM_BIN=   the same for the benchmark's client
#   CARGO_TARGET_DIR         where cargo builds (default: cargo's, ./target)
#   RESULTS_DIR=             keep the server logs, the tables and every request's latency
#                            (<backend>-latencies.csv) here
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

N=${N:-10000}
C=${C:-8}
BATCH=${BATCH:-50}
NGROUPS=$((N / 100 > 0 ? N / 100 : 1))
BACKENDS=${BACKENDS:-sqlite postgres}
ANALYZE_EVERY=${ANALYZE_EVERY:-0}

BENCH_NAME=bench-scim
BENCH_HTTP=0
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
command -v curl >/dev/null || die "curl is needed"
command -v jq >/dev/null || die "jq is needed"

CLIENT=${SEATKEEPER_BENCH_SCIM_BIN:-}
if [ -z "$CLIENT" ]; then
  log "building seatkeeper-bench-scim (release)"
  cargo build --release --locked -p seatkeeper-bench --bin seatkeeper-bench-scim >&2
  CLIENT=${CARGO_TARGET_DIR:-target}/release/seatkeeper-bench-scim
  case $CLIENT in /*) ;; *) CLIENT=$ROOT/$CLIENT ;; esac
fi
[ -x "$CLIENT" ] || die "no benchmark client at $CLIENT"

# prepare DB DIR: the license, the distribution settings, the parent role and its binding, the
# config file ($DIR/seatkeeper.toml); prints the provisioning token.
prepare() {
  local db=$1 dir=$2
  local sk=("$BIN" --database "$db")
  quiet "$BIN" vendor keygen --out "$dir/vendor"
  quiet "${sk[@]}" license request --company-id BENCH -o "$dir/request.json"
  cat >"$dir/order.json" <<EOF
{
  "products": [
    {"code": "suite", "name": "Suite, all modules", "features": ["crm"], "all_modules": true}
  ],
  "packages": [
    {"serial": "BENCH-SCIM", "product": "suite", "kind": "named", "area": "employee", "seats": $N}
  ],
  "area_limits": [{"area": "employee", "max_users": $((N + 100))}]
}
EOF
  quiet "$BIN" vendor issue --key "$dir/vendor.key.pem" --request "$dir/request.json" \
    --order "$dir/order.json" -o "$dir/license.json"
  quiet "${sk[@]}" --vendor-key "$dir/vendor.pub.pem" license import "$dir/license.json"
  quiet "${sk[@]}" settings distribution --role-based-distribution true \
    --redistribute-on-role-change true
  quiet "${sk[@]}" role create "SCIM groups" --kind organizational
  quiet "${sk[@]}" role bind "SCIM groups" suite
  cat >"$dir/seatkeeper.toml" <<EOF
[scim]
group_parent = "SCIM groups"
EOF
  "${sk[@]}" --json token create --name bench-idp --scope provisioning | jq -r .token
}

for backend in $BACKENDS; do
  dir=$WORK/$backend
  mkdir -p "$dir"
  bench_database "$backend" "$dir"
  log "$backend: preparing the ledger"
  token=$(prepare "$db" "$dir")
  [ -n "$token" ] && [ "$token" != null ] || die "no provisioning token for $backend"
  SEATKEEPER_LOG=warn start_server "$db" "$dir" "$backend" --config "$dir/seatkeeper.toml"
  log "$backend: server pid $SERVER_PID on 127.0.0.1:$PORT; $N users, $NGROUPS groups, $C in flight"
  ANALYZER_PID=
  if [ "$backend" = postgres ]; then
    autovacuum=$(psql "$db" -qXAt -c 'SHOW autovacuum')
    if [ "$ANALYZE_EVERY" -gt 0 ]; then
      while sleep "$ANALYZE_EVERY"; do psql "$db" -qX -c ANALYZE >/dev/null 2>&1 || true; done &
      ANALYZER_PID=$!
    fi
  fi
  SEATKEEPER_BENCH_SCIM_TOKEN=$token "$CLIENT" --base "http://127.0.0.1:$PORT/scim/v2" \
    --users "$N" --groups "$NGROUPS" --concurrency "$C" --batch "$BATCH" --label "$backend" \
    --latencies "$RESULTS/$backend-latencies.csv" >"$RESULTS/$backend.md" || { cat "$RESULTS/$backend.md"; die "$backend: the benchmark failed"; }
  if [ -n "$ANALYZER_PID" ]; then
    kill "$ANALYZER_PID" 2>/dev/null || true
    wait "$ANALYZER_PID" 2>/dev/null || true
  fi
  if [ "$backend" = postgres ]; then
    echo "PostgreSQL: autovacuum = $autovacuum on the server; ANALYZE every ${ANALYZE_EVERY}s by the benchmark (0: never)" >>"$RESULTS/$backend.md"
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the $backend run"
  # D5: every user is in a group below "SCIM groups", so every one holds a "suite" seat.
  used=$("$BIN" --database "$db" --json summary | jq '[.products[] | select(.product == "suite") | .used] | add')
  [ "$used" = "$N" ] || die "$backend: $used users hold the bound product after provisioning, not $N"
  echo "D5: $used of $N users were given the product bound to the groups' parent role" >>"$RESULTS/$backend.md"
  stop_server
  drop_database
done

echo
echo "scripts/bench-scim.sh: N=$N, $NGROUPS groups, C=$C requests in flight, $BATCH members per PATCH"
for backend in $BACKENDS; do
  echo
  cat "$RESULTS/$backend.md"
done
