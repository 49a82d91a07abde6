"""Real browser: Generate on a character page shows progress then the image;
the generator page fills its results strip; the queue page cancels a job."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def gen_server(gen_app):
    server = LiveServer(gen_app).start()
    yield server
    server.stop()


def test_generate_on_character_page(gen_server, page, comfy):
    comfy.set_render_delay(1.5)
    page.goto(gen_server.url + "/character/mira_vance")
    page.fill("#gen-seed", "77")
    page.click("#generate-button")
    progress = page.locator("#job-progress")
    progress.wait_for(state="visible")
    expect(page.locator("#job-progress [data-job-label]")).to_contain_text("Step", timeout=20000)
    page.locator("#job-progress img.generated-image").wait_for(timeout=30000)
    assert page.locator("#replace-cover").is_visible(), "a preview offers to become the cover"
    page.click("#replace-cover")
    page.wait_for_load_state()
    assert page.locator("#cover-card img, img.cover-img").first.get_attribute("src")
    # reloading the page shows the same job's image again (job id kept in the session)
    page.goto(gen_server.url + "/character/mira_vance")
    page.locator("#job-progress img.generated-image").wait_for(timeout=10000)
    screenshot(page, "character")


def test_generate_failure_shows_reason(gen_server, page, comfy):
    comfy.fail_next("exec_error")
    page.goto(gen_server.url + "/outfit/winter_coat_set")
    page.select_option("#gen-character", "mira_vance")
    page.click("#generate-button")
    alert = page.locator("#job-progress [data-job-result] .alert-danger")
    alert.wait_for(timeout=30000)
    assert "Failed" in alert.inner_text()


def test_generator_batch_fills_strip(gen_server, page):
    page.goto(gen_server.url + "/generator")
    page.select_option("#gen-character", "sera_lindqvist")
    page.click("button[data-bs-target='#acc-outfits']")
    page.fill("[data-filter-for=outfits]", "winter")
    page.select_option("[data-multi=outfits]", ["winter_coat_set"])
    page.fill("#gen-count", "3")
    page.fill("#gen-seed", "10")
    page.click("#generator-preview [data-pp-button]")
    page.locator("#generator-preview [data-pp-positive] .pp-tag").first.wait_for(timeout=10000)
    page.click("#generator-form button[type=submit]")
    expect(page.locator("#result-strip .result-slot.done img")).to_have_count(3, timeout=60000)
    screenshot(page, "generator")


def test_queue_page_cancels_pending_job(gen_server, page, comfy, gen_app):
    comfy.set_render_delay(3.0)
    client = gen_app.test_client()
    ids = client.post("/api/generate", json={"character": "mira_vance", "count": 4}).get_json()["job_ids"]
    page.goto(gen_server.url + "/queue")
    row = page.locator(f"tr[data-job-id='{ids[-1]}']")
    row.wait_for()
    assert row.get_attribute("data-status") == "pending"
    row.locator("button[data-action=cancel]").click()
    expect(page.locator(f"tr[data-job-id='{ids[-1]}']")).to_have_attribute("data-status", "removed", timeout=10000)
    page.once("dialog", lambda d: d.accept())
    page.click("#cancel-pending")
    expect(page.locator("#queue-table tr[data-status=pending]")).to_have_count(0, timeout=10000)
    comfy.set_render_delay(0.02)


def test_remake_from_gallery_reopens_generator(gen_server, page, gen_app):
    from tests.jobs_helpers import wait_for
    client = gen_app.test_client()
    job_id = client.post("/api/generate", json={"character": "rin_takamori", "scenes": ["cozy_cafe"],
                                                "seed": 31337}).get_json()["job_id"]
    wait_for(gen_app, [job_id])
    page.goto(gen_server.url + "/gallery")
    page.locator(".remake-link").first.click()
    page.wait_for_url(re.compile(r"/generator\?remake="))
    assert page.input_value("#gen-seed") == "31337"
    assert page.input_value("#gen-character") == "rin_takamori"
    assert page.locator("[data-multi=scenes] option[value=cozy_cafe]").evaluate("o => o.selected")


def test_generate_missing_covers_from_the_gallery(gen_server, page, gen_app):
    from models import Action
    page.goto(gen_server.url + "/actions/")
    page.once("dialog", lambda d: d.accept())
    page.click("#generate-missing")
    page.wait_for_load_state()
    expect(page.locator(".alert")).to_contain_text("Queued 6 cover(s)")
    from tests.jobs_helpers import wait_for
    with gen_app.app_context():
        from models import Job
        ids = [j.id for j in Job.query.filter_by(category="actions").all()]
    wait_for(gen_app, ids, timeout=60)
    with gen_app.app_context():
        assert Action.query.filter(Action.image_path.is_(None)).count() == 0
    page.goto(gen_server.url + "/actions/")
    page.once("dialog", lambda d: d.accept())
    page.click("#clear-covers")
    page.wait_for_load_state()
    with gen_app.app_context():
        assert Action.query.filter(Action.image_path.isnot(None)).count() == 0
