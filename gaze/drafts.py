"""Draft an entry with the LLM: system prompt per category, JSON out of the reply, schema check, tag check.

Nothing here writes an asset: a draft is shown in the edit form (or, for bulk
create, saved by :mod:`gaze.bulk` through :mod:`gaze.assets`).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from . import categories
from .categories import CHARACTERS, CHECKPOINT_TOKEN, NOT_TAG_FIELDS
from .forms import ID_RE, LORA_WEIGHT_MAX, LORA_WEIGHT_MIN, check_lora_name, derive_id
from .llm import LLMError, call_llm, extract_json
from .llm_settings import Settings, tag_client
from .schema import SchemaError, normalize, normalize_checkpoint
from .tags.normalize import split_prompt_tags, strip_weight

if TYPE_CHECKING:
    from .tags.client import TagClient

log = logging.getLogger(__name__)

TOKENS = categories.TOKENS
MAX_DESCRIPTION = 4000
MAX_TAGS_CHECKED = 300
CHECKPOINT_PROMPT = "checkpoint_system.txt"


class DraftError(Exception):
    """The draft failed; ``status`` is the HTTP status to answer, ``raw`` the model's reply if any."""

    def __init__(self, message: str, *, status: int = 502, raw: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.raw = raw


@dataclass
class Draft:
    data: dict
    tags_checked: bool
    unknown_tags: list[str] = field(default_factory=list)
    raw: str = ""
    note: str | None = None     # why tags are unchecked, when they are

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"draft": self.data, "tags_checked": self.tags_checked,
                                "unknown_tags": self.unknown_tags}
        if self.note:
            body["note"] = self.note
        return body


def label(token: str) -> str:
    return "checkpoint" if token == CHECKPOINT_TOKEN else categories.REGISTRY[token].label.lower()


def system_prompt(token: str) -> str:
    """The category's ``data/prompts/<category>_system.txt``."""
    name = CHECKPOINT_PROMPT if token == CHECKPOINT_TOKEN else categories.REGISTRY[token].system_prompt
    path = current_app.config["DATA_DIR"] / "prompts" / name
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DraftError(f"the system prompt prompts/{name} cannot be read ({exc.__class__.__name__})",
                         status=503) from exc


# ---------------------------------------------------------------- validation


def validate(token: str, raw: Any, *, checkpoint_path: str | None = None, reply: str | None = None) -> dict:
    """The draft with defaults filled in, or a DraftError naming what does not fit the schema."""
    if not isinstance(raw, dict):
        raise DraftError("the draft is not a JSON object", raw=reply)
    data = dict(raw)
    try:
        if token == CHECKPOINT_TOKEN:
            if checkpoint_path:
                data["checkpoint_path"] = checkpoint_path
            return normalize_checkpoint(data)
        cat = categories.REGISTRY[token]
        asset_id, name = data.get(cat.id_key), data.get(cat.name_key)
        if (asset_id is None or asset_id == "") and isinstance(name, str) and name.strip():
            data[cat.id_key] = derive_id(name)
        elif isinstance(asset_id, str) and asset_id.strip():
            data[cat.id_key] = asset_id.strip()
        data = normalize(cat, data)
    except SchemaError as exc:
        raise DraftError(f"the draft does not fit the {label(token)} schema: " + "; ".join(exc.problems),
                         raw=reply) from exc
    problems = []
    if not ID_RE.match(data[cat.id_key]):
        problems.append(f"{cat.id_key} may not contain slashes or control characters")
    if cat.has_lora:
        lora = data["lora"]
        problem = check_lora_name(lora["lora_name"])
        if problem:
            problems.append(f"lora.lora_name: {problem}")
        weight = lora["lora_weight"]
        if not (LORA_WEIGHT_MIN <= weight <= LORA_WEIGHT_MAX):
            problems.append(f"lora.lora_weight must be between {LORA_WEIGHT_MIN:g} and {LORA_WEIGHT_MAX:g}")
    if problems:
        raise DraftError(f"the draft does not fit the {label(token)} schema: " + "; ".join(problems), raw=reply)
    return data


def prompt_tags(token: str, data: dict) -> list[str]:
    """The Danbooru tags of a draft's prompt fields (not library labels, colours or LoRA triggers)."""
    texts: list[str] = []
    if token == CHECKPOINT_TOKEN:
        texts += [data.get("base_positive") or "", data.get("base_negative") or ""]
    else:
        cat = categories.REGISTRY[token]
        for section in cat.sections:
            block = data.get(section.name) or {}
            blocks = list(block.values()) if cat is CHARACTERS and section.name == "wardrobe" \
                and all(isinstance(v, dict) for v in block.values()) and block else [block]
            for one in blocks:
                texts += [one.get(k) or "" for k in section.keys if (section.name, k) not in NOT_TAG_FIELDS
                          and isinstance(one.get(k), str)]
        texts += [data.get(k) or "" for k in cat.text_fields if k != "character_id"]
        if cat.prompt_field:
            value = data.get(cat.prompt_field)
            texts += value if isinstance(value, list) else [value or ""]
    tags: dict[str, None] = {}
    for text in texts:
        for tag in split_prompt_tags(text if isinstance(text, str) else ""):
            tag = strip_weight(tag)
            if tag and "<" not in tag:   # <lora:…> syntax is not a tag
                tags.setdefault(tag, None)
    return list(tags)[:MAX_TAGS_CHECKED]


