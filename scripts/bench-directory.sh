#!/usr/bin/env bash
# Scale benchmark of the LDAP directory sync (issue 15; see docs/PERFORMANCE.md).
#
# Builds seatkeeper (release), starts a private slapd on loopback in a temporary folder (mdb,
# loaded offline with slapadd) holding N inetOrgPerson users in 40 OUs and N/100
# groupOfNames groups (each user in 1 to 3 groups, ~1.83 on average; the groups nest three
# levels deep), then for each backend measures, in the same run:
#   floor      ldapsearch with paging (-E pr=500/noprompt) reading the same entries with the
#              same attributes as the sync (users: uid cn mail; groups: member cn — what
#              Mapping::user_attributes / group_attributes give for this configuration),
#              median of 3 after a warm-up,
#              plus the database's bulk insert of the same N users into the real schema
#              (sqlite3: multi-row INSERTs in one transaction; PostgreSQL: \copy)
#   (1) first sync into an empty ledger          target <= 2x the floor
#   (2) re-sync, nothing changed                 target <= 1.5x the ldapsearch time
#   (3) re-sync after 1% of the users changed    reported (1% of the users get a new cn and
#                                                mail; half of those also move to another group)
#   (4) peak memory (max RSS) of the seatkeeper process over the three syncs  target <= 300 MiB
# Times are wall-clock times of the whole command (`seatkeeper --json ldap sync`, process
# start to exit, /usr/bin/time), RSS from the same /usr/bin/time. Each sync's phases (read,
# ledger state, plan, apply and apply's steps) come from its log. Prints a markdown table; a missed target is
# reported, not a failure; a sync that does not do what it should (every user created and
# active, nothing on the re-sync, the changes found) is a failure.
#
# Settings (environment):
#   N=100000                 users (groups: N/100, at least 1)
#   BACKENDS="sqlite postgres"
#   BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432   server for the PostgreSQL run (a
#                            database sk_bench_directory_<pid> is created and dropped after)
#   PAGE_SIZE=500            the sync's and ldapsearch's page size
#   SEATKEEPER_BIN=          use this binary instead of building one
#   CARGO_TARGET_DIR         where cargo builds (default: cargo's, ./target)
#   RESULTS_DIR=             keep the LDIF, logs, JSON reports and the table here
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

N=${N:-100000}
NGROUPS=$((N / 100 > 0 ? N / 100 : 1))
BACKENDS=${BACKENDS:-sqlite postgres}
PAGE_SIZE=${PAGE_SIZE:-500}
CHANGED=$((N / 100 > 0 ? N / 100 : 1))

BENCH_NAME=bench-directory
BENCH_HTTP=0
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh

for tool in slapd slapadd ldapsearch ldapmodify; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    die "$tool is missing: run bash scripts/install-slapd.sh"
done
SLAPD=$(command -v slapd || echo /usr/sbin/slapd)
SLAPADD=$(command -v slapadd || echo /usr/sbin/slapadd)
if [ ! -x /usr/bin/time ]; then
  # shellcheck source=scripts/lib/apt.sh
  source scripts/lib/apt.sh
  apt_install "$BENCH_NAME" time
fi
[[ " $BACKENDS " != *" sqlite "* ]] || command -v sqlite3 >/dev/null ||
  die "sqlite3 (the command-line shell) is needed for the SQLite floor"
command -v jq >/dev/null || die "jq is needed"

SUFFIX=dc=example,dc=com
PEOPLE=ou=people,$SUFFIX
GROUPS_BASE=ou=groups,$SUFFIX
ROOT_DN=cn=admin,$SUFFIX
ROOT_PW=admin-secret
READER_DN=cn=reader,$SUFFIX
READER_PW=reader-secret
USER_FILTER='(objectClass=inetOrgPerson)'
# What the sync asks for with this configuration (login, name, e-mail; members, name).
USER_ATTRS="uid cn mail"
GROUP_ATTRS="member cn"
GROUP_FILTER='(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))'

# ---------------------------------------------------------------- the directory
LDAP=$WORK/slapd
mkdir -p "$LDAP/db"
SLAPD_PID=
stop_slapd() {
  if [ -n "$SLAPD_PID" ]; then
    kill -TERM "$SLAPD_PID" 2>/dev/null || true
    wait "$SLAPD_PID" 2>/dev/null || true
    SLAPD_PID=
  fi
}
bench_cleanup() {
  local rc=$?
  stop_slapd
  (exit "$rc")
  cleanup
}
trap bench_cleanup EXIT

