"""gaze.comfy.ComfyClient against the fake ComfyUI (real sockets on 127.0.0.1)."""
from __future__ import annotations

import copy
import io
import json
import socket
import threading
import time
from typing import Any

import pytest
from PIL import Image

from gaze.comfy import (
    ComfyClient,
    ComfyError,
    ComfyHTTPError,
    ComfyNotFound,
    ComfyUnreachable,
    ComfyValidationError,
    Done,
    Failed,
    NodeStart,
    Progress,
    error_from_history,
    images_from_history,
    validation_messages,
)
from tests import comfy_contract as cc
from tests.fake_comfy import FakeComfy


def graph(seed: int = 1001, lora: str | None = None) -> dict[str, Any]:
    g = copy.deepcopy(cc.ok_graph())
    g["7"]["inputs"]["seed"] = seed
    if lora is not None:
        g["3"]["inputs"]["lora_name"] = lora
    return g


def run(client: ComfyClient, g: dict[str, Any], client_id: str = "gaze-test", **follow_kw: Any) -> list[Any]:
    ws = client.open_socket(client_id)
    prompt_id = client.queue_prompt(g, client_id)
    return list(client.follow(prompt_id, client_id, ws=ws, **follow_kw))


@pytest.fixture
def client(fake_comfy: FakeComfy) -> ComfyClient:
    return ComfyClient(fake_comfy.url, timeout=2.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_queue_and_follow_to_done(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    events = run(client, graph())
    progress = [e for e in events if isinstance(e, Progress)]
    assert [(p.value, p.max, p.node) for p in progress] == [(1, 4, "7"), (2, 4, "7"), (3, 4, "7"), (4, 4, "7")]
    assert [e.node for e in events if isinstance(e, NodeStart)] == ["1", "6", "2", "3", "5", "4", "7", "8", "9"]
    done = events[-1]
    assert isinstance(done, Done) and sum(isinstance(e, (Done, Failed)) for e in events) == 1
    (image,) = done.images
    assert image["type"] == "output" and image["node"] == "9"
    data = client.view(image["filename"], image["subfolder"], image["type"])
    with Image.open(io.BytesIO(data)) as img:
        assert json.loads(img.text["prompt"]) == graph()
    assert fake_comfy.submitted == [graph()]


def test_validation_error_names_the_lora(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    with pytest.raises(ComfyValidationError) as info:
        client.queue_prompt(graph(lora="Illustrious/Clothing/maid.safetensors"), "gaze-test")
    assert info.value.messages == [
        "Node 3 (LoraLoader): lora_name 'Illustrious/Clothing/maid.safetensors' is not in the server's list"]
    assert "maid.safetensors" in str(info.value) and info.value.raw["error"]["type"] == (
        "prompt_outputs_failed_validation")
    assert fake_comfy.submitted == []


def test_validation_messages_for_every_recorded_error() -> None:
    expected = {
        "bad_link_missing_node": "Node 7 (KSampler): an input links to node '99' that is not in the prompt",
        "bad_link_output_index": "Node 8 (VAEDecode): an input links to an output slot that does not exist",
        "invalid_ckpt_name": "Node 1 (CheckpointLoaderSimple): ckpt_name 'Illustrious/does_not_exist",
        "invalid_input_type": "Node 7 (KSampler): steps: Failed to convert an input value to a INT value",
        "link_type_mismatch": "Node 7 (KSampler): positive: linked output is CLIP, but CONDITIONING is expected",
        "missing_required_input": "Node 7 (KSampler): required input 'steps' is missing",
        "no_output_nodes": "Prompt has no outputs",
        "no_prompt": "No prompt provided",
        "steps_too_high": "Node 7 (KSampler): steps: Value 20000 bigger than max of 10000",
        "steps_too_low": "Node 7 (KSampler): steps: Value 0 smaller than min of 1",
        "unknown_node_class": "Cannot execute because node NoSuchNodeClass does not exist. (Node ID '#10')",
    }
    for name, start in expected.items():
        lines = validation_messages(cc.body(f"prompt_error_{name}.json"))
        assert len(lines) == 1 and lines[0].startswith(start), (name, lines)


def test_exec_error_gives_readable_failure(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    fake_comfy.fail_next("exec_error")
    events = run(client, graph())
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.kind == "error"
    assert failed.message == ("Node 1 (CheckpointLoaderSimple): SafetensorError: "
                              "Error while deserializing header: header too large")
    assert error_from_history(next(iter(cc.body("history_error.json").values()))) == failed.message


def test_dropped_socket_falls_back_to_history(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    fake_comfy.fail_next("drop_ws")
    events = run(client, graph(), poll_interval=0.05)
    assert isinstance(events[-1], Done) and len(events[-1].images) == 1


def test_follow_without_socket_polls(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    prompt_id = client.queue_prompt(graph(), "no-socket")
    events = list(client.follow(prompt_id, "no-socket", poll_interval=0.05))  # opens its own socket late
    assert isinstance(events[-1], Done)
    finished = client.queue_prompt(graph(seed=5), "late")
    assert fake_comfy.wait_idle(5)
    events = list(client.follow(finished, "late"))  # already finished before the socket opened
    assert events == [Done(images_from_history(client.history(finished)))]


def test_server_down_is_unreachable_quickly() -> None:
    client = ComfyClient(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    started = time.monotonic()
    for call in (client.system_stats, client.object_info, lambda: client.queue_prompt(graph(), "x"),
                 lambda: client.open_socket("x"), lambda: client.view("a.png")):
        with pytest.raises(ComfyUnreachable):
            call()
    events = list(client.follow("pid", "x", timeout=0.3, poll_interval=0.05))
    assert events == [Failed(events[0].message, "timeout")]
    assert time.monotonic() - started < 3


def test_restart_mid_run_ends_as_lost(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    fake_comfy.set_render_delay(5.0)
    ws = client.open_socket("r")
    prompt_id = client.queue_prompt(graph(), "r")
    events = client.follow(prompt_id, "r", ws=ws, poll_interval=0.05, timeout=10)
    assert isinstance(next(events), NodeStart)
    fake_comfy.go_down()
    with pytest.raises(ComfyUnreachable):
        client.queue()
    threading.Timer(0.3, fake_comfy.come_back).start()
    rest = list(events)
    assert rest[-1].kind == "lost" and isinstance(rest[-1], Failed)


def test_interrupt(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    fake_comfy.set_render_delay(5.0)
    ws = client.open_socket("i")
    prompt_id = client.queue_prompt(graph(), "i")
    events = []
    for event in client.follow(prompt_id, "i", ws=ws, timeout=10):
        events.append(event)
        if isinstance(event, NodeStart) and event.node == "7":
            client.interrupt("someone-else")  # not running: ignored
            client.interrupt(prompt_id)
    assert events[-1] == Failed("interrupted", "interrupted")
    assert error_from_history(client.history(prompt_id)) == "interrupted"


def test_upload_image(client: ComfyClient) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (10, 12), (1, 2, 3)).save(buf, format="PNG")
    first = client.upload_image(buf.getvalue(), "ref.png")
    assert first == {"name": "ref.png", "subfolder": "", "type": "input"}
    assert client.upload_image(buf.getvalue(), "ref.png") == first  # same bytes: de-duplicated
    assert client.upload_image(b"other", "ref.png")["name"] == "ref (1).png"
    assert client.upload_image(b"newer", "ref.png", overwrite=True)["name"] == "ref.png"
    assert client.upload_image(b"x", "ref.png", subfolder="gaze") == {
        "name": "ref.png", "subfolder": "gaze", "type": "input"}
    assert client.view("ref.png", type="input") == b"newer"
    assert "ref.png" in client.node_choices("LoadImage", "image", refresh=True)


def test_object_info_cache_and_refresh(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    first = client.object_info()
    assert client.object_info() is first
    assert client.node_choices("LoraLoader", "lora_name") == fake_comfy.loras
    fake_comfy.set_models(loras=["Illustrious/Clothing/maid.safetensors"])
    assert client.node_choices("LoraLoader", "lora_name") != ["Illustrious/Clothing/maid.safetensors"]
    assert client.object_info(refresh=True)["LoraLoader"]["input"]["required"]["lora_name"][0] == [
        "Illustrious/Clothing/maid.safetensors"]
    assert client.models("loras") == ["Illustrious/Clothing/maid.safetensors"]
    assert client.node_choices("FaceDetailer", "scheduler")[-1] == "GITS[coeff=1.2]"
    results: list[dict] = []
    threads = [threading.Thread(target=lambda: results.append(client.object_info())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is results[0] for r in results)


def test_delete_pending_prompt(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    fake_comfy.set_render_delay(1.0)
    running = client.queue_prompt(graph(), "q")
    pending = client.queue_prompt(graph(seed=2), "q")
    assert fake_comfy.wait_running(running, 5)
    assert client.queue() == {"running": [running], "pending": [pending]}
    client.delete_from_queue([pending])
    assert client.queue() == {"running": [running], "pending": []}
    events = list(client.follow(pending, "q", timeout=5, check_every=0.1))
    assert events[-1].kind == "lost"
    client.interrupt()
    assert fake_comfy.wait_idle(5) and client.history(pending) is None


def test_other_prompts_and_status_are_ignored(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    ws = client.open_socket("shared")
    first = client.queue_prompt(graph(seed=10), "shared")
    second = client.queue_prompt(graph(seed=11), "shared")
    events = list(client.follow(second, "shared", ws=ws))
    assert isinstance(events[-1], Done)
    assert [e.node for e in events if isinstance(e, Progress)] == ["7"] * 4  # only the second's steps
    assert client.history(first) is not None


def test_cached_rerun_returns_same_image(client: ComfyClient) -> None:
    a = run(client, graph(seed=3))[-1]
    b = run(client, graph(seed=3))[-1]
    assert isinstance(b, Done) and a.images == b.images


def test_http_errors_are_typed(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    fake_comfy.fail_next("http_500")
    with pytest.raises(ComfyHTTPError) as info:
        client.queue_prompt(graph(), "x")
    assert info.value.status == 500
    with pytest.raises(ComfyNotFound):
        client.view("does_not_exist.png")
    with pytest.raises(ComfyHTTPError) as info:
        client.view("x.png", subfolder="../..")
    assert info.value.status == 403
    assert issubclass(ComfyUnreachable, ComfyError) and issubclass(ComfyValidationError, ComfyError)


def test_misc_endpoints(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    assert client.system_stats()["system"]["comfyui_version"] == "0.8.0"
    client.free()
    assert fake_comfy.free_calls == [{"unload_models": True, "free_memory": True}]
    assert client.ws_url("a b") == f"ws://127.0.0.1:{fake_comfy.port}/ws?clientId=a+b"
    assert ComfyClient("https://h.example/comfy/").ws_url("c") == "wss://h.example/comfy/ws?clientId=c"
    with pytest.raises(ValueError):
        ComfyClient("ftp://x")
    pid = client.queue_prompt(graph(), "x", prompt_id="my-own-id", extra_data={"preview_method": "latent2rgb"})
    assert pid == "my-own-id"
    assert fake_comfy.wait_idle(5) and client.history(pid)["prompt"][3]["preview_method"] == "latent2rgb"


def test_follow_times_out(client: ComfyClient, fake_comfy: FakeComfy) -> None:
    fake_comfy.set_render_delay(5.0)
    ws = client.open_socket("t")
    prompt_id = client.queue_prompt(graph(), "t")
    started = time.monotonic()
    events = list(client.follow(prompt_id, "t", ws=ws, timeout=0.4))
    assert events[-1].kind == "timeout" and time.monotonic() - started < 2
    client.interrupt()


def test_preview_frames_with_metadata_are_ignored(client: ComfyClient) -> None:
    ws = client.open_socket("p")
    ws.send(json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}}))
    prompt_id = client.queue_prompt(graph(seed=99), "p", extra_data={"preview_method": "latent2rgb"})
    events = list(client.follow(prompt_id, "p", ws=ws))
    assert isinstance(events[-1], Done) and len([e for e in events if isinstance(e, Progress)]) == 4
