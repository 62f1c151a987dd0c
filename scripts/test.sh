#!/usr/bin/env bash
# Install (into .venv) and run the whole test suite; what `.ci/run` runs.
. "$(dirname "$0")/venv.sh" dev

# Exit 1 if an embedded PostgreSQL (or its reaper) under one of the given homes is still running.
no_server_left() {
    .venv/bin/python - "$@" <<'EOF'
import sys
from tests.processes import nothing_left
left = [home for home in sys.argv[1:] if not nothing_left(home)]
sys.exit(f"embedded PostgreSQL left running under: {', '.join(left)}" if left else 0)
EOF
}

# Formatter and linter first (pyproject.toml, [tool.ruff]): a formatting or lint finding fails
# before any test runs.
.venv/bin/ruff format --check .
.venv/bin/ruff check .

# The browser test (tests/test_ui_browser.py) drives Debian's Chromium: install it where we
# can (root with apt-get); elsewhere that test is skipped, saying why.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian's chromium and chromium-driver for the browser test"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
            >/dev/null 2>&1 || echo "could not install chromium: the browser test will be skipped" >&2
    fi
fi

# The definitions must load and validate through Dagster's own CLI (as the UI would).
.venv/bin/dagster definitions validate -w workspace.yaml

# The plain Dagster CLI as an operator runs it (README, "Operating with the Dagster CLI"): a
# fresh home prepared by `vetorial doctor`, then nothing but DAGSTER_HOME in a clean
# environment; one Meta partition and one Chatwoot tenant. Each command stops the server it
# started.
smoke=$(mktemp -d "${TMPDIR:-/tmp}/vetorial-smoke-XXXXXX")
trap 'rm -rf "$smoke"' EXIT
clean() { env -i PATH=/usr/bin:/bin HOME="$HOME" LANG=C.UTF-8 "$@" >>"$smoke/cli.log" 2>&1 || { tail -40 "$smoke/cli.log"; echo "FAILED: $*" >&2; exit 1; }; }
dagster_env="DAGSTER_HOME=$smoke/home/dagster_home"
echo "Dagster CLI: a Meta day, an Instagram day and a Chatwoot tenant through the marts, on a fresh home"
clean VETORIAL_HOME="$smoke/home" .venv/bin/vetorial doctor
clean "$dagster_env" .venv/bin/dagster asset materialize -m vetorial_assets.definitions \
    --select raw/meta_ads_insights,staging/insights_meta_ads --partition "act_100000000000001|2025-06-02"
clean "$dagster_env" .venv/bin/dagster asset materialize -m vetorial_assets.definitions \
    --select raw/ig_follows --partition "17841400000000001|2025-06-02"
clean "$dagster_env" .venv/bin/dagster asset materialize -m vetorial_assets.definitions --select raw/meta_ad_accounts
clean "$dagster_env" .venv/bin/dagster asset materialize -m vetorial_assets.definitions \
    --select raw/conversas_analytics --partition allpfit
# ... and through the warehouse layers to the marts (the tenant's staging, then model and marts).
clean "$dagster_env" .venv/bin/dagster asset materialize -m vetorial_assets.definitions \
    --select staging/conversations --partition allpfit
clean "$dagster_env" .venv/bin/dagster asset materialize -m vetorial_assets.definitions \
    --select "group:model or group:mart"
# The materializations ran each asset's checks (asset_checks/); doctor reads their latest results
# from the instance and fails on a check failed at ERROR. Every check must have been evaluated.
echo "Checks of the slice: none failed at ERROR"
clean VETORIAL_HOME="$smoke/home" .venv/bin/vetorial doctor
grep -qE "ok    asset checks: latest evaluations pass \(([0-9]+) of \1 checks evaluated\)" "$smoke/cli.log" \
    || { tail -40 "$smoke/cli.log"; echo "FAILED: not every asset check was evaluated in the slice" >&2; exit 1; }
no_server_left "$smoke/home"

# Tests share one embedded PostgreSQL (a fresh database per test), two workers for two cores;
# the last worker stops it, unless it was running before (then it is left as found).
test_home=${VETORIAL_TEST_HOME:-.vetorial-test}
.venv/bin/python -c "import sys; from tests.processes import postmasters; sys.exit(bool(postmasters(sys.argv[1])))" \
    "$test_home" && was_stopped=1 || was_stopped=0
status=0
.venv/bin/python -m pytest -n 2 -q "$@" || status=$?
if [ "$was_stopped" = 1 ]; then
    no_server_left "$test_home" || status=1
fi
exit "$status"
