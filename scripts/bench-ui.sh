#!/usr/bin/env bash
# Admin UI benchmark: paging 100,000 users (see docs/PERFORMANCE.md, "Admin UI").
#
# For each backend (SQLite file, fresh PostgreSQL database) it prepares a ledger with the
# CLI (a license, USERS users by CSV import, a product granted to a fifth of them, a few
# blocked, the admin password), starts `seatkeeper serve` on a free loopback port, signs in
# through the form at /ui/login with curl (pre-session cookie + _csrf, then the sk_ui
# cookie), and for each page below takes one cold request (curl, first hit after start)
# and then drives it with wrk, signed in:
#   users-first   /ui/users                 page 1
#   users-middle  /ui/users?page=<half>     (OFFSET half the users)
#   users-last    /ui/users?page=<last>
#   search-1pct   /ui/users?q=kowalski      substring of the name of 1% of the users
#   product       /ui/users?product=suite   the 20% holding the product
#   blocked       /ui/users?state=blocked   50 matches
#   licenses      /ui/licenses
#   overview      /ui/
# and prints a table: cold ms, req/s, p50/p99 ms, target (p99 < 100 ms), met?
# With EXPLAIN=1 (default) it also writes, per backend, the plans and timings of the SQL the
# users page runs (copied from crates/store/src/users.rs users()/count_users() and the
# helpers the page calls) to $RESULTS_DIR/explain-<backend>.txt.
#
# Settings (environment):
#   BACKENDS="sqlite postgres"   which backends to run
#   THREADS=2 CONNECTIONS=4 DURATION=10s WARMUP=2s   wrk settings, same for every page
#   USERS=100000                 users in the list, the built-in admin included
#   EXPLAIN=1                    write the query plans (0: skip)
#   BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432   server for the PostgreSQL run (a
#                                database sk_bench_ui_<pid> is created in it and dropped after)
#   SEATKEEPER_BIN=              use this binary instead of building one
#   CARGO_TARGET_DIR             where cargo builds (default: cargo's, ./target)
#   RESULTS_DIR=                 keep wrk outputs, server logs, plans and the table here
# Exits non-zero when a backend cannot be prepared or reached, or when a check fails (an
# answer that is not 200 or lacks the expected user count, socket errors). A missed
# performance target is reported in the table but is not a failure.
set -Eeuo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

BACKENDS=${BACKENDS:-sqlite postgres}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-4}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
USERS=${USERS:-100000}
EXPLAIN=${EXPLAIN:-1}
TARGET_P99_MS=100
LUA=$PWD/scripts/bench/ui.lua
PAGE=50 # rows per page of /ui/users (crates/server/src/ui/users.rs)
PASSWORD='bench ui password, not a secret'

BENCH_NAME=bench-ui
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

[ "$USERS" -ge 1000 ] || die "USERS must be at least 1000"

