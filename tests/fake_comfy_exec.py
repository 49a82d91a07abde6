"""Prompt execution for the fake ComfyUI.

Mirrors what a real ComfyUI v0.8.0 sends while running one prompt (see the
contract's ws_transcript.jsonl): execution order from ComfyUI's
ExecutionList (with its "UX friendly" pick, giving e.g. 1, 6, 2, 3, 5, 4, 7,
8, 9), output caching by input signature (an identical re-run re-uses the
old image), ``progress_state`` chatter, sampler ``progress`` steps, optional
binary previews, and the status messages that end up in /history.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from typing import Any, Callable, Protocol

from tests.fake_comfy_store import FileStore

log = logging.getLogger(__name__)

SAMPLER_CLASSES = {"KSampler"}
PREVIEW_METHODS = {"latent2rgb", "taesd", "auto"}
BROKEN_CHECKPOINT = "Broken/broken_model.safetensors"


def now_ms() -> int:
    return int(time.time() * 1000)


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


class Host(Protocol):
    """What the runner needs from the fake server."""

    node_defs: dict[str, dict[str, Any]]
    cache: dict[str, dict[str, Any] | None]
    files: FileStore

    def send(self, event: str, data: dict[str, Any], sid: str | None) -> None: ...
    def send_preview(self, sid: str | None, prompt_id: str, node_id: str) -> None: ...
    def wait(self, seconds: float) -> str | None: ...
    def check_stop(self) -> str | None: ...
    def steps_for(self, node_inputs: dict[str, Any]) -> int: ...
    def step_delay(self, steps: int, batch: int) -> float: ...
    def drop_sockets(self) -> None: ...
    def recorded_exec_error(self) -> dict[str, Any]: ...


class ExecutionList:
    """ComfyUI's TopologicalSort/ExecutionList, enough for API prompts."""

    def __init__(self, prompt: dict, is_output: Callable[[str], bool], is_cached: Callable[[str], bool]):
        self.prompt = prompt
        self.is_output = is_output
        self.is_cached = is_cached
        self.pending: dict[str, bool] = {}
        self.block_count: dict[str, int] = {}
        self.blocking: dict[str, dict[str, dict[int, bool]]] = {}

    def add_node(self, unique_id: str) -> None:
        stack, links = [unique_id], []
        while stack:
            node_id = stack.pop()
            if node_id in self.pending:
                continue
            self.pending[node_id] = True
            self.block_count[node_id] = 0
            self.blocking[node_id] = {}
            for value in self.prompt[node_id]["inputs"].values():
                if is_link(value):
                    from_id, socket = value
                    if not self.is_cached(from_id):
                        stack.append(from_id)
                    links.append((from_id, socket, node_id))
        for from_id, socket, to_id in links:
            if not self.is_cached(from_id):
                self.add_node(from_id)
                if to_id not in self.blocking[from_id]:
                    self.blocking[from_id][to_id] = {}
                    self.block_count[to_id] += 1
                self.blocking[from_id][to_id][socket] = True

    def is_empty(self) -> bool:
        return not self.pending

    def stage(self) -> str:
        ready = [n for n in self.pending if self.block_count[n] == 0]
        if not ready:
            raise RuntimeError("dependency cycle in prompt")
        for n in ready:
            if self.is_output(n):
                return n
        for n in ready:
            if any(self.is_output(b) for b in self.blocking[n]):
                return n
        for n in ready:
            if any(self.is_output(b1) for b in self.blocking[n] for b1 in self.blocking[b]):
                return n
        return ready[0]

    def complete(self, unique_id: str) -> None:
        del self.pending[unique_id]
        for blocked in self.blocking[unique_id]:
            self.block_count[blocked] -= 1
        del self.blocking[unique_id]


