"""Fixtures for generation tests: a fake ComfyUI that knows the sample
library's checkpoints and LoRAs, and an app whose worker drives it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fake_comfy import FakeComfy
from tests.jobs_helpers import start_app, stop

DETECTOR = "bbox/face_yolov8n_random.pt"  # the one detector the recorded server had


def library_loras(data_dir: Path) -> list[str]:
    names = set()
    for path in data_dir.rglob("*.json"):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        name = (data.get("lora") or {}).get("lora_name") if isinstance(data, dict) else None
        if name:
            names.add(name)
    return sorted(names)


@pytest.fixture
def comfy(library):
    with FakeComfy(render_delay=0.02, loras=library_loras(library)) as fake:
        yield fake


@pytest.fixture
def gen_app(config, comfy):
    app = start_app(config, [comfy.url], FACE_DETECTOR=DETECTOR, HAND_DETECTOR=DETECTOR)
    yield app
    stop(app)


@pytest.fixture
def gen_client(gen_app):
    return gen_app.test_client()