# ---------------------------------------------------------------- data
# USERS - 1 users user000001... (with the built-in admin, USERS in the list):
#   every 100th (i % 100 == 50) named "Anna Kowalski": the 1% a search finds;
#   every 5th (i % 5 == 1) granted the named product `suite`: the product filter's 20%;
#   every 2000th (i % 2000 == 3) blocked: the few the state filter finds.
N=$((USERS - 1))
W=${#N}
[ "$W" -ge 6 ] || W=6
SEARCH=kowalski
SEARCH_N=$(((N + 50) / 100))
GRANT_N=$(((N + 4) / 5))
BLOCKED_N=$(((N + 1997) / 2000))
NAMED_SEATS=$((GRANT_N + 100))
LAST_PAGE=$(((USERS + PAGE - 1) / PAGE))
MID_PAGE=$(((LAST_PAGE + 1) / 2))

prepare() {
  local db=$1 dir=$2
  local sk=("$BIN" --database "$db")
  local t0=$SECONDS
  quiet "$BIN" vendor keygen --out "$dir/vendor"
  quiet "${sk[@]}" license request --company-id BENCH -o "$dir/request.json"
  cat >"$dir/order.json" <<EOF
{
  "products": [
    {"code": "suite", "name": "Suite, all modules", "features": ["crm", "erp"], "all_modules": true}
  ],
  "packages": [
    {"serial": "BENCH-NAMED", "product": "suite", "kind": "named", "area": "employee", "seats": $NAMED_SEATS}
  ],
  "area_limits": [{"area": "employee", "max_users": $((USERS + 100))}]
}
EOF
  quiet "$BIN" vendor issue --key "$dir/vendor.key.pem" --request "$dir/request.json" \
    --order "$dir/order.json" -o "$dir/license.json"
  quiet "${sk[@]}" --vendor-key "$dir/vendor.pub.pem" license import "$dir/license.json"
  awk -v n="$N" -v w="$W" 'BEGIN {
    print "login,name,email,area,folder,state"
    for (i = 1; i <= n; i++) {
      login = sprintf("user%0" w "d", i)
      name = (i % 100 == 50) ? "Anna Kowalski" : sprintf("Person %d", i)
      state = (i % 2000 == 3) ? "blocked" : "active"
      printf "%s,%s,%s@bench.invalid,employee,,%s\n", login, name, login, state
    }
  }' >"$dir/users.csv"
  quiet "${sk[@]}" user import "$dir/users.csv"
  log "$backend: $N users imported ($((SECONDS - t0)) s)"
  # Granted in chunks: one argument must stay under the kernel's 128 KiB limit.
  awk -v n="$N" -v w="$W" 'BEGIN { for (i = 1; i <= n; i += 5) printf "user%0" w "d\n", i }' |
    split -l 5000 - "$dir/grant."
  local f
  for f in "$dir"/grant.*; do
    quiet "${sk[@]}" grant --user "$(paste -sd, "$f")" --product suite
  done
  log "$backend: $GRANT_N users granted suite ($((SECONDS - t0)) s)"
  printf '%s\n' "$PASSWORD" | quiet "${sk[@]}" admin password admin --password-stdin
}

# ---------------------------------------------------------------- server

