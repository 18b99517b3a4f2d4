"""The Support page in headless Chromium over `shopml serve` with a trained assistant."""

from __future__ import annotations

import pytest

from tests.serve.test_dashboard_browser import CHROMIUM, Page, _serving

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH")


def test_support_page_shows_messages_and_drafts(shop, tmp_path):
    from playwright.sync_api import sync_playwright

    from shopml.support.train import train

    reg = tmp_path / "reg"
    train(shop, reg, "tfidf", params={"C": 0.25, "class_weight": None})
    with _serving(tmp_path, shop, reg, ready="/healthz") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        page = Page(context, base)
        page.open("/dashboard/support")
        page.page.wait_for_selector("#messages-table")
        assert page.rows("#messages-table") == 25
        table = page.text("#messages-table")
        assert "track_order" in table or "cancel_order" in table
        page.page.fill("#ask-text", "where is my order")
        page.page.fill("#ask-user", "u1")
        page.page.click("#ask-form button")
        page.page.wait_for_selector("body[data-asked='true']")
        draft = page.text("#draft")
        assert "track_order" in draft and "o2" in page.text("#draft-answer")
        page.close(tmp_path, "support")
        context.close()
        browser.close()
