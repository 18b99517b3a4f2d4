"""The dashboard end to end: `shopml serve` in a subprocess, pages driven in headless Chromium.

Uses Debian's ``chromium`` binary through Playwright (``make test`` installs it where missing);
skips, saying so, only where no chromium binary is found. Every request the pages make to another
host is refused and recorded, so the tests also show that the dashboard and /docs need no internet.
Screenshots go to a temporary folder (``SHOPML_SCREENSHOTS`` to keep them elsewhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.serve.conftest import KEY

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "results"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH (Debian: apt-get install -y chromium; `make test` does it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(root: Path, ws: Path, reg: Path, *options: str, ready: str = "/readyz"):
    """``shopml serve`` over ``ws`` and ``reg`` on a free port; yields its base URL once
    ``ready`` answers 200 (``/healthz`` for a server with nothing to load)."""
    port = _free_port()
    cmd = [
        sys.executable, "-m", "shopml.cli", "serve", "-w", str(ws), "--registry", str(reg),
        "--port", str(port), *options,
    ]  # fmt: skip
    env = {**os.environ, "SHOPML_API_KEY": KEY}
    log_path = root / f"server-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(base + ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail(f"server did not become ready: {log_path.read_text()[-2000:]}")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()


@pytest.fixture(scope="module")
def server(shop_template, tmp_path_factory):
    """``shopml serve`` on a free port over a private copy of the tiny shop; yields its base URL."""
    root = tmp_path_factory.mktemp("dashboard")
    ws, reg = root / "shop.duckdb", root / "registry"
    shutil.copy(shop_template[0], ws)
    shutil.copytree(shop_template[1], reg)
    # the repository's benchmark results, copied so that a result written meanwhile cannot race
    bench = root / "bench"
    bench.mkdir()
    for p in BENCH.glob("*.json") if BENCH.is_dir() else []:
        shutil.copy(p, bench / p.name)
    options = ("--recommender", "ease", "--bench-dir", str(bench))
    with _serving(root, ws, reg, *options) as base:
        yield base, bench


@pytest.fixture(scope="module")
def retail_server(tmp_path_factory):
    """A shop that exports orders and no events (Online Retail-like), nothing trained."""
    from tests.serve.test_overview import orders_only_shop

    root = tmp_path_factory.mktemp("retail")
    ws, reg = orders_only_shop(root)
    with _serving(root, ws, reg, ready="/healthz") as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    """One browser context for the module: its cache keeps plotly.min.js (4.8 MB) across pages."""
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = b.new_context(viewport={"width": 1300, "height": 900})
        yield context
        context.close()
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("SHOPML_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Page:
    """A page with its JavaScript errors and the outside requests it tried (refused)."""

    def __init__(self, context, base: str) -> None:
        self.page = context.new_page()
        self.page.set_default_timeout(20_000)
        self.errors: list[str] = []
        self.outside: list[str] = []
        host = urlparse(base).netloc
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def console(m) -> None:
            # an HTTP error answer (a panel's "not trained", 404 of an unknown id) is shown on the
            # page and checked by the tests; the browser also logs it, which is not a page error
            if m.type == "error" and not m.text.startswith("Failed to load resource"):
                self.errors.append(m.text)

        self.page.on("console", console)

        def route(r):
            if urlparse(r.request.url).netloc == host:
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.base = base

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_selector("body[data-loaded='true']")

    def rows(self, selector: str) -> int:
        return self.page.locator(f"{selector} tbody tr").count()

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def plotted(self, selector: str) -> bool:
        return self.page.locator(f"{selector}.js-plotly-plot .main-svg").count() > 0

    def close(self, shots: Path, name: str) -> Path:
        out = shots / f"{name}.png"
        self.page.screenshot(path=str(out), full_page=True)
        self.page.close()
        assert self.errors == [], self.errors
        assert self.outside == [], f"the page tried to reach other hosts: {self.outside}"
        return out


def _leaderboard_files(folder: Path) -> dict[str, list[str]]:
    """Benchmark result files with comparison rows, and their model names (read independently)."""
    out = {}
    for p in sorted(folder.glob("*.json")):
        data = json.loads(p.read_text())
        if "rows" in data and "capability" in data:
            out[p.name] = [r["model"] for r in data["rows"]]
    return out


def test_overview_page(server, browser, shots):
    server, bench = server
    pg = Page(browser, server)
    pg.open("/dashboard/")
    with httpx.Client(base_url=server) as c:
        overview = c.get("/v1/overview").json()
    assert pg.rows("#tables-table") == len(overview["tables"])
    tables = pg.text("#tables-table")
    events = next(t for t in overview["tables"] if t["name"] == "events")
    assert "events" in tables and f"{events['rows']:,}" in tables
    models = pg.text("#models-table")
    assert "ease" in models and "popularity" in models and "clv" in models
    assert pg.rows("#models-table") == len(overview["models"]) == 4  # with the search engine
    pg.page.wait_for_selector("header nav a[href='/dashboard/monitoring']")
    nav = pg.text("header nav")  # drawn from the registered capabilities' pages
    assert "Search" in nav and "Monitoring" in nav and "Customer" in nav
    assert "not served" not in models  # the server loads the latest version of every model
    assert pg.plotted("#activity")
    assert "recommend/ease v0001" in pg.text("#serving")
    boards = _leaderboard_files(bench)
    assert pg.page.locator("table.leaderboard").count() == len(boards)
    if boards:
        name, models_in_file = next(iter(boards.items()))
        assert name in pg.text("#leaderboards") and models_in_file[0] in pg.text("#leaderboards")
        assert pg.page.locator("#leaderboards .js-plotly-plot").count() == len(boards)
    pg.close(shots, "overview")


def test_customer_page(server, browser, shots):
    server, _ = server
    pg = Page(browser, server)
    pg.open("/dashboard/customer?user_id=u0000010")
    assert pg.rows("#recs-table") == 10
    recs = pg.text("#recs")
    assert "model ease v0001" in recs and "because of" in recs
    assert pg.rows("#history-table") > 0
    assert pg.plotted("#activity")
    clv = pg.text("#clv")
    assert "CLV over the horizon" in clv and "P(still active)" in clv
    with httpx.Client(base_url=server) as c:
        paths = c.get("/openapi.json").json()["paths"]
    churn = pg.text("#churn")
    if "/v1/predict/{task}" in paths:  # task models are served, but the tiny shop has no churn one
        assert "Not trained" in churn and "predict/churn" in churn
    else:
        assert "Not available" in churn
    shot = pg.close(shots, "customer")
    assert shot.stat().st_size > 10_000


def test_product_page(server, browser, shots):
    server, _ = server
    pg = Page(browser, server)
    pg.open("/dashboard/product?item_id=i000005")
    assert pg.rows("#similar-table") == 10
    assert pg.plotted("#similar-chart") and pg.plotted("#activity")
    assert "units_sold" in pg.text("#info")
    for panel in ("#forecast", "#price", "#sentiment"):
        # the capabilities are served, but the tiny shop has no such model registered
        text = pg.text(panel)
        assert "Not trained" in text or ("Not available" in text and "not trained" in text), text
    pg.close(shots, "product")


def test_search_page(server, browser, shots):
    server, _ = server
    pg = Page(browser, server)
    pg.open("/dashboard/search")
    with httpx.Client(base_url=server) as c:
        item = c.get("/v1/items/i000005").json()
    word = item["title"].split()[-1]
    pg.page.fill("#q", word)
    pg.page.click("#search-form button")
    pg.page.wait_for_selector("#results-table")
    assert pg.rows("#results-table") > 0
    assert word.lower() in pg.text("#results-table").lower()
    assert pg.plotted("#scores")
    pg.close(shots, "search")


def test_placeholders_and_offline_docs(server, browser, shots):
    server, _ = server
    for page in ("support", "campaigns"):  # real pages now; the tiny shop has no model for them
        pg = Page(browser, server)
        pg.open(f"/dashboard/{page}")
        assert page.capitalize() in pg.text("main")
        pg.close(shots, page)
    pg = Page(browser, server)
    pg.page.goto(server + "/docs")
    pg.page.wait_for_selector(".swagger-ui .opblock")
    assert "/v1/overview" in pg.text(".swagger-ui")
    pg.close(shots, "docs")


# ------------------------------------------------------------- a shop without events (orders only)
def test_pages_of_a_shop_without_events(retail_server, browser, shots):
    with httpx.Client(base_url=retail_server, headers={"X-API-Key": KEY}) as c:
        overview = c.get("/v1/overview").json()
    item, user = overview["example_items"][0], overview["example_users"][0]
    pg = Page(browser, retail_server)
    pg.open("/dashboard/")
    assert pg.plotted("#activity") and "from orders" in pg.text("#activity")
    caps = pg.text("#capabilities-table")
    assert pg.rows("#capabilities-table") == len(overview["capabilities"]) > 0
    assert "recommend" in caps and "what is missing" in caps.lower()
    missing = [m for x in overview["capabilities"] for m in x["missing"]]
    assert all(m.split(";")[0] in caps for m in missing)  # the page says what is missing
    assert "null" not in pg.text("main")
    pg.close(shots, "retail-overview")

    pg = Page(browser, retail_server)
    pg.open(f"/dashboard/product?item_id={item}")
    assert pg.plotted("#activity") and "units per day" in pg.text("#activity")
    info = pg.text("#info")
    assert "units_sold" in info and "first_sold" in info
    assert "null" not in pg.text("main") and "No data" not in pg.text("#activity")
    pg.close(shots, "retail-product")

    pg = Page(browser, retail_server)
    pg.open(f"/dashboard/customer?user_id={user}")
    assert pg.plotted("#activity") and "order lines per day" in pg.text("#activity")
    assert pg.rows("#history-table") > 0 and "order (" in pg.text("#history-table")
    assert "null" not in pg.text("main")
    pg.close(shots, "retail-customer")