cat >"$LDAP/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $LDAP/slapd.pid
argsfile $LDAP/slapd.args
sizelimit 500
database mdb
maxsize 8589934592
suffix "$SUFFIX"
rootdn "$ROOT_DN"
rootpw $ROOT_PW
directory $LDAP/db
dbnosync
index objectClass eq
index uid eq
index member eq
# The sync account: no cap on the total of a paged search (as in the tests' slapd).
limits dn.exact="$READER_DN" size.soft=500 size.hard=500 size.prtotal=unlimited
EOF

# user_row I: the login, DN, cn and mail of user I, tab-separated, as the LDIF holds them.
# 10 departments of 4 teams each; user I sits in team I%40.
log "generating $N users in $NGROUPS groups"
awk -v n="$N" -v g="$NGROUPS" -v people="$PEOPLE" -v groups="$GROUPS_BASE" \
  -v suffix="$SUFFIX" -v reader="$READER_DN" -v reader_pw="$READER_PW" \
  -v users_tsv="$WORK/users.tsv" '
function login(i) { return sprintf("user%06d", i) }
function udn(i) { return sprintf("uid=%s,ou=team%d,ou=dept%d,%s", login(i), i % 4, int(i % 40 / 4), people) }
function gdn(k) { return sprintf("cn=group%04d,%s", k, groups) }
BEGIN {
  printf "dn: %s\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n", suffix
  printf "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", people
  printf "dn: %s\nobjectClass: organizationalUnit\nou: groups\n\n", groups
  printf "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: %s\n\n", reader, reader_pw
  for (d = 0; d < 10; d++) {
    printf "dn: ou=dept%d,%s\nobjectClass: organizationalUnit\nou: dept%d\n\n", d, people, d
    for (t = 0; t < 4; t++)
      printf "dn: ou=team%d,ou=dept%d,%s\nobjectClass: organizationalUnit\nou: team%d\n\n", t, d, people, t
  }
  for (i = 0; i < n; i++) {
    dn = udn(i); l = login(i)
    printf "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: User %d\nsn: %d\ngivenName: User\nmail: %s@example.com\ntitle: Engineer\ntelephoneNumber: +1 555 %06d\nemployeeNumber: %d\n\n", dn, l, i, i, l, i, i
    printf "%s\t%s\tUser %d\t%s@example.com\n", l, dn, i, l >users_tsv
    # 1 to 3 groups: i%g for everyone, two more for every 2nd and every 3rd user.
    a = i % g; m[a] = m[a] "member: " dn "\n"
    if (i % 2 == 0) { b = (i * 7 + 3) % g; if (b != a) m[b] = m[b] "member: " dn "\n" }
    if (i % 3 == 0) { c = (i * 13 + 5) % g; if (c != a && c != b) m[c] = m[c] "member: " dn "\n" }
    b = -1
  }
  # Nesting, three levels: group k >= 10 is a member of group int(k / 10).
  for (k = 10; k < g; k++) m[int(k / 10)] = m[int(k / 10)] "member: " gdn(k) "\n"
  for (k = 0; k < g; k++) printf "dn: %s\nobjectClass: groupOfNames\ncn: group%04d\n%s\n", gdn(k), k, m[k]
}' >"$WORK/directory.ldif"

