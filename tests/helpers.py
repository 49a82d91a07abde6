"""Small helpers for request-level tests: posting with the page's CSRF token,
AJAX headers, and images made in memory."""
from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

AJAX = {"X-Requested-With": "XMLHttpRequest"}


def post(client, url: str, token: str, data: dict | None = None, ajax: bool = False, **kw):
    body = {"csrf_token": token, **(data or {})}
    headers = {**(AJAX if ajax else {}), **kw.pop("headers", {})}
    return client.post(url, data=body, headers=headers, **kw)


def post_json(client, url: str, token: str, payload, raw: str | None = None):
    body = raw if raw is not None else json.dumps(payload)
    return client.post(url, data=body, content_type="application/json",
                       headers={"X-CSRFToken": token, **AJAX})


def image_bytes(fmt: str = "PNG", size=(640, 800), color=(120, 60, 200)) -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    buf.seek(0)
    return buf


def read_entry(library: Path, folder: str, filename: str) -> dict:
    return json.loads((library / folder / filename).read_text())
