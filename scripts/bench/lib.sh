# Shared by the benchmark scripts (scripts/bench-login.sh, scripts/bench-ui.sh): tools, the
# binary, a work folder cleaned up on any exit, a database per backend, the server, and CPU
# counters. Source it after setting BENCH_NAME and cd-ing to the project root.
#
# Reads: BENCH_NAME, BENCH_HTTP, BENCH_POSTGRES, SEATKEEPER_BIN, CARGO_TARGET_DIR, RESULTS_DIR.
# Sets: ROOT, BIN, WORK, RESULTS, TICK; SERVER_PID and PORT (start_server); PG_DB and db
# (bench_database).

ROOT=$PWD
BENCH_POSTGRES=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
BENCH_POSTGRES=${BENCH_POSTGRES%/}

die() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}
log() { echo "== $*" >&2; }

# ---------------------------------------------------------------- tools and binary
sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
# BENCH_HTTP=0: a benchmark that starts no server (scripts/bench-directory.sh) needs neither.
if [ "${BENCH_HTTP:-1}" = 1 ]; then
  if ! command -v wrk >/dev/null; then
    log "installing wrk"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
  command -v wrk >/dev/null || die "wrk is not installed and could not be installed"
  command -v curl >/dev/null || die "curl is needed"
fi

if [ -n "${SEATKEEPER_BIN:-}" ]; then
  BIN=$SEATKEEPER_BIN
else
  log "building seatkeeper (release) in ${CARGO_TARGET_DIR:-target}"
  cargo build --release --locked -p seatkeeper >&2
  BIN=${CARGO_TARGET_DIR:-target}/release/seatkeeper
  case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
fi
[ -x "$BIN" ] || die "no seatkeeper binary at $BIN"

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d -t "sk-$BENCH_NAME.XXXXXX")
SERVER_PID=
PG_DB=
drop_database() {
  if [ -n "$PG_DB" ]; then
    psql "$BENCH_POSTGRES/postgres" -qX -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" \
      >/dev/null 2>&1 || echo "$BENCH_NAME: could not drop database $PG_DB" >&2
    PG_DB=
  fi
}
cleanup() {
  local rc=$?
  stop_server
  drop_database
  rm -rf "$WORK"
  exit "$rc"
}
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      kill -TERM "$SERVER_PID" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap cleanup EXIT
trap 'echo "$BENCH_NAME: failed (line $LINENO): $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

RESULTS=${RESULTS_DIR:-$WORK/results}
mkdir -p "$RESULTS"

# Runs a command quietly; shows its output if it fails.
quiet() {
  "$@" >"$WORK/cmd.log" 2>&1 || { cat "$WORK/cmd.log" >&2; return 1; }
}

# ---------------------------------------------------------------- databases
# bench_database BACKEND DIR: sets `db` to a fresh SQLite file in DIR, or to a new PostgreSQL
# database (PG_DB, dropped by drop_database or at exit); starts the local cluster if it is
# down, as scripts/test.sh does.
bench_database() {
  local backend=$1 dir=$2
  case $backend in
    sqlite)
      db=$dir/bench.db
      ;;
    postgres)
      if ! psql "$BENCH_POSTGRES/postgres" -qXAt -c 'select 1' >/dev/null 2>&1; then
        if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
          log "PostgreSQL is down; starting the local cluster"
          pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
          for _ in $(seq 1 50); do
            psql "$BENCH_POSTGRES/postgres" -qXAt -c 'select 1' >/dev/null 2>&1 && break
            sleep 0.2
          done
        fi
      fi
      psql "$BENCH_POSTGRES/postgres" -qXAt -c 'select 1' >/dev/null 2>&1 ||
        die "PostgreSQL at $BENCH_POSTGRES is unreachable (set BENCH_POSTGRES, or BACKENDS=sqlite)"
      PG_DB=sk_${BENCH_NAME//-/_}_$$
      psql "$BENCH_POSTGRES/postgres" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PG_DB" >/dev/null
      db=$BENCH_POSTGRES/$PG_DB
      ;;
    *) die "unknown backend '$backend' (sqlite or postgres)" ;;
  esac
}

# ---------------------------------------------------------------- the server
# start_server DB DIR NAME [SERVE ARGS...]: starts `seatkeeper serve` on a free loopback port
# (PORT) and waits for GET /healthz; its log goes to $RESULTS/server-NAME.log.
PORT=
start_server() {
  local db=$1 dir=$2 name=$3
  shift 3
  local serve_log=$RESULTS/server-$name.log
  "$BIN" --database "$db" --vendor-key "$dir/vendor.pub.pem" serve --listen 127.0.0.1:0 "$@" \
    >"$serve_log" 2>&1 &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$serve_log" >&2; die "the server exited at start"; }
    PORT=$(sed -n 's|^Seatkeeper listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$serve_log")
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || die "the server did not start listening within 30 s (log: $serve_log)"
  for _ in $(seq 1 100); do
    [ "$(curl -fsS "http://127.0.0.1:$PORT/healthz" 2>/dev/null)" = ok ] && return 0
    sleep 0.1
  done
  die "GET /healthz did not answer ok"
}

# ---------------------------------------------------------------- CPU counters
TICK=$(getconf CLK_TCK)
# user + system ticks of one process
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# ticks of every live process named postgres (the database's backends; one that exits during
# a run takes its ticks with it, so a difference can come out negative: clamp it at 0)
pg_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '$2 == "(postgres)" {t += $14 + $15} END {print t + 0}'
}
# total and idle jiffies of the whole machine
machine_ticks() { awk '/^cpu /{t=0; for (i=2;i<=NF;i++) t+=$i; print t, $5 + $6}' /proc/stat; }
