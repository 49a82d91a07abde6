"""Several ComfyUI servers: jobs spread over them; one going down loses none."""
from __future__ import annotations

import time

from gaze.jobs import get_queue
from tests.fake_comfy import FakeComfy
from tests.jobs_helpers import recorded_graph, start_app, stop, wait_for


def test_two_servers_share_jobs_and_survive_one_going_down(config):
    with FakeComfy(render_delay=0.3) as a, FakeComfy(render_delay=0.3) as b:
        app = start_app(config, [a.url, b.url])
        try:
            with app.app_context():
                ids = [get_queue(app).enqueue(f"job {i}", recorded_graph(9000 + i)) for i in range(10)]
            deadline = time.monotonic() + 10
            while not b.submitted and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.4)
            b.go_down()  # b dies mid-run, with a job rendering and maybe one queued
            states = wait_for(app, ids, timeout=60)
            assert all(s["status"] == "done" for s in states.values()), states
            servers = {s["server"] for s in states.values()}
            assert a.url in servers
            assert len(a.submitted) + len(b.submitted) >= 10
            with app.app_context():
                health = app.test_client().get("/api/health").get_json()
            reach = {s["url"]: s["reachable"] for s in health["comfyui"]}
            assert reach == {a.url: True, b.url: False}
        finally:
            stop(app)
