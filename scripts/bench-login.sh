#!/usr/bin/env bash
# Login throughput and latency benchmark (see docs/PERFORMANCE.md).
#
# For each backend (SQLite file, fresh PostgreSQL database) it prepares a ledger with the
# CLI, starts `seatkeeper serve` on a free loopback port and drives it with wrk, the same
# settings for every scenario:
#   bare       GET /healthz: the bare endpoint of the same axum server, same process
#   dedicated  (a) POST /integration/v1/login of users holding a named all-modules seat
#   floating   (b) login of users holding nothing (takes a floating seat) alternating with
#              logout of the session it got (frees the seat)
# and prints a table: req/s, ratio to bare, p50/p99 latency, target, met?
#
# Settings (environment):
#   BACKENDS="sqlite postgres"   which backends to run
#   THREADS=2 CONNECTIONS=32 DURATION=10s WARMUP=3s   wrk settings, same for every scenario
#   BATCH_MAX=                   --batch-max for the server (empty: the server's default)
#   METRICS=off                  on: the server runs with a [metrics] token (GET /metrics,
#                                latency middleware, login counters), to measure their cost;
#                                /metrics is scraped once after each backend's runs
#   DED_USERS=500 FLO_USERS=500  users per kind
#   BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432   server for the PostgreSQL run (a
#                                database sk_bench_login_<pid> is created in it and dropped after)
#   SEATKEEPER_BIN=              use this binary instead of building one
#   CARGO_TARGET_DIR             where cargo builds (default: cargo's, ./target)
#   RESULTS_DIR=                 keep wrk outputs, server logs and the table here
# Exits non-zero when a backend cannot be prepared or reached, or when a check fails
# (non-2xx answers, socket errors, refused logins, unexpected answers). A missed
# performance target is reported in the table but is not a failure.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

BACKENDS=${BACKENDS:-sqlite postgres}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
BATCH_MAX=${BATCH_MAX:-}
METRICS=${METRICS:-off}
case $METRICS in on | off) ;; *) echo "METRICS must be on or off" >&2; exit 2 ;; esac
METRICS_TOKEN=bench-metrics-token-0123456789
DED_USERS=${DED_USERS:-500}
FLO_USERS=${FLO_USERS:-500}
NAMED_SEATS=${NAMED_SEATS:-2000}
CONCURRENT_SEATS=${CONCURRENT_SEATS:-2000}
LUA=$PWD/scripts/bench/login.lua

BENCH_NAME=bench-login
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

# ---------------------------------------------------------------- data
# A vendor key, a license with NAMED_SEATS named and CONCURRENT_SEATS concurrent seats of
# one all-modules product, DED_USERS users granted it, FLO_USERS users with nothing, and an
# integration token (printed on stdout).
prepare() {
  local db=$1 dir=$2
  local sk=("$BIN" --database "$db")
  quiet "$BIN" vendor keygen --out "$dir/vendor"
  quiet "${sk[@]}" license request --company-id BENCH -o "$dir/request.json"
  local users=$((DED_USERS + FLO_USERS + 100))
  cat >"$dir/order.json" <<EOF
{
  "products": [
    {"code": "suite", "name": "Suite, all modules", "features": ["crm", "erp"], "all_modules": true}
  ],
  "packages": [
    {"serial": "BENCH-NAMED", "product": "suite", "kind": "named", "area": "employee", "seats": $NAMED_SEATS},
    {"serial": "BENCH-FLOAT", "product": "suite", "kind": "concurrent", "area": "employee", "seats": $CONCURRENT_SEATS}
  ],
  "area_limits": [{"area": "employee", "max_users": $users}]
}
EOF
  quiet "$BIN" vendor issue --key "$dir/vendor.key.pem" --request "$dir/request.json" \
    --order "$dir/order.json" -o "$dir/license.json"
  quiet "${sk[@]}" --vendor-key "$dir/vendor.pub.pem" license import "$dir/license.json"
  {
    echo "login,name,email,area,folder,state"
    for i in $(seq 1 "$DED_USERS"); do echo "ded$i,Dedicated $i,ded$i@bench.invalid,employee,,active"; done
    for i in $(seq 1 "$FLO_USERS"); do echo "flo$i,Floating $i,flo$i@bench.invalid,employee,,active"; done
  } >"$dir/users.csv"
  quiet "${sk[@]}" user import "$dir/users.csv"
  local ded
  ded=$(seq -f 'ded%.0f' 1 "$DED_USERS" | paste -sd,)
  quiet "${sk[@]}" grant --user "$ded" --product suite
  "${sk[@]}" --json token create --name bench --scope integration |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}

