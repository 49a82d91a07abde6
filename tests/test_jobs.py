"""The job queue against the fake ComfyUI: success, failures, waiting, cancel,
restart recovery."""
from __future__ import annotations

import itertools
import time

import pytest
from PIL import Image

from gaze.jobs import get_queue
from models import Job, db
from tests.jobs_helpers import recorded_graph, start_app, stop, wait_for

_seeds = itertools.count(5000)


@pytest.fixture
def gen_app(config, fake_comfy):
    app = start_app(config, [fake_comfy.url])
    yield app
    stop(app)


def enqueue(app, **kw):
    with app.app_context():
        return get_queue(app).enqueue(kw.pop("label", "test"), kw.pop("graph", None) or recorded_graph(next(_seeds)),
                                      **kw)


def test_job_runs_and_saves_png_with_comfy_chunks(gen_app, fake_comfy):
    job_id = enqueue(gen_app, category="characters", slug="mira_vance", action="preview")
    state = wait_for(gen_app, [job_id])[job_id]
    assert state["status"] == "done", state
    rel = state["result"]["relative_path"]
    assert rel.startswith("characters/mira_vance/gen_") and rel.endswith(".png")
    path = gen_app.config["UPLOADS_DIR"] / rel
    with Image.open(path) as img:
        assert "prompt" in img.text, "ComfyUI's own chunk is kept"
    assert state["result"]["image_url"].endswith(rel)
    assert state["server"] == fake_comfy.url
    with gen_app.app_context():
        from models import Character
        assert Character.query.filter_by(slug="mira_vance").one().image_path is None, "preview leaves the cover"


def test_replace_updates_cover(gen_app):
    job_id = enqueue(gen_app, category="characters", slug="mira_vance", action="replace")
    state = wait_for(gen_app, [job_id])[job_id]
    with gen_app.app_context():
        from models import Character
        assert Character.query.filter_by(slug="mira_vance").one().image_path == state["result"]["relative_path"]


def test_missing_lora_fails_with_its_name_and_next_job_runs(gen_app):
    bad = enqueue(gen_app, graph=recorded_graph(next(_seeds), lora="Illustrious/Clothing/maid.safetensors"))
    good = enqueue(gen_app)
    states = wait_for(gen_app, [bad, good])
    assert states[bad]["status"] == "failed"
    assert "Illustrious/Clothing/maid.safetensors" in states[bad]["error"]
    assert states[good]["status"] == "done"


def test_execution_error_fails_readably_and_next_job_runs(gen_app, fake_comfy):
    fake_comfy.fail_next("exec_error")
    bad = enqueue(gen_app)
    good = enqueue(gen_app)
    states = wait_for(gen_app, [bad, good])
    assert states[bad]["status"] == "failed" and states[bad]["error"]
    assert "Traceback" not in states[bad]["error"]
    assert states[good]["status"] == "done"


def test_pending_jobs_wait_while_server_down_then_run(config, fake_comfy):
    fake_comfy.go_down()
    app = start_app(config, [fake_comfy.url])
    try:
        job_id = enqueue(app)
        time.sleep(1.0)
        with app.app_context():
            state = get_queue(app).status(job_id)
        assert state["status"] == "pending" and state["note"] == "waiting for ComfyUI"
        fake_comfy.come_back()
        assert wait_for(app, [job_id], timeout=30)[job_id]["status"] == "done"
    finally:
        stop(app)


def test_waiting_job_fails_after_max_wait(config, fake_comfy):
    fake_comfy.go_down()
    app = start_app(config, [fake_comfy.url], JOB_MAX_WAIT_S=0.5)
    try:
        job_id = enqueue(app)
        state = wait_for(app, [job_id], timeout=15)[job_id]
        assert state["status"] == "failed" and "maximum wait" in state["error"]
    finally:
        stop(app)


