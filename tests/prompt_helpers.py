"""Helpers for the prompt/workflow tests: the recorded ComfyUI /object_info
(tests/contract/, copied byte-for-byte from the recorded contract) with the
server's choice lists set to the names the tests use, and a guard that checks
every graph a test builds against it."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONTRACT = Path(__file__).resolve().parent / "contract"
SAMPLE_DATA = REPO / "data"

FACE = "bbox/face_yolov8m.pt"
HAND = "bbox/hand_yolov8s.pt"
TEST_VAE = "sdxl_vae.safetensors"


def contract(name: str) -> dict:
    return json.loads((CONTRACT / name).read_text(encoding="utf-8"))


def _library_names(key: str) -> list[str]:
    names = set()
    for path in SAMPLE_DATA.rglob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        value = (data.get("lora") or {}).get("lora_name") if key == "lora" else data.get("checkpoint_path")
        if value:
            names.add(value)
    return sorted(names)


#: Names the tests use: every LoRA and checkpoint of the sample library plus test-only ones.
LORAS = _library_names("lora") + [f"Illustrious/{d}/test_{n}.safetensors" for d, n in (
    ("Looks", "char"), ("Looks", "look"), ("Clothing", "outfit"), ("Poses", "pose"),
    ("Styles", "style"), ("Detailers", "detail"), ("Backgrounds", "scene"))]
CHECKPOINTS = _library_names("checkpoint") + ["Illustrious/model.safetensors"]


def object_info(*, impact: bool = True, ultralytics: bool = True, checkpoints=None, loras=None,
                detectors=(FACE, HAND), vaes=(TEST_VAE,)) -> dict:
    """The recorded /object_info body (subset + Impact Pack), with the server's
    checkpoint, LoRA, VAE and detector choices replaced by the given names."""
    info = copy.deepcopy(contract("object_info_subset.json")["body"])
    if impact:
        info.update(copy.deepcopy(contract("object_info_impact.json")["body"]))
        if ultralytics:
            info["UltralyticsDetectorProvider"]["input"]["required"]["model_name"][0] = list(detectors)
        else:
            del info["UltralyticsDetectorProvider"]
    info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = list(
        CHECKPOINTS if checkpoints is None else checkpoints)
    info["LoraLoader"]["input"]["required"]["lora_name"][0] = list(LORAS if loras is None else loras)
    info["VAELoader"]["input"]["required"]["vae_name"][0] = list(vaes)
    return info


SERVER = object_info()


def assert_valid(graph: dict, server: dict | None = None) -> dict:
    from gaze.workflow import validate_against_server
    problems = validate_against_server(graph, server or SERVER)
    assert problems == [], problems
    return graph


@pytest.fixture
def checked_graphs(monkeypatch):
    """Wrap prepare_workflow (wherever it is imported) so that every graph a
    test builds is validated against the recorded server at teardown."""
    import gaze.compose
    import gaze.workflow
    real = gaze.workflow.prepare_workflow
    built: list[dict] = []

    def recording(**kwargs):
        graph, info = real(**kwargs)
        built.append(copy.deepcopy(graph))
        return graph, info

    monkeypatch.setattr(gaze.workflow, "prepare_workflow", recording)
    monkeypatch.setattr(gaze.compose, "prepare_workflow", recording)
    yield built
    for graph in built:
        assert_valid(graph)


def load_json(category_folder: str, name: str) -> dict:
    return json.loads((SAMPLE_DATA / category_folder / f"{name}.json").read_text(encoding="utf-8"))
