#!/usr/bin/env bash
# Install (into .venv) and run the whole test suite; what `.ci/run` runs.
. "$(dirname "$0")/venv.sh" dev
# The definitions must load and validate through Dagster's own CLI (as the UI would).
.venv/bin/dagster definitions validate -w workspace.yaml
# Tests share one embedded PostgreSQL (a fresh database per test), two workers for two cores.
exec .venv/bin/python -m pytest -n 2 -q "$@"
