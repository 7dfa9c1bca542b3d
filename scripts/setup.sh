#!/usr/bin/env bash
# Installs what the project needs on a Debian/Ubuntu machine, idempotently and quickly when done:
# Debian packages (only the missing ones), the project virtualenv (.venv) and, when the Flink jobs
# are present, their own virtualenv (.venv-flink). Never starts or changes system services.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(mariadb-server mariadb-client prometheus prometheus-pushgateway
                 postgresql  # the live sandbox Airflow's metadata DB (a private server, never the system's)
                 default-libmysqlclient-dev pkg-config
                 chromium)  # headless browser for tests/e2e (driven by Playwright, no browser download)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
command -v gcc >/dev/null || missing+=(gcc)
command -v java >/dev/null || missing+=(default-jre-headless)  # PyFlink's local cluster
command -v javac >/dev/null || missing+=(default-jdk-headless)  # Doris grammar check (tests/contracts)
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv python3-dev)
fi
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

"$PYTHON" - <<'PY'
import sys
if not ((3, 10) <= sys.version_info[:2] < (3, 14)):
    sys.exit(f"setup: Python 3.10-3.13 needed for Airflow 3.3, found {sys.version.split()[0]}; set PYTHON=")
PY

stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
want="$(stamp_of requirements.txt sandbox/requirements.txt constraints.txt)"
if [ "$(cat .venv/.installed 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python requirements into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r sandbox/requirements.txt -c constraints.txt
  echo "$want" > .venv/.installed
fi

# The project itself, editable and without dependencies: its apache_airflow_provider entry point (pyproject.toml)
# is how Airflow learns the Doris and Kafka Connect connection types. Re-installed when pyproject.toml changes.
project_want="$(stamp_of pyproject.toml)"
if [ "$(cat .venv/.project-installed 2>/dev/null)" != "$project_want" ]; then
  echo "setup: installing the project (editable) into .venv"
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$project_want" > .venv/.project-installed
fi

if [ -x include/flink/setup_venv.sh ] || [ -f include/flink/setup_venv.sh ]; then
  bash include/flink/setup_venv.sh
fi
