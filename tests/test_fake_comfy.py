"""The fake ComfyUI must answer like the recorded ComfyUI v0.8.0 (tests/contract/)."""
from __future__ import annotations

import copy
import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from PIL import Image

from tests import comfy_contract as cc
from tests.fake_comfy import FakeComfy

ERROR_FILES = sorted(p.name for p in cc.CONTRACT_DIR.glob("prompt_error_*.json"))
JSON_TYPE = "application/json; charset=utf-8"


def assert_same_shape(got: Any, want: Any, path: str = "body", exact: bool = True) -> None:
    """Same keys and JSON types everywhere; with ``exact`` also the same values (tracebacks excepted)."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        for key in want:
            assert_same_shape(got[key], want[key], f"{path}.{key}", exact)
    elif isinstance(want, list):
        assert len(got) == len(want), f"{path}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_shape(g, w, f"{path}[{i}]", exact)
    elif exact and not path.split(".")[-1].startswith("traceback"):
        assert got == want, f"{path}: {got!r} != {want!r}"


def collapse(types: list[str]) -> list[str]:
    out: list[str] = []
    for t in types:
        if t == "progress_state" and out and out[-1] == "progress_state":
            continue
        out.append(t)
    return out


def run_on_socket(fake: FakeComfy, request: dict[str, Any], client_id: str = "tester") -> tuple[str, list[dict]]:
    """POST a recorded request with its own socket; return (prompt_id, frames up to executing null)."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{fake.port}/ws?clientId={client_id}", timeout=5)
    frames: list[dict] = []
    try:
        frames.append(json.loads(ws.recv()))
        body = dict(request, client_id=client_id)
        resp = requests.post(fake.url + "/prompt", json=body, timeout=5)
        assert resp.status_code == 200, resp.text
        prompt_id = resp.json()["prompt_id"]
        while True:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_BINARY:
                frames.append({"type": "binary", "data": data})
                continue
            msg = json.loads(data)
            frames.append(msg)
            if msg["type"] == "executing" and msg["data"]["node"] is None:
                return prompt_id, frames
    finally:
        ws.close()


def recorded_types(run: str) -> list[str]:
    return collapse(["binary" if f["kind"] == "binary" else f["type"] for f in cc.ws_transcript(run)])


def with_seed(request: dict[str, Any], seed: int) -> dict[str, Any]:
    request = copy.deepcopy(request)
    request["prompt"]["7"]["inputs"]["seed"] = seed
    return request


def test_contract_copies_match_the_shared_recording() -> None:
    if not cc.SHARED_CONTRACT_DIR.is_dir():
        pytest.skip("shared contract folder not present (fresh clone)")
    for shared in Path(cc.SHARED_CONTRACT_DIR).iterdir():
        assert (cc.CONTRACT_DIR / shared.name).read_bytes() == shared.read_bytes(), shared.name


@pytest.mark.parametrize("name", ERROR_FILES)
def test_prompt_errors_match_recording(name: str) -> None:
    recorded = cc.load(name)
    loras = None
    if name == "prompt_error_invalid_lora_name.json":  # recorded before 4 LoRAs were added (README)
        loras = recorded["body"]["node_errors"]["2"]["errors"][0]["extra_info"]["input_config"][0]
    with FakeComfy(loras=loras) as fake:
        resp = requests.post(fake.url + "/prompt", json=recorded["request"], timeout=5)
        assert resp.status_code == recorded["status"] == 400
        assert resp.headers["Content-Type"] == recorded["content_type"]
        assert_same_shape(resp.json(), recorded["body"])
        assert fake.submitted == []


