"""A fake ComfyUI v0.8.0 for tests: real HTTP + WebSocket on one 127.0.0.1 port.

Built against the recorded contract in tests/contract/ (see its README.md).
Use the ``fake_comfy`` fixture (import it into a test module or conftest)::

    from tests.fake_comfy import FakeComfy, fake_comfy  # noqa: F401

    def test_x(fake_comfy):
        client = ComfyClient(fake_comfy.url)
"""
from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests import comfy_contract
from tests.fake_comfy_exec import PromptRun, now_ms
from tests.fake_comfy_http import FakeHandler, FakeHTTPServer, Response, json_response, server_error
from tests.fake_comfy_store import FileStore, make_jpeg
from tests.fake_comfy_validate import PromptValidator
from tests.fake_comfy_ws import SocketHub

log = logging.getLogger(__name__)

FAIL_KINDS = ("exec_error", "http_500", "drop_ws")
SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")


class FakeComfy:
    """Fake ComfyUI server. Thread-safe; every knob may be used while it runs."""

    def __init__(self, render_delay: float = 0.05, steps: int | None = 4, with_impact: bool = True,
                 checkpoints: list[str] | None = None, loras: list[str] | None = None) -> None:
        self.render_delay = render_delay
        self.steps = steps
        self.with_impact = with_impact
        base = comfy_contract.body("object_info_subset.json")
        self.checkpoints = list(checkpoints) if checkpoints is not None else list(
            base["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0])
        self.loras = list(loras) if loras is not None else list(base["LoraLoader"]["input"]["required"]["lora_name"][0])
        self._base_defs = base
        if with_impact:
            self._base_defs.update(comfy_contract.body("object_info_impact.json"))
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._number = 0
        self._pending: list[tuple] = []
        self._running: tuple | None = None
        self._history: dict[str, dict[str, Any]] = {}
        self.cache: dict[str, Any] = {}
        self.files = FileStore()
        self._hub = SocketHub(comfy_contract.body("features.json"))
        self._conns: set[Any] = set()
        self._submitted: list[dict[str, Any]] = []
        self._fail: list[str] = []
        self.free_calls: list[dict[str, bool]] = []
        self._interrupt = threading.Event()
        self._abort = threading.Event()
        self._wake = threading.Event()
        self._last_node: str | None = None
        self._stopping = False
        self._httpd: FakeHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self.port = 0
        self._preview = make_jpeg()
        self._exec_error = self._recorded_error()

    # ---- lifecycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeComfy":
        self._stopping = False
        self._start_http()
        self._worker = threading.Thread(target=self._work, name="fake-comfy-worker", daemon=True)
        self._worker.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._abort.set()
            self._wake.set()
            self._cond.notify_all()
        self._stop_http()
        if self._worker is not None:
            self._worker.join(timeout=5)

    def __enter__(self) -> "FakeComfy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_http(self) -> None:
        self._httpd = FakeHTTPServer(("127.0.0.1", self.port), self)
        self.port = self._httpd.server_address[1]
        self._serve_thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                              name="fake-comfy-http", daemon=True)
        self._serve_thread.start()
        log.info("fake comfy listening on %s", self.url)

    def _stop_http(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        self.drop_sockets()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(2)
            except OSError:
                pass

    def _track_conn(self, conn: Any, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ---- knobs -------------------------------------------------------------------
    def fail_next(self, kind: str) -> None:
        """Arm one failure: "exec_error", "http_500" or "drop_ws"."""
        if kind not in FAIL_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._fail.append(kind)

    def _take_fail(self, kind: str) -> bool:
        with self._lock:
            if kind in self._fail:
                self._fail.remove(kind)
                return True
            return False

    def set_render_delay(self, seconds: float) -> None:
        with self._lock:
            self.render_delay = seconds

    def set_models(self, checkpoints: list[str] | None = None, loras: list[str] | None = None) -> None:
        """Replace the checkpoint and/or LoRA lists shown by /object_info and /models."""
        with self._lock:
            if checkpoints is not None:
                self.checkpoints = list(checkpoints)
            if loras is not None:
                self.loras = list(loras)

    @property
    def submitted(self) -> list[dict[str, Any]]:
        """Graphs accepted by POST /prompt, oldest first (as stored by the server)."""
        with self._lock:
            return copy.deepcopy(self._submitted)

    def go_down(self) -> None:
        """Stop listening (connection refused) and lose all in-memory state, like a crash."""
        with self._cond:
            self._abort.set()
            self._wake.set()
            self._pending.clear()
            self._running = None
            self._history.clear()
            self.cache.clear()
        self._stop_http()
        log.info("fake comfy went down")

    def come_back(self) -> None:
        """Listen again on the same port (output files survive, like on disk)."""
        self._start_http()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._running is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def wait_running(self, prompt_id: str | None = None, timeout: float = 10.0) -> bool:
        """Wait until a prompt (or the given one) is executing."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running is None or (prompt_id is not None and self._running[1] != prompt_id):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # ---- state used by the HTTP routes ----------------------------------------------
    def contract_body(self, name: str) -> Any:
        return comfy_contract.body(name)

    def object_info(self) -> dict[str, Any]:
        defs = copy.deepcopy(self._base_defs)
        with self._lock:
            defs["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = list(self.checkpoints)
            defs["LoraLoader"]["input"]["required"]["lora_name"][0] = list(self.loras)
        defs["LoadImage"]["input"]["required"]["image"][0] = self.files.input_names()
        return defs

    def model_list(self, folder: str) -> list[str] | None:
        with self._lock:
            return {"checkpoints": sorted(self.checkpoints), "loras": sorted(self.loras), "vae": []}.get(folder)

    def queue_remaining(self) -> int:
        with self._lock:
            return len(self._pending) + (1 if self._running is not None else 0)

    def queue_snapshot(self) -> dict[str, list]:
        with self._lock:
            running = [list(copy.deepcopy(self._running))] if self._running is not None else []
            pending = [list(copy.deepcopy(i)) for i in sorted(self._pending, key=lambda i: i[0])]
        return {"queue_running": running, "queue_pending": pending}

    def history_entry(self, prompt_id: str) -> dict[str, Any]:
        with self._lock:
            return {prompt_id: copy.deepcopy(self._history[prompt_id])} if prompt_id in self._history else {}

    def history_list(self, max_items: int | None, offset: int) -> dict[str, Any]:
        with self._lock:
            if offset < 0 and max_items is not None:
                offset = len(self._history) - max_items
            out: dict[str, Any] = {}
            for i, key in enumerate(self._history):
                if i >= offset:
                    out[key] = copy.deepcopy(self._history[key])
                    if max_items is not None and len(out) >= max_items:
                        break
            return out

    def edit_history(self, clear: bool, delete: list[str]) -> None:
        with self._lock:
            if clear:
                self._history.clear()
            for pid in delete:
                self._history.pop(pid, None)

    def _status_data(self) -> dict[str, Any]:
        return {"status": {"exec_info": {"queue_remaining": self.queue_remaining()}}}

    def _queue_updated(self) -> None:
        self.send("status", self._status_data(), None)

    def post_prompt(self, body: bytes) -> Response:
        if self._take_fail("http_500"):
            return server_error()
        data = json.loads(body.decode("utf-8"))
        with self._cond:
            if "number" in data:
                number: float = float(data["number"])
            else:
                number = -self._number if data.get("front") else self._number
                self._number += 1
            if "prompt" not in data:
                return json_response({"error": {"type": "no_prompt", "message": "No prompt provided",
                                                "details": "No prompt provided", "extra_info": {}},
                                      "node_errors": {}}, status=400)
            prompt = copy.deepcopy(data["prompt"])
            if not isinstance(prompt, dict):
                return server_error()
            prompt_id = str(data.get("prompt_id", uuid.uuid4()))
            validator = PromptValidator(self.object_info(), {"LoadImage": {"image": self.files.validate_load_image}})
            ok, error, outputs, node_errors = validator.validate_prompt(prompt, data.get("partial_execution_targets"))
            if not ok:
                return json_response({"error": error, "node_errors": node_errors}, status=400)
            extra = dict(data.get("extra_data") or {})
            if "client_id" in data:
                extra["client_id"] = data["client_id"]
            for key in SENSITIVE_EXTRA_DATA_KEYS:
                extra.pop(key, None)
            extra["create_time"] = now_ms()
            self._pending.append((number, prompt_id, prompt, extra, outputs))
            self._submitted.append(copy.deepcopy(prompt))
            self._queue_updated()
            self._cond.notify_all()
        return json_response({"prompt_id": prompt_id, "number": number, "node_errors": node_errors})

    def delete_pending(self, prompt_ids: list[str]) -> None:
        with self._cond:
            for pid in prompt_ids:
                for item in self._pending:
                    if item[1] == pid:
                        self._pending.remove(item)
                        self._queue_updated()
                        break
            self._cond.notify_all()

    def clear_queue(self) -> None:
        with self._cond:
            self._pending.clear()
            self._queue_updated()
            self._cond.notify_all()

    def interrupt(self, prompt_id: str | None = None) -> None:
        """POST /interrupt: global, or only when prompt_id is the running prompt."""
        with self._lock:
            running = self._running
            if running is not None and (prompt_id is None or running[1] == prompt_id):
                self._interrupt.set()
                self._wake.set()

    def free(self, unload_models: bool = False, free_memory: bool = False) -> None:
        with self._lock:
            self.free_calls.append({"unload_models": unload_models, "free_memory": free_memory})
            if free_memory:
                self.cache.clear()

    # ---- Host interface for PromptRun (see fake_comfy_exec.Host) ------------------------------------
    @property
    def node_defs(self) -> dict[str, dict[str, Any]]:
        return self.object_info()

    def send(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        if event == "executing":
            self._last_node = data.get("node")
        self._hub.send(event, data, sid)

    def send_preview(self, sid: str | None, prompt_id: str, node_id: str) -> None:
        self._hub.send_preview(sid, prompt_id, node_id, self._preview)

    def wait(self, seconds: float) -> str | None:
        if seconds > 0:
            self._wake.wait(seconds)
        return self.check_stop()

    def check_stop(self) -> str | None:
        if self._abort.is_set():
            return "abort"
        return "interrupt" if self._interrupt.is_set() else None

    def steps_for(self, node_inputs: dict[str, Any]) -> int:
        return int(self.steps if self.steps is not None else node_inputs.get("steps", 1))

    def step_delay(self, steps: int, batch: int) -> float:
        return self.render_delay * batch / steps

    def drop_sockets(self) -> None:
        self._hub.drop_all()

    def recorded_exec_error(self) -> dict[str, Any]:
        return copy.deepcopy(self._exec_error)

    @staticmethod
    def _recorded_error() -> dict[str, Any]:
        entry = next(iter(comfy_contract.body("history_error.json").values()))
        return next(m[1] for m in entry["status"]["messages"] if m[0] == "execution_error")

    # ---- WebSocket ------------------------------------------------------------------------
    def _serve_ws(self, handler: FakeHandler, client_id: str | None) -> None:
        sid = client_id or uuid.uuid4().hex
        greeting = [{"type": "status", "data": {**self._status_data(), "sid": sid}}]
        with self._lock:
            running, last_node = self._running, self._last_node
        if running is not None and running[3].get("client_id") == sid and last_node is not None:
            greeting.append({"type": "executing", "data": {"node": last_node}})  # reconnect hint
        self._hub.serve(handler, sid, greeting)

    # ---- worker ----------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                self._pending.sort(key=lambda i: i[0])
                item = self._pending.pop(0)
                self._running = item
                self._abort.clear()
                self._interrupt.clear()
                self._wake.clear()
                self._queue_updated()
                self._cond.notify_all()
                fail_exec, drop_ws = self._take_fail("exec_error"), self._take_fail("drop_ws")
            try:
                result = PromptRun(self, copy.deepcopy(item), fail_exec=fail_exec, drop_ws=drop_ws).run()
            except Exception:  # noqa: BLE001 - keep the worker alive
                log.exception("fake comfy: run crashed")
                result = None
            self._task_done(item, result)

    def _task_done(self, item: tuple, result: tuple[bool, list, dict[str, Any]] | None) -> None:
        client_id = item[3].get("client_id")
        with self._cond:
            if self._running is not item or self._abort.is_set() or result is None:
                if self._running is item:
                    self._running = None
                self._cond.notify_all()
                return
            success, messages, history_result = result
            self._history[item[1]] = {
                "prompt": list(copy.deepcopy(item)), "outputs": history_result["outputs"],
                "status": {"status_str": "success" if success else "error", "completed": success,
                           "messages": messages},
                "meta": history_result["meta"]}
            self._running = None
            self._last_node = None
            self._queue_updated()
            if client_id is not None:
                self.send("executing", {"node": None, "prompt_id": item[1]}, client_id)
            self._last_node = None
            self._cond.notify_all()


@pytest.fixture
def fake_comfy() -> Iterator[FakeComfy]:
    """A started FakeComfy on a free 127.0.0.1 port, stopped after the test."""
    with FakeComfy() as fake:
        yield fake
