"""A graph against a ComfyUI server's ``/object_info``: adapt, then validate.

`adapt_to_server` leaves out what the server cannot run (the Impact Pack face
and hand detailers, SPEC §4) and says why; `validate_against_server` checks
the graph the way ComfyUI's own validation would and returns readable
messages ("LoRA '…' is not on the ComfyUI server") instead of a raw 400.
Both take the parsed ``/object_info`` body (class name → node info).
Re-exported by `gaze.workflow`.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

DEFAULT_FACE_DETECTOR = "bbox/face_yolov8m.pt"
DEFAULT_HAND_DETECTOR = "bbox/hand_yolov8s.pt"
DETAILER_CLASS = "FaceDetailer"
DETECTOR_CLASS = "UltralyticsDetectorProvider"
#: The template's detailer nodes: label, prompt node, detector node, default model.
DETAILER_BRANCHES = {"11": ("Face detailer", "14", "20"), "13": ("Hand detailer", "15", "21")}
#: How a missing COMBO value is named, by input name.
COMBO_LABELS = {"ckpt_name": "Checkpoint", "lora_name": "LoRA", "vae_name": "VAE",
                "model_name": "Model", "image": "Image"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) \
        and isinstance(value[1], int) and not isinstance(value[1], bool)


def combo_choices(object_info: Mapping[str, Any], class_type: str, input_name: str) -> list | None:
    """The server's choices for a COMBO input, or None when not a COMBO."""
    inputs = (object_info.get(class_type) or {}).get("input") or {}
    spec = (inputs.get("required") or {}).get(input_name) or (inputs.get("optional") or {}).get(input_name)
    kind, options = _spec(spec) if spec else (None, {})
    return options.get("options") if kind == "COMBO" else None


def _spec(spec: Any) -> tuple[str, dict]:
    """(type, options) of an input spec; a COMBO's choices are in options["options"]."""
    if not isinstance(spec, (list, tuple)) or not spec:
        return "*", {}
    head = spec[0]
    options = dict(spec[1]) if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    if isinstance(head, list):
        return "COMBO", {**options, "options": list(head)}
    if head == "COMBO":
        return "COMBO", {**options, "options": list(options.get("options") or [])}
    return str(head), options


def _types_match(received: str, expected: str) -> bool:
    if "*" in (received, expected) or received == expected:
        return True
    return bool(set(received.split(",")) & set(expected.split(",")))


def _drop_branch(graph: dict, detailer_id: str) -> list[str]:
    """Remove a detailer, rewire its image consumers to its own image input,
    and remove its prompt and detector nodes once nothing uses them."""
    node = graph.pop(detailer_id)
    image = node["inputs"].get("image")
    for other in graph.values():
        for name, value in other.get("inputs", {}).items():
            if _is_link(value) and str(value[0]) == detailer_id:
                other["inputs"][name] = copy.deepcopy(image)
    removed = [detailer_id]
    for name in ("positive", "bbox_detector"):
        link = node["inputs"].get(name)
        if not _is_link(link) or str(link[0]) not in graph:
            continue
        source = str(link[0])
        if not any(_is_link(v) and str(v[0]) == source
                   for n in graph.values() for v in n.get("inputs", {}).values()):
            graph.pop(source)
            removed.append(source)
    return removed


def adapt_to_server(graph: Mapping[str, Any], object_info: Mapping[str, Any],
                    face_detector: str = DEFAULT_FACE_DETECTOR,
                    hand_detector: str = DEFAULT_HAND_DETECTOR) -> tuple[dict, list[str]]:
    """Return a copy of `graph` the server can run, and what was left out.

    The detector nodes get the configured model names. A detailer (11 face,
    13 hand) is left out — with its prompt and detector nodes, the save image
    then fed by what fed it (finally the VAE decode) — when the server lacks
    FaceDetailer, or UltralyticsDetectorProvider, or that detector model."""
    graph = copy.deepcopy(dict(graph))
    wanted = {"11": face_detector, "13": hand_detector}
    dropped: list[str] = []
    missing_class = None
    if DETAILER_CLASS not in object_info:
        missing_class = "the ComfyUI server has no FaceDetailer node (ComfyUI-Impact-Pack is not installed)"
    elif DETECTOR_CLASS not in object_info:
        missing_class = ("the ComfyUI server has no UltralyticsDetectorProvider node "
                         "(ComfyUI-Impact-Subpack is not installed)")
    choices = combo_choices(object_info, DETECTOR_CLASS, "model_name") or []
    for detailer_id in [k for k, n in graph.items() if n.get("class_type") == DETAILER_CLASS]:
        label, _prompt, default_detector = DETAILER_BRANCHES.get(detailer_id, ("Detailer", None, None))
        link = graph[detailer_id]["inputs"].get("bbox_detector")
        detector_id = str(link[0]) if _is_link(link) and str(link[0]) in graph else None
        if detector_id and detector_id == default_detector and wanted.get(detailer_id):
            graph[detector_id]["inputs"]["model_name"] = wanted[detailer_id]
        reason = missing_class
        if reason is None and detector_id and graph[detector_id].get("class_type") == DETECTOR_CLASS:
            model = graph[detector_id]["inputs"].get("model_name")
            if model not in choices:
                reason = f"the detector model '{model}' is not on the ComfyUI server (models/ultralytics/)"
        if reason:
            removed = _drop_branch(graph, detailer_id)
            dropped.append(f"{label} left out (nodes {', '.join(removed)}): {reason}")
    return graph, dropped


