#!/usr/bin/env bash
# Install (into .venv) and run every asset end to end on the embedded defaults.
. "$(dirname "$0")/venv.sh"
exec .venv/bin/vetorial demo "$@"
