#!/usr/bin/env bash
# Install what the platform needs on a fresh Debian machine: the Debian packages named as
# arguments (if missing), a Python 3.11 virtualenv in .venv, and the project with the
# extras in $EXTRAS. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "Python 3.11 is required (found $("$python_bin" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python_bin" -m venv .venv

extras="${EXTRAS:-}"
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)${extras:+-$extras}"
# An install with extras holds the plain one too: the run command after the test command installs nothing.
if [ -z "$extras" ] && compgen -G "$stamp-*" >/dev/null; then
  touch "$stamp"
fi
if [ ! -f "$stamp" ]; then
  echo "Installing Python packages into .venv (first run takes a few minutes)..."
  log="$(mktemp)"
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip \
         && .venv/bin/python -m pip install --disable-pip-version-check -e ".${extras:+[$extras]}"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "pip install failed; full log: $log" >&2
    exit 1
  fi
  rm -f "$log"
  touch "$stamp"
fi