def signatures(prompt: dict, host: Host) -> dict[str, str]:
    """Cache keys: class, widget values, LoadImage file digest and upstream keys."""
    memo: dict[str, str] = {}

    def sig(node_id: str) -> str:
        if node_id in memo:
            return memo[node_id]
        node = prompt[node_id]
        parts: list[Any] = [node["class_type"]]
        for name in sorted(node["inputs"]):
            value = node["inputs"][name]
            parts.append([name, ["LINK", sig(value[0]), value[1]] if is_link(value) else value])
        if node["class_type"] == "LoadImage":
            parts.append(host.files.input_digest(str(node["inputs"].get("image", ""))))
        memo[node_id] = hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
        return memo[node_id]

    for nid in prompt:
        sig(nid)
    return memo


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def image_shape(prompt: dict, node_id: str, host: Host, depth: int = 0) -> tuple[int, int, int] | None:
    """Rough (width, height, batch) of the image a node produces."""
    if depth > 64:
        return None
    node = prompt[node_id]
    inputs, cls = node["inputs"], node["class_type"]
    if cls == "EmptyLatentImage":
        return (_as_int(inputs.get("width"), 64), _as_int(inputs.get("height"), 64),
                _as_int(inputs.get("batch_size"), 1))
    if cls == "LoadImage":
        w, h = host.files.input_size(str(inputs.get("image", "")))
        return (w, h, 1)
    upstream = None
    for name in ("images", "image", "samples", "pixels", "latent_image"):
        if is_link(inputs.get(name)):
            upstream = image_shape(prompt, inputs[name][0], host, depth + 1)
            break
    if upstream is None:
        for value in inputs.values():
            if is_link(value) and (upstream := image_shape(prompt, value[0], host, depth + 1)):
                break
    if upstream is None:
        return None
    w, h, b = upstream
    if cls == "ImageScale":
        w, h = _as_int(inputs.get("width"), 0) or w, _as_int(inputs.get("height"), 0) or h
    elif cls == "LatentUpscaleBy":
        scale = float(inputs.get("scale_by", 1.0))
        w, h = max(8, round(w * scale / 8) * 8), max(8, round(h * scale / 8) * 8)
    return (w, h, b)


class _Stop(Exception):
    def __init__(self, kind: str, node_id: str):
        super().__init__(kind)
        self.kind, self.node_id = kind, node_id


class _NodeError(Exception):
    def __init__(self, node_id: str, info: dict[str, Any]):
        super().__init__(info.get("exception_message", "error"))
        self.node_id, self.info = node_id, info


