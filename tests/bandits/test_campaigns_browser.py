"""The Campaigns page in headless Chromium over a served bandit policy (skips without chromium)."""

from __future__ import annotations

import pytest

from shopml.bandits.train import train
from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.registry import Registry

browser_mod = pytest.importorskip("tests.serve.test_dashboard_browser")
pytestmark = browser_mod.pytestmark


@pytest.fixture(scope="module")
def bandit_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaigns")
    ws, reg = root / "shop.duckdb", root / "registry"
    with Workspace(ws) as w:
        simulate(SimConfig(n_users=600, n_items=60, n_categories=3, days=30, seed=1)).write(w)
    train(ws, Registry(reg), "linear_ts")
    with browser_mod._serving(root, ws, reg) as base:
        yield base


def test_campaigns_page(bandit_server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=browser_mod.CHROMIUM, headless=True)
        context = b.new_context(viewport={"width": 1300, "height": 900})
        pg = browser_mod.Page(context, bandit_server)
        pg.page.set_default_timeout(90_000)  # the page's live simulation takes a few seconds
        pg.open("/dashboard/campaigns")
        assert pg.rows("#policies-table") == 1
        table = pg.text("#policies-table")
        assert "linear_ts" in table and "[" in table  # an estimate with its interval
        assert pg.plotted("#regret") and pg.plotted("#pacing")
        assert "spend / budget" in pg.text("#pacing-summary")
        pg.page.fill("#slots", "2")
        pg.page.click("#decide-form button")
        pg.page.wait_for_selector("#decision-table")
        assert pg.rows("#decision-table") == 2
        pg.page.wait_for_selector("#shares.js-plotly-plot")  # the decision now shows as traffic
        pg.close(tmp_path, "campaigns")
        context.close()
        b.close()
