# Sourced by the install scripts of the Python test tools (install-oidc.sh, install-scim-check.sh).
# Defines `pyvenv_install WHO DIR REQUIREMENTS`: a virtualenv at DIR with exactly the pinned
# REQUIREMENTS (from PyPI), rebuilt only when the requirements file changed (a stamp holds its
# hash), so a second run is instant and silent. Python's venv module comes from Debian's
# python3-venv when the python3 on PATH has none. Returns 1 on failure, with pip's last lines.

pyvenv_install() {
  local who=$1 dir=$2 req=$3 stamp want log
  stamp="$dir/.requirements.sha256"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    # shellcheck source=scripts/lib/apt.sh
    source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
    apt_install "$who" python3 python3-venv || return 1
  fi
  echo "$who: installing $(grep -c . "$req") pinned packages into $dir"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  log=$(mktemp)
  if ! python3 -m venv "$dir" >"$log" 2>&1 \
    || ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
      --no-input -r "$req" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    echo "$who: could not build the virtualenv at $dir" >&2
    return 1
  fi
  rm -f "$log"
  echo "$want" >"$stamp"
}
