"""Generate buttons: every category's detail page, covers in bulk, clearing covers.

Each route reads the form, calls the generation service and answers
`{"job_id"}` to AJAX or redirects back to the page otherwise.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, request, session, url_for

from models import MODELS, Checkpoint, Job, db

from .. import categories
from ..assets import entry_for, set_cover
from ..generation import (
    BACKGROUND,
    ComposeError,
    GenerateRequest,
    fields_for_entry,
    missing_cover_fields,
    queue_generation,
)
from . import wants_json
from .helpers import session_key

bp = Blueprint("generate", __name__)

MISSING = ("characters", "outfits", "actions", "scenes")
ACTIONS = ("preview", "replace")


def _prefix(category: str) -> str:
    """The singular URL prefix of a category token: character, outfit, …, checkpoint."""
    return categories.REGISTRY[category].singular if category in categories.REGISTRY else "checkpoint"


def _detail_url(category: str, slug: str) -> str:
    return f"/{_prefix(category)}/{slug}"


def _remember(category: str, slug: str, form) -> None:
    """Keep the page's choices per entry, like the original's session keys."""
    if category == "characters":
        session[session_key("prefs", category, slug)] = form.getlist("include_field")
    for kind, name in (("char", "character"), ("action", "with_action"), ("extra_pos", "extra_positive"),
                       ("extra_neg", "extra_negative")):
        if name in form:
            session[session_key(kind, category, slug)] = form.get(name, "")


def generate_for(category: str, slug: str):
    entry = entry_for(category, slug)
    if entry is None:
        abort(404)
    form = request.form
    action = form.get("action") or "preview"
    if action not in ACTIONS:
        return _error(f"action must be one of {', '.join(ACTIONS)}", category, slug)
    selected = form.getlist("include_field") if category == "characters" else None
    req = GenerateRequest(fields_for_entry(category, entry, form), category, slug, action,
                          selected_fields=selected, ensure_fields=category != "characters",
                          background=category in BACKGROUND)
    try:
        job_id, comp = queue_generation(req, default_checkpoint=session.get("default_checkpoint"))
    except ComposeError as exc:
        return _error("; ".join(exc.problems), category, slug)
    _remember(category, slug, form)
    session[session_key("job", category, slug)] = job_id
    if wants_json():
        return jsonify(job_id=job_id, warnings=comp.info.get("warnings", []))
    flash("Queued: the image appears here when it is ready.", "info")
    return redirect(_detail_url(category, slug))


def _error(message: str, category: str, slug: str, status: int = 400):
    if wants_json():
        return jsonify(error=message), status
    flash(message, "danger")
    return redirect(_detail_url(category, slug))


def replace_cover_for(category: str, slug: str):
    entry = entry_for(category, slug)
    if entry is None:
        abort(404)
    job_id = request.form.get("job_id") or session.get(session_key("job", category, slug))
    job = db.session.get(Job, job_id) if job_id else None
    if job is None or job.status != "done" or job.category != category or job.slug != slug or not job.result:
        return _error("There is no finished preview of this entry to use as its cover.", category, slug, 409)
    set_cover(entry, job.result["relative_path"])
    if wants_json():
        return jsonify(ok=True, image_path=entry.image_path)
    flash("Cover replaced with the preview.", "success")
    return redirect(_detail_url(category, slug))


def _add_entry_rules() -> None:
    prefixes = {"characters": ["character"], "checkpoints": ["checkpoint"]}
    for key, cat in categories.REGISTRY.items():
        if key != "characters":
            prefixes[key] = [cat.singular, key]
    for category, names in prefixes.items():
        for name in names:
            bp.add_url_rule(f"/{name}/<slug>/generate", f"generate_{category}_{name}",
                            lambda slug, c=category: generate_for(c, slug), methods=["POST"])
            bp.add_url_rule(f"/{name}/<slug>/replace_cover_from_preview", f"replace_cover_{category}_{name}",
                            lambda slug, c=category: replace_cover_for(c, slug), methods=["POST"])


_add_entry_rules()


@bp.app_template_global()
def generate_url(category: str, slug: str) -> str:
    return f"/{_prefix(category)}/{slug}/generate"


@bp.app_template_global()
def replace_cover_url(category: str, slug: str) -> str:
    return f"/{_prefix(category)}/{slug}/replace_cover_from_preview"


@bp.app_template_global()
def last_job_id(category: str, slug: str) -> str | None:
    return session.get(session_key("job", category, slug))


@bp.app_template_global()
def remembered(kind: str, category: str, slug: str) -> str:
    return session.get(session_key(kind, category, slug)) or ""


@bp.app_template_global()
def all_actions():
    return MODELS["actions"].query.order_by(MODELS["actions"].name).all()


@bp.app_template_global()
def preview_fields(category: str, entry) -> dict:
    """The fixed fields of the detail page's "Show prompt" panel."""
    if category == "characters":
        return {"character": entry.slug}
    if category == "looks":
        return {"look": entry.slug}
    if category == "checkpoints":
        return {"checkpoint": entry.checkpoint_path}
    return {category: [entry.slug]}


@bp.get("/get_missing_<any(characters, outfits, actions, scenes):category>")
def get_missing(category: str):
    model = MODELS[category]
    rows = model.query.filter((model.image_path.is_(None)) | (model.image_path == "")).order_by(model.name).all()
    return jsonify(category=category, count=len(rows),
                   missing=[{"slug": r.slug, "name": r.name} for r in rows])


@bp.post("/generate_missing")
def generate_missing():
    body = request.get_json(silent=True) if request.is_json else None
    category = (body or {}).get("category") if isinstance(body, dict) else request.form.get("category")
    category = category or "characters"
    if category not in MISSING:
        msg = f"category must be one of {', '.join(MISSING)}"
        if wants_json():
            return jsonify(error=msg), 400
        flash(msg, "danger")
        return redirect(request.referrer or url_for("library.index"))
    model = MODELS[category]
    rows = model.query.filter((model.image_path.is_(None)) | (model.image_path == "")).order_by(model.name).all()
    job_ids, problems = [], []
    for row in rows:
        try:
            job_id, _ = queue_generation(missing_cover_fields(category, row),
                                         default_checkpoint=session.get("default_checkpoint"))
            job_ids.append(job_id)
        except ComposeError as exc:
            problems.append(f"{row.name}: {'; '.join(exc.problems)}")
    if wants_json():
        return jsonify(job_ids=job_ids, count=len(job_ids), problems=problems)
    flash(f"Queued {len(job_ids)} cover(s)." + (f" Skipped: {'; '.join(problems)}" if problems else ""),
          "info" if not problems else "warning")
    return redirect(request.referrer or url_for("library.index"))


def _clear(category: str):
    model = MODELS[category] if category != "checkpoints" else Checkpoint
    rows = model.query.filter(model.image_path.isnot(None)).all()
    for row in rows:
        set_cover(row, None)
    n = len(rows)
    if wants_json():
        return jsonify(ok=True, cleared=n)
    flash(f"Cleared {n} cover(s). The images stay in the gallery.", "success")
    return redirect(request.referrer or url_for("library.index"))


@bp.post("/clear_all_covers")
def clear_all_covers():
    return _clear("characters")


@bp.post("/clear_all_<any(outfit, action, scene):singular>_covers")
def clear_category_covers(singular: str):
    return _clear(singular + "s")
