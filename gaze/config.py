"""Configuration read once from the environment, with defaults.

Every setting GAZE reads lives here and is listed in the README. Paths are
resolved against the repository root when relative, so the app behaves the
same whatever the working directory.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _path(value: str | None, default: str | None) -> Path | None:
    raw = value if value not in (None, "") else default
    if raw is None:
        return None
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (ROOT / path)


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def load_secret_key(instance_dir: Path) -> str:
    """Return SECRET_KEY from the environment, else a key generated once and
    kept in the instance folder (readable by the owner only)."""
    env = os.environ.get("SECRET_KEY")
    if env:
        return env
    key_file = instance_dir / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


class Config:
    """Settings from the environment. Instantiate to read the current env."""

    def __init__(self) -> None:
        env = os.environ.get
        self.DATA_DIR = _path(env("GAZE_DATA_DIR"), "data")
        self.INSTANCE_DIR = _path(env("GAZE_INSTANCE_DIR"), "instance")
        self.UPLOADS_DIR = _path(env("GAZE_UPLOADS_DIR"), "static/uploads")
        self.LORA_ROOT = _path(env("GAZE_LORA_ROOT"), None)
        self.CHECKPOINT_ROOT = _path(env("GAZE_CHECKPOINT_ROOT"), None)
        self.COMFYUI_URLS = [
            u.strip().rstrip("/")
            for u in env("COMFYUI_URL", "http://127.0.0.1:8188").split(",")
            if u.strip()
        ]
        self.HOST = env("GAZE_HOST", "127.0.0.1")
        self.PORT = _int("GAZE_PORT", 5000)
        self.SECRET_KEY = env("SECRET_KEY") or None  # filled by create_app
        self.FACE_DETECTOR = env("GAZE_FACE_DETECTOR", "bbox/face_yolov8m.pt")
        self.HAND_DETECTOR = env("GAZE_HAND_DETECTOR", "bbox/hand_yolov8s.pt")
        self.JOB_MAX_WAIT_S = _float("GAZE_JOB_MAX_WAIT", 1800.0)
        self.JOB_TIMEOUT_S = _float("GAZE_JOB_TIMEOUT", 900.0)
        self.PIPELINE_DEPTH = _int("GAZE_PIPELINE_DEPTH", 2)
        self.START_WORKER = env("GAZE_START_WORKER", "1") not in ("0", "false", "no")
        self.SYNC_ON_START = True
        self.MAX_CONTENT_LENGTH = _int("GAZE_MAX_UPLOAD_MB", 32) * 1024 * 1024
        # security (gaze/security.py): optional login, API token, allowed Host names
        self.PASSWORD = env("GAZE_PASSWORD") or None
        self.API_TOKEN = env("GAZE_API_TOKEN") or None
        self.ALLOWED_HOSTS = [h.strip().lower() for h in env("GAZE_TRUSTED_HOSTS", "").split(",") if h.strip()]
        self.LOGIN_MAX_FAILURES = _int("GAZE_LOGIN_MAX_FAILURES", 5)
        self.LOGIN_WINDOW_S = _int("GAZE_LOGIN_WINDOW", 300)
        # LLM-assisted creation (gaze/llm_settings.py): values saved on /settings take precedence
        self.LLM_PROVIDER = env("GAZE_LLM_PROVIDER") or None
        self.LLM_BASE_URL = env("GAZE_LLM_BASE_URL") or None
        self.LLM_MODEL = env("GAZE_LLM_MODEL") or None
        self.LLM_API_KEY = env("GAZE_LLM_API_KEY") or None
        self.LLM_TIMEOUT_S = _float("GAZE_LLM_TIMEOUT", 120.0)
        self.TAG_CSV = _path(env("GAZE_TAG_CSV"), None)
        self.TAG_SERVER = env("GAZE_TAG_SERVER") or None
        self.TESTING = False

    def to_flask(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Settings for tests: no worker unless asked, CSRF on (tests send tokens)."""

    def __init__(self, tmp: Path) -> None:
        super().__init__()
        self.DATA_DIR = tmp / "data"
        self.INSTANCE_DIR = tmp / "instance"
        self.UPLOADS_DIR = tmp / "uploads"
        self.LORA_ROOT = None
        self.CHECKPOINT_ROOT = None
        self.COMFYUI_URLS = ["http://127.0.0.1:9"]
        self.START_WORKER = False
        self.PASSWORD = None
        self.API_TOKEN = None
        self.ALLOWED_HOSTS = []
        self.LLM_PROVIDER = self.LLM_BASE_URL = self.LLM_MODEL = self.LLM_API_KEY = None
        self.LLM_TIMEOUT_S = 20.0
        self.TAG_CSV = None
        self.TAG_SERVER = None
        self.TESTING = True
