"""The generic pages of every asset category: detail, edit, create, clone,
cover upload, default fields, the JSON editor's save and delete.

One set of views serves all categories; the URL names the category by its
singular (`/outfit/<slug>`) or plural (`/outfits/<slug>`) token, and the
templates are looked up per category first (see helpers.render_asset).
Character-only and look-only additions come from `DETAIL_EXTRAS`.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, request, session

from models import Character

from .. import assets, categories, images
from ..assets import AssetError
from ..forms import (
    ORIENTATION_RE,
    all_prompt_fields,
    blank_entry,
    edit_fields,
    lora_names,
    parse_form,
    prompt_field_keys,
)
from ..schema import STATE_KEY, SchemaError, normalize
from ..store import describe_json_error
from . import json_object
from .helpers import (
    asset_or_404,
    category_or_404,
    detail_url,
    done,
    failed,
    gallery_url,
    media_url,
    render_asset,
    session_key,
    thumb_url,
)

log = logging.getLogger(__name__)

bp = Blueprint("assets", __name__)

_TOKENS = sorted({c.singular for c in categories.REGISTRY.values()} | set(categories.REGISTRY))
CAT = "any(" + ", ".join(_TOKENS) + "):cat"
GENERATED_ON_DETAIL = 24
DRAFT_FIELD = "_draft_base"   # hidden field of the create form: the LLM draft it was filled from

#: category key → function(entry) → extra template context for its detail page
DETAIL_EXTRAS: dict = {}


def _selected_fields(cat, entry) -> list[str]:
    """Ticked prompt fields: the session's last choice, else the saved defaults, else all."""
    chosen = session.get(session_key("prefs", cat, entry.slug))
    if not chosen:
        chosen = entry.default_fields
    return list(chosen) if chosen else all_prompt_fields(cat)


def _characters_for_select():
    return (Character.query.with_entities(Character.slug, Character.name)
            .order_by(Character.name).all())


@bp.route(f"/<{CAT}>/<slug>")
def detail(cat: str, slug: str):
    category = category_or_404(cat)
    entry = asset_or_404(category, slug)
    uploads = current_app.config["UPLOADS_DIR"]
    generated = images.list_generated(uploads, categories.TOKENS, category.key, entry.slug)
    context = dict(
        entry=entry, data=entry.data, groups=edit_fields(category, entry.data),
        field_groups=prompt_field_keys(category), selected_fields=_selected_fields(category, entry),
        generated=generated[:GENERATED_ON_DETAIL], generated_total=len(generated),
        characters=[] if category.key == "characters" else _characters_for_select(),
        selected_character=session.get(session_key("char", category, entry.slug), ""),
    )
    extra = DETAIL_EXTRAS.get(category.key)
    if extra is not None:
        context.update(extra(entry))
    return render_asset(category, "detail", **context)


def _known_character_ids(form) -> set[str]:
    wanted = (form.get("character_id") or "").strip()
    if wanted and Character.query.filter_by(asset_id=wanted).first() is not None:
        return {wanted}
    return set()


def _stored_warnings(category, data: dict) -> dict[str, str]:
    """Problems in a stored entry worth showing on its edit page."""
    orientation = ((data.get("participants") or {}).get("orientation") or "").strip()
    if category.key == "characters" and orientation and not ORIENTATION_RE.match(orientation):
        return {"participants.orientation": f"{orientation!r} is not an orientation GAZE understands; "
                                            "it is ignored when generating"}
    return {}


def _form_page(category, entry, base: dict, errors: dict, creating: bool, status: int = 200,
               form=None, message: str | None = None, draft_base: str = ""):
    groups = edit_fields(category, base, creating=creating, form=form,
                         lora_choices=lora_names(category, current_app.config.get("LORA_ROOT")))
    return render_asset(category, "edit", status=status, entry=entry, groups=groups, errors=errors,
                        creating=creating, message=message, draft_base=draft_base)


@bp.route(f"/<{CAT}>/<slug>/edit", methods=["GET", "POST"])
def edit(cat: str, slug: str):
    category = category_or_404(cat)
    entry = asset_or_404(category, slug)
    if request.method == "GET":
        return _form_page(category, entry, entry.data, _stored_warnings(category, entry.data), False)
    data, errors = parse_form(category, request.form, entry.data,
                              known_character_ids=_known_character_ids(request.form))
    message = None
    if not errors:
        try:
            assets.save(category, data, entry)
        except AssetError as exc:
            errors, message = dict(exc.problems), str(exc)
        else:
            flash(f"Saved {entry.name}.", "success")
            return redirect(detail_url(category, entry.slug))
    return _form_page(category, entry, entry.data, errors, False, status=400, form=request.form,
                      message=message or "Nothing was saved: please correct the fields marked below.")


def _draft_base(category, form) -> tuple[dict, str]:
    """A new entry's starting data: the LLM draft the create page was filled from (kept in a hidden
    field, so outfits and keys the form does not show are saved too), else a blank entry."""
    raw = form.get(DRAFT_FIELD) or ""
    if raw and len(raw) <= 200_000:
        try:
            data = normalize(category, {**json.loads(raw), category.id_key: "draft"})
        except (ValueError, TypeError, RecursionError, SchemaError):
            data = None
        if isinstance(data, dict):
            data[category.id_key] = ""
            return data, raw
    return blank_entry(category), ""