def test_prompt_ok_matches_recording(fake_comfy: FakeComfy) -> None:
    recorded = cc.load("prompt_ok.json")
    resp = requests.post(fake_comfy.url + "/prompt", json=recorded["request"], timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == JSON_TYPE
    body = resp.json()
    assert list(body) == list(recorded["body"]) and body["node_errors"] == {}
    assert isinstance(body["prompt_id"], str) and isinstance(body["number"], int)
    assert fake_comfy.submitted == [recorded["request"]["prompt"]]


def test_ws_order_matches_recorded_success_run(fake_comfy: FakeComfy) -> None:
    request = cc.load("prompt_ok.json")["request"]  # has extra_data.preview_method=latent2rgb
    run_on_socket(fake_comfy, with_seed(request, 1000), "warmup")  # recorded run had 1-6 cached
    prompt_id, frames = run_on_socket(fake_comfy, request)
    assert collapse([f["type"] for f in frames]) == recorded_types("success")
    cached = next(f for f in frames if f["type"] == "execution_cached")["data"]
    assert cached["nodes"] == ["1", "2", "3", "4", "5", "6"]
    binary = [f["data"] for f in frames if f["type"] == "binary"]
    assert binary and all(b[:8].hex() == "0000000100000001" for b in binary)
    recorded_keys: dict[str, list[list[str]]] = {}
    for f in cc.ws_transcript("success"):
        if f["kind"] == "text":
            recorded_keys.setdefault(f["type"], []).append(sorted(f["data"]))
    for f in frames:
        if f["type"] != "binary":
            assert sorted(f["data"]) in recorded_keys[f["type"]], f


def test_ws_cold_run_uses_comfy_topological_order(fake_comfy: FakeComfy) -> None:
    _, frames = run_on_socket(fake_comfy, {"prompt": cc.ok_graph()})
    nodes = [f["data"]["node"] for f in frames if f["type"] == "executing"]
    assert nodes == ["1", "6", "2", "3", "5", "4", "7", "8", "9", None]


def test_identical_rerun_is_cached_with_same_filename(fake_comfy: FakeComfy) -> None:
    request = cc.load("prompt_ok.json")["request"]
    first, _ = run_on_socket(fake_comfy, request)
    second, frames = run_on_socket(fake_comfy, request)
    assert collapse([f["type"] for f in frames]) == recorded_types("success_cached_rerun")
    h1 = requests.get(f"{fake_comfy.url}/history/{first}", timeout=5).json()[first]
    h2 = requests.get(f"{fake_comfy.url}/history/{second}", timeout=5).json()[second]
    assert h1["outputs"] == h2["outputs"]


def test_exec_error_run_matches_recording(fake_comfy: FakeComfy) -> None:
    request = cc.load("prompt_ok_then_exec_error.json")["request"]  # Broken checkpoint
    prompt_id, frames = run_on_socket(fake_comfy, request)
    assert collapse([f["type"] for f in frames]) == recorded_types("error")
    entry = requests.get(f"{fake_comfy.url}/history/{prompt_id}", timeout=5).json()[prompt_id]
    want = next(iter(cc.body("history_error.json").values()))
    assert list(entry) == list(want) and entry["outputs"] == {} and entry["meta"] == {}
    assert [m[0] for m in entry["status"]["messages"]] == [m[0] for m in want["status"]["messages"]]
    got_err, want_err = entry["status"]["messages"][-1][1], want["status"]["messages"][-1][1]
    assert list(got_err) == list(want_err)
    assert got_err["node_type"] == "CheckpointLoaderSimple" and got_err["exception_message"] == want_err[
        "exception_message"]


def test_fail_next_exec_error(fake_comfy: FakeComfy) -> None:
    fake_comfy.fail_next("exec_error")
    prompt_id, frames = run_on_socket(fake_comfy, {"prompt": cc.ok_graph()})
    assert "execution_error" in [f["type"] for f in frames]
    entry = requests.get(f"{fake_comfy.url}/history/{prompt_id}", timeout=5).json()[prompt_id]
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    _, frames = run_on_socket(fake_comfy, {"prompt": cc.ok_graph()})  # only the next run fails
    assert "execution_success" in [f["type"] for f in frames]


def test_history_shape_matches_recording(fake_comfy: FakeComfy) -> None:
    request = cc.load("prompt_ok.json")["request"]
    prompt_id, _ = run_on_socket(fake_comfy, request)
    body = requests.get(f"{fake_comfy.url}/history/{prompt_id}", timeout=5).json()
    want = next(iter(cc.body("history_done.json").values()))
    entry = body[prompt_id]
    assert list(entry) == list(want)
    assert [type(x) for x in entry["prompt"]] == [type(x) for x in want["prompt"]]
    assert entry["prompt"][1] == prompt_id and entry["prompt"][2] == request["prompt"]
    assert sorted(entry["prompt"][3]) == sorted(want["prompt"][3]) and entry["prompt"][4] == ["9"]
    assert list(entry["status"]) == list(want["status"])
    assert [m[0] for m in entry["status"]["messages"]] == [m[0] for m in want["status"]["messages"]]
    for got_m, want_m in zip(entry["status"]["messages"], want["status"]["messages"]):
        assert list(got_m[1]) == list(want_m[1])
    assert_same_shape(entry["meta"], want["meta"])
    image = entry["outputs"]["9"]["images"][0]
    assert list(image) == ["filename", "subfolder", "type"] and image["type"] == "output"
    assert image["filename"].startswith("gaze_contract_") and image["filename"].endswith("_.png")
    listing = requests.get(f"{fake_comfy.url}/history?max_items=1", timeout=5).json()
    assert list(listing) == [prompt_id]
    assert requests.get(f"{fake_comfy.url}/history/unknown", timeout=5).json() == {}


def test_view_returns_png_with_prompt_chunk(fake_comfy: FakeComfy) -> None:
    request = cc.load("prompt_ok.json")["request"]
    prompt_id, _ = run_on_socket(fake_comfy, request)
    entry = requests.get(f"{fake_comfy.url}/history/{prompt_id}", timeout=5).json()[prompt_id]
    image = entry["outputs"]["9"]["images"][0]
    resp = requests.get(fake_comfy.url + "/view", params=image, timeout=5)
    recorded = cc.load("view_output.json")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == recorded["content_type"]
    assert resp.headers["Content-Disposition"] == f'filename="{image["filename"]}"'
    assert resp.content[:8].hex() == recorded["first8_hex"]
    with Image.open(io.BytesIO(resp.content)) as img:
        assert list(img.size) == recorded["image_size"] and img.mode == recorded["image_mode"]
        assert sorted(img.text) == recorded["png_text_keys"]
        assert json.loads(img.text["prompt"]) == request["prompt"]


@pytest.mark.parametrize("case", cc.load("view_missing.json")["cases"], ids=lambda c: c["path"])
def test_view_error_cases_match_recording(fake_comfy: FakeComfy, case: dict[str, Any]) -> None:
    resp = requests.get(fake_comfy.url + case["path"], timeout=5)
    assert resp.status_code == case["status"]
    assert resp.headers.get("Content-Type", "") == case["content_type"]
    if case["status"] != 200:
        assert resp.content == b""


def test_upload_cases_match_recording(fake_comfy: FakeComfy) -> None:
    png = fake_comfy.files.get("input", "", "gaze_upload_test.png")
    for case in cc.load("upload_image.json")["cases"]:
        fields = {k: v for k, v in case["form_fields"].items() if k != "image"}
        files = None if case["form_fields"]["image"] == "<absent>" else {
            "image": ("gaze_upload_test.png", png, "image/png")}
        resp = requests.post(fake_comfy.url + "/upload/image", data=fields, files=files or {"x": ("", b"")},
                             timeout=5)
        assert resp.status_code == case["status"]
        assert resp.headers.get("Content-Type", "") == case["content_type"]
        assert (resp.json() if case["body"] else resp.content) == (case["body"] or b"")
    other = requests.post(fake_comfy.url + "/upload/image", files={"image": ("gaze_upload_test.png", b"new")},
                          timeout=5).json()
    assert other["name"] == "gaze_upload_test (1).png"
    info = requests.get(fake_comfy.url + "/object_info/LoadImage", timeout=5).json()
    assert "gaze_upload_test (1).png" in info["LoadImage"]["input"]["required"]["image"][0]


def test_queue_delete_interrupt_and_empty_bodies(fake_comfy: FakeComfy) -> None:
    fake_comfy.set_render_delay(5.0)
    graph = cc.ok_graph()
    running = requests.post(fake_comfy.url + "/prompt", json={"prompt": graph, "client_id": "c"}, timeout=5).json()
    pending = requests.post(fake_comfy.url + "/prompt", json={"prompt": with_seed({"prompt": graph}, 7)["prompt"],
                                                              "client_id": "c"}, timeout=5).json()
    assert fake_comfy.wait_running(running["prompt_id"], 5)
    queue = requests.get(fake_comfy.url + "/queue", timeout=5).json()
    want = cc.body("queue_running_and_pending.json")
    assert list(queue) == list(want)
    assert [i[1] for i in queue["queue_running"]] == [running["prompt_id"]]
    assert [i[1] for i in queue["queue_pending"]] == [pending["prompt_id"]]
    assert_same_shape(queue["queue_running"][0][3], want["queue_running"][0][3], exact=False)
    assert [type(x) for x in queue["queue_pending"][0]] == [type(x) for x in want["queue_pending"][0]]
    assert requests.get(fake_comfy.url + "/prompt", timeout=5).json() == {"exec_info": {"queue_remaining": 2}}
    for name, path, body in [("queue_delete.json", "/queue", {"delete": [pending["prompt_id"]]}),
                             ("interrupt_other_prompt_id.json", "/interrupt", {"prompt_id": "nope"}),
                             ("free.json", "/free", {"unload_models": True, "free_memory": True})]:
        resp = requests.post(fake_comfy.url + path, json=body, timeout=5)
        recorded = cc.load(name)
        assert (resp.status_code, resp.content, resp.headers.get("Content-Type", "")) == (
            recorded["status"], b"", recorded["content_type"])
    assert requests.get(fake_comfy.url + "/queue", timeout=5).json()["queue_pending"] == []
    resp = requests.post(fake_comfy.url + "/interrupt", timeout=5)  # global, no body
    assert (resp.status_code, resp.content) == (200, b"")
    assert fake_comfy.wait_idle(5)
    entry = requests.get(f"{fake_comfy.url}/history/{running['prompt_id']}", timeout=5).json()[running["prompt_id"]]
    want_i = next(iter(cc.body("history_interrupted.json").values()))
    assert entry["status"]["status_str"] == "error" and entry["outputs"] == {}
    assert [m[0] for m in entry["status"]["messages"]] == [m[0] for m in want_i["status"]["messages"]]
    assert list(entry["status"]["messages"][-1][1]) == list(want_i["status"]["messages"][-1][1])
    assert requests.get(f"{fake_comfy.url}/history/{pending['prompt_id']}", timeout=5).json() == cc.body(
        "history_deleted_pending.json")
    assert requests.get(fake_comfy.url + "/queue", timeout=5).json() == cc.body("queue_idle.json")


def test_static_endpoints(fake_comfy: FakeComfy) -> None:
    for name in ("system_stats.json", "features.json"):
        recorded = cc.load(name)
        resp = requests.get(fake_comfy.url + recorded["path"], timeout=5)
        assert resp.headers["Content-Type"] == JSON_TYPE and resp.json() == recorded["body"]
    info = requests.get(fake_comfy.url + "/object_info", timeout=5).json()
    assert set(info) == set(cc.body("object_info_subset.json")) | set(cc.body("object_info_impact.json"))
    assert requests.get(fake_comfy.url + "/object_info/NoSuch", timeout=5).json() == {}
    for name in ("models_checkpoints.json", "models_loras.json"):
        recorded = cc.load(name)
        assert requests.get(fake_comfy.url + recorded["path"], timeout=5).json() == recorded["body"]


def test_configured_model_lists_and_no_impact() -> None:
    with FakeComfy(with_impact=False, checkpoints=["A/x.safetensors"], loras=["L/y.safetensors"]) as fake:
        info = requests.get(fake.url + "/object_info", timeout=5).json()
        assert "FaceDetailer" not in info
        assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == ["A/x.safetensors"]
        assert info["LoraLoader"]["input"]["required"]["lora_name"][0] == ["L/y.safetensors"]
        resp = requests.post(fake.url + "/prompt", json={"prompt": cc.ok_graph()}, timeout=5)
        assert resp.status_code == 400 and set(resp.json()["node_errors"]) == {"1", "2", "3"}


def test_facedetailer_example_prompt_is_accepted(fake_comfy: FakeComfy) -> None:
    graph = cc.load("facedetailer_inputs.json")["example_prompt_that_ran"]
    prompt_id, frames = run_on_socket(fake_comfy, {"prompt": graph})
    assert "execution_success" in [f["type"] for f in frames]


def test_http_500_and_drop_ws(fake_comfy: FakeComfy) -> None:
    fake_comfy.fail_next("http_500")
    assert requests.post(fake_comfy.url + "/prompt", json={"prompt": cc.ok_graph()}, timeout=5).status_code == 500
    fake_comfy.fail_next("drop_ws")
    ws = websocket.create_connection(f"ws://127.0.0.1:{fake_comfy.port}/ws?clientId=d", timeout=5)
    pid = requests.post(fake_comfy.url + "/prompt", json={"prompt": cc.ok_graph(), "client_id": "d"},
                        timeout=5).json()["prompt_id"]
    with pytest.raises((websocket.WebSocketException, OSError)):
        while True:
            if ws.recv() == "":
                raise websocket.WebSocketConnectionClosedException("closed")
    ws.close()
    assert fake_comfy.wait_idle(5)
    assert requests.get(f"{fake_comfy.url}/history/{pid}", timeout=5).json()[pid]["status"]["completed"]


def test_go_down_refuses_connections_and_comes_back(fake_comfy: FakeComfy) -> None:
    fake_comfy.set_render_delay(5.0)
    pid = requests.post(fake_comfy.url + "/prompt", json={"prompt": cc.ok_graph()}, timeout=5).json()["prompt_id"]
    port = fake_comfy.port
    fake_comfy.go_down()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    fake_comfy.come_back()
    assert fake_comfy.port == port
    assert requests.get(f"{fake_comfy.url}/history/{pid}", timeout=5).json() == {}  # lost in the restart
    assert requests.get(fake_comfy.url + "/queue", timeout=5).json() == cc.body("queue_idle.json")
