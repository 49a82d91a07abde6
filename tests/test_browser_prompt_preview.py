"""The "Show prompt" partial in a real browser (system Chromium via Playwright):
it posts with the page's CSRF token, colours tags by source, strikes through
tags removed by cross de-duplication and marks the 75-token chunks."""
from __future__ import annotations

import pytest
from flask import render_template_string

from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
PAGE = """{% extends "layout.html" %}
{% from "_macros/prompt_preview.html" import prompt_preview %}
{% block content %}
<form id="gen"><input name="extra_negative" value="smile, blurry"><input name="seed" value="5"></form>
{{ prompt_preview(fields={"character": "mira_vance", "detailers": ["detailed_eyes"],
                          "extra_positive": long_text}, form="#gen", id="pp") }}
{% endblock %}"""


@pytest.fixture
def live_url(app):
    long_text = ", ".join(f"extra tag number {i}" for i in range(40))
    app.add_url_rule("/_test/prompt_preview", "pp_test_page",
                     lambda: render_template_string(PAGE, long_text=long_text))
    server = LiveServer(app).start()
    yield server.url
    server.stop()


def test_show_prompt_panel(live_url, page):
    requests = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/generator/preview_prompt") else None)
    page.goto(f"{live_url}/_test/prompt_preview")
    panel = page.locator("#pp-panel")
    assert panel.is_hidden()
    page.click("#pp [data-pp-button]")
    page.wait_for_selector("#pp [data-pp-positive] .pp-tag")
    assert panel.is_visible()
    assert requests and requests[0].headers.get("x-csrftoken"), "the CSRF token is sent"
    status = page.locator("#pp [data-pp-status]").inner_text()
    assert status.startswith("Seed 5"), status

    hair = page.locator("#pp [data-pp-positive] .pp-tag", has_text="silver hair").first
    assert "pp-src-characters" in hair.get_attribute("class")
    assert "identity::hair" in hair.get_attribute("title")
    eyes = page.locator("#pp [data-pp-positive] .pp-tag", has_text="sparkling eyes").first
    assert "pp-src-detailers" in eyes.get_attribute("class")
    user = page.locator("#pp [data-pp-positive] .pp-tag", has_text="extra tag number 1").first
    assert "pp-src-user" in user.get_attribute("class")

    struck = page.locator("#pp .pp-tags .pp-tag.pp-removed")
    assert sorted(struck.all_inner_texts()) == ["smile", "smile"], "both sides of the cancelled pair"
    decoration = struck.first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert decoration == "line-through"
    assert page.locator("#pp [data-pp-positive] .pp-chunk").count() >= 2, "75-token chunk marks"
    assert "estimate" in page.locator("#pp [data-pp-tokens]").inner_text()
    assert "Illustrious/Looks/mira_vance.safetensors" in page.locator("#pp [data-pp-loras]").inner_text()

    page.click("#pp [data-pp-button]")
    assert panel.is_hidden()
