#!/usr/bin/env bash
# Runs two third-party SCIM 2.0 conformance checkers from PyPI against a running SCIM service
# provider (issue 16, I2), and exits non-zero when either reports a failed check:
#   1. scim2-tester (python-scim project): discovery (ServiceProviderConfig, ResourceTypes,
#      Schemas), then for every advertised resource type create / get / list / .search with
#      attributes and excludedAttributes / replace / delete, and PATCH add, remove and replace
#      of each attribute (PATCH only when advertised).
#   2. scim-sanity: discovery, User and Group lifecycles (POST, GET, PUT, PATCH active=false,
#      group members add/remove, DELETE, GET 404), list/filter/pagination, §3.12 errors.
# Usage: scripts/scim-check.sh BASE_URL TOKEN   (BASE_URL ends in /scim/v2; TOKEN is a bearer
# token allowed to provision). Both checkers create and delete users and groups there.
# Prints one line per check, then `<checker> VERSION: N passed, N failed, N skipped…` for each;
# JSON reports in target/scim-check/reports/. Set SCIM_CHECKERS to run only some of them
# (default "scim2-tester scim-sanity"); SCIM_SANITY_MODE=compat softens scim-sanity's
# SHOULD-level findings to warnings (default strict).
set -uo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 BASE_URL TOKEN" >&2
  exit 2
fi
base_url=$1
token=$2
cd "$(dirname "$0")/.."
bash scripts/install-scim-check.sh || exit 2
venv=target/scim-check/venv
reports=target/scim-check/reports
mkdir -p "$reports"
status=0

for checker in ${SCIM_CHECKERS:-scim2-tester scim-sanity}; do
  echo "== $checker against $base_url"
  case $checker in
    scim2-tester)
      "$venv/bin/python" scripts/scim-check/run_scim2_tester.py "$base_url" "$token" \
        --report "$reports/scim2-tester.json"
      rc=$?
      ;;
    scim-sanity)
      "$venv/bin/scim-sanity" probe "$base_url" --token "$token" --i-accept-side-effects \
        "--${SCIM_SANITY_MODE:-strict}" --json-output >"$reports/scim-sanity.json"
      probe_rc=$?
      "$venv/bin/python" - "$reports/scim-sanity.json" "$probe_rc" <<'PY'
import json, sys
path, probe_rc = sys.argv[1], int(sys.argv[2])
try:
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
except (OSError, ValueError) as exc:
    print(f"scim-sanity: no JSON report (exit {probe_rc}): {exc}", file=sys.stderr)
    sys.exit(2)
labels = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "skip": "SKIP", "error": "FAIL"}
for r in report.get("results", []):
    label = labels.get(r.get("status"), r.get("status", "?").upper())
    message = f": {r['message']}" if r.get("message") else ""
    print(f"{label} {r.get('phase', '')} / {r.get('name')}{message}")
for issue in report.get("issues", []):
    print(f"ISSUE {issue.get('priority')} {issue.get('title')} ({issue.get('affected_tests')} checks)")
s = report.get("summary", {})
failed = s.get("failed", 0) + s.get("errors", 0)
print(f"scim-sanity {report.get('scim_sanity_version')}: {s.get('passed', 0)} passed, "
      f"{failed} failed, {s.get('skipped', 0)} skipped, {s.get('warnings', 0)} warnings")
sys.exit(1 if failed or probe_rc not in (0, 1) else 0)
PY
      rc=$?
      ;;
    *)
      echo "scim-check: unknown checker $checker" >&2
      rc=2
      ;;
  esac
  [ "$rc" -gt "$status" ] && status=$rc
done
exit "$status"
