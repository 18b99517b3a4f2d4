"""The Images page in headless Chromium over a served classifier (skips without chromium)."""

from __future__ import annotations

import pytest

from shopml.vision.train import train

browser_mod = pytest.importorskip("tests.serve.test_dashboard_browser")
pytestmark = browser_mod.pytestmark


def test_images_page(shop, image_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    reg = tmp_path / "registry"
    train(
        shop,
        reg,
        "cnn",
        params={"image_size": 16, "widths": "4/8", "blocks": "1/1", "epochs": 2, "batch_size": 8},
    )
    photo = sorted((image_dir / "test" / "stripes-v").glob("*.*"))[0]
    with browser_mod._serving(tmp_path, shop, reg) as base, sync_playwright() as p:
        b = p.chromium.launch(executable_path=browser_mod.CHROMIUM, headless=True)
        context = b.new_context(viewport={"width": 1300, "height": 900})
        pg = browser_mod.Page(context, base)
        pg.page.set_default_timeout(60_000)
        pg.open("/dashboard/images")
        pg.page.set_input_files("#photo", str(photo))
        pg.page.fill("#similar", "3")
        pg.page.click("#upload-form button")
        pg.page.wait_for_selector("#similar-table")
        assert pg.rows("#similar-table") == 3
        assert "stripes-" in pg.text("#classes")
        pg.page.wait_for_selector("#probs.js-plotly-plot")
        pg.page.fill("#item", "i3")
        pg.page.fill("#k", "4")
        pg.page.click("#item-form button")
        pg.page.wait_for_function(
            "document.querySelectorAll('#similar-table tbody tr').length === 4"
        )
        assert "i3" not in pg.text("#similar-table")
        pg.close(tmp_path, "images")
        context.close()
        b.close()