# ---------------------------------------------------------------- server

# ---------------------------------------------------------------- measuring

# run_wrk NAME MODE TOKEN: warm-up, then the measured run; appends a result line to $ROWS.
run_wrk() {
  local backend=$1 mode=$2 token=$3
  local out=$RESULTS/wrk-$backend-$mode.txt
  local url="http://127.0.0.1:$PORT/"
  export SK_MODE=$mode SK_TOKEN=$token SK_DED_USERS=$DED_USERS SK_FLO_USERS=$FLO_USERS
  log "$backend / $mode: warm-up $WARMUP"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$LUA" "$url" >"$out.warmup" 2>&1 ||
    { cat "$out.warmup" >&2; die "wrk failed (warm-up, $backend $mode)"; }
  log "$backend / $mode: -t$THREADS -c$CONNECTIONS -d$DURATION"
  local s0 m0 w
  s0=$(proc_ticks "$SERVER_PID")
  m0=$(machine_ticks)
  local TIMEFORMAT='%R %U %S'
  w=$({ time wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "$url" \
    >"$out" 2>&1; } 2>&1) || { cat "$out" >&2; die "wrk failed ($backend $mode)"; }
  local s1 m1
  s1=$(proc_ticks "$SERVER_PID")
  m1=$(machine_ticks)
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during $backend $mode"
  local line
  line=$(grep '^SKBENCH ' "$out") || { cat "$out" >&2; die "no SKBENCH line from wrk"; }
  # CPU in cores: server process, wrk, the rest (PostgreSQL backends, ...), machine busy %
  local cpu
  cpu=$(awk -v s0="$s0" -v s1="$s1" -v m0="$m0" -v m1="$m1" -v w="$w" -v tick="$TICK" '
    BEGIN {
      split(m0, a, " "); split(m1, b, " "); split(w, c, " ")
      wall = c[1]; total = (b[1] - a[1]); idle = (b[2] - a[2])
      busy = (total - idle) / tick
      ncpu = total / tick / wall
      server = (s1 - s0) / tick / wall; wrkc = (c[2] + c[3]) / wall
      other = busy / wall - server - wrkc; if (other < 0) other = 0
      printf "cpu_server=%.2f cpu_wrk=%.2f cpu_other=%.2f busy_pct=%.0f", server, wrkc, other, 100 * busy / wall / ncpu
    }')
  echo "backend=$backend $line $cpu" >>"$ROWS"
  grep '^SKSAMPLE ' "$out" >&2 || true
}

ROWS=$RESULTS/rows.txt
: >"$ROWS"

for backend in $BACKENDS; do
  dir=$WORK/$backend
  mkdir -p "$dir"
  bench_database "$backend" "$dir"
  log "$backend: preparing $DED_USERS dedicated and $FLO_USERS floating users"
  prepare "$db" "$dir" >"$dir/token"
  token=$(cat "$dir/token")
  [ -n "$token" ] || die "no integration token for $backend"
  serve_args=(${BATCH_MAX:+--batch-max "$BATCH_MAX"})
  if [ "$METRICS" = on ]; then
    printf '[metrics]\ntoken = "%s"\n' "$METRICS_TOKEN" >"$dir/metrics.toml"
    serve_args+=(--config "$dir/metrics.toml")
  fi
  start_server "$db" "$dir" "$backend" "${serve_args[@]}"
  log "$backend: server pid $SERVER_PID on 127.0.0.1:$PORT"
  for mode in bare dedicated floating; do
    run_wrk "$backend" "$mode" "$token"
  done
  if [ "$METRICS" = on ]; then
    # The metrics were really on: the logins of the runs are counted.
    curl -fsS -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$PORT/metrics" \
      >"$RESULTS/metrics-$backend.txt" || die "GET /metrics failed ($backend)"
    grep -q '^seatkeeper_logins_total{.*outcome="allowed"' "$RESULTS/metrics-$backend.txt" ||
      die "no login counted in /metrics ($backend)"
    log "$backend: /metrics counted $(grep '^seatkeeper_logins_total{.*outcome="allowed"' \
      "$RESULTS/metrics-$backend.txt" | awk '{s += $NF} END {print s}') allowed logins"
  fi
  stop_server
  drop_database
done

# ---------------------------------------------------------------- the table
TABLE=$RESULTS/table.md
awk -v threads="$THREADS" -v conns="$CONNECTIONS" -v dur="$DURATION" -v batch="${BATCH_MAX:-default}" -v metrics="$METRICS" '
function kv(line, key,   m) {
  if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
  return ""
}
{ n++; line[n] = " " $0; b = kv(line[n], "backend"); m = kv(line[n], "mode")
  if (m == "bare") bare[b] = kv(line[n], "rps") }
END {
  printf "wrk -t%s -c%s -d%s (after a warm-up), --batch-max %s, metrics %s\n\n", threads, conns, dur, batch, metrics
  print "| backend | scenario | req/s | ratio to bare | p50 ms | p99 ms | target | met? |"
  print "|---|---|---:|---:|---:|---:|---|---|"
  for (i = 1; i <= n; i++) {
    l = line[i]; b = kv(l, "backend"); m = kv(l, "mode"); rps = kv(l, "rps")
    ratio = (bare[b] > 0) ? rps / bare[b] : 0
    p50 = kv(l, "p50_ms"); p99 = kv(l, "p99_ms")
    if (m == "bare") { sc = "bare GET /healthz"; tg = "(baseline)"; met = "" }
    else if (m == "dedicated") {
      sc = "(a) dedicated login"; tg = ">= 50% and p99 < 5 ms"
      met = (ratio >= 0.5 && p99 + 0 < 5) ? "yes" : "NO"
    } else {
      sc = "(b) floating acquire + release"; tg = ">= 25%"
      met = (ratio >= 0.25) ? "yes" : "NO"
    }
    printf "| %s | %s | %.0f | %s | %.2f | %.2f | %s | %s |\n", b, sc, rps,
      (m == "bare") ? "100%" : sprintf("%.1f%%", 100 * ratio), p50, p99, tg, met
  }
  print ""
  print "| backend | scenario | requests | logins | logouts | pairs/s | server CPU | wrk CPU | other CPU | machine busy |"
  print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for (i = 1; i <= n; i++) {
    l = line[i]; m = kv(l, "mode"); d = kv(l, "duration_s")
    logins = (m == "bare") ? "-" : kv(l, "allowed") + kv(l, "refused")
    logouts = (m == "floating") ? kv(l, "ended") : "-"
    pairs = (m == "floating") ? sprintf("%.0f", kv(l, "ended") / d) : "-"
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% |\n", kv(l, "backend"), m,
      kv(l, "requests"), logins, logouts, pairs, kv(l, "cpu_server"), kv(l, "cpu_wrk"),
      kv(l, "cpu_other"), kv(l, "busy_pct")
  }
}' "$ROWS" >"$TABLE"
echo
cat "$TABLE"

# ---------------------------------------------------------------- checks
failed=0
while read -r l; do
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $l"; }
  b=$(get backend)
  m=$(get mode)
  for k in http_errors sock_connect sock_read sock_write sock_timeout bad_status unexpected refused; do
    v=$(get $k)
    if [ "$v" != 0 ]; then
      echo "FAIL: $b $m: $k=$v" >&2
      failed=1
    fi
  done
  if [ "$m" != bare ] && [ "$(get allowed)" = 0 ]; then
    echo "FAIL: $b $m: no login was allowed" >&2
    failed=1
  fi
done <"$ROWS"
[ "$failed" = 0 ] || die "checks failed (wrk outputs in $RESULTS; set RESULTS_DIR to keep them)"
echo
echo "checks: every answer 200, every login allowed (dedicated seat / floating seat), every logout ended"
