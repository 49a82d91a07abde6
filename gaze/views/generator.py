"""The generator's prompt preview: the composed prompts, without generating."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request, session

from ..compose import LIST_FIELDS, ComposeError, compose_request
from ..tokens import token_report

bp = Blueprint("generator", __name__)

SCALAR_FIELDS = ("character", "look", "checkpoint", "extra_positive", "extra_negative",
                 "width", "height", "seed", "steps", "cfg")


def request_fields() -> dict:
    """The request's fields as a plain dict, from form data or a JSON object
    with the same names (lists may repeat a form field or be comma-separated)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, "send a JSON object")
        return {k: body.get(k) for k in SCALAR_FIELDS + LIST_FIELDS if k in body}
    fields: dict = {k: request.form.get(k) for k in SCALAR_FIELDS if k in request.form}
    for name in LIST_FIELDS:
        values = request.form.getlist(name) or request.form.getlist(f"{name}[]")
        if values:
            fields[name] = values
    return fields


@bp.post("/generator/preview_prompt")
def preview_prompt():
    try:
        comp = compose_request(request_fields(), default_checkpoint=session.get("default_checkpoint"))
    except ComposeError as exc:
        return jsonify(error=str(exc), problems=exc.problems, unknown=exc.unknown), 400
    info = comp.info
    positive_tags = [t["tag"] for t in info["tags"] if t["side"] == "positive" and not t["removed_by_dedup"]]
    return jsonify(
        positive=info["positive"], negative=info["negative"], face=info["face"], hand=info["hand"],
        loras=info["loras"], unwired_loras=info["unwired_loras"], tags=info["tags"],
        tokens=token_report(positive_tags), seed=info["seed"], checkpoint=info["checkpoint"],
        character=info["character"], warnings=info["warnings"],
    )
