"""ComfyUI client for GAZE (HTTP via requests, WebSocket via websocket-client).

Built against a recorded ComfyUI v0.8.0 contract. Typical use::

    client = ComfyClient("http://127.0.0.1:8188")
    ws = client.open_socket(client_id)          # open BEFORE queueing: no event is missed
    prompt_id = client.queue_prompt(graph, client_id)
    for event in client.follow(prompt_id, client_id, ws=ws):
        ...                                      # Progress / NodeStart, then Done or Failed

Every network call has a timeout, and only ComfyError subclasses escape.
"""
from __future__ import annotations

import json
import logging
import mimetypes
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests
import websocket

from gaze.comfy_messages import (
    error_from_history,
    execution_error_text,
    images_from_history,
    validation_messages,
    was_interrupted,
)

log = logging.getLogger(__name__)

__all__ = [
    "ComfyClient", "ComfyError", "ComfyUnreachable", "ComfyHTTPError", "ComfyNotFound",
    "ComfyValidationError", "Progress", "NodeStart", "Done", "Failed", "Event",
    "images_from_history", "error_from_history", "validation_messages",
]


class ComfyError(Exception):
    """Base class of every error this module raises."""


class ComfyUnreachable(ComfyError):
    """Connection refused, timed out, DNS failure, or the socket could not be opened."""