log "loading the directory (slapadd)"
"$SLAPADD" -q -f "$LDAP/slapd.conf" -l "$WORK/directory.ldif" >"$WORK/slapadd.log" 2>&1 ||
  { tail -n 20 "$WORK/slapadd.log" >&2; die "slapadd failed"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
LDAP_URL=
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  port_free "$port" || continue
  "$SLAPD" -f "$LDAP/slapd.conf" -h "ldap://127.0.0.1:$port/" -d 0 </dev/null >"$LDAP/slapd.log" 2>&1 &
  SLAPD_PID=$!
  for _ in $(seq 1 100); do
    kill -0 "$SLAPD_PID" 2>/dev/null || break
    if ldapsearch -x -H "ldap://127.0.0.1:$port" -b "" -s base >/dev/null 2>&1; then
      LDAP_URL=ldap://127.0.0.1:$port
      break 2
    fi
    sleep 0.1
  done
  stop_slapd
done
[ -n "$LDAP_URL" ] || { cat "$LDAP/slapd.log" >&2; die "slapd did not start"; }
log "slapd pid $SLAPD_PID on $LDAP_URL"

# (5) logins during a first sync: the probe binary (crates/bench/src/directory_logins.rs).
PROBE_BIN=${SEATKEEPER_BENCH_PROBE_BIN:-}
if [ -z "$PROBE_BIN" ]; then
  log "building seatkeeper-bench-directory-logins (release)"
  cargo build --release --locked -p seatkeeper-bench --bin seatkeeper-bench-directory-logins >&2
  PROBE_BIN=${CARGO_TARGET_DIR:-target}/release/seatkeeper-bench-directory-logins
  case $PROBE_BIN in /*) ;; *) PROBE_BIN=$ROOT/$PROBE_BIN ;; esac
fi
[ -x "$PROBE_BIN" ] || die "no probe binary at $PROBE_BIN"

CONF=$WORK/seatkeeper.toml
cat >"$CONF" <<EOF
[directory]
url = "$LDAP_URL"
bind_dn = "$READER_DN"
bind_password_env = "SK_BENCH_LDAP_PASSWORD"
user_base = "$PEOPLE"
group_base = "$GROUPS_BASE"
page_size = $PAGE_SIZE
operation_timeout_secs = 600

[directory.mapping.folder]
by = "ou_path"
base_dn = "$PEOPLE"

[directory.mapping.roles.create]
kind = "functional"
EOF

# The 1% change: every 100th user gets a new cn and mail; every other one of those also
# moves from its first group to the next one.
awk -F'\t' -v n="$N" -v g="$NGROUPS" -v groups="$GROUPS_BASE" -v changed="$CHANGED" '
{
  i = NR - 1
  if (i % int(n / changed) != 0 || seen >= changed) next
  seen++
  printf "dn: %s\nchangetype: modify\nreplace: cn\ncn: %s (changed)\n-\nreplace: mail\nmail: changed.%s\n-\n\n", $2, $3, $4
  if (g > 1 && seen % 2 == 0) {
    from = i % g; to = (from + 1) % g
    printf "dn: cn=group%04d,%s\nchangetype: modify\ndelete: member\nmember: %s\n-\n\n", from, groups, $2
    printf "dn: cn=group%04d,%s\nchangetype: modify\nadd: member\nmember: %s\n-\n\n", to, groups, $2
  }
}' "$WORK/users.tsv" >"$WORK/change.ldif"
MOVED=$(grep -c '^delete: member' "$WORK/change.ldif" || true)

# ---------------------------------------------------------------- measuring
# timed NAME CMD...: runs CMD under /usr/bin/time; its stdout to $RESULTS/NAME.out, stderr to
# $RESULTS/NAME.log; sets SECS and RSS_KB.
timed() {
  local name=$1
  shift
  /usr/bin/time -f '%e %M' -o "$RESULTS/$name.time" "$@" >"$RESULTS/$name.out" 2>"$RESULTS/$name.log" ||
    { tail -n 20 "$RESULTS/$name.log" >&2; die "$name failed: $*"; }
  read -r SECS RSS_KB <"$RESULTS/$name.time"
}

# ldapsearch_once: users then groups; the attributes in $USER_ATTRS and $GROUP_ATTRS
# (space-separated), or everything with ALL_ATTRS=1.
ldapsearch_once() {
  local ua=$USER_ATTRS ga=$GROUP_ATTRS
  if [ "${ALL_ATTRS:-0}" = 1 ]; then ua="* memberOf" ga="* memberOf"; fi
  # shellcheck disable=SC2086 # the attribute lists split on purpose
  ldapsearch -x -LLL -H "$LDAP_URL" -D "$READER_DN" -w "$READER_PW" -E "pr=$PAGE_SIZE/noprompt" \
    -b "$PEOPLE" "$USER_FILTER" $ua &&
    ldapsearch -x -LLL -H "$LDAP_URL" -D "$READER_DN" -w "$READER_PW" -E "pr=$PAGE_SIZE/noprompt" \
      -b "$GROUPS_BASE" "$GROUP_FILTER" $ga
}

# ldapsearch_floor NAME: median of 3 reads of users and groups (after one warm-up); sets LDAP_S.
ldapsearch_floor() {
  local name=$1 runs=()
  export -f ldapsearch_once
  export LDAP_URL READER_DN READER_PW PAGE_SIZE PEOPLE GROUPS_BASE USER_FILTER GROUP_FILTER
  export USER_ATTRS GROUP_ATTRS
  timed "$name-warmup" bash -c ldapsearch_once
  local users
  users=$(grep -c '^uid: ' "$RESULTS/$name-warmup.out" || true)
  [ "$users" = "$N" ] || die "ldapsearch read $users users, not $N"
  for r in 1 2 3; do
    timed "$name-$r" bash -c ldapsearch_once
    runs+=("$SECS")
  done
  LDAP_S=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
  # For comparison only: the same read asking for every attribute (as `ldap test` does).
  ALL_ATTRS=1 timed "$name-all" bash -c ldapsearch_once
  LDAP_ALL_S=$SECS
  rm -f "$RESULTS/$name"-*.out
}

# insert_floor BACKEND DB: the same N users inserted into the real schema (a fresh ledger
# made by the CLI), by the database's own bulk path; sets INSERT_S.
insert_floor() {
  local backend=$1 db=$2
  quiet "$BIN" --database "$db" summary
  case $backend in
    sqlite)
      {
        echo "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
        echo "BEGIN;"
        awk -F'\t' '
          function q(s) { gsub(/\x27/, "\x27\x27", s); return "\x27" s "\x27" }
          NR % 500 == 1 { if (NR > 1) print ";"; printf "INSERT INTO users (login, name, email, area, folder_id, state, created_at, directory_dn, source) VALUES\n" }
          { printf "%s(%s, %s, %s, \x27employee\x27, 1, \x27active\x27, 1700000000, %s, \x27directory\x27)\n", (NR % 500 == 1) ? "" : ",", q($1), q($3), q($4), q($2) }
          END { print ";" }' "$WORK/users.tsv"
        echo "COMMIT;"
      } >"$WORK/insert.sql"
      timed "$backend-floor-insert" sqlite3 "$db" ".read $WORK/insert.sql"
      ;;
    postgres)
      awk -F'\t' '{ printf "%s,\"%s\",%s,employee,1,active,1700000000,\"%s\",directory\n", $1, $3, $4, $2 }' \
        "$WORK/users.tsv" >"$WORK/users.csv"
      timed "$backend-floor-insert" psql "$db" -qX -v ON_ERROR_STOP=1 -c \
        "\\copy users (login, name, email, area, folder_id, state, created_at, directory_dn, source) FROM '$WORK/users.csv' WITH (FORMAT csv)"
      ;;
  esac
  INSERT_S=$SECS
}

# run_sync NAME DB: one `ldap sync` (JSON report in $RESULTS/NAME.out); sets SECS, RSS_KB and
# PHASES ("read=ms state=ms plan=ms apply=ms").
run_sync() {
  local name=$1 db=$2
  SK_BENCH_LDAP_PASSWORD=$READER_PW NO_COLOR=1 \
    SEATKEEPER_LOG=warn,seatkeeper_server::directory_sync=info,seatkeeper_store::directory=debug \
    timed "$name" "$BIN" --database "$db" --json ldap sync --config "$CONF"
  PHASES=$(sed 's/\x1b\[[0-9;]*m//g' "$RESULTS/$name.log" |
    sed -n 's/.*\(phase\|step\)="\{0,1\}\([a-z_]*\)"\{0,1\} ms=\([0-9]*\).*/\2=\3/p' | { grep -v '^total=' || true; } | paste -sd' ')
}

