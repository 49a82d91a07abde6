"""Hostile path fragments never lead outside their folder: `safe_join` never
returns a path outside its root, and `/media/<path>` never serves a file from
outside the uploads folder."""
from __future__ import annotations

import http.client
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaze.paths import UnsafePath, is_inside, safe_join
from tests.conftest import LiveServer

SECRET = b"GAZE-SECRET-do-not-serve"

HOSTILE = [
    "..", ".", "../", "..\\", "/..", "...", "....//", "%2e%2e", "%2e%2e%2f", "..%2f", "%252e%252e", "..%5c",
    "%c0%ae%c0%ae", "\uff0e\uff0e", "\u2025", "..\u2215", "\u202e..", "/", "//", "\\", "\\\\server\\share",
    "/etc/passwd", "C:\\Windows", "C:", "c:/", "~", "~root", "\x00", "..\x00", "a\x00b", "\ud800", "\udcff",
    "secret.txt", "uploads_evil", "outside", "escape", "loop", " ", "\t", "\n", "a" * 256, "é" * 200,
    "𝔰𝔢𝔠𝔯𝔢𝔱", "con", "nul", "aux.txt", ".git", ".hidden", "*", "?", "[", ";", "|", "$HOME",
]
fragment = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12),
                     st.text(alphabet="./\\%2ecx~:", max_size=24))
separators = st.sampled_from(["/", "\\", "//", "/./", "%2f", "/../"])


@st.composite
def hostile_path(draw) -> str:
    parts = draw(st.lists(fragment, min_size=1, max_size=8))
    out = parts[0]
    for part in parts[1:]:
        out += draw(separators) + part
    return out


@pytest.fixture
def tree(tmp_path) -> Path:
    """root/ with a file and hostile symlinks; secrets beside and above it."""
    root = tmp_path / "uploads"
    (root / "characters" / "mira").mkdir(parents=True)
    (root / "characters" / "mira" / "cover.png").write_bytes(b"\x89PNG fine")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "uploads_evil").mkdir()
    (tmp_path / "uploads_evil" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "outside", root / "escape")           # a link leading out
    os.symlink(tmp_path / "secret.txt", root / "secret.txt")    # a file link leading out
    os.symlink(root / "loop", root / "loop")                    # a symlink loop
    return root


def _check_safe_join(root: Path, parts: tuple[str, ...]) -> None:
    try:
        result = safe_join(root, *parts)
    except UnsafePath:
        return
    resolved_root = root.resolve()
    assert result == resolved_root or resolved_root in result.parents, (parts, result)
    assert is_inside(root, result)
    assert os.path.realpath(result) == str(result), "the result is already resolved"


def test_fixed_hostile_fragments(tree):
    for part in HOSTILE:
        _check_safe_join(tree, (part,))
        _check_safe_join(tree, ("characters", part, "cover.png"))
    for escape in ("../secret.txt", "../uploads_evil/secret.txt", "escape/secret.txt", "secret.txt",
                   "characters/../../secret.txt", "/etc/passwd", "loop/x", "\\..\\secret.txt", "a" * 300):
        with pytest.raises(UnsafePath):
            safe_join(tree, escape)
    assert safe_join(tree, "characters/mira/cover.png") == (tree / "characters/mira/cover.png").resolve()
    assert safe_join(tree, "characters/../characters/mira") == (tree / "characters/mira").resolve()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.one_of(fragment, hostile_path()), min_size=1, max_size=4))
def test_safe_join_never_leaves_its_root(tree, parts):
    _check_safe_join(tree, tuple(parts))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=hostile_path())
def test_media_never_serves_outside_the_uploads_folder(app, path):
    uploads = app.config["UPLOADS_DIR"]
    _plant_secrets(uploads)
    client = app.test_client()
    path = quote(path, safe="/%\\:~", errors="surrogatepass")  # lone surrogates go as raw bytes
    for url in (f"/media/{path}", f"/media/characters/{path}", f"/media/{path}/secret.txt"):
        response = client.get(url)
        assert response.status_code in (200, 301, 308, 400, 404, 405), (url, response.status_code)
        assert SECRET not in response.get_data(), url
        if response.status_code == 200:
            assert response.get_data() == b"\x89PNG fine", url


def _plant_secrets(uploads: Path) -> None:
    if (uploads / "characters" / "mira" / "cover.png").exists():
        return
    base = uploads.parent
    (uploads / "characters" / "mira").mkdir(parents=True, exist_ok=True)
    (uploads / "characters" / "mira" / "cover.png").write_bytes(b"\x89PNG fine")
    (base / "secret.txt").write_bytes(SECRET)
    (base / "uploads_evil").mkdir(exist_ok=True)
    (base / "uploads_evil" / "secret.txt").write_bytes(SECRET)
    (base / "outside").mkdir(exist_ok=True)
    (base / "outside" / "secret.txt").write_bytes(SECRET)
    os.symlink(base / "outside", uploads / "escape")
    os.symlink(base / "secret.txt", uploads / "secret-link.txt")


RAW_ATTACKS = [
    "/media/../secret.txt", "/media/%2e%2e/secret.txt", "/media/..%2fsecret.txt", "/media/%2e%2e%2fsecret.txt",
    "/media/..%5csecret.txt", "/media/characters/..%2f..%2fsecret.txt", "/media/%252e%252e/secret.txt",
    "/media/escape/secret.txt", "/media/secret-link.txt", "/media/..%2fuploads_evil/secret.txt",
    "/media//etc/passwd", "/media/%2fetc%2fpasswd", "/media/a%00/../../secret.txt",
    "/media/" + "..%2f" * 20 + "etc/passwd",
    "/media/%c0%ae%c0%ae/secret.txt", "/media/characters/mira/cover.png",
]


def test_media_over_real_http_with_raw_paths(app):
    """What a browser or curl cannot send (unnormalised `..`, encoded slashes)
    sent byte for byte to the production server."""
    _plant_secrets(app.config["UPLOADS_DIR"])
    server = LiveServer(app).start()
    try:
        for target in RAW_ATTACKS:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"127.0.0.1:{server.port}")
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
            conn.close()
            assert SECRET not in body, target
            assert b"root:" not in body, target
            if target.endswith("cover.png"):
                assert response.status == 200 and body == b"\x89PNG fine"
            elif response.status == 308:  # werkzeug merges double slashes, staying under /media/
                location = response.getheader("Location")
                assert location.split(f":{server.port}", 1)[-1].startswith("/media/"), location
            else:
                assert response.status in (400, 404), (target, response.status)
    finally:
        server.stop()