def check_tags(tags: list[str], client: TagClient | None) -> tuple[bool, list[str], str | None]:
    """(checked, unknown tags, note) from the tag server's ``validate_tags``."""
    if client is None:
        return False, [], "no tag server is configured"
    if not tags:
        return True, [], None
    from .tags.client import TagServerError
    try:
        result = client.call("validate_tags", {"tags": tags})
    except TagServerError as exc:
        log.info("tag check failed: %s", exc)
        return False, [], f"the tag server failed: {exc}"
    if not isinstance(result, dict) or not isinstance(result.get("invalid"), list):
        return False, [], "the tag server's answer to validate_tags was not understood"
    return True, [str(t) for t in result["invalid"]], None


RETRY_AFTER_S = 30.0
_failed: dict[str, tuple[float, str]] = {}   # spec → (when it last failed, why)
_failed_lock = threading.Lock()


def _live_client(settings: Settings) -> tuple[TagClient | None, str | None]:
    """The configured tag client, unless none is configured or it failed less
    than RETRY_AFTER_S seconds ago: then (None, why)."""
    client = tag_client(settings)
    if client is None:
        return None, settings.tag_status()[1]
    with _failed_lock:
        failed = _failed.get(client.spec)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER_S:
        return None, failed[1]
    return client, None


def usable_tag_client(settings: Settings) -> tuple[TagClient | None, str | None]:
    """The tag client when its server answers (one probe), else (None, why).

    A server that failed is not tried again for :data:`RETRY_AFTER_S` seconds, so
    autocomplete on every keystroke never waits for a dead server.
    """
    client, why = _live_client(settings)
    if client is None:
        return None, why
    from .tags.client import TagServerError
    try:
        client.list_tools()
    except TagServerError as exc:
        log.warning("tag server unavailable: %s", exc)
        why = f"the tag server is not available ({exc})"
        with _failed_lock:
            _failed[client.spec] = (time.monotonic(), why)
        return None, why
    with _failed_lock:
        _failed.pop(client.spec, None)
    return client, None


def tag_call(settings: Settings, tool: str, arguments: dict[str, Any]) -> tuple[Any, str | None]:
    """(result, None) of one tag tool call, or (None, why) when there is no working tag server."""
    client, why = _live_client(settings)
    if client is None:
        return None, why
    from .tags.client import TagServerError
    try:
        return client.call(tool, arguments), None
    except TagServerError as exc:
        why = f"the tag server failed ({exc})"
        if not str(exc).startswith(f"{tool}:"):   # connection trouble, not a refused argument
            with _failed_lock:
                _failed[client.spec] = (time.monotonic(), why)
        return None, why


# ---------------------------------------------------------------- drafting


def description_prompt(token: str, description: str, *, checkpoint_path: str | None = None,
                       character_id: str | None = None) -> str:
    lines = [f"Draft one GAZE {label(token)} entry from this description:", "", description.strip()]
    if token == "looks" and character_id:
        lines += ["", f'The look belongs to the existing character with character_id "{character_id}".']
    if token == CHECKPOINT_TOKEN and checkpoint_path:
        lines += ["", f'The model file is "{checkpoint_path}": use it as checkpoint_path.']
    return "\n".join(lines)


def run(token: str, prompt: str, settings: Settings, *, checkpoint_path: str | None = None,
        client: TagClient | None = None, client_note: str | None = None) -> Draft:
    """Ask the LLM with the category's system prompt and return the validated, tag-checked draft.

    Raises:
        DraftError: no LLM configured (400), the call failed or the reply is not a valid draft (502).
    """
    config = settings.llm_config()
    if config is None:
        raise DraftError(settings.llm_problem() or "no LLM is configured", status=400)
    system = system_prompt(token)
    try:
        reply = call_llm(prompt, system, config=config, tools=client)
    except LLMError as exc:
        raise DraftError(str(exc), raw=exc.raw) from None
    try:
        raw = extract_json(reply)
    except LLMError as exc:
        raise DraftError(f"the model's reply holds no JSON {label(token)} entry", raw=reply) from exc
    data = validate(token, raw, checkpoint_path=checkpoint_path, reply=reply)
    checked, unknown, note = check_tags(prompt_tags(token, data), client)
    return Draft(data=data, tags_checked=checked, unknown_tags=unknown, raw=reply, note=note or client_note)


def draft(token: str, description: str, settings: Settings, *, checkpoint_path: str | None = None,
          character_id: str | None = None) -> Draft:
    """A draft from a user's description (see :func:`run`)."""
    if settings.llm_config() is None:
        raise DraftError(settings.llm_problem() or "no LLM is configured", status=400)
    client, note = usable_tag_client(settings)
    prompt = description_prompt(token, description, checkpoint_path=checkpoint_path, character_id=character_id)
    return run(token, prompt, settings, checkpoint_path=checkpoint_path, client=client, client_note=note)
