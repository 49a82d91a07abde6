"""Checkpoints: gallery, settings editor, JSON save, cover upload, the
session's default checkpoint and checkpoint deletion (JSON only)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for

from models import Character, Checkpoint

from .. import assets, categories, images
from ..assets import AssetError
from ..forms import checkpoint_fields, parse_checkpoint_form
from ..queries import COVER_FILTERS, PER_PAGE_CHOICES, PER_PAGE_DEFAULT, SORTS, GalleryParams, checkpoint_page
from ..schema import STATE_KEY
from . import json_object
from .assets import parse_json_body
from .helpers import back_url, done, failed, media_url, thumb_url

bp = Blueprint("checkpoints", __name__)
TOKEN = categories.CHECKPOINT_TOKEN


def checkpoint_or_404(slug: str) -> Checkpoint:
    checkpoint = Checkpoint.query.filter_by(slug=slug).first()
    if checkpoint is None:
        abort(404, f"there is no checkpoint {slug!r}")
    return checkpoint


def _url(checkpoint: Checkpoint) -> str:
    return url_for("checkpoints.detail", slug=checkpoint.slug)


@bp.route("/checkpoints/")
@bp.route("/checkpoints")
def index():
    params = GalleryParams.from_args(request.args, session.get("per_page", PER_PAGE_DEFAULT))
    if "per_page" in request.args:
        session["per_page"] = params.per_page
    page = checkpoint_page(params)
    return render_template("checkpoints/gallery.html", page=page, params=params, sorts=SORTS,
                           cover_filters=COVER_FILTERS, per_page_choices=PER_PAGE_CHOICES,
                           page_url=lambda n: url_for("checkpoints.index", **params.args(page=n)))


def _detail_page(checkpoint: Checkpoint, errors: dict, form=None, status: int = 200):
    uploads = current_app.config["UPLOADS_DIR"]
    generated = images.list_generated(uploads, categories.TOKENS, TOKEN, checkpoint.slug)
    characters = (Character.query.with_entities(Character.slug, Character.name)
                  .order_by(Character.name).all())
    return render_template("checkpoints/detail.html", entry=checkpoint, data=checkpoint.data,
                           fields=checkpoint_fields(checkpoint.data, form), errors=errors,
                           generated=generated[:24], generated_total=len(generated),
                           characters=characters,
                           selected_character=session.get(f"char_checkpoint_{checkpoint.slug}", "")), status


@bp.route("/checkpoint/<slug>", methods=["GET", "POST"])
def detail(slug: str):
    """The checkpoint's page; POST saves its settings form (steps, cfg, …)."""
    checkpoint = checkpoint_or_404(slug)
    if request.method == "GET":
        return _detail_page(checkpoint, {})
    data, errors = parse_checkpoint_form(request.form, checkpoint.data)
    if not errors:
        try:
            assets.save_checkpoint(data, checkpoint)
        except AssetError as exc:
            errors = dict(exc.problems) or {"checkpoint_name": str(exc)}
        else:
            flash(f"Saved the settings of {checkpoint.name}.", "success")
            return redirect(_url(checkpoint))
    return _detail_page(checkpoint, errors, form=request.form, status=400)


@bp.route("/checkpoint/<slug>/save_json", methods=["POST"])
def save_json(slug: str):
    checkpoint = checkpoint_or_404(slug)
    data, error = parse_json_body(request.get_data(cache=False))
    if error:
        return jsonify(error=error), 400
    data.pop(STATE_KEY, None)  # GAZE's own state is kept as it is now, whatever the editor held
    if data.get("checkpoint_path") != checkpoint.checkpoint_path:
        return jsonify(error=f"the checkpoint_path cannot be changed (it is {checkpoint.checkpoint_path!r})",
                       field="checkpoint_path"), 400
    try:
        assets.save_checkpoint(data, checkpoint)
    except AssetError as exc:
        return jsonify(error=str(exc), problems=exc.problems), 400
    return jsonify(ok=True)


@bp.route("/checkpoint/<slug>/upload", methods=["POST"])
def upload(slug: str):
    checkpoint = checkpoint_or_404(slug)
    back = _url(checkpoint)
    file = request.files.get("image")
    if file is None or not file.filename:
        return failed("choose an image file to upload (form field 'image')", back)
    try:
        relative = assets.upload_cover(TOKEN, checkpoint, file.stream)
    except AssetError as exc:
        return failed(str(exc), back)
    return done("Cover updated.", back, image_path=relative,
                image_url=media_url(relative), thumb_url=thumb_url(relative))


@bp.route("/set_default_checkpoint", methods=["POST"])
def set_default():
    """Form (or JSON) field `checkpoint`: a checkpoint_path, or empty to clear."""
    value = request.form.get("checkpoint")
    if value is None and request.is_json:
        value = json_object().get("checkpoint")
    value = (value or "").strip()
    back = back_url(url_for("library.index"))
    if value and Checkpoint.query.filter_by(checkpoint_path=value).first() is None:
        return failed(f"there is no checkpoint {value!r}", back)
    if value:
        session["default_checkpoint"] = value
    else:
        session.pop("default_checkpoint", None)
    return done(f"Default checkpoint: {value}." if value else "Default checkpoint cleared.", back,
                checkpoint=value or None)


def delete_checkpoint(slug: str, mode: str | None):
    """`/resource/checkpoints/<slug>/delete`: soft removes the JSON (a model on
    disk stays listed with built-in settings); hard is refused, as GAZE never
    deletes model files."""
    checkpoint = checkpoint_or_404(slug)
    back = _url(checkpoint)
    if mode not in ("soft", "hard"):
        return failed("choose how to delete: mode must be 'soft' or 'hard'", back)
    if mode == "hard":
        return failed("GAZE does not delete checkpoint model files; use a soft delete to remove "
                      "the settings file", back)
    if not checkpoint.has_json and checkpoint.on_disk:
        return failed("this checkpoint has no settings file to delete; its model file stays", back)
    name = checkpoint.name
    removed = assets.delete_checkpoint(checkpoint)
    what = " and ".join(removed) if removed else "its database row"
    return done(f"Deleted {name} ({what}).", url_for("checkpoints.index"), removed=removed)
