"""A `<script>` stored in the library never runs, and the Content-Security-Policy
breaks none of GAZE's own pages (a real Chromium on the running app)."""
from __future__ import annotations

import json

import pytest

from tests.routes import rule_category, rules

pytestmark = pytest.mark.browser

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
SLUG = "xss_probe"


def _plant(library) -> None:
    (library / "characters" / f"{SLUG}.json").write_text(json.dumps({
        "character_id": SLUG, "character_name": PAYLOAD,
        "identity": {"hair": PAYLOAD, "eyes": "<svg onload=window.__pwned=3>"},
        "tags": [PAYLOAD, "</textarea><script>window.__pwned=4</script>"],
        "lora": {"lora_name": "Illustrious/Looks/x.safetensors", "lora_triggers": PAYLOAD},
    }))
    (library / "clothing" / "xss_outfit.json").write_text(json.dumps({
        "outfit_id": "xss_outfit", "outfit_name": PAYLOAD}))
    # a malformed file whose *name* is the payload: listed on the problems page
    (library / "characters" / '<img src=x onerror="window.__pwned=5">.json').write_text("{broken")


def _assert_inert(page, where: str) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined", where
    assert page.locator("img[src='x']").count() == 0, f"the payload became markup on {where}"
    inline = "script:not([src]):not([type='application/json'])"  # JSON data blocks never run
    assert page.evaluate(f"document.querySelectorAll(\"{inline}\").length") == 0, where
    assert page.evaluate("document.querySelectorAll('svg[onload]').length") == 0, where


def test_stored_script_never_runs(app, library, live_server, page):
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: violations.append(str(e)))
    _plant(library)

    # the user presses Rescan in the gallery (a real form post with its CSRF token)
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Rescan").click()
    page.wait_for_load_state()
    card = page.locator(f".asset-card[data-slug='{SLUG}']")
    card.wait_for()
    assert PAYLOAD in card.inner_text(), "the name is shown as text, escaped"
    _assert_inert(page, "/")

    # every page that takes no parameter, and every character page that takes a slug (if any exist yet)
    visited = ["/"]
    for rule, _method in rules(app, ("GET",)):
        if rule.rule.startswith("/api/") or rule.endpoint == "auth.login":
            continue
        if not rule.arguments:
            url = rule.rule
        elif set(rule.arguments) == {"slug"} and rule_category(rule, {}) == "characters":
            url = rule.build({"slug": SLUG})[1]
        elif set(rule.arguments) == {"cat_key"}:
            url = rule.build({"cat_key": "outfits"}, append_unknown=False)[1]
        else:
            continue
        page.goto(live_server.url + url)
        page.wait_for_load_state("load")
        _assert_inert(page, url)
        visited.append(url)
    assert "/problems" in visited and ("/outfits/" in visited or "/outfits" in visited), visited
    problems = page.goto(live_server.url + "/problems")
    assert problems.ok and "onerror" in page.locator("#problems").inner_text()
    _assert_inert(page, "/problems")
    assert not violations, violations


def test_pages_load_their_styles_and_scripts_under_the_csp(live_server, page):
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: violations.append(str(e)))
    page.on("response", lambda r: violations.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    response = page.goto(live_server.url + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.evaluate("typeof window.GAZE.fetch") == "function", "static/js/app.js ran"
    assert page.evaluate("typeof bootstrap") == "object", "Bootstrap's JS ran"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
    # the navbar toggler's icon is a data: SVG in Bootstrap's CSS: allowed by img-src
    page.set_viewport_size({"width": 500, "height": 800})
    page.locator(".navbar-toggler").click()
    page.locator("#nav.show").wait_for()
    assert not violations, violations
