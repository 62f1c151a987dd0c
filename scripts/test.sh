#!/usr/bin/env bash
# Install (into .venv) and run the whole test suite; what `.ci/run` runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
# The definitions must load and validate through Dagster's own CLI (as the UI would).
.venv/bin/dagster definitions validate -w workspace.yaml
# Tests share one embedded PostgreSQL (a fresh database per test), two workers for two cores.
exec .venv/bin/python -m pytest -n 2 -q "$@"
