"""Allowed hosts, optional login, the API token, security headers, the
no-password warning and readable 413 answers."""
from __future__ import annotations

import logging
import re

import pytest
import requests
from flask import Blueprint, jsonify
from werkzeug.security import generate_password_hash

from gaze import create_app
from gaze.config import Config
from gaze.config import TestConfig as _TestConfig
from gaze.security import FailureLimiter, host_allowed, listens_beyond_loopback, safe_next
from tests.conftest import LiveServer, csrf_token
from tests.routes import png_bytes

PASSWORD = "correct horse battery staple"
API_TOKEN = "t0k3n-for-scripts"


def make_app(tmp_path, **settings):
    config = _TestConfig(tmp_path)
    for key, value in settings.items():
        setattr(config, key, value)
    app = create_app(config)
    bp = Blueprint("probe", __name__, url_prefix="/api/probe")

    @bp.post("/echo")
    def echo():
        return jsonify(ok=True)

    @bp.get("/read")
    def read():
        return jsonify(ok=True)

    app.register_blueprint(bp)
    return app


@pytest.fixture
def locked(tmp_path, library):
    """An app with a password and an API token."""
    return make_app(tmp_path, PASSWORD=PASSWORD, API_TOKEN=API_TOKEN)


def login(client, password=PASSWORD, next_url=None):
    data = {"password": password, "csrf_token": csrf_token(client, "/login")}
    if next_url:
        data["next"] = next_url
    return client.post("/login", data=data)


# ------------------------------------------------------------------ hosts

@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:5000", "[::1]", "[::1]:5782", "192.168.1.20:5782",
                                  "10.0.0.5", "localhost", "LOCALHOST:5000", "localhost.", "[fe80::1%25eth0]:80"])
def test_ip_literals_and_localhost_are_accepted(client, host):
    assert client.get("/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "localhost.evil.example", "127.0.0.1.nip.io",
                                  "gaze.lan", "[::1", "::1", "[evil.example]:80", "127.0.0.1:port", "a b", ":5000"])
def test_other_host_names_are_refused(client, host):
    for response in (client.get("/", headers={"Host": host}),
                     client.get("/static/js/app.js", headers={"Host": host}),
                     client.post("/rescan", headers={"Host": host})):
        assert response.status_code == 400
        assert "GAZE_TRUSTED_HOSTS" in response.get_json()["error"]


def test_trusted_hosts_setting(tmp_path, library):
    app = make_app(tmp_path, ALLOWED_HOSTS=["gaze.lan", ".home.arpa"])
    client = app.test_client()
    for host, code in (("gaze.lan", 200), ("GAZE.LAN:5782", 200), ("home.arpa", 200), ("nas.home.arpa:80", 200),
                       ("evil.example", 400), ("gaze.lan.evil.example", 400), ("xhome.arpa", 400)):
        assert client.get("/", headers={"Host": host}).status_code == code, host
    assert host_allowed("anything.example", ["*"])


def test_gaze_trusted_hosts_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("GAZE_TRUSTED_HOSTS", " Gaze.LAN , .home.arpa,")
    assert Config().ALLOWED_HOSTS == ["gaze.lan", ".home.arpa"]


# ------------------------------------------------------------------ login

def test_without_a_password_no_login_is_needed(client):
    assert client.get("/").status_code == 200
    assert client.get("/login").status_code == 302


