"""The generator's prompt preview: the composed prompts, without generating."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request, session

from ..compose import LIST_FIELDS, ComposeError, compose_request
from ..tokens import token_report
from . import json_object

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


# --- the mix & match page --------------------------------------------------------

MAX_BATCH = 20


def _remake_defaults(relpath: str | None) -> dict:
    """The generator's fields from a saved image's `gaze` recipe chunk."""
    import json

    from flask import current_app

    from .. import pngmeta
    from ..paths import UnsafePath, safe_join
    if not relpath:
        return {}
    try:
        path = safe_join(current_app.config["UPLOADS_DIR"], relpath)
        recipe = json.loads(pngmeta.read_text(path.read_bytes()).get("gaze", "{}"))
    except (UnsafePath, OSError, ValueError, pngmeta.NotPNG):
        return {"error": "That image carries no GAZE recipe."}
    return recipe_to_fields(recipe)


def recipe_to_fields(recipe: dict) -> dict:
    """A PNG recipe → the generator's request fields (re-make)."""
    fields = {"character": recipe.get("character_slug") or "", "look": recipe.get("look_slug") or "",
              "checkpoint": (recipe.get("checkpoint") or {}).get("checkpoint_path") or "",
              "extra_positive": recipe.get("extra_positive") or "",
              "extra_negative": recipe.get("extra_negative") or "",
              "width": recipe.get("width"), "height": recipe.get("height"), "seed": recipe.get("seed"),
              "steps": (recipe.get("checkpoint") or {}).get("steps"),
              "cfg": (recipe.get("checkpoint") or {}).get("cfg")}
    for name in LIST_FIELDS:
        fields[name] = list((recipe.get("asset_slugs") or {}).get(name) or [])
    fields["fields"] = list(recipe.get("fields") or [])
    return fields


@bp.route("/generator", methods=["GET", "POST"])
def page():
    from flask import flash, redirect, render_template, url_for

    from models import MODELS

    from ..generation import GenerateRequest, queue_generation
    from . import wants_json
    if request.method == "POST":
        fields = request_fields()
        try:
            count = int(request.form.get("count") or json_object().get("count") or 1)
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= MAX_BATCH:
            msg = f"batch count must be from 1 to {MAX_BATCH}"
            if wants_json():
                return jsonify(error=msg), 400
            flash(msg, "danger")
            return redirect(url_for("generator.page"))
        selected = request.form.getlist("include_field") or None
        job_ids = []
        try:
            for i in range(count):
                batch = dict(fields)
                if count > 1 and fields.get("seed") not in (None, ""):
                    batch["seed"] = int(fields["seed"]) + i
                slug = fields.get("character") if fields.get("character") not in (None, "", "__random__") else "mix"
                job_id, _ = queue_generation(GenerateRequest(batch, "generator", slug, "preview",
                                                             selected_fields=selected),
                                             default_checkpoint=session.get("default_checkpoint"))
                job_ids.append(job_id)
        except ComposeError as exc:
            if wants_json():
                return jsonify(error="; ".join(exc.problems), problems=exc.problems), 400
            flash("; ".join(exc.problems), "danger")
            return redirect(url_for("generator.page"))
        except ValueError as exc:
            if wants_json():
                return jsonify(error=str(exc)), 400
            flash(str(exc), "danger")
            return redirect(url_for("generator.page"))
        if wants_json():
            return jsonify(job_ids=job_ids)
        flash(f"Queued {len(job_ids)} image(s); see the queue.", "info")
        return redirect(url_for("generator.page"))
    defaults = _remake_defaults(request.args.get("remake"))
    if defaults.get("error"):
        flash(defaults.pop("error"), "warning")
    options = {name: MODELS[name].query.order_by(MODELS[name].name).all() for name in LIST_FIELDS}
    return render_template("generator/index.html", options=options, list_fields=LIST_FIELDS,
                           characters=MODELS["characters"].query.order_by(MODELS["characters"].name).all(),
                           looks=MODELS["looks"].query.order_by(MODELS["looks"].name).all(),
                           defaults=defaults, max_batch=MAX_BATCH)
