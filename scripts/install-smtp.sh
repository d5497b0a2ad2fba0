#!/usr/bin/env bash
# Installs the SMTP server that the mail tests (N1) start on loopback: PyPI's `aiosmtpd`,
# pinned with its dependencies in scripts/smtp/requirements.txt, into the virtualenv
# target/smtp/venv. scripts/smtp/sink.py launches it and writes each message it receives to a
# directory. Idempotent and silent when already installed. Exits non-zero when the install
# fails; the caller decides whether that is fatal (CI) or a reason to skip the mail tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/pyvenv.sh
source scripts/lib/pyvenv.sh
pyvenv_install install-smtp target/smtp/venv scripts/smtp/requirements.txt
target/smtp/venv/bin/python -c 'import aiosmtpd.controller' >/dev/null 2>&1 || {
  echo "install-smtp: installed, but aiosmtpd does not import" >&2
  exit 1
}
