"""The job table survives a SIGKILL of the whole GAZE process: after a
restart every queued job runs and the one that was rendering is finished."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import REPO, free_port
from tests.fake_comfy import FakeComfy

pytestmark = pytest.mark.slow


def _start(tmp_path, library, port: int, comfy_url: str) -> subprocess.Popen:
    env = {**os.environ, "GAZE_DATA_DIR": str(library), "GAZE_INSTANCE_DIR": str(tmp_path / "instance"),
           "GAZE_UPLOADS_DIR": str(tmp_path / "uploads"), "GAZE_PORT": str(port), "GAZE_HOST": "127.0.0.1",
           "COMFYUI_URL": comfy_url, "GAZE_FACE_DETECTOR": "bbox/face_yolov8n_random.pt",
           "GAZE_HAND_DETECTOR": "bbox/face_yolov8n_random.pt"}
    for key in ("GAZE_PASSWORD", "GAZE_API_TOKEN"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "gaze.serve"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("GAZE did not start")


def test_jobs_survive_sigkill(tmp_path, library):
    from tests.gen_fixtures import library_loras
    with FakeComfy(render_delay=0.6, loras=library_loras(library)) as fake:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _start(tmp_path, library, port, fake.url)
        try:
            r = requests.post(f"{base}/api/generate", json={"character": "mira_vance", "count": 5}, timeout=10)
            ids = r.json()["job_ids"]
            assert fake.wait_running(timeout=15)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        states = {}
        proc = _start(tmp_path, library, port, fake.url)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = {i: requests.get(f"{base}/api/queue/{i}/status", timeout=5).json() for i in ids}
                if all(s["status"] in ("done", "failed", "removed") for s in states.values()):
                    break
                time.sleep(0.2)
            assert all(s["status"] == "done" for s in states.values()), states
            files = list((tmp_path / "uploads").rglob("gen_*.png"))
            assert len(files) >= 5
        finally:
            proc.terminate()
            proc.wait(10)