def test_server_restarted_mid_job_fails_with_reason_then_next_runs(gen_app, fake_comfy):
    fake_comfy.set_render_delay(1.5)
    job_id = enqueue(gen_app)
    assert fake_comfy.wait_running(timeout=10)
    fake_comfy.go_down()
    fake_comfy.come_back()
    fake_comfy.set_render_delay(0.05)
    state = wait_for(gen_app, [job_id], timeout=30)[job_id]
    assert state["status"] in ("failed", "done")
    if state["status"] == "failed":
        assert state["error"]
    nxt = enqueue(gen_app)
    assert wait_for(gen_app, [nxt], timeout=30)[nxt]["status"] == "done"


def test_cancel_pending_and_running(gen_app, fake_comfy):
    fake_comfy.set_render_delay(2.0)
    running = enqueue(gen_app)
    assert fake_comfy.wait_running(timeout=10)
    pending = [enqueue(gen_app) for _ in range(3)]
    with gen_app.app_context():
        queue = get_queue(gen_app)
        assert queue.cancel(pending[-1])
        assert queue.cancel(running)
    states = wait_for(gen_app, [running, pending[-1]])
    assert states[running]["status"] == "removed"
    assert states[pending[-1]]["status"] == "removed"
    fake_comfy.set_render_delay(0.05)
    states = wait_for(gen_app, pending[:2], timeout=30)
    assert all(s["status"] == "done" for s in states.values())


def test_retry_failed_job(gen_app, fake_comfy):
    fake_comfy.fail_next("exec_error")
    job_id = enqueue(gen_app)
    assert wait_for(gen_app, [job_id])[job_id]["status"] == "failed"
    with gen_app.app_context():
        assert get_queue(gen_app).retry(job_id)
    assert wait_for(gen_app, [job_id])[job_id]["status"] == "done"


def test_restart_with_pending_jobs_finishes_them_all(config, fake_comfy):
    config.COMFYUI_URLS = [fake_comfy.url]
    from gaze import create_app
    first = create_app(config)  # no worker: the jobs stay pending, as if the app died
    ids = [enqueue(first) for _ in range(5)]
    with first.app_context():
        db.engine.dispose()
    second = start_app(config, [fake_comfy.url])
    try:
        states = wait_for(second, ids, timeout=30)
        assert all(s["status"] == "done" for s in states.values()), states
    finally:
        stop(second)


def test_running_job_from_dead_process_is_rechecked(config, fake_comfy):
    from gaze import create_app
    config.COMFYUI_URLS = [fake_comfy.url]
    first = create_app(config)
    from gaze.comfy import ComfyClient
    client = ComfyClient(fake_comfy.url)
    prompt_id = client.queue_prompt(recorded_graph(next(_seeds)), "gone-client")
    assert fake_comfy.wait_idle(10)
    with first.app_context():
        job_id = "deadbeef" * 4
        job = Job(id=job_id, status="running", label="x", category="characters", slug="hana_okabe",
                  graph=recorded_graph(1), server=fake_comfy.url, prompt_id=prompt_id, attempts=1)
        db.session.add(job)
        db.session.commit()
        db.engine.dispose()
    second = start_app(config, [fake_comfy.url])
    try:
        state = wait_for(second, [job_id])[job_id]
        assert state["status"] == "done" and state["result"]["relative_path"].startswith("characters/hana_okabe/")
    finally:
        stop(second)


def test_status_endpoint(gen_app):
    client = gen_app.test_client()
    assert client.get("/api/queue/nope/status").status_code == 404
    job_id = enqueue(gen_app, label="hello")
    wait_for(gen_app, [job_id])
    body = client.get(f"/api/queue/{job_id}/status").get_json()
    assert set(body) >= {"status", "label", "progress", "error", "result", "server"}
    assert body["label"] == "hello" and body["status"] == "done"
    assert set(body["progress"]) == {"value", "max", "node"}


def test_prune_forgets_old_terminal_jobs_but_keeps_rows(gen_app):
    job_id = enqueue(gen_app)
    wait_for(gen_app, [job_id])
    queue = get_queue(gen_app)
    assert job_id in queue.live
    assert queue.prune(max_age_s=3600) == 0, "a fresh terminal job stays in memory"
    queue.live[job_id].finished -= 3601
    assert queue.prune(max_age_s=3600) == 1
    assert job_id not in queue.live
    with gen_app.app_context():
        assert queue.status(job_id)["status"] == "done", "the row still answers"
