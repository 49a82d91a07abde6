"""Helpers for tests that run jobs through the queue against the fake ComfyUI."""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from gaze import create_app
from gaze.jobs import TERMINAL, get_queue

CONTRACT = Path(__file__).resolve().parent / "contract"


def recorded_graph(seed: int = 1001, lora: str | None = None) -> dict:
    """The graph a real ComfyUI accepted (prompt_ok.json), with a new seed."""
    graph = copy.deepcopy(json.loads((CONTRACT / "prompt_ok.json").read_text())["request"]["prompt"])
    graph["7"]["inputs"]["seed"] = seed
    if lora:
        graph["3"]["inputs"]["lora_name"] = lora
    return graph


def start_app(config, fake_urls: list[str], **settings):
    config.COMFYUI_URLS = list(fake_urls)
    config.START_WORKER = True
    config.JOB_TIMEOUT_S = settings.pop("job_timeout", 30)
    for key, value in settings.items():
        setattr(config, key, value)
    return create_app(config)


def wait_for(app, job_ids, statuses=TERMINAL, timeout: float = 20.0) -> dict[str, dict]:
    """Poll the queue until every job is in one of `statuses`; return their states."""
    queue = get_queue(app)
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            states = {j: queue.status(j) for j in job_ids}
        if all(s and s["status"] in statuses for s in states.values()):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs did not reach {statuses}: {states}")
        time.sleep(0.05)


def stop(app) -> None:
    get_queue(app).stop()
