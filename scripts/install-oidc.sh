#!/usr/bin/env bash
# Installs the OpenID Connect provider that the SSO tests (I3) start on loopback:
# `oidc-provider-mock` from PyPI (an OpenID provider for tests, built on Authlib's OAuth 2.0 /
# OpenID Connect server), pinned with its dependencies in scripts/oidc/requirements.txt, into
# the virtualenv target/oidc/venv. scripts/oidc/provider.py launches it. Idempotent and silent
# when already installed. Exits non-zero when the install fails; the caller decides whether
# that is fatal (CI) or a reason to skip the SSO tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/pyvenv.sh
source scripts/lib/pyvenv.sh
pyvenv_install install-oidc target/oidc/venv scripts/oidc/requirements.txt
# Authlib warns of its own deprecations on import, whatever -W says: only failure is shown.
target/oidc/venv/bin/python -c 'import oidc_provider_mock' >/dev/null 2>&1 || {
  echo "install-oidc: installed, but oidc_provider_mock does not import" >&2
  exit 1
}
