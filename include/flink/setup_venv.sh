#!/usr/bin/env bash
# Create or update the PyFlink virtualenv used by include/flink/run_local.py and tests/flink.
#
# Idempotent: an existing venv is reused and only re-synced when requirements.txt changed since the last
# successful run (a stamp file records its checksum), so calling it from `make` on every run is cheap.
#
#   include/flink/setup_venv.sh                 # -> <repo>/.venv-flink
#   FLINK_VENV=/some/dir include/flink/setup_venv.sh
#   PYTHON=python3.11 include/flink/setup_venv.sh
#
# Needs Python 3.8-3.11 (apache-flink 1.20 ships no wheels for newer Pythons) and a Java 11 or 17
# runtime on PATH or in JAVA_HOME (PyFlink starts a JVM for the local mini-cluster).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
venv="${FLINK_VENV:-${repo}/.venv-flink}"
python="${PYTHON:-python3.11}"
requirements="${here}/requirements.txt"
stamp="${venv}/.requirements.sha256"

if ! command -v "${python}" >/dev/null 2>&1; then
    echo "setup_venv.sh: ${python} not found; install Python 3.11 or set PYTHON=<python3.8..3.11>" >&2
    exit 1
fi
if ! command -v java >/dev/null 2>&1 && [[ -z "${JAVA_HOME:-}" ]]; then
    echo "setup_venv.sh: no Java runtime found (PyFlink needs Java 11 or 17 on PATH or JAVA_HOME)" >&2
    exit 1
fi

if [[ ! -x "${venv}/bin/python" ]]; then
    echo "Creating ${venv} with ${python}"
    "${python}" -m venv "${venv}"
fi

wanted="$(sha256sum "${requirements}" | cut -d' ' -f1)"
if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${wanted}" ]] \
    && "${venv}/bin/python" -c "import pyflink" >/dev/null 2>&1; then
    echo "${venv} is up to date"
    exit 0
fi

echo "Installing ${requirements} into ${venv} (first time: a few minutes, ~1 GB)"
"${venv}/bin/python" -m pip install --quiet --upgrade pip
"${venv}/bin/python" -m pip install --quiet -r "${requirements}"
"${venv}/bin/python" -c "import pyflink.table" # fail here, not in the tests, if the install is broken
echo "${wanted}" > "${stamp}"
echo "${venv} ready: $("${venv}/bin/python" -m pip show apache-flink | grep '^Version')"