class ComfyHTTPError(ComfyError):
    """ComfyUI answered with an unexpected HTTP status."""

    def __init__(self, message: str, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ComfyNotFound(ComfyHTTPError):
    """HTTP 404 (e.g. /view of a file that does not exist)."""


class ComfyValidationError(ComfyError):
    """POST /prompt answered 400: ``messages`` are readable lines, ``raw`` is the body."""

    def __init__(self, messages: list[str], raw: Any) -> None:
        super().__init__("ComfyUI rejected the prompt: " + "; ".join(messages))
        self.messages = messages
        self.raw = raw


@dataclass(frozen=True)
class Progress:
    value: int
    max: int
    node: str | None = None


@dataclass(frozen=True)
class NodeStart:
    node: str


@dataclass(frozen=True)
class Done:
    images: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Failed:
    """``kind`` is "error", "interrupted", "timeout" or "lost" (deleted / server restarted)."""

    message: str
    kind: str = "error"


Event = Union[Progress, NodeStart, Done, Failed]

LOST_MESSAGE = "ComfyUI no longer knows this prompt (deleted from the queue, or the server restarted)"


def _final_event(entry: dict[str, Any]) -> Done | Failed:
    error = error_from_history(entry)
    if error is None:
        return Done(images_from_history(entry))
    return Failed(error, "interrupted" if was_interrupted(entry) else "error")


class ComfyClient:
    """Client for one ComfyUI server. Safe to share between threads."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"ComfyUI URL must be http(s)://host[:port]: {base_url!r}")
        self.base_url = base_url.strip().rstrip("/")
        self.timeout = float(timeout)
        self._object_info: dict[str, Any] | None = None
        self._object_info_lock = threading.Lock()

    # ---- plumbing -------------------------------------------------------------------
    def _request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        try:
            return requests.request(method, url, timeout=timeout or self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ComfyUnreachable(f"ComfyUI at {self.base_url} is unreachable: {exc}") from exc
        except requests.RequestException as exc:
            raise ComfyError(f"request to ComfyUI failed ({method} {path}): {exc}") from exc

    @staticmethod
    def _check(resp: requests.Response, what: str) -> requests.Response:
        if 200 <= resp.status_code < 300:
            return resp
        body = resp.text[:500] if resp.content else ""
        cls = ComfyNotFound if resp.status_code == 404 else ComfyHTTPError
        raise cls(f"ComfyUI answered HTTP {resp.status_code} to {what}", resp.status_code, body)

    @staticmethod
    def _json(resp: requests.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError as exc:
            raise ComfyError(f"ComfyUI sent invalid JSON for {what}") from exc

    def _get_json(self, path: str, *, timeout: float | None = None, **kwargs: Any) -> Any:
        return self._json(self._check(self._request("GET", path, timeout=timeout, **kwargs), f"GET {path}"),
                          f"GET {path}")

    def _post(self, path: str, **kwargs: Any) -> requests.Response:
        return self._check(self._request("POST", path, **kwargs), f"POST {path}")

    # ---- read-only endpoints ----------------------------------------------------------------
    def cached_object_info(self) -> dict[str, Any] | None:
        """The last /object_info fetched, without any network call (None if never)."""
        return self._object_info

    def object_info(self, refresh: bool = False) -> dict[str, Any]:
        """GET /object_info, cached per client (treat the result as read-only)."""
        with self._object_info_lock:
            if self._object_info is None or refresh:
                data = self._get_json("/object_info")
                if not isinstance(data, dict):
                    raise ComfyError("GET /object_info did not return an object")
                self._object_info = data
            return self._object_info

    def node_choices(self, class_type: str, input_name: str, refresh: bool = False) -> list[str]:
        """Allowed values of a COMBO input (e.g. CheckpointLoaderSimple / ckpt_name); [] if unknown."""
        node = self.object_info(refresh).get(class_type) or {}
        inputs = node.get("input") or {}
        for category in ("required", "optional"):
            spec = (inputs.get(category) or {}).get(input_name)
            if isinstance(spec, list) and spec:
                if isinstance(spec[0], list):
                    return [str(v) for v in spec[0]]
                if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
                    return [str(v) for v in spec[1].get("options", [])]
        return []

    def models(self, folder: str) -> list[str]:
        """GET /models/<folder> (e.g. "checkpoints", "loras")."""
        data = self._get_json(f"/models/{folder}")
        return [str(x) for x in data] if isinstance(data, list) else []

    def system_stats(self) -> dict[str, Any]:
        data = self._get_json("/system_stats")
        if not isinstance(data, dict):
            raise ComfyError("GET /system_stats did not return an object")
        return data

    def history(self, prompt_id: str, *, timeout: float | None = None) -> dict[str, Any] | None:
        """The /history entry of one prompt, or None while it is unknown / unfinished."""
        data = self._get_json(f"/history/{quote(prompt_id, safe='')}", timeout=timeout)
        if not isinstance(data, dict):
            raise ComfyError("GET /history did not return an object")
        entry = data.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    def queue(self, *, timeout: float | None = None) -> dict[str, list[str]]:
        """GET /queue as prompt ids: {"running": [...], "pending": [...]}."""
        data = self._get_json("/queue", timeout=timeout)
        if not isinstance(data, dict):
            raise ComfyError("GET /queue did not return an object")

        def ids(items: Any) -> list[str]:
            return [str(i[1]) for i in items or [] if isinstance(i, (list, tuple)) and len(i) > 1]

        return {"running": ids(data.get("queue_running")), "pending": ids(data.get("queue_pending"))}

    def view(self, filename: str, subfolder: str = "", type: str = "output") -> bytes:  # noqa: A002 - API name
        """GET /view: the file's bytes. ComfyNotFound for 404, ComfyHTTPError for 400/403."""
        params = {"filename": filename, "subfolder": subfolder, "type": type}
        return self._check(self._request("GET", "/view", params=params), f"GET /view {filename!r}").content

    # ---- actions -------------------------------------------------------------------------------
    def queue_prompt(self, graph: dict[str, Any], client_id: str, *, prompt_id: str | None = None,
                     extra_data: dict[str, Any] | None = None, front: bool = False) -> str:
        """POST /prompt; returns the prompt_id. Raises ComfyValidationError on HTTP 400."""
        payload: dict[str, Any] = {"prompt": graph, "client_id": client_id}
        if prompt_id is not None:
            payload["prompt_id"] = prompt_id
        if extra_data:
            payload["extra_data"] = extra_data
        if front:
            payload["front"] = True
        resp = self._request("POST", "/prompt", json=payload)
        if resp.status_code == 400:
            try:
                body = resp.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                raise ComfyValidationError(validation_messages(body), body)
        data = self._json(self._check(resp, "POST /prompt"), "POST /prompt")
        new_id = data.get("prompt_id") if isinstance(data, dict) else None
        if not isinstance(new_id, str) or not new_id:
            raise ComfyError("POST /prompt answered without a prompt_id")
        if data.get("node_errors"):
            log.warning("ComfyUI queued %s but skipped broken outputs: %s", new_id,
                        "; ".join(validation_messages({"node_errors": data["node_errors"]})))
        return new_id

    def upload_image(self, data: bytes, filename: str, subfolder: str = "", type: str = "input",  # noqa: A002
                     overwrite: bool = False) -> dict[str, Any]:
        """POST /upload/image; returns {"name", "subfolder", "type"} (name may differ from filename)."""
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        form = {"type": type, "subfolder": subfolder}
        if overwrite:
            form["overwrite"] = "true"
        resp = self._post("/upload/image", files={"image": (filename, data, mime)}, data=form)
        result = self._json(resp, "POST /upload/image")
        if not isinstance(result, dict) or "name" not in result:
            raise ComfyError("POST /upload/image answered without a name")
        return result

    def interrupt(self, prompt_id: str | None = None) -> None:
        """POST /interrupt; with prompt_id only that prompt is stopped, if it is running."""
        self._post("/interrupt", json={"prompt_id": prompt_id} if prompt_id else None)

    def delete_from_queue(self, prompt_ids: Iterable[str]) -> None:
        """POST /queue {"delete": [...]}: drops pending prompts (not the running one)."""
        self._post("/queue", json={"delete": list(prompt_ids)})

    def free(self, unload_models: bool = True, free_memory: bool = True) -> None:
        self._post("/free", json={"unload_models": unload_models, "free_memory": free_memory})

    # ---- WebSocket -------------------------------------------------------------------------------
    def ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = parts.path.rstrip("/") + "/ws"
        return urlunsplit((scheme, parts.netloc, path, urlencode({"clientId": client_id}), ""))

    def open_socket(self, client_id: str) -> websocket.WebSocket:
        """Connect /ws?clientId=...; do this before queue_prompt so no event is missed."""
        try:
            return websocket.create_connection(self.ws_url(client_id), timeout=self.timeout)
        except websocket.WebSocketBadStatusException as exc:
            raise ComfyHTTPError(f"ComfyUI refused the WebSocket: {exc}", exc.status_code) from exc
        except (websocket.WebSocketException, OSError) as exc:
            raise ComfyUnreachable(f"cannot open ComfyUI WebSocket at {self.base_url}: {exc}") from exc

    @staticmethod
    def _close_quietly(ws: websocket.WebSocket) -> None:
        try:
            ws.close(timeout=1)
        except Exception as exc:  # noqa: BLE001 - closing a broken socket may fail any way
            log.debug("closing ComfyUI socket failed: %s", exc)

    # ---- following a prompt -----------------------------------------------------------------------
    def follow(self, prompt_id: str, client_id: str, ws: websocket.WebSocket | None = None,
               timeout: float = 600.0, *, poll_interval: float = 0.5, check_every: float = 5.0,
               close_socket: bool = True) -> Iterator[Event]:
        """Yield Progress / NodeStart events, then exactly one Done or Failed.

        Completion is keyed on ``executing`` with ``node: null`` for this prompt;
        outputs come from /history. When the socket drops or cannot be opened the
        follower polls /history instead. Every ``check_every`` seconds it also asks
        /history and /queue, so a prompt deleted from the queue or lost in a
        restart ends as Failed(kind="lost") instead of waiting for ``timeout``.
        The socket is closed at the end unless ``close_socket`` is False.
        """
        deadline = time.monotonic() + timeout
        opened_here = False
        if ws is None:
            try:
                ws = self.open_socket(client_id)
                opened_here = True
            except ComfyError as exc:
                log.info("no ComfyUI socket for %s, polling /history: %s", prompt_id, exc)
        try:
            if ws is not None:
                finished = yield from self._follow_socket(ws, prompt_id, deadline, check_every, opened_here)
                if finished:
                    return
            yield from self._poll(prompt_id, deadline, poll_interval)
        finally:
            if ws is not None and (close_socket or opened_here):
                self._close_quietly(ws)

    def _final_or_lost(self, prompt_id: str, deadline: float) -> Done | Failed | None:
        """Finished → Done/Failed; neither queued nor in history → Failed(lost); else None."""
        budget = max(0.5, min(self.timeout, deadline - time.monotonic()))
        try:
            entry = self.history(prompt_id, timeout=budget)
            if entry is not None:
                return _final_event(entry)
            queued = self.queue(timeout=budget)
            if prompt_id in queued["running"] or prompt_id in queued["pending"]:
                return None
            entry = self.history(prompt_id, timeout=budget)  # it may have finished meanwhile
            return _final_event(entry) if entry is not None else Failed(LOST_MESSAGE, "lost")
        except ComfyError as exc:
            log.debug("ComfyUI status check for %s failed: %s", prompt_id, exc)
            return None

    def _poll(self, prompt_id: str, deadline: float, poll_interval: float) -> Iterator[Event]:
        while True:
            final = self._final_or_lost(prompt_id, deadline)
            if final is not None:
                yield final
                return
            left = deadline - time.monotonic()
            if left <= 0:
                yield Failed(f"timed out waiting for ComfyUI prompt {prompt_id}", "timeout")
                return
            time.sleep(min(poll_interval, left))

    def _follow_socket(self, ws: websocket.WebSocket, prompt_id: str, deadline: float, check_every: float,
                       check_now: bool) -> Iterator[Event]:
        """Returns True once a final event was yielded, False when the socket is gone."""
        failure: Failed | None = None
        next_check = time.monotonic() if check_now else time.monotonic() + check_every
        while True:
            now = time.monotonic()
            if now >= deadline:
                yield Failed(f"timed out waiting for ComfyUI prompt {prompt_id}", "timeout")
                return True
            if now >= next_check:
                next_check = now + check_every
                final = self._final_or_lost(prompt_id, deadline)
                if final is not None:
                    yield final
                    return True
            try:
                ws.settimeout(max(0.05, min(deadline, next_check) - now))
                opcode, payload = ws.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError, ValueError) as exc:
                log.info("ComfyUI socket dropped while following %s: %s", prompt_id, exc)
                return False
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                log.info("ComfyUI closed the socket while following %s", prompt_id)
                return False
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue  # binary preview frames
            try:
                message = json.loads(payload)
            except ValueError:
                continue
            data = message.get("data") if isinstance(message, dict) else None
            if not isinstance(data, dict) or data.get("prompt_id") != prompt_id:
                continue  # status broadcasts, other prompts, reconnect hints
            mtype = message.get("type")
            if mtype == "progress":
                try:
                    yield Progress(int(data.get("value", 0)), int(data.get("max", 0)),
                                   None if data.get("node") is None else str(data["node"]))
                except (TypeError, ValueError):
                    continue
            elif mtype == "executing":
                if data.get("node") is not None:
                    yield NodeStart(str(data["node"]))
                    continue
                final = self._history_after_finish(prompt_id, deadline) or failure
                if final is None:
                    return False  # history not readable: fall back to polling
                yield final
                return True
            elif mtype == "execution_error":
                failure = Failed(execution_error_text(data), "error")
            elif mtype == "execution_interrupted":
                failure = Failed("interrupted", "interrupted")

    def _history_after_finish(self, prompt_id: str, deadline: float) -> Done | Failed | None:
        """History is written before ``executing: null``; retry briefly in case of a race."""
        for attempt in range(5):
            try:
                entry = self.history(prompt_id, timeout=max(0.5, min(self.timeout, deadline - time.monotonic())))
            except ComfyError as exc:
                log.info("reading ComfyUI history of %s failed: %s", prompt_id, exc)
                return None
            if entry is not None:
                return _final_event(entry)
            time.sleep(0.05 * (attempt + 1))
        return None