# Signs in through the form: GET /ui/login sets sk_pre and carries the same token in _csrf;
# POST /ui/login answers 303 with Set-Cookie: sk_ui=<secret>. Prints the secret.
sign_in() {
  local base="http://127.0.0.1:$PORT" pre csrf status secret
  pre=$(curl -sS -D - -o "$WORK/login.html" "$base/ui/login" | tr -d '\r' |
    sed -n 's/^[Ss]et-[Cc]ookie: sk_pre=\([^;]*\).*/\1/p')
  csrf=$(sed -n 's/.*name="_csrf" value="\([^"]*\)".*/\1/p' "$WORK/login.html")
  [ -n "$pre" ] && [ "$pre" = "$csrf" ] || die "GET /ui/login: no sk_pre cookie matching _csrf"
  curl -sS -D "$WORK/signin.hdr" -o /dev/null -H "Cookie: sk_pre=$pre" \
    --data-urlencode "_csrf=$csrf" --data-urlencode login=admin \
    --data-urlencode "password=$PASSWORD" "$base/ui/login"
  status=$(tr -d '\r' <"$WORK/signin.hdr" | sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p')
  secret=$(tr -d '\r' <"$WORK/signin.hdr" | sed -n 's/^[Ss]et-[Cc]ookie: sk_ui=\([^;]*\).*/\1/p')
  [ "$status" = 303 ] && [ -n "$secret" ] ||
    { cat "$WORK/signin.hdr" >&2; die "POST /ui/login: expected 303 with sk_ui, got $status"; }
  echo "$secret"
}

# ---------------------------------------------------------------- pages
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 100000 -> 100,000, as the UI shows it
# The user count line of the list as the UI writes it: TOTAL [PAGE]
count_text() {
  local pages=$((($1 + PAGE - 1) / PAGE))
  if [ "$pages" -gt 1 ]; then echo "$(fmt "$1") user(s), page ${2:-1} of $(fmt "$pages")"; else echo ">$(fmt "$1") user(s)<"; fi
}
# name|path|a string every answer must contain
PAGES=(
  "users-first|/ui/users|$(count_text "$USERS")"
  "users-middle|/ui/users?page=$MID_PAGE|$(count_text "$USERS" "$MID_PAGE")"
  "users-last|/ui/users?page=$LAST_PAGE|$(count_text "$USERS" "$LAST_PAGE")"
  "search-1pct|/ui/users?q=$SEARCH|$(count_text "$SEARCH_N")"
  "product|/ui/users?product=suite|$(count_text "$GRANT_N")"
  "blocked|/ui/users?state=blocked|$(count_text "$BLOCKED_N")"
  "licenses|/ui/licenses|id=\"products\""
  "overview|/ui/|Active users"
)

# ---------------------------------------------------------------- measuring

# cold BACKEND NAME PATH EXPECT SECRET: one request, its status and time; appends to $COLD.
cold() {
  local backend=$1 name=$2 path=$3 expect=$4 secret=$5 out=$RESULTS/cold-$1-$2.html r
  r=$(curl -sS -o "$out" -w '%{http_code} %{time_total}' -H "Cookie: sk_ui=$secret" \
    "http://127.0.0.1:$PORT$path")
  [ "${r%% *}" = 200 ] || die "$backend $name: GET $path answered ${r%% *}"
  grep -qF -- "$expect" "$out" || die "$backend $name: GET $path lacks \"$expect\" (see $out)"
  echo "backend=$backend name=$name cold_ms=$(awk -v s="${r#* }" 'BEGIN{printf "%.1f", s * 1000}')" >>"$COLD"
}

# run_wrk BACKEND NAME PATH EXPECT SECRET: warm-up, then the measured run; appends to $ROWS.
run_wrk() {
  local backend=$1 name=$2 path=$3 expect=$4 secret=$5
  local out=$RESULTS/wrk-$backend-$name.txt
  local url="http://127.0.0.1:$PORT"
  export SK_NAME=$name SK_PATH=$path SK_EXPECT=$expect SK_COOKIE=$secret
  log "$backend / $name: GET $path, warm-up $WARMUP"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$LUA" "$url" >"$out.warmup" 2>&1 ||
    { cat "$out.warmup" >&2; die "wrk failed (warm-up, $backend $name)"; }
  log "$backend / $name: -t$THREADS -c$CONNECTIONS -d$DURATION"
  local s0 m0 p0 w s1 m1 p1
  p0=$(pg_ticks)
  s0=$(proc_ticks "$SERVER_PID")
  m0=$(machine_ticks)
  local TIMEFORMAT='%R %U %S'
  w=$({ time wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "$url" \
    >"$out" 2>&1; } 2>&1) || { cat "$out" >&2; die "wrk failed ($backend $name)"; }
  m1=$(machine_ticks)
  s1=$(proc_ticks "$SERVER_PID")
  p1=$(pg_ticks)
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during $backend $name"
  local line cpu
  line=$(grep '^SKBENCH ' "$out") || { cat "$out" >&2; die "no SKBENCH line from wrk"; }
  # CPU in cores: server, PostgreSQL, wrk, anything else (other jobs), machine busy %
  cpu=$(awk -v s0="$s0" -v s1="$s1" -v p0="$p0" -v p1="$p1" -v m0="$m0" -v m1="$m1" \
    -v w="$w" -v tick="$TICK" '
    BEGIN {
      split(m0, a, " "); split(m1, b, " "); split(w, c, " ")
      wall = c[1]; total = (b[1] - a[1]); idle = (b[2] - a[2])
      busy = (total - idle) / tick
      ncpu = total / tick / wall
      server = (s1 - s0) / tick / wall; pg = (p1 - p0) / tick / wall; if (pg < 0) pg = 0; wrkc = (c[2] + c[3]) / wall
      other = busy / wall - server - pg - wrkc; if (other < 0) other = 0
      printf "cpu_server=%.2f cpu_pg=%.2f cpu_wrk=%.2f cpu_other=%.2f busy_pct=%.0f", server, pg, wrkc, other, 100 * busy / wall / ncpu
    }')
  echo "backend=$backend $line $cpu" >>"$ROWS"
  grep '^SKSAMPLE ' "$out" >&2 || true
}

# ---------------------------------------------------------------- query plans
# The SQL of the users page, as crates/store/src/users.rs (users(), count_users(), the
# assignments of the page in user_views()) and the helpers the page calls (folders(),
# role_tree(), and summary() for /ui/licenses and /ui/) build it, with the binds inlined.
COLS="id, login, name, email, area, folder_id, state, block_reason, builtin, created_at"
LIST="SELECT $COLS FROM users u WHERE 1 = 1"
SEARCH_W="(lower(u.login) LIKE '%$SEARCH%' OR lower(u.name) LIKE '%$SEARCH%' OR lower(u.email) LIKE '%$SEARCH%')"
PRODUCT_W="EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = u.id AND a.product_code = 'suite')"
QUERIES=(
  "users-first list|$LIST ORDER BY lower(login) LIMIT 50 OFFSET 0"
  "users-middle list|$LIST ORDER BY lower(login) LIMIT 50 OFFSET $(((MID_PAGE - 1) * PAGE))"
  "users-last list|$LIST ORDER BY lower(login) LIMIT 50 OFFSET $(((LAST_PAGE - 1) * PAGE))"
  "users-* count|SELECT COUNT(*) AS n FROM users u WHERE 1 = 1"
  "search-1pct list|$LIST AND $SEARCH_W ORDER BY lower(login) LIMIT 50 OFFSET 0"
  "search-1pct count|SELECT COUNT(*) AS n FROM users u WHERE 1 = 1 AND $SEARCH_W"
  "product list|$LIST AND $PRODUCT_W ORDER BY lower(login) LIMIT 50 OFFSET 0"
  "product count|SELECT COUNT(*) AS n FROM users u WHERE 1 = 1 AND $PRODUCT_W"
  "blocked list|$LIST AND u.state = 'blocked' ORDER BY lower(login) LIMIT 50 OFFSET 0"
  "blocked count|SELECT COUNT(*) AS n FROM users u WHERE 1 = 1 AND u.state = 'blocked'"
  "page licenses (user_views)|SELECT user_id, product_code, status, release_pending, manual, by_role, folder_id, granted_at FROM assignments WHERE user_id IN (2, 7, 12, 17, 22, 27, 32, 37, 42, 47) ORDER BY product_code"
  "folders() user counts (every users page)|SELECT folder_id, COUNT(*) AS n FROM users GROUP BY folder_id"
  "role_tree() member counts (every users page)|SELECT role_id, COUNT(*) AS n FROM role_members GROUP BY role_id"
  "summary() blocked (licenses, overview)|SELECT area, COUNT(*) AS n FROM users WHERE state = 'blocked' GROUP BY area"
)
explain() {
  local backend=$1 db=$2 out=$RESULTS/explain-$backend.txt q name sql
  : >"$out"
  for q in "${QUERIES[@]}"; do
    name=${q%%|*}
    sql=${q#*|}
    {
      echo "---- $name"
      echo "$sql;"
      if [ "$backend" = sqlite ]; then
        # The plan, then the query run 5 times (the last timing is the warm one).
        sqlite3 "$db" "EXPLAIN QUERY PLAN $sql;"
        { echo ".timer on"; for _ in 1 2 3 4 5; do echo "$sql;"; done; } | sqlite3 "$db" |
          grep '^Run Time' | tail -n1
      else
        # As the server runs it: a prepared statement, the plan of the 7th execution (by
        # then PostgreSQL may have switched to a generic plan).
        psql "$db" -qX -v ON_ERROR_STOP=1 -c '\o /dev/null' -c "PREPARE q AS $sql" \
          -c "EXECUTE q" -c "EXECUTE q" -c "EXECUTE q" -c "EXECUTE q" -c "EXECUTE q" -c "EXECUTE q" \
          -c '\o' -c "EXPLAIN (ANALYZE, BUFFERS) EXECUTE q"
      fi
      echo
    } >>"$out" 2>&1
  done
}

# ---------------------------------------------------------------- run
ROWS=$RESULTS/rows.txt
COLD=$RESULTS/cold.txt
: >"$ROWS"
: >"$COLD"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

for backend in $BACKENDS; do
  dir=$WORK/$backend
  mkdir -p "$dir"
  bench_database "$backend" "$dir"
  log "$backend: preparing $USERS users"
  prepare "$db" "$dir"
  if [ "$backend" = postgres ]; then
    # As autovacuum would have by the time anyone pages: statistics and visibility map.
    psql "$db" -qX -c 'VACUUM ANALYZE' >/dev/null
  fi
  start_server "$db" "$dir" "$backend"
  log "$backend: server pid $SERVER_PID on 127.0.0.1:$PORT"
  secret=$(sign_in)
  log "$backend: signed in"
  for p in "${PAGES[@]}"; do
    IFS='|' read -r name path expect <<<"$p"
    cold "$backend" "$name" "$path" "$expect" "$secret"
  done
  for p in "${PAGES[@]}"; do
    IFS='|' read -r name path expect <<<"$p"
    run_wrk "$backend" "$name" "$path" "$expect" "$secret"
  done
  stop_server
  if [ "$EXPLAIN" = 1 ]; then
    if [ "$backend" = postgres ] || command -v sqlite3 >/dev/null; then
      log "$backend: query plans → $RESULTS/explain-$backend.txt"
      explain "$backend" "$db"
    else
      log "$backend: no sqlite3 command, no query plans"
    fi
  fi
  drop_database
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- the table
TABLE=$RESULTS/table.md
awk -v threads="$THREADS" -v conns="$CONNECTIONS" -v dur="$DURATION" -v users="$USERS" \
  -v target="$TARGET_P99_MS" -v load0="$LOAD0" -v load1="$LOAD1" -v ncpu="$(nproc)" '
function kv(line, key,   m) {
  if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
  return ""
}
FNR == NR { l = " " $0; cold[kv(l, "backend") "/" kv(l, "name")] = kv(l, "cold_ms"); next }
{ n++; line[n] = " " $0 }
END {
  printf "%s users; wrk -t%s -c%s -d%s per page after a warm-up; %s CPUs; load average %s before, %s after\n\n", users, threads, conns, dur, ncpu, load0, load1
  print "| backend | page | cold ms | req/s | p50 ms | p99 ms | p99 < " target " ms? | KiB |"
  print "|---|---|---:|---:|---:|---:|---|---:|"
  for (i = 1; i <= n; i++) {
    l = line[i]; b = kv(l, "backend"); m = kv(l, "name"); p99 = kv(l, "p99_ms")
    printf "| %s | %s | %s | %.0f | %.1f | %.1f | %s | %s |\n", b, m, cold[b "/" m], kv(l, "rps"),
      kv(l, "p50_ms"), p99, (p99 + 0 < target) ? "yes" : "NO", kv(l, "body_kb")
  }
  print ""
  print "| backend | page | requests | server CPU | PostgreSQL CPU | wrk CPU | other CPU | machine busy |"
  print "|---|---|---:|---:|---:|---:|---:|---:|"
  for (i = 1; i <= n; i++) {
    l = line[i]
    printf "| %s | %s | %s | %s | %s | %s | %s | %s%% |\n", kv(l, "backend"), kv(l, "name"),
      kv(l, "requests"), kv(l, "cpu_server"), kv(l, "cpu_pg"), kv(l, "cpu_wrk"),
      kv(l, "cpu_other"), kv(l, "busy_pct")
  }
}' "$COLD" "$ROWS" >"$TABLE"
echo
cat "$TABLE"
if [ "$EXPLAIN" = 1 ]; then
  echo
  for f in "$RESULTS"/explain-*.txt; do [ -e "$f" ] && echo "query plans: $f"; done
fi

# ---------------------------------------------------------------- checks
failed=0
while read -r l; do
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $l"; }
  for k in http_errors sock_connect sock_read sock_write sock_timeout bad_status unexpected; do
    v=$(get $k)
    if [ "$v" != 0 ]; then
      echo "FAIL: $(get backend) $(get name): $k=$v" >&2
      failed=1
    fi
  done
  if [ "$(get ok)" = 0 ]; then
    echo "FAIL: $(get backend) $(get name): no answer" >&2
    failed=1
  fi
done <"$ROWS"
[ "$failed" = 0 ] || die "checks failed (wrk outputs in $RESULTS; set RESULTS_DIR to keep them)"
echo
echo "checks: every answer 200 with the expected user count (or page marker)"
