"""HTTP routes of the fake ComfyUI (stdlib http.server, HTTP/1.1 keep-alive).

Status codes, content types and empty bodies follow the recorded contract:
JSON answers are ``application/json; charset=utf-8``; /interrupt, /queue,
/free, /history POSTs and error answers of /view and /upload/image have an
empty body and no content type.
"""
from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import posixpath
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_comfy_ws import is_upgrade_request

if TYPE_CHECKING:
    from tests.fake_comfy import FakeComfy

log = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"
_ANNOTATION = re.compile(r"^(.*) \[(input|output|temp)\]$")


class Response:
    def __init__(self, status: int = 200, body: bytes = b"", content_type: str = "",
                 headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(obj).encode("utf-8"), JSON_TYPE)


def empty(status: int = 200) -> Response:
    return Response(status)


def server_error() -> Response:
    return Response(500, b"500 Internal Server Error\n\nServer got itself in trouble", "text/plain; charset=utf-8")


def not_found() -> Response:
    return Response(404, b"404: Not Found", "text/plain; charset=utf-8")


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """field name → (filename or None, raw value)."""
    raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: "FakeComfy") -> None:
        self.fake = fake
        super().__init__(address, FakeHandler)


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Python/3.11 aiohttp/3.13"
    server: FakeHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._track_conn(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track_conn(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("fake comfy http: " + format, *args)

    # -- plumbing -----------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _reply(self, resp: Response) -> None:
        self.send_response(resp.status)
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if resp.body and self.command != "HEAD":
            self.wfile.write(resp.body)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._body() if method == "POST" else b""
        fake = self.server.fake
        if method == "GET" and url.path == "/ws" and is_upgrade_request(self):
            self.close_connection = True
            fake._serve_ws(self, query.get("clientId"))
            return
        try:
            resp = route(fake, method, url.path, query, self.headers.get("Content-Type", ""), body)
        except Exception:  # noqa: BLE001 - a real server answers 500 too
            log.exception("fake comfy: handler error for %s %s", method, self.path)
            resp = server_error()
        self._reply(resp)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._dispatch("POST")


def _json_body(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


def route(fake: "FakeComfy", method: str, path: str, query: dict[str, str], ctype: str, body: bytes) -> Response:
    """Answer one HTTP request (WebSocket upgrades are handled before this)."""
    if method == "GET":
        if path == "/object_info":
            return json_response(fake.object_info())
        if path.startswith("/object_info/"):
            defs = fake.object_info()
            cls = path[len("/object_info/"):]
            return json_response({cls: defs[cls]} if cls in defs else {})
        if path == "/system_stats":
            return json_response(fake.contract_body("system_stats.json"))
        if path == "/features":
            return json_response(fake.contract_body("features.json"))
        if path == "/prompt":
            return json_response({"exec_info": {"queue_remaining": fake.queue_remaining()}})
        if path == "/queue":
            return json_response(fake.queue_snapshot())
        if path == "/history":
            max_items = int(query["max_items"]) if "max_items" in query else None
            offset = int(query["offset"]) if "offset" in query else -1
            return json_response(fake.history_list(max_items, offset))
        if path.startswith("/history/"):
            return json_response(fake.history_entry(path[len("/history/"):]))
        if path == "/view":
            return view(fake, query)
        if path.startswith("/models/"):
            names = fake.model_list(path[len("/models/"):])
            return not_found() if names is None else json_response(names)
        return not_found()
    if method == "POST":
        if path == "/prompt":
            return fake.post_prompt(body)
        if path == "/queue":
            data = _json_body(body)
            if data.get("clear"):
                fake.clear_queue()
            if "delete" in data:
                fake.delete_pending(list(data["delete"]))
            return empty()
        if path == "/history":
            data = _json_body(body)
            fake.edit_history(bool(data.get("clear")), list(data.get("delete", [])))
            return empty()
        if path == "/interrupt":
            try:
                data = _json_body(body) if body else {}
            except ValueError:
                data = {}
            fake.interrupt(data.get("prompt_id") if isinstance(data, dict) else None)
            return empty()
        if path == "/free":
            data = _json_body(body)
            fake.free(bool(data.get("unload_models", False)), bool(data.get("free_memory", False)))
            return empty()
        if path == "/upload/image":
            return upload_image(fake, ctype, body)
        return not_found()
    return Response(405, b"405: Method Not Allowed", "text/plain; charset=utf-8")


def view(fake: "FakeComfy", query: dict[str, str]) -> Response:
    """GET /view with the server's checks: 400 for '..'/absolute names or a bad type, 403 for escapes."""
    if "filename" not in query:
        return empty(404)
    filename = query["filename"]
    kind = None
    match = _ANNOTATION.match(filename)
    if match:
        filename, kind = match.group(1), match.group(2)
    if not filename:
        return empty(400)
    if filename[0] == "/" or ".." in filename:
        return empty(400)
    kind = kind or query.get("type", "output")
    if kind not in ("input", "output", "temp"):
        return empty(400)
    subfolder = query.get("subfolder", "")
    norm = posixpath.normpath(posixpath.join("/root", subfolder))
    if norm != "/root" and not norm.startswith("/root/"):
        return empty(403)
    sub = norm[len("/root/"):] if norm != "/root" else ""
    data = fake.files.get(kind, sub, posixpath.basename(filename))
    if data is None:
        return empty(404)
    name = posixpath.basename(filename)
    ctype = "image/png" if name.lower().endswith(".png") else "application/octet-stream"
    return Response(200, data, ctype, {"Content-Disposition": f'filename="{name}"'})


def upload_image(fake: "FakeComfy", ctype: str, body: bytes) -> Response:
    """POST /upload/image (multipart: image, type, subfolder, overwrite)."""
    if "multipart/form-data" not in ctype:
        return server_error()
    fields = parse_multipart(ctype, body)
    image = fields.get("image")
    if image is None or image[0] is None:
        return empty(400)
    filename = image[0]
    if not filename:
        return empty(400)
    kind = fields.get("type", (None, b"input"))[1].decode() or "input"
    if kind not in ("input", "output", "temp"):
        return server_error()
    subfolder = fields.get("subfolder", (None, b""))[1].decode()
    overwrite = fields.get("overwrite", (None, None))[1]
    norm = posixpath.normpath(posixpath.join("/root", subfolder, filename))
    if not norm.startswith("/root/"):
        return empty(400)
    rel_dir = posixpath.dirname(norm[len("/root/"):])
    name = fake.files.store_upload(kind, rel_dir, posixpath.basename(norm), image[1],
                             overwrite in (b"true", b"1"))
    return json_response({"name": name, "subfolder": subfolder, "type": kind})
