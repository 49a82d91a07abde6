"""A real browser opens the running app's gallery and finds a sample character."""
from __future__ import annotations

import pytest

from tests.conftest import screenshot

pytestmark = pytest.mark.browser


def test_gallery_shows_sample_characters(live_server, page):
    page.goto(live_server.url + "/")
    card = page.locator(".asset-card", has_text="Mira Vance")
    card.first.wait_for()
    assert page.locator(".asset-card").count() == 8
    screenshot(page, "gallery")
    page.get_by_role("link", name="Outfits").first.click()
    page.locator(".asset-card").first.wait_for()
    assert "Outfits" in page.title()


def test_bootstrap_is_served_locally(live_server, page):
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(live_server.url + "/")
    assert all(u.startswith(live_server.url) for u in seen), seen
    assert not failed
    # Bootstrap's CSS applied: the navbar has a computed display of flex
    assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex"