count() { jq -r ".counts.$2 // \"null\"" "$RESULTS/$1.out"; }

ROWS=$RESULTS/rows.txt
: >"$ROWS"
for backend in $BACKENDS; do
  dir=$WORK/$backend
  mkdir -p "$dir"
  log "$backend: floor (ldapsearch, median of 3)"
  ldapsearch_floor "$backend-ldapsearch"
  bench_database "$backend" "$dir"
  floor_db=$db
  if [ "$backend" = sqlite ]; then floor_db=$dir/floor.db; fi
  log "$backend: floor (bulk insert of $N users)"
  insert_floor "$backend" "$floor_db"
  if [ "$backend" = postgres ]; then
    # A fresh database for the syncs: the floor's users are not the sync's.
    drop_database
    bench_database "$backend" "$dir"
  fi
  echo "backend=$backend step=ldapsearch secs=$LDAP_S" >>"$ROWS"
  echo "backend=$backend step=ldapsearch_all secs=$LDAP_ALL_S" >>"$ROWS"
  echo "backend=$backend step=insert secs=$INSERT_S" >>"$ROWS"

  log "$backend: (1) first sync of $N users"
  run_sync "$backend-first" "$db"
  [ "$(count "$backend-first" created)" = "$N" ] || die "$backend: the first sync created $(count "$backend-first" created) users, not $N"
  [ "$(count "$backend-first" created_blocked)" = 0 ] || die "$backend: the first sync created blocked users"
  echo "backend=$backend step=first secs=$SECS rss_kb=$RSS_KB $PHASES" >>"$ROWS"

  log "$backend: (2) re-sync, nothing changed"
  run_sync "$backend-same" "$db"
  [ "$(jq -r .run_id "$RESULTS/$backend-same.out")" = null ] || die "$backend: the re-sync without change wrote something"
  echo "backend=$backend step=same secs=$SECS rss_kb=$RSS_KB $PHASES" >>"$ROWS"

  log "$backend: (3) $CHANGED users changed ($MOVED moved group), re-sync"
  ldapmodify -x -H "$LDAP_URL" -D "$ROOT_DN" -w "$ROOT_PW" -f "$WORK/change.ldif" >"$RESULTS/$backend-ldapmodify.log" 2>&1 ||
    { tail -n 20 "$RESULTS/$backend-ldapmodify.log" >&2; die "ldapmodify failed"; }
  run_sync "$backend-changed" "$db"
  [ "$(count "$backend-changed" updated)" = "$CHANGED" ] || die "$backend: the re-sync updated $(count "$backend-changed" updated) users, not $CHANGED"
  echo "backend=$backend step=changed secs=$SECS rss_kb=$RSS_KB $PHASES" >>"$ROWS"

  # Undo the change, so that the next backend reads the directory the first one read.
  sed -e 's/^delete: member$/XX/; s/^add: member$/delete: member/; s/^XX$/add: member/' \
    -e 's/^\(cn: .*\) (changed)$/\1/; s/^mail: changed\./mail: /' "$WORK/change.ldif" >"$WORK/unchange.ldif"
  ldapmodify -x -H "$LDAP_URL" -D "$ROOT_DN" -w "$ROOT_PW" -f "$WORK/unchange.ldif" >>"$RESULTS/$backend-ldapmodify.log" 2>&1 ||
    { tail -n 20 "$RESULTS/$backend-ldapmodify.log" >&2; die "ldapmodify (undo) failed"; }
  drop_database

  # (5) Logins during a first sync, in one process as `serve` runs it: 200 users made by hand,
  # then the sync of N users, while another handle on the database logs one of the 200 in
  # (and out) every 20 ms.
  log "$backend: (5) logins every 20 ms during a first sync of $N users"
  mkdir -p "$dir/probe"
  bench_database "$backend" "$dir/probe"
  SK_BENCH_LDAP_PASSWORD=$READER_PW SEATKEEPER_LOG=warn \
    "$PROBE_BIN" --database "$db" --config "$CONF" >"$RESULTS/$backend-probe.out" 2>"$RESULTS/$backend-probe.log" ||
    { tail -n 20 "$RESULTS/$backend-probe.log" >&2; die "$backend: the probe run failed"; }
  echo "backend=$backend step=probe $(cat "$RESULTS/$backend-probe.out")" >>"$ROWS"
  drop_database
  # The same with the logins on a second handle: a second process beside the sync.
  bench_database "$backend" "$dir/probe"
  rm -f "$dir/probe/bench.db"*
  SK_BENCH_LDAP_PASSWORD=$READER_PW SEATKEEPER_LOG=warn \
    "$PROBE_BIN" --database "$db" --config "$CONF" --separate-handle >"$RESULTS/$backend-probe2.out" 2>"$RESULTS/$backend-probe2.log" ||
    { tail -n 20 "$RESULTS/$backend-probe2.log" >&2; die "$backend: the second probe run failed"; }
  echo "backend=$backend step=probe2 $(cat "$RESULTS/$backend-probe2.out")" >>"$ROWS"
  drop_database
