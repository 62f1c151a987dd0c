# Sourced by demo.sh and test.sh: create .venv (Python 3.11) and install the project into it.
# Usage: . scripts/venv.sh [extras]   e.g. ". scripts/venv.sh dev"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${1:+[$1]}"