def test_every_page_needs_a_login(locked, tmp_path):
    client = locked.test_client()
    (locked.config["UPLOADS_DIR"] / "x.png").write_bytes(png_bytes())
    for path in ("/", "/outfits/", "/checkpoints", "/problems", "/media/x.png", "/no/such/page"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/login"), path
    assert client.get("/", headers={"X-Requested-With": "XMLHttpRequest"}).status_code == 401
    assert client.get("/api/probe/read").status_code == 401
    assert client.post("/rescan", data={"csrf_token": csrf_token(client, "/login")}).status_code == 302
    # open without a login: the login page, static files and the health check
    assert client.get("/login").status_code == 200
    assert client.get("/static/js/app.js").status_code == 200
    assert client.get("/api/health").status_code == 200


def test_login_page_shows_nothing_of_the_library(locked):
    html = locked.test_client().get("/login").get_data(as_text=True)
    assert 'name="password"' in html
    assert "navbar" not in html and "Mira Vance" not in html


def test_login_and_logout(locked):
    client = locked.test_client()
    client.get("/login")
    before = client.get_cookie("session").value
    response = login(client, next_url="/outfits/")
    assert response.status_code == 302 and response.location == "/outfits/"
    assert client.get_cookie("session").value != before, "a login gets a fresh session id"
    page = client.get("/")
    assert page.status_code == 200 and "Mira Vance" in page.get_data(as_text=True)
    assert 'id="logout-form"' in page.get_data(as_text=True)
    assert client.get("/api/probe/read").status_code == 200
    assert client.get("/login?next=/scenes/").location == "/scenes/", "logged in: no second login"
    token = csrf_token(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_and_login_without_csrf(locked):
    client = locked.test_client()
    response = login(client, password="wrong")
    assert response.status_code == 401 and "Wrong password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    response = client.post("/login", data={"password": PASSWORD})
    assert response.status_code == 400 and 'name="password"' in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_login_never_redirects_to_another_site(locked, target):
    response = login(locked.test_client(), next_url=target)
    assert response.status_code == 302 and response.location == "/"
    assert safe_next(target) is None


def test_failed_logins_are_rate_limited(locked):
    client = locked.test_client()
    for _ in range(5):
        assert login(client, password="guess").status_code == 401
    response = login(client)  # even the right password waits
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 300
    assert client.get("/").status_code == 302
    other = locked.test_client()  # a new session from the same address waits too
    assert login(other).status_code == 429
    fresh = locked.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert login(fresh).status_code == 302


def test_failure_limiter_window():
    now = [1000.0]
    limiter = FailureLimiter(3, 60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("a") == 0
        limiter.fail("a")
    assert limiter.retry_after("a") == 60 and limiter.retry_after("b") == 0
    now[0] += 30
    assert limiter.retry_after("a") == 30
    now[0] += 30.5
    assert limiter.retry_after("a") == 0
    limiter.fail("a")
    limiter.reset("a")
    assert limiter.retry_after("a") == 0


def test_password_may_be_a_werkzeug_hash(tmp_path, library):
    app = make_app(tmp_path, PASSWORD=generate_password_hash(PASSWORD))
    client = app.test_client()
    assert login(client, password="pbkdf2:whatever").status_code == 401
    assert login(client).status_code == 302 and client.get("/").status_code == 200


def test_changing_the_password_logs_everyone_out(locked):
    client = locked.test_client()
    assert login(client).status_code == 302 and client.get("/").status_code == 200
    locked.config["PASSWORD"] = "a new password"
    assert client.get("/").status_code == 302


# ------------------------------------------------------------------ API token

def test_api_token_with_password(locked):
    client = locked.test_client()
    assert client.post("/api/probe/echo", json={}).status_code == 401
    bearer = {"Authorization": f"Bearer {API_TOKEN}"}
    assert client.post("/api/probe/echo", json={}, headers=bearer).status_code == 200
    assert client.get("/api/probe/read", headers=bearer).status_code == 200
    assert client.post("/api/probe/echo", json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/api/probe/echo", json={}, headers={"Authorization": API_TOKEN}).status_code == 401
    # the bearer token opens the API only, not the pages
    assert client.get("/", headers=bearer).status_code == 302
    login(client)
    assert client.post("/api/probe/echo", json={}).status_code == 200, "a logged-in session needs no token"


def test_api_token_without_password(tmp_path, library):
    app = make_app(tmp_path, API_TOKEN=API_TOKEN)
    client = app.test_client()
    assert client.get("/api/probe/read").status_code == 200, "reads stay open"
    response = client.post("/api/probe/echo", json={})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert client.post("/api/probe/echo", json={},
                       headers={"Authorization": f"bearer {API_TOKEN}"}).status_code == 200
    # GAZE's own pages call the API with their CSRF header
    token = csrf_token(client)
    assert client.post("/api/probe/echo", json={}, headers={"X-CSRFToken": token}).status_code == 200
    assert client.post("/api/probe/echo", json={}, headers={"X-CSRFToken": "forged"}).status_code == 401


def test_without_api_token_the_api_is_open_to_json(tmp_path, library):
    app = make_app(tmp_path)
    assert app.test_client().post("/api/probe/echo", json={}).status_code == 200


def test_wrong_bearer_tokens_are_rate_limited(locked):
    client = locked.test_client()
    for _ in range(5):
        client.post("/api/probe/echo", json={}, headers={"Authorization": "Bearer guess"})
    response = client.post("/api/probe/echo", json={}, headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.status_code == 429 and "Retry-After" in response.headers


# ------------------------------------------------------------------ headers, warning, 413

def test_security_headers_on_every_kind_of_response(app, client):
    (app.config["UPLOADS_DIR"] / "x.png").write_bytes(png_bytes())
    for path in ("/", "/static/js/app.js", "/api/health", "/media/x.png", "/no/such/page"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
        for directive in ("script-src", "style-src", "connect-src", "default-src"):
            assert csp[directive] == "'self'", directive
        assert csp["img-src"].startswith("'self'") and csp["frame-ancestors"] == "'none'"


def test_templates_have_no_inline_script_or_handlers():
    from tests.conftest import REPO
    for path in sorted((REPO / "templates").rglob("*.html")):
        text = path.read_text()
        # a JSON data block (<script type="application/json">) is data, not code: the CSP allows it
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", text), \
            f"inline <script> in {path.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path.name}"
        assert "javascript:" not in text, path.name


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("::1", False), ("localhost", False),
                                          ("0.0.0.0", True), ("::", True), ("192.168.1.5", True), ("nas", True)])
def test_listening_beyond_loopback(host, warned):
    assert listens_beyond_loopback(host) is warned


def test_warning_banner_without_password_on_a_public_address(tmp_path, library, caplog):
    with caplog.at_level(logging.WARNING, logger="gaze.security"):
        app = make_app(tmp_path, HOST="0.0.0.0")
    assert any("without a password" in r.getMessage() for r in caplog.records)
    for path in ("/", "/checkpoints", "/problems"):
        html = app.test_client().get(path).get_data(as_text=True)
        assert 'id="security-warning"' in html and "GAZE_PASSWORD" in html


def test_no_banner_on_loopback_or_with_password(app, tmp_path, library):
    assert 'id="security-warning"' not in app.test_client().get("/").get_data(as_text=True)
    public = make_app(tmp_path, HOST="0.0.0.0", PASSWORD=PASSWORD)
    client = public.test_client()
    login(client)
    assert 'id="security-warning"' not in client.get("/").get_data(as_text=True)


def test_max_upload_from_the_environment(monkeypatch):
    monkeypatch.setenv("GAZE_MAX_UPLOAD_MB", "3")
    assert Config().MAX_CONTENT_LENGTH == 3 * 1024 * 1024


def test_too_large_requests_get_a_readable_answer(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    token = csrf_token(client)
    big = {"csrf_token": token, "image": (__import__("io").BytesIO(b"x" * (1024 * 1024 + 1)), "big.png")}
    response = client.post("/rescan", data=big, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "at most 1 MB" in response.get_data(as_text=True) and "GAZE_MAX_UPLOAD_MB" in response.get_data(as_text=True)
    response = client.post("/rescan", data=b"x" * (1024 * 1024 + 1), content_type="application/octet-stream",
                           headers={"X-Requested-With": "XMLHttpRequest", "X-CSRFToken": token})
    assert response.status_code == 413
    assert "at most 1 MB" in response.get_json()["error"]


def test_too_large_upload_through_the_real_server(app):
    app.config["MAX_CONTENT_LENGTH"] = 512 * 1024
    server = LiveServer(app).start()
    try:
        session = requests.Session()
        html = session.get(server.url + "/").text
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        response = session.post(server.url + "/rescan", files={"image": ("big.png", b"x" * (2 * 1024 * 1024))},
                                data={"csrf_token": token},
                                headers={"X-Requested-With": "XMLHttpRequest", "X-CSRFToken": token}, timeout=30)
        assert response.status_code == 413
        assert "at most 512 KB" in response.json()["error"] and "GAZE_MAX_UPLOAD_MB" in response.json()["error"]
    finally:
        server.stop()
    assert not any(app.config["UPLOADS_DIR"].rglob("big.png"))
