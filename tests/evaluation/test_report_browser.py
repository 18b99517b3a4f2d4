"""The report renders in headless Chromium: sections shown, every figure drawn, no network."""

from __future__ import annotations

import shutil

import pytest

from shopml.evaluation.report import write_report
from tests.evaluation.report_record import make_record

playwright = pytest.importorskip("playwright.sync_api", reason="python playwright is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on PATH (apt-get install chromium)")


def test_report_renders_in_chromium(tmp_path):
    path = write_report(make_record(), tmp_path / "report.html")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors, requests = [], []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_function("document.querySelectorAll('.plot .main-svg').length >= 9", timeout=30_000)
            assert errors == []
            assert all(u.startswith("file://") for u in requests), requests
            for section in ("summary", "data", "quarantine", "recommend", "predict", "search", "forecast", "off-policy", "config"):
                assert page.locator(f"#{section}").is_visible(), section
            figures = page.locator(".plot")
            assert figures.count() == 9
            drawn = page.evaluate("[...document.querySelectorAll('.plot')].filter(d => d.querySelector('.main-svg')).length")
            assert drawn == 9
            assert page.locator("#recommend tr.best td").first.inner_text().startswith("ease")
            assert "Quarantine: 3 rows" in page.locator("#quarantine h3").inner_text()
            # the confusion matrix shows its counts
            assert "38" in page.locator("#predict .plot").nth(3).inner_text()
        finally:
            browser.close()