@bp.route("/create", methods=["GET", "POST"], defaults={"cat": "character"})
@bp.route(f"/<{CAT}>/create", methods=["GET", "POST"])
def create(cat: str):
    category = category_or_404(cat)
    base = blank_entry(category)
    draft_base = ""
    if request.method == "GET":
        wanted = request.args.get("character")
        if "character_id" in category.text_fields and wanted:
            owner = Character.query.filter_by(slug=wanted).first()
            if owner is not None:
                base["character_id"] = owner.asset_id
        return _form_page(category, None, base, {}, True)
    base, draft_base = _draft_base(category, request.form)
    data, errors = parse_form(category, request.form, base, creating=True,
                              known_character_ids=_known_character_ids(request.form))
    message = None
    if not errors:
        try:
            entry = assets.save(category, data)
        except AssetError as exc:
            errors, message = dict(exc.problems), str(exc)
        else:
            flash(f"Created {entry.name}.", "success")
            return redirect(detail_url(category, entry.slug))
    return _form_page(category, None, base, errors, True, status=400, form=request.form,
                      message=message or "Nothing was saved: please correct the fields marked below.",
                      draft_base=draft_base)


@bp.route(f"/<{CAT}>/<slug>/clone", methods=["POST"])
def clone(cat: str, slug: str):
    category = category_or_404(cat)
    entry = asset_or_404(category, slug)
    try:
        copy = assets.clone(category, entry)
    except AssetError as exc:
        return failed(str(exc), detail_url(category, slug))
    return done(f"Cloned {entry.name} as {copy.name}.", detail_url(category, copy.slug),
                slug=copy.slug, url=detail_url(category, copy.slug))


@bp.route(f"/<{CAT}>/<slug>/upload", methods=["POST"])
def upload(cat: str, slug: str):
    category = category_or_404(cat)
    entry = asset_or_404(category, slug)
    back = detail_url(category, slug)
    file = request.files.get("image")
    if file is None or not file.filename:
        return failed("choose an image file to upload (form field 'image')", back)
    try:
        relative = assets.upload_cover(category.key, entry, file.stream)
    except AssetError as exc:
        return failed(str(exc), back)
    return done("Cover updated.", back, image_path=relative,
                image_url=media_url(relative), thumb_url=thumb_url(relative))


@bp.route(f"/<{CAT}>/<slug>/save_defaults", methods=["POST"])
def save_defaults(cat: str, slug: str):
    category = category_or_404(cat)
    entry = asset_or_404(category, slug)
    if request.is_json:
        body = json_object()
        wanted = body.get("fields") or body.get("include_field") or []
        wanted = wanted if isinstance(wanted, list) else []
    else:
        wanted = request.form.getlist("include_field")
    known = set(all_prompt_fields(category))
    fields = [f for f in wanted if isinstance(f, str) and f in known]
    assets.save_default_fields(entry, fields)
    session[session_key("prefs", category, entry.slug)] = fields
    return done("Default fields saved." if fields else "Default fields cleared: every field is used.",
                detail_url(category, slug), fields=fields)


def parse_json_body(raw: bytes) -> tuple[dict | None, str | None]:
    """The JSON object of a request body, or a readable error."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        return None, describe_json_error(exc)
    if not isinstance(data, dict):
        return None, f"the entry must be a JSON object, not {type(data).__name__}"
    return data, None


@bp.route(f"/<{CAT}>/<slug>/save_json", methods=["POST"])
def save_json(cat: str, slug: str):
    category = category_or_404(cat)
    entry = asset_or_404(category, slug)
    data, error = parse_json_body(request.get_data(cache=False))
    if error:
        return jsonify(error=error), 400
    data.pop(STATE_KEY, None)  # GAZE's own state is kept as it is now, whatever the editor held
    if data.get(category.id_key) != entry.asset_id:
        return jsonify(error=f"the id cannot be changed here (it is {entry.asset_id!r}); "
                             "clone the entry to make one with a new id", field=category.id_key), 400
    try:
        assets.save(category, data, entry)
    except AssetError as exc:
        return jsonify(error=str(exc), problems=exc.problems), 400
    return jsonify(ok=True)


@bp.route("/resource/<category>/<slug>/delete", methods=["POST"])
def delete(category: str, slug: str):
    if category not in categories.TOKENS:
        abort(404, f"there is no category {category!r}")
    mode = request.form.get("mode")
    if mode is None and request.is_json:
        mode = json_object().get("mode")
    if category == categories.CHECKPOINT_TOKEN:
        from .checkpoints import delete_checkpoint
        return delete_checkpoint(slug, mode)
    cat = categories.REGISTRY[category]
    entry = asset_or_404(cat, slug)
    back = detail_url(cat, slug)
    if mode not in ("soft", "hard"):
        return failed("choose how to delete: mode must be 'soft' or 'hard'", back)
    name = entry.name
    try:
        removed = assets.delete(cat, entry, hard=mode == "hard")
    except AssetError as exc:
        return failed(str(exc), back)
    what = " and ".join(removed) if removed else "its database row"
    return done(f"Deleted {name} ({what}).", gallery_url(cat.key), removed=removed)

