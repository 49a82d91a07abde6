"""Shared fixtures: a temporary library, a fresh app and DB, a live server
and a real browser (Playwright on the system Chromium)."""
from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from pathlib import Path

import pytest

from gaze import create_app
from gaze.config import TestConfig

#: Fixture modules: the fake ComfyUI, the scripted LLM server, generation apps.
pytest_plugins = ["tests.fake_comfy", "tests.llm_server", "tests.gen_fixtures"]

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "data"
CHROMIUM = os.environ.get("GAZE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
def library(tmp_path) -> Path:
    """A copy of the sample library in a temporary folder."""
    target = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA, target)
    return target


@pytest.fixture
def config(tmp_path, library) -> TestConfig:
    return TestConfig(tmp_path)


@pytest.fixture
def lora_root(tmp_path, config) -> Path:
    """A temporary LoRA root holding a fake LoRA file for the sample outfit
    `adventurer_gear`. Request it before `app`/`client`/`live_server` so the
    app is made with it."""
    root = tmp_path / "loras"
    lora = root / "Illustrious" / "Clothing" / "fantasy" / "adventurer_gear.safetensors"
    lora.parent.mkdir(parents=True)
    lora.write_bytes(b"fake lora")
    config.LORA_ROOT = root
    return root


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    from models import db
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token a page hands the browser, for posting as that session."""
    html = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(html)
    assert match, "every page carries a csrf-token meta tag"
    return match.group(1)


@pytest.fixture
def token(client) -> str:
    return csrf_token(client)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app served by waitress (the production server) on 127.0.0.1."""

    def __init__(self, app, threads: int = 6):
        from waitress.server import create_server
        self.app = app
        self.port = free_port()
        self.server = create_server(app, host="127.0.0.1", port=self.port, threads=threads)
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        """Close every socket from inside the server's own loop (closing them from
        this thread races with its select() and fails with EBADF), then wait."""
        from waitress import wasyncore
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown(timeout=5)


@pytest.fixture
def live_server(app):
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests are mandatory under CI, and {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    yield page
    context.close()


ARTIFACTS = REPO / "tests" / "artifacts"


def screenshot(page, name: str) -> Path:
    """Save a screenshot under tests/artifacts/ (used for the README)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
