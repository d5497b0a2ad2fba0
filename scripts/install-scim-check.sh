#!/usr/bin/env bash
# Installs the third-party SCIM 2.0 conformance checker that scripts/scim-check.sh runs:
# `scim2-tester` (with `scim2-client` and `scim2-models`, from the python-scim project on PyPI,
# via `scim2-cli`), pinned in scripts/scim-check/requirements.txt, into the virtualenv
# target/scim-check/venv. Idempotent and silent when already installed; non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/pyvenv.sh
source scripts/lib/pyvenv.sh
pyvenv_install install-scim-check target/scim-check/venv scripts/scim-check/requirements.txt
target/scim-check/venv/bin/python -c 'import scim2_tester, scim2_client' || {
  echo "install-scim-check: installed, but scim2_tester does not import" >&2
  exit 1
}