done

# ---------------------------------------------------------------- the table
TABLE=$RESULTS/table.md
awk -v n="$N" -v g="$NGROUPS" -v changed="$CHANGED" -v moved="$MOVED" -v page="$PAGE_SIZE" '
function kv(line, key,   m) {
  if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
  return ""
}
{ l = " " $0; b = kv(l, "backend"); s = kv(l, "step"); v[b, s] = kv(l, "secs")
  if (s == "probe" || s == "probe2") { split("sync_secs logins refused p50_ms p99_ms max_ms", keys, " "); for (k in keys) pr[b, s, keys[k]] = kv(l, keys[k]); next }
  if (!(b in seen)) { seen[b] = 1; order[++nb] = b }
  if (s != "ldapsearch" && s != "ldapsearch_all" && s != "insert") {
    rss = kv(l, "rss_kb"); if (rss + 0 > peak[b]) peak[b] = rss + 0
    ph[b, s] = sprintf("%s / %s / %s / %s (%s + %s + %s + %s)", kv(l, "read") / 1000, kv(l, "ledger_state") / 1000, kv(l, "plan") / 1000, kv(l, "apply") / 1000, kv(l, "create") / 1000, kv(l, "update") / 1000, kv(l, "members") / 1000, kv(l, "redistribute") / 1000)
  }
}
function row(b, what, secs, ratio, target, met) {
  printf "| %s | %s | %.2f | %s | %s | %s |\n", b, what, secs, ratio, target, met
}
END {
  printf "%d users in %d groups (%.2f memberships per user on average), pages of %d\n\n", n, g, 1 + 1/2 + 1/3, page
  print "| backend | measure | seconds | ratio | target | met? |"
  print "|---|---|---:|---:|---|---|"
  for (i = 1; i <= nb; i++) {
    b = order[i]; ls = v[b, "ldapsearch"]; fl = ls + v[b, "insert"]
    row(b, "floor: ldapsearch, paged (users + groups)", ls, "", "", "")
    row(b, "floor: bulk insert of the users", v[b, "insert"], "", "", "")
    row(b, "floor (sum)", fl, "", "", "")
    row(b, "(for comparison) ldapsearch of every attribute", v[b, "ldapsearch_all"], "", "", "")
    r = v[b, "first"] / fl
    row(b, "(1) first sync", v[b, "first"], sprintf("%.2fx floor", r), "<= 2x floor", r <= 2 ? "yes" : "NO")
    r = v[b, "same"] / ls
    row(b, "(2) re-sync, no change", v[b, "same"], sprintf("%.2fx ldapsearch", r), "<= 1.5x ldapsearch", r <= 1.5 ? "yes" : "NO")
    r = v[b, "changed"] / ls
    row(b, sprintf("(3) re-sync, %d users changed (%d moved group)", changed, moved), v[b, "changed"], sprintf("%.2fx ldapsearch", r), "(reported)", "")
    printf "| %s | (4) peak memory (max RSS) | %.0f MiB | | <= 300 MiB | %s |\n", b, peak[b] / 1024, peak[b] <= 300 * 1024 ? "yes" : "NO"
  }
  print ""
  print "Phases of each sync, seconds: read (LDAP) / ledger state (loaded while the directory is read) / plan / apply (create + update + memberships + D5 redistribution)"
  print ""
  print "| backend | (1) first | (2) no change | (3) 1% changed |"
  print "|---|---|---|---|"
  for (i = 1; i <= nb; i++) { b = order[i]; printf "| %s | %s | %s | %s |\n", b, ph[b, "first"], ph[b, "same"], ph[b, "changed"] }
  print ""
  print "(5) Logins during a first sync, a login every 20 ms: on the ledger handle the sync uses (as serve runs both), and on a second handle (a second process):"
  print ""
  print "| backend | logins on | sync | logins sent | refused | p50 | p99 | max |"
  print "|---|---|---:|---:|---:|---:|---:|---:|"
  for (i = 1; i <= nb; i++) { b = order[i]; for (t = 1; t <= 2; t++) { s = t == 1 ? "probe" : "probe2"; printf "| %s | %s | %s s | %s | %s | %s ms | %s ms | %s ms |\n", b, t == 1 ? "the same handle" : "a second handle", pr[b, s, "sync_secs"], pr[b, s, "logins"], pr[b, s, "refused"], pr[b, s, "p50_ms"], pr[b, s, "p99_ms"], pr[b, s, "max_ms"] } }
}' "$ROWS" >"$TABLE"
echo
cat "$TABLE"