class PromptRun:
    """Executes one queue item; ``run()`` returns None when aborted (server went down)."""

    def __init__(self, host: Host, item: tuple, fail_exec: bool = False, drop_ws: bool = False):
        self.host = host
        self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs = item
        self.client_id: str | None = self.extra_data.get("client_id")
        self.fail_exec, self.drop_ws = fail_exec, drop_ws
        self.messages: list[list[Any]] = []
        self.executed: list[str] = []
        self.ui_outputs: dict[str, dict[str, Any]] = {}
        self.progress: dict[str, dict[str, Any]] = {}

    # -- messaging ----------------------------------------------------------
    def add_message(self, event: str, data: dict[str, Any], broadcast: bool) -> None:
        data = {**data, "timestamp": now_ms()}
        self.messages.append([event, data])
        if self.client_id is not None or broadcast:
            self.host.send(event, data, self.client_id)

    def _progress_entry(self, node_id: str, value: float, maximum: float, state: str) -> None:
        self.progress[node_id] = {"value": value, "max": maximum, "state": state, "node_id": node_id,
                                  "prompt_id": self.prompt_id, "display_node_id": node_id,
                                  "parent_node_id": None, "real_node_id": node_id}
        self.host.send("progress_state", {"prompt_id": self.prompt_id, "nodes": copy.deepcopy(self.progress)},
                       self.client_id)

    def _finish_progress(self, node_id: str) -> None:
        entry = self.progress.get(node_id)
        maximum = entry["max"] if entry else 1
        self._progress_entry(node_id, maximum, maximum, "finished")

    def _check(self, node_id: str, stop: str | None = None) -> None:
        stop = stop or self.host.check_stop()
        if stop:
            raise _Stop(stop, node_id)

    # -- nodes --------------------------------------------------------------
    def _run_node(self, node_id: str) -> dict[str, Any] | None:
        node = self.prompt[node_id]
        cls, inputs = node["class_type"], node["inputs"]
        self._progress_entry(node_id, 0.0, 1.0, "running")
        if self.client_id is not None:
            self.host.send("executing", {"node": node_id, "display_node": node_id, "prompt_id": self.prompt_id},
                           self.client_id)
        self._check(node_id)
        if self.fail_exec or (cls == "CheckpointLoaderSimple" and inputs.get("ckpt_name") == BROKEN_CHECKPOINT):
            self.fail_exec = False
            raise _NodeError(node_id, self.host.recorded_exec_error())
        ui = None
        if cls in SAMPLER_CLASSES:
            self._sample(node_id, inputs)
        elif cls == "SaveImage":
            ui = self._save(node_id, inputs)
            if self.client_id is not None:
                self.host.send("executed", {"node": node_id, "display_node": node_id, "output": ui,
                                            "prompt_id": self.prompt_id}, self.client_id)
        self._finish_progress(node_id)
        return ui

    def _sample(self, node_id: str, inputs: dict[str, Any]) -> None:
        steps = max(1, self.host.steps_for(inputs))
        shape = image_shape(self.prompt, node_id, self.host) or (64, 64, 1)
        delay = self.host.step_delay(steps, shape[2])
        preview = self.extra_data.get("preview_method") in PREVIEW_METHODS
        for step in range(1, steps + 1):
            self._check(node_id, self.host.wait(delay))
            self._progress_entry(node_id, step, steps, "running")
            self.host.send("progress", {"value": step, "max": steps, "prompt_id": self.prompt_id,
                                        "node": node_id}, self.client_id)
            if preview:
                self.host.send_preview(self.client_id, self.prompt_id, node_id)
            if self.drop_ws:
                self.drop_ws = False
                self.host.drop_sockets()

    def _save(self, node_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        w, h, batch = image_shape(self.prompt, node_id, self.host) or (64, 64, 1)
        seed = sum(_as_int(n["inputs"].get("seed"), 0) for n in self.prompt.values())
        prefix = str(inputs.get("filename_prefix", "ComfyUI"))
        extra = self.extra_data.get("extra_pnginfo") or {}
        images = [self.host.files.save_output(prefix, (w, h), seed + i, self.prompt, extra) for i in range(batch)]
        return {"images": images}

    # -- the whole prompt -----------------------------------------------------
    def run(self) -> tuple[bool, list, dict[str, Any]] | None:
        host, pid = self.host, self.prompt_id
        self.add_message("execution_start", {"prompt_id": pid}, broadcast=False)
        sigs = signatures(self.prompt, host)
        if self.fail_exec:
            host.cache.clear()
        for key in [k for k in host.cache if k not in set(sigs.values())]:
            del host.cache[key]
        cached = [nid for nid in self.prompt if sigs[nid] in host.cache]
        self.add_message("execution_cached", {"nodes": cached, "prompt_id": pid}, broadcast=False)
        defs = host.node_defs
        is_output = lambda nid: bool(defs[self.prompt[nid]["class_type"]].get("output_node"))  # noqa: E731
        elist = ExecutionList(self.prompt, is_output, lambda nid: sigs[nid] in host.cache)
        for out in self.outputs:
            elist.add_node(out)
        if self.drop_ws and not any(self.prompt[n]["class_type"] in SAMPLER_CLASSES for n in elist.pending):
            self.drop_ws = False
            host.drop_sockets()
        success = True
        while not elist.is_empty():
            node_id = elist.stage()
            try:
                if sigs[node_id] in host.cache:
                    ui = host.cache[sigs[node_id]]
                    if self.client_id is not None:
                        host.send("executed", {"node": node_id, "display_node": node_id, "output": ui,
                                               "prompt_id": pid}, self.client_id)
                    self._finish_progress(node_id)
                else:
                    ui = self._run_node(node_id)
                    host.cache[sigs[node_id]] = ui
                    self.executed.append(node_id)
                if ui is not None:
                    self.ui_outputs[node_id] = ui
            except _Stop as stop:
                if stop.kind == "abort":
                    log.info("fake comfy: prompt %s lost (server went down)", pid)
                    return None
                node = self.prompt[stop.node_id]
                self.add_message("execution_interrupted", {
                    "prompt_id": pid, "node_id": stop.node_id, "node_type": node["class_type"],
                    "executed": list(self.executed)}, broadcast=True)
                success = False
                break
            except _NodeError as err:
                node = self.prompt[err.node_id]
                current_inputs = {k: [v] for k, v in node["inputs"].items() if not is_link(v)}
                self.add_message("execution_error", {
                    "prompt_id": pid, "node_id": err.node_id, "node_type": node["class_type"],
                    "executed": list(self.executed), "exception_message": err.info["exception_message"],
                    "exception_type": err.info["exception_type"], "traceback": list(err.info["traceback"]),
                    "current_inputs": current_inputs, "current_outputs": list(self.prompt)}, broadcast=False)
                success = False
                break
            elist.complete(node_id)
        if success:
            self.add_message("execution_success", {"prompt_id": pid}, broadcast=False)
        meta = {nid: {"node_id": nid, "display_node": nid, "parent_node": None, "real_node_id": nid}
                for nid in self.ui_outputs}
        return success, self.messages, {"outputs": dict(self.ui_outputs), "meta": meta}
