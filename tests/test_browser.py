"""A real `streamlit run` over the committed models, opened in headless Debian chromium; saves docs/screenshot.png."""

from __future__ import annotations

import os

import pytest

from streamlit_server import (
    ARGS,
    CHROMIUM,
    REPO,
    chromium_available,
    free_port,
    start_server,
    stop_server,
    wait_rendered,
)

pytestmark = pytest.mark.browser


def test_dashboard_in_chromium():
    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    port = free_port()
    server = start_server(port)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            wait_rendered(page)
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stAlertContentError"]').count() == 0
            assert page.locator('[data-testid="stImage"] img').count() >= 10
            (REPO / "docs").mkdir(exist_ok=True)
            page.screenshot(path=str(REPO / "docs" / "screenshot.png"), full_page=False)
            browser.close()
    finally:
        stop_server(server)
