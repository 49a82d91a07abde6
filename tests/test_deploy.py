"""Deployment files: the compose file names every setting GAZE reads and every
folder it keeps, the Dockerfile's start command is the documented one, its
health check really works, and `python -m gaze.serve` serves GAZE.

No image can be built here; these tests check what can be checked without a
container engine.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request

import yaml

from tests.conftest import REPO, free_port

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()
DOCS = (REPO / "README.md").read_text()
SOURCES = [REPO / "app.py", REPO / "models.py", *sorted((REPO / "gaze").rglob("*.py"))]

# env("X"), os.environ.get("X"), os.environ["X"], os.getenv("X"), _int("X", …), _float(…), _bool(…)
_ENV_CALL = re.compile(r"""(?:\benviron\.get|\benviron\[|\bgetenv|\benv|\b_int|\b_float|\b_bool|\b_flag)"""
                       r"""\(?\s*["']([A-Z][A-Z0-9_]*)["']""")
_GAZE_LITERAL = re.compile(r"""["'](GAZE_[A-Z0-9_]+)["']""")


#: Read by the code but not a setting of GAZE's (passed through to child processes).
NOT_SETTINGS = {"PYTHONPATH"}


def env_vars_read() -> set[str]:
    names: set[str] = set()
    for path in SOURCES:
        text = path.read_text()
        names |= set(_ENV_CALL.findall(text)) | set(_GAZE_LITERAL.findall(text))
    return names - NOT_SETTINGS


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, current = [], ""
    for line in DOCKERFILE.splitlines():
        if line.strip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                out.append((word.upper(), rest.strip()))
            current = ""
    return out


def instruction(name: str) -> list[str]:
    return [args for word, args in dockerfile_instructions() if word == name]


def service_env(name: str) -> dict[str, str]:
    env = COMPOSE["services"][name].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: str(v) for k, v in env.items()}


def volumes(name: str) -> list[tuple[str, str, str]]:
    """(source, target, mode) of a service's short-syntax volumes."""
    out = []
    for spec in COMPOSE["services"][name].get("volumes") or []:
        # sources may hold ${VAR:-default}; the target is never interpolated
        parts = re.sub(r"\$\{[^}]*\}", lambda m: m.group(0).replace(":", "\x00"), spec).split(":")
        parts = [p.replace("\x00", ":") for p in parts]
        out.append((parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"))
    return out


def test_the_scan_finds_the_settings_gaze_reads():
    found = env_vars_read()
    assert {"GAZE_DATA_DIR", "GAZE_UPLOADS_DIR", "GAZE_INSTANCE_DIR", "COMFYUI_URL", "SECRET_KEY",
            "GAZE_MAX_UPLOAD_MB", "GAZE_PASSWORD", "GAZE_API_TOKEN", "GAZE_TRUSTED_HOSTS"} <= found


def test_compose_names_every_environment_variable_gaze_reads():
    named = set(service_env("app")) | set(service_env("tags"))
    missing = sorted(env_vars_read() - named)
    assert not missing, f"docker-compose.yml does not pass these settings on: {missing}"


def test_compose_app_service():
    app = COMPOSE["services"]["app"]
    assert "5782:5000" in [str(p) for p in app["ports"]]
    env = service_env("app")
    assert env["GAZE_HOST"] == "0.0.0.0" and env["GAZE_PORT"] == "5000"
    assert env["GAZE_TAG_SERVER"].endswith("http://tags:8765/mcp}") or env["GAZE_TAG_SERVER"] == "http://tags:8765/mcp"
    assert re.fullmatch(r"\$\{COMFYUI_URL(:-[^}]*)?\}", env["COMFYUI_URL"]), "COMFYUI_URL comes from the environment"
    assert "host.docker.internal:host-gateway" in app["extra_hosts"]
    assert "host.docker.internal:8188" in (REPO / "docker-compose.yml").read_text()


def test_compose_mounts_every_folder_gaze_keeps():
    env = service_env("app")
    mounts = {target: mode for _src, target, mode in volumes("app")}
    for key in ("GAZE_DATA_DIR", "GAZE_UPLOADS_DIR", "GAZE_INSTANCE_DIR"):
        assert mounts.get(env[key]) == "rw", f"{key}={env[key]} needs a writable volume"
    for key in ("GAZE_LORA_ROOT", "GAZE_CHECKPOINT_ROOT"):
        assert mounts.get(env[key]) == "ro", f"{key}={env[key]} is mounted read-only"
    # every folder setting points into a volume, not into the container's own layer
    for key, value in env.items():
        if key.endswith(("_DIR", "_ROOT")):
            assert value in mounts, f"{key}={value} is not a volume"


def test_compose_tag_service_runs_from_the_same_image():
    app, tags = COMPOSE["services"]["app"], COMPOSE["services"]["tags"]
    command = tags["command"] if isinstance(tags["command"], list) else shlex.split(tags["command"])
    assert command == ["python", "-m", "gaze.tags", "--http", "0.0.0.0:8765", "--csv", "/tags/tags.csv"]
    assert tags["image"] == app["image"] and tags.get("build") == app.get("build")
    assert any(target == "/tags" for _s, target, _m in volumes("tags"))
    assert "tags" in (app.get("depends_on") or [])
    # the image's health check asks the app's port; the tag service must not inherit it
    assert "8765" in " ".join(tags["healthcheck"]["test"])


def test_dockerfile_base_user_requirements_and_server():
    assert instruction("FROM") == ["python:3.11-slim"]
    users = instruction("USER")
    assert users and users[-1] not in ("root", "0", "0:0"), "the app does not run as root"
    runs = " ".join(instruction("RUN"))
    assert "pip install --no-cache-dir -r requirements.txt" in runs
    pins = [line for line in (REPO / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert all("==" in line for line in pins), "every requirement is pinned"
    assert any(line.lower().startswith("waitress==") for line in pins)
    assert instruction("EXPOSE") == ["5000"]


def test_dockerfile_cmd_is_the_documented_one():
    cmds = instruction("CMD")
    assert len(cmds) == 1
    assert json.loads(cmds[0]) == ["python", "-m", "gaze.serve"]
    assert f"CMD {cmds[0]}" in DOCS, "the README shows the image's exact start command"


def _healthcheck_code() -> str:
    (check,) = instruction("HEALTHCHECK")
    assert "curl" not in check and "wget" not in check
    match = re.search(r'CMD python -c "([^"]+)"', check)
    assert match, check
    assert "urllib" in match.group(1) and "/api/health" in match.group(1)
    return match.group(1)


def test_dockerfile_healthcheck_passes_on_a_running_gaze(live_server):
    code = _healthcheck_code()
    env = {**os.environ, "GAZE_PORT": str(live_server.port)}
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=30).returncode == 0
    env["GAZE_PORT"] = str(free_port())  # nothing listens there
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=30,
                          capture_output=True).returncode != 0


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    parts = path.split("/")
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        pattern = pattern.replace("**/", "*/") if pattern.startswith("**/") else pattern
        hit = any(fnmatch.fnmatch("/".join(parts[:i]), pattern) or
                  (pattern.startswith("*/") and fnmatch.fnmatch(parts[i - 1], pattern[2:]))
                  for i in range(1, len(parts) + 1))
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_image_needs_and_drops_state():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for needed in ("app.py", "models.py", "requirements.txt", "gaze/__init__.py", "gaze/serve.py",
                   "gaze/views/__init__.py", "templates/layout.html", "static/js/app.js",
                   "static/vendor/bootstrap/bootstrap.min.css", "data/characters/mira_vance.json",
                   "data/prompts/character_system.txt"):
        assert (REPO / needed).exists() and not _ignored(needed, patterns), needed
    for dropped in (".git/HEAD", ".venv/bin/python", "instance/gaze.db", "instance/secret_key",
                    "static/uploads/characters/x.png", "gaze/__pycache__/x.pyc", ".env"):
        assert _ignored(dropped, patterns), dropped
    for source in [args.split()[-2] for args in instruction("COPY")]:
        assert source == "." or (REPO / source).exists(), source


def test_health_endpoint(app, client):
    assert len([r for r in app.url_map.iter_rules() if r.rule == "/api/health"]) == 1, \
        "one /api/health: a second one would silently shadow the first"
    response = client.get("/api/health")
    assert response.status_code == 200 and response.is_json


def test_serve_uses_waitress_with_eight_threads(monkeypatch, tmp_path):
    import waitress

    from gaze import serve
    for key, sub in (("GAZE_DATA_DIR", "data"), ("GAZE_INSTANCE_DIR", "instance"), ("GAZE_UPLOADS_DIR", "up")):
        monkeypatch.setenv(key, str(tmp_path / sub))
    monkeypatch.setenv("GAZE_START_WORKER", "0")
    monkeypatch.setenv("GAZE_PORT", "5999")
    calls = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.append((app, kw)))
    assert serve.main([]) == 0
    (app, kwargs), = calls
    assert kwargs["threads"] == 8 and kwargs["port"] == 5999 and kwargs["host"] == "127.0.0.1"
    assert app.config["DATA_DIR"] == tmp_path / "data"
    from models import db
    with app.app_context():
        db.engine.dispose()


def test_python_m_gaze_serve_answers_health(tmp_path, library):
    """The image's start command, run for real (outside a container)."""
    port = free_port()
    env = {**os.environ, "GAZE_DATA_DIR": str(library), "GAZE_INSTANCE_DIR": str(tmp_path / "instance"),
           "GAZE_UPLOADS_DIR": str(tmp_path / "uploads"), "GAZE_PORT": str(port),
           "GAZE_HOST": "127.0.0.1", "GAZE_START_WORKER": "0"}
    command = json.loads(instruction("CMD")[0])
    assert command[0] == "python"
    log_file = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen([sys.executable, *command[1:]], cwd=REPO, env=env,
                            stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    assert r.status == 200 and isinstance(json.load(r), dict)
                    assert r.headers["Server"] == "GAZE"
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "gaze.serve did not answer within 30 s"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log_file.close()
