"""JSON endpoints of LLM-assisted creation: drafts, tag suggestions and tag checks.

`POST /api/draft/<category>` with `{"description": "…"}` answers
`{"draft", "tags_checked", "unknown_tags"}` or `{"error", "raw"}` (4xx/502).
The tag endpoints answer `checked: false` (never an error) when no tag server
is configured or it is down, so editors degrade silently.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request

from .. import categories, drafts, llm_settings
from ..forms import check_lora_name
from ..tags.normalize import split_prompt_tags
from . import json_object

log = logging.getLogger(__name__)
bp = Blueprint("drafts", __name__, url_prefix="/api")
_TOKENS = ", ".join(categories.TOKENS)
MAX_QUERY = 200
MAX_SUGGESTIONS = 20


def draft_status() -> dict:
    """What the "Draft with AI" box says before anything is asked (a template global)."""
    settings = llm_settings.load()
    checked, sentence = settings.tag_status()
    return {"llm_problem": settings.llm_problem(), "model": settings["model"], "tags_checked": checked,
            "tag_sentence": sentence}


def _error(message: str, status: int, raw: str | None = None):
    return jsonify(error=message, raw=raw), status


def _optional_text(body: dict, key: str, limit: int = 512) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise ValueError(f"{key} must be text of at most {limit} characters")
    return value.strip() or None


@bp.post(f"/draft/<any({_TOKENS}):category>")
def draft(category: str):
    body = json_object()
    description = body.get("description")
    if not isinstance(description, str) or not description.strip():
        return _error('send {"description": "…"}: what the entry should be', 400)
    if len(description) > drafts.MAX_DESCRIPTION:
        return _error(f"the description is longer than {drafts.MAX_DESCRIPTION} characters", 400)
    try:
        checkpoint_path = _optional_text(body, "checkpoint_path") if category == "checkpoints" else None
        character_id = _optional_text(body, "character_id", 255) if category == "looks" else None
    except ValueError as exc:
        return _error(str(exc), 400)
    if checkpoint_path and check_lora_name(checkpoint_path):
        return _error("checkpoint_path must be a path inside the checkpoints folder", 400)
    settings = llm_settings.load()
    try:
        result = drafts.draft(category, description, settings, checkpoint_path=checkpoint_path,
                              character_id=character_id)
    except drafts.DraftError as exc:
        log.info("draft of a %s failed: %s", drafts.label(category), exc)
        return _error(str(exc), exc.status, exc.raw)
    log.info("drafted a %s (tags %s, %d unknown)", drafts.label(category),
             "checked" if result.tags_checked else "unchecked", len(result.unknown_tags))
    # not jsonify: it sorts keys, and a draft reads best in the schema's order
    return current_app.response_class(json.dumps(result.as_json(), ensure_ascii=False), mimetype="application/json")


@bp.get("/tags/suggest")
def suggest():
    query = request.args.get("q", "")
    try:
        limit = max(1, min(MAX_SUGGESTIONS, int(request.args.get("limit", 10))))
    except ValueError:
        limit = 10
    if not query.strip() or len(query) > MAX_QUERY:
        return jsonify(suggestions=[], checked=False)
    result, note = drafts.tag_call(llm_settings.load(), "suggest_tags", {"partial": query, "limit": limit})
    if note is not None or not isinstance(result, list):
        return jsonify(suggestions=[], checked=False, note=note)
    hits = [{"name": hit.get("name"), "category": hit.get("category"), "post_count": hit.get("post_count")}
            for hit in result if isinstance(hit, dict) and isinstance(hit.get("name"), str)]
    return jsonify(suggestions=hits, checked=True)


@bp.post("/tags/validate")
def validate():
    """`{"tags": [...]}` or `{"text": "a, b"}` → `{"checked", "unknown", "valid"}`."""
    body = json_object()
    tags = body.get("tags")
    if isinstance(body.get("text"), str):
        tags = split_prompt_tags(body["text"][:20000])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return jsonify(error='send {"tags": ["…"]} or {"text": "a, b"}'), 400
    tags = [t.strip()[:200] for t in tags if t.strip()][:drafts.MAX_TAGS_CHECKED]
    if not tags:
        return jsonify(checked=True, unknown=[], valid=[])
    result, note = drafts.tag_call(llm_settings.load(), "validate_tags", {"tags": tags})
    if note is not None or not isinstance(result, dict) or not isinstance(result.get("invalid"), list):
        return jsonify(checked=False, unknown=[], valid=[], note=note)
    return jsonify(checked=True, unknown=[str(t) for t in result["invalid"]],
                   valid=[str(t) for t in result.get("valid") or []])