def _combo_message(node_id: str, cls: str, name: str, value: Any, choices: list) -> str:
    label = COMBO_LABELS.get(name)
    if label == "Model" and cls == DETECTOR_CLASS:
        label = "Detector model"
    if label and value in ("", None):
        return f"Node {node_id} ({cls}): no {label.lower()} is selected"
    if label:
        return f"{label} '{value}' is not on the ComfyUI server"
    shown = ", ".join(map(str, choices[:12])) + (", …" if len(choices) > 12 else "")
    return f"Node {node_id} ({cls}): {name} '{value}' is not one of the server's choices ({shown})"


def _check_value(node_id: str, cls: str, name: str, kind: str, options: dict, value: Any) -> list[str]:
    where = f"Node {node_id} ({cls}): {name}"
    if kind == "COMBO":
        choices = options.get("options") or []
        return [] if value in choices else [_combo_message(node_id, cls, name, value, choices)]
    if kind not in WIDGET_TYPES:
        return [f"{where} must be a link to a {kind} output, not {value!r}"]
    if kind == "BOOLEAN":
        return [] if isinstance(value, bool) else [f"{where} must be true or false, not {value!r}"]
    if kind == "STRING":
        return [] if isinstance(value, str) else [f"{where} must be text, not {value!r}"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return [f"{where} must be a number, not {value!r}"]
    if kind == "INT" and isinstance(value, float) and not value.is_integer():
        return [f"{where} must be a whole number, not {value!r}"]
    if options.get("min") is not None and value < options["min"]:
        return [f"{where} {value} is below the minimum {options['min']}"]
    if options.get("max") is not None and value > options["max"]:
        return [f"{where} {value} is above the maximum {options['max']}"]
    return []


def _check_link(graph: Mapping, object_info: Mapping, node_id: str, cls: str, name: str,
                expected: str, link: list) -> list[str]:
    where = f"Node {node_id} ({cls}) input '{name}'"
    source_id = str(link[0])
    source = graph.get(source_id)
    if not isinstance(source, Mapping):
        return [f"{where} links to node {source_id}, which is not in the graph"]
    source_info = object_info.get(source.get("class_type"))
    if source_info is None:
        return []  # the unknown class is reported on its own node
    outputs = source_info.get("output") or []
    slot = link[1]
    if slot < 0 or slot >= len(outputs):
        return [(f"{where} links to output {slot} of node {source_id} ({source['class_type']}), "
                 f"which has {len(outputs)} output{'s' if len(outputs) != 1 else ''}")]
    if not _types_match(str(outputs[slot]), expected):
        return [(f"{where} expects {expected} but node {source_id} ({source['class_type']}) "
                 f"output {slot} is {outputs[slot]}")]
    return []


def validate_against_server(graph: Mapping[str, Any], object_info: Mapping[str, Any]) -> list[str]:
    """Readable problems ComfyUI would reject the graph for; [] when none:
    unknown node classes, missing required inputs, links to missing nodes or
    output slots or of the wrong type, COMBO values (checkpoint, LoRA, VAE,
    sampler, scheduler, detector model…) not among the server's choices,
    numbers out of range, and no output node."""
    problems: list[str] = []
    has_output = False
    for node_id, node in graph.items():
        if not isinstance(node, Mapping) or not isinstance(node.get("inputs", {}), Mapping):
            problems.append(f"Node {node_id} is not a node (needs class_type and inputs)")
            continue
        cls = node.get("class_type")
        info = object_info.get(cls)
        if info is None:
            problems.append(f"Node {node_id}: node type '{cls}' is not installed on the ComfyUI server")
            continue
        has_output = has_output or bool(info.get("output_node"))
        spec_inputs = info.get("input") or {}
        required = spec_inputs.get("required") or {}
        optional = spec_inputs.get("optional") or {}
        inputs = node.get("inputs") or {}
        for name in required:
            if name not in inputs:
                problems.append(f"Node {node_id} ({cls}) is missing the required input '{name}'")
        for name, value in inputs.items():
            spec = required.get(name) or optional.get(name)
            if spec is None:
                continue  # ComfyUI ignores inputs a node does not declare
            kind, options = _spec(spec)
            if _is_link(value):
                problems += _check_link(graph, object_info, str(node_id), cls, name, kind, value)
            else:
                problems += _check_value(str(node_id), cls, name, kind, options, value)
    if not has_output and not any(p.endswith("not installed on the ComfyUI server") for p in problems):
        problems.append("The graph has no output node (such as SaveImage), so ComfyUI would run nothing")
    return problems
