"""The Dagster UI in a real browser, as a newcomer reaches it: `vetorial demo`, then
`vetorial dev` (the venv's script, no venv activated, nothing exported), then headless
Chromium (Debian's chromium + chromium-driver; scripts/test.sh installs them where it can)
opens the asset graph of each group, a partitioned asset's partitions, a check's page and
the automation page, and finds there what a user must see. What is expected comes from the
project's Definitions and the Dagster instance, not from this file. Screenshots are kept in
.artifacts/ui/ (or $VETORIAL_UI_ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.processes import (  # noqa: F401 (home_dir: fixture)
    BIN,
    Service,
    clean_env,
    free_port,
    home_dir,
    http_ok,
    nothing_left,
    run,
    wait_until,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("VETORIAL_UI_ARTIFACTS", REPO / ".artifacts" / "ui"))
LOCATION = "vetorial_assets"
# Dagster renders pages as they load their data: wait for the text, never a fixed sleep.
PAGE_TIMEOUT = 90

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="Debian's chromium and chromium-driver are not installed "
        "(scripts/test.sh installs them when it runs as root with apt-get)",
    ),
]


@pytest.fixture
def browser():
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service as DriverService

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium reports nothing anywhere
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    def __init__(self, driver, base: str):
        self.driver = driver
        self.base = base
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str, *expected: str, shot: str) -> str:
        """Open `path`, wait until every `expected` text is on the page, keep a screenshot;
        returns the page's text."""
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(self.base + path)

        def loaded(driver) -> bool:
            text = driver.find_element("tag name", "body").text
            return all(e in text for e in expected)

        try:
            WebDriverWait(self.driver, PAGE_TIMEOUT, poll_frequency=0.5).until(loaded)
        finally:
            self.driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))
        return self.driver.find_element("tag name", "body").text

    def switches(self) -> dict[str, list[bool]]:
        """Automation page: each row's first line (the schedule or sensor name) -> the states of
        its checkboxes (a row-selection box, then the on/off switch)."""
        return self.driver.execute_script("""
            const rows = {};
            for (const box of document.querySelectorAll('input[type=checkbox]')) {
              let el = box;
              for (let i = 0; i < 8 && el; i++) {
                el = el.parentElement;
                if (el && el.innerText && el.innerText.trim().length > 3) break;
              }
              if (!el) continue;
              const name = el.innerText.trim().split('\\n')[0];
              (rows[name] = rows[name] || []).push(box.checked);
            }
            return rows;""")


def _definitions():
    from vetorial_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    groups: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, []).append(key.path[-1])
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    repository = defs.get_repository_def()
    schedules = [s.name for s in repository.schedule_defs]
    sensors = [s.name for s in repository.sensor_defs]
    return groups, checks, schedules, sensors


def _materialized_partitions(home: Path, asset: str) -> int:
    from dagster import AssetKey, DagsterInstance

    from vetorial_assets.platform.embedded import embedded_server

    # The instance's storage joins the embedded server's lease: leave it when done.
    with embedded_server(home), DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        return len(instance.get_materialized_partitions(AssetKey.from_user_string(asset)))


def test_the_ui_shows_assets_partitions_checks_and_running_automation(home_dir, tmp_path, browser):
    env = clean_env(VETORIAL_HOME=str(home_dir))
    demo = run([str(BIN / "vetorial"), "demo"], env, timeout=900)
    assert demo.returncode == 0, demo.stdout[-3000:]
    groups, checks, schedules, sensors = _definitions()

    port = free_port()
    dev = Service([str(BIN / "vetorial"), "dev", "--port", str(port)], env, tmp_path / "dev.log")
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: http_ok(f"{base}/server_info"), timeout=180, interval=0.5), dev.output()[-3000:]
        page = Page(browser, base)

        # The asset graph: every group, then every asset of each group's lineage.
        page.open("/asset-groups", *groups, shot="lineage-global")
        for group, names in sorted(groups.items()):
            page.open(f"/locations/{LOCATION}/asset-groups/{group}/lineage", *names, shot=f"lineage-{group}")

        # A partitioned asset: as many materialized partitions as the instance holds.
        materialized = _materialized_partitions(home_dir, "raw/meta_ads_insights")
        assert materialized > 0
        page.open(
            "/assets/raw/meta_ads_insights?view=partitions",
            f"Materialized ({materialized:,})",
            shot="partitions-meta-raw",
        )

        # A check's page: every check of the asset was evaluated by the demo and passed.
        asset = "staging/insights_meta_ads"
        names = sorted(checks[asset])
        text = page.open(
            f"/assets/{asset}?view=checks",
            *(f"{n}\nSucceeded" for n in names),
            f"Checks ({len(names)})",
            shot="checks-meta-staging",
        )
        assert "Evaluation result\nPassed" in text

        # Automation: every schedule and sensor listed, each switched on (RUNNING by default).
        page.open("/automation", *schedules, *sensors, shot="automation")
        names = schedules + sensors
        # Each row's switch appears once its state has loaded.
        assert wait_until(lambda: all(len(page.switches().get(n, [])) >= 2 for n in names), timeout=PAGE_TIMEOUT), (
            page.switches()
        )
        browser.save_screenshot(str(ARTIFACTS / "automation.png"))
        switches = page.switches()
        off = [name for name in names if switches[name][-1] is not True]
        assert not off, f"not running in the UI: {off} ({switches})"

        code = dev.interrupt()
    finally:
        dev.close()
    assert code == 0, dev.output()[-3000:]
    assert nothing_left(home_dir)
    shutil.copy(tmp_path / "dev.log", ARTIFACTS / "dev.log")
