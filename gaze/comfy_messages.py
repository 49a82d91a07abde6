"""Turn ComfyUI's machine-shaped answers into readable text and plain lists.

Shapes follow the recorded ComfyUI v0.8.0 contract: POST /prompt 400 bodies
(``{"error": {...}, "node_errors": {id: {"errors": [...], "class_type"}}}``)
and /history entries (``{"prompt", "outputs", "status", "meta"}``).
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _short_type(exception_type: Any) -> str:
    return str(exception_type or "").rsplit(".", 1)[-1]


def _node_error_text(err: dict[str, Any]) -> str:
    """One per-node validation error as a readable phrase."""
    etype = err.get("type", "")
    extra = err.get("extra_info") or {}
    name = extra.get("input_name", "")
    message = str(err.get("message", "")).strip()
    details = str(err.get("details", "")).strip()
    config = extra.get("input_config")
    if etype == "value_not_in_list":
        return f"{name} '{extra.get('received_value')}' is not in the server's list"
    if etype == "required_input_missing":
        return f"required input '{name or details}' is missing"
    if etype in ("value_smaller_than_min", "value_bigger_than_max"):
        return f"{name}: {message}"
    if etype == "invalid_input_type":
        return f"{name}: {message} (got {extra.get('received_value')!r})"
    if etype == "return_type_mismatch":
        wanted = config[0] if isinstance(config, list) and config else "?"
        return f"{name}: linked output is {extra.get('received_type')}, but {wanted} is expected"
    if etype == "exception_during_inner_validation":
        exc = _short_type(extra.get("exception_type"))
        if exc == "KeyError":
            return f"an input links to node {details} that is not in the prompt"
        if exc == "IndexError":
            return f"an input links to an output slot that does not exist ({details})"
        return f"a linked input could not be validated ({exc}: {details})"
    if details and details != message:
        return f"{message}: {details}" if message else details
    return message or etype or "invalid"


def validation_messages(body: Any) -> list[str]:
    """Readable lines for a POST /prompt rejection body.

    Per-node errors become e.g. "Node 16 (LoraLoader): lora_name
    'Illustrious/Clothing/maid.safetensors' is not in the server's list".
    """
    if not isinstance(body, dict):
        return [f"ComfyUI rejected the prompt: {body!r}"[:500]]
    lines: list[str] = []
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, info in node_errors.items():
            info = info if isinstance(info, dict) else {}
            class_type = info.get("class_type", "?")
            for err in info.get("errors") or []:
                if isinstance(err, dict):
                    lines.append(f"Node {node_id} ({class_type}): {_node_error_text(err)}")
    if not lines:
        error = body.get("error")
        if isinstance(error, dict):
            message = str(error.get("message", "")).strip() or str(error.get("type", "invalid prompt"))
            details = str(error.get("details", "")).strip()
            lines.append(f"{message} ({details})" if details and details != message else message)
        elif error:
            lines.append(str(error))
        else:
            lines.append("ComfyUI rejected the prompt")
    return lines


def images_from_history(entry: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every image listed in a history entry's outputs, each with its ``node`` id added.

    Items keep the server's keys (``filename``, ``subfolder``, ``type``); ``type`` is
    "output" for SaveImage and "temp" for previews.
    """
    images: list[dict[str, Any]] = []
    outputs = (entry or {}).get("outputs") or {}
    if not isinstance(outputs, dict):
        return images
    for node_id, out in outputs.items():
        for img in (out or {}).get("images") or []:
            if isinstance(img, dict) and img.get("filename"):
                images.append({**img, "node": str(node_id)})
    return images


def execution_error_text(data: dict[str, Any]) -> str:
    """Readable text of an ``execution_error`` message."""
    node_id, node_type = data.get("node_id", "?"), data.get("node_type", "?")
    message = str(data.get("exception_message") or "").strip() or "unknown error"
    exc = _short_type(data.get("exception_type"))
    return f"Node {node_id} ({node_type}): {exc + ': ' if exc else ''}{message}"


def history_messages(entry: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    status = (entry or {}).get("status") or {}
    result = []
    for item in status.get("messages") or []:
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], dict):
            result.append((str(item[0]), item[1]))
    return result


def error_from_history(entry: dict[str, Any] | None) -> str | None:
    """None for a successful entry, else a readable reason ("interrupted" for interrupts)."""
    for event, data in history_messages(entry):
        if event == "execution_error":
            return execution_error_text(data)
        if event == "execution_interrupted":
            return "interrupted"
    status = (entry or {}).get("status") or {}
    if status.get("status_str") == "error":
        return "ComfyUI reported an error without details"
    return None


def was_interrupted(entry: dict[str, Any] | None) -> bool:
    return any(event == "execution_interrupted" for event, _ in history_messages(entry))
