#!/usr/bin/env bash
# The test command: the whole suite, on SQLite and on the PostgreSQL server at
# $SEATKEEPER_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test).
# Starts the local PostgreSQL cluster if it is installed but down, and installs headless
# Chromium for the admin UI's browser tests (scripts/install-browser.sh), OpenLDAP's slapd
# for the directory tests (scripts/install-slapd.sh), the OpenID Connect provider for the SSO
# tests (scripts/install-oidc.sh), the SMTP server for the mail tests (scripts/install-smtp.sh)
# and the third-party SCIM conformance checkers (scripts/install-scim-check.sh), whose counts
# are shown before the suite's totals.
# Outside CI the PostgreSQL runs, the browser tests, the slapd tests, the SSO tests, the mail
# tests and the SCIM conformance test skip with a notice when their server, browser, slapd,
# provider, SMTP server or checkers are missing; with CI=true they fail.
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

# The admin UI's browser tests need headless Chromium and chromedriver. Under CI a failed
# install fails the run; outside CI the browser tests skip with a notice instead.
if ! bash scripts/install-browser.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "FATAL: could not install chromium and chromium-driver; CI runs the browser tests" >&2
    exit 1
  fi
  echo "NOTICE: chromium or chromedriver could not be installed; the browser tests will be skipped" >&2
  export SEATKEEPER_BROWSER_TESTS=skip
fi
# The directory tests start their own slapd (never the system one) and need slapd and
# ldap-utils. Under CI a failed install fails the run (and the tests fail without slapd);
# outside CI they skip with a notice.
if ! bash scripts/install-slapd.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "FATAL: could not install slapd and ldap-utils; CI runs the directory tests against a real slapd" >&2
    exit 1
  fi
  echo "NOTICE: slapd or ldap-utils could not be installed; the LDAP tests will be skipped" >&2
fi
# The SSO tests (I3) start their own OpenID Connect provider on loopback, from the virtualenv
# that scripts/install-oidc.sh builds (PyPI's oidc-provider-mock). Under CI a failed install
# fails the run; outside CI the SSO tests skip with a notice.
if ! bash scripts/install-oidc.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "FATAL: could not install the test OpenID Connect provider; CI runs the SSO tests against it" >&2
    exit 1
  fi
  echo "NOTICE: the test OpenID Connect provider could not be installed; the SSO tests will be skipped" >&2
fi
# The SCIM conformance test (I2) runs scripts/scim-check.sh, whose checkers (PyPI's scim2-tester
# and scim-sanity) live in the virtualenv scripts/install-scim-check.sh builds. Under CI a failed
# install fails the run; outside CI that test skips with a notice.
if ! bash scripts/install-scim-check.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "FATAL: could not install the SCIM conformance checkers; CI runs them against the SCIM endpoints" >&2
    exit 1
  fi
  echo "NOTICE: the SCIM conformance checkers could not be installed; their test will be skipped" >&2
fi
# The mail tests (N1) start their own SMTP server on loopback (PyPI's aiosmtpd, in the
# virtualenv scripts/install-smtp.sh builds; scripts/smtp/sink.py). Under CI a failed install
# fails the run; outside CI the mail tests skip with a notice.
if ! bash scripts/install-smtp.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "FATAL: could not install the test SMTP server (aiosmtpd); CI runs the mail tests against it" >&2
    exit 1
  fi
  echo "NOTICE: the test SMTP server could not be installed; the mail tests will be skipped" >&2
fi
# The conformance test writes the checkers' counts here; shown after the run.
scim_summary=target/scim-check/summary.txt
rm -f "$scim_summary"
# Screenshots of the admin UI's pages, taken by the browser tests.
export SEATKEEPER_SCREENSHOTS="${SEATKEEPER_SCREENSHOTS:-$PWD/target/ui-screenshots}"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ -s "$scim_summary" ]; then
  echo "SCIM conformance (i2_third_party_scim_conformance_checkers_pass):"
  sed 's/^/  /' "$scim_summary"
fi
# cargo ends with the (empty) doc-test run; close with the whole suite's totals instead.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
