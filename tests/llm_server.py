"""A scripted OpenAI-compatible chat-completions server for tests.

A real HTTP server on 127.0.0.1 (stdlib ``ThreadingHTTPServer``) that answers
``POST /v1/chat/completions`` from a queue of scripted responses and records
every request body.  Each scripted item is either a full ``chat.completion``
JSON body (HTTP 200) or ``(status, body)`` for an error.  ``GET /v1/models``
lists :attr:`ScriptedLLMServer.models`.

Use the ``llm_server`` fixture (import it into the test module)::

    def test_x(llm_server):
        llm_server.script([completion("hi")])
        ... LLMConfig(provider="openai_compatible", base_url=llm_server.base_url, model="m") ...
        assert llm_server.requests[0]["messages"][-1]["content"] == "..."
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Scripted = dict[str, Any] | tuple[int, Any]

# Error bodies in the shapes real providers send.
OLLAMA_NO_TOOLS: tuple[int, dict[str, Any]] = (400, {"error": {
    "message": "registry.ollama.ai/library/gemma:2b does not support tools",
    "type": "api_error", "param": None, "code": None}})
OPENROUTER_NO_TOOLS: tuple[int, dict[str, Any]] = (404, {"error": {
    "message": "No endpoints found that support tool use. To learn more about provider routing, "
               "visit: https://openrouter.ai/docs/provider-routing",
    "code": 404}})
OPENAI_BAD_KEY: tuple[int, dict[str, Any]] = (401, {"error": {
    "message": "Incorrect API key provided. You can find your API key in your account settings.",
    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})
MODEL_NOT_FOUND: tuple[int, dict[str, Any]] = (404, {"error": {
    "message": "The model `nope` does not exist or you do not have access to it.",
    "type": "invalid_request_error", "param": None, "code": "model_not_found"}})


def tool_call(name: str, arguments: Any, call_id: str = "call_1") -> dict[str, Any]:
    """One function tool call; ``arguments`` is JSON-encoded unless already a string."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


def completion(content: str | None = None, tool_calls: list[dict[str, Any]] | None = None,
               model: str = "test-model") -> dict[str, Any]:
    """A full ``chat.completion`` body with one choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


class ScriptedLLMServer:
    """The running server: :attr:`base_url` ends in ``/v1``."""

    def __init__(self) -> None:
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.models: list[str] = ["test-model", "other-model"]
        # Sent as ``x-should-retry`` so the openai client does not retry 5xx answers; None sends nothing.
        self.should_retry: bool | None = False
        self.delay = 0.0  # seconds to wait before answering a chat completion
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="scripted-llm", daemon=True)

    def start(self) -> ScriptedLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def script(self, responses: list[Scripted]) -> None:
        """Replace the queue of responses; also forgets recorded requests."""
        with self._lock:
            self._queue = deque(responses)
            self.requests.clear()
            self.headers.clear()

    @property
    def remaining(self) -> int:
        """Scripted responses not yet served."""
        return len(self._queue)

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            if not self._queue:
                return 500, {"error": {"message": "scripted LLM server: script exhausted", "type": "test"}}
            item = self._queue.popleft()
        if isinstance(item, tuple):
            return item
        return 200, item

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def _send(self, status: int, body: Any) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if server.should_retry is not None:
                    self.send_header("x-should-retry", "true" if server.should_retry else "false")
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                if self.path.rstrip("/") == "/v1/models":
                    data = [{"id": model, "object": "model", "created": 0, "owned_by": "test"}
                            for model in server.models]
                    self._send(200, {"object": "list", "data": data})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error"}})
                    return
                status, reply = server._next(body, {key.lower(): value for key, value in self.headers.items()})
                if server.delay:
                    time.sleep(server.delay)
                self._send(status, reply)

        return Handler


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A running :class:`ScriptedLLMServer`, stopped after the test."""
    server = ScriptedLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
