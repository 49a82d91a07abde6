"""Small helpers shared by the Library views and their templates."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, jsonify, redirect, render_template, request, url_for

from models import MODELS, Asset, Character

from .. import categories, images
from ..categories import Category
from ..schema import STATE_KEY


def wants_json() -> bool:
    from . import wants_json as _wants_json
    return _wants_json()


def category_or_404(token: str) -> Category:
    """The category of a URL token (plural or singular), or a 404."""
    cat = categories.get(token)
    if cat is None:
        abort(404, f"there is no category {token!r}")
    return cat


def asset_or_404(cat: Category, slug: str) -> Asset:
    entry = MODELS[cat.key].query.filter_by(slug=slug).first()
    if entry is None:
        abort(404, f"there is no {cat.label.lower()} {slug!r}")
    return entry


def render_asset(cat: Category, template: str, status: int = 200, **context):
    """Render `assets/<category>/<template>.html` when a category has its own
    version of a page, else the generic `assets/<template>.html`."""
    html = render_template([f"assets/{cat.key}/{template}.html", f"assets/{template}.html"], cat=cat, **context)
    return html, status


def session_key(kind: str, cat: Category | str, slug: str) -> str:
    """The session key for a detail page's state, named as the original did:
    `prefs_<slug>` for characters, `prefs_<singular>_<slug>` for the others
    (kinds: prefs, char, job, action, extra_pos, extra_neg). `cat` is a
    Category or a URL token (`checkpoints` included)."""
    key = cat if isinstance(cat, str) else cat.key
    if key == "characters":
        return f"{kind}_{slug}"
    singular = categories.REGISTRY[key].singular if key in categories.REGISTRY else "checkpoint"
    return f"{kind}_{singular}_{slug}"


def done(message: str, target: str, category: str = "success", **payload):
    """A successful change: JSON for AJAX, otherwise a flash message and a redirect."""
    if wants_json():
        return jsonify(ok=True, message=message, redirect=target, **payload)
    flash(message, category)
    return redirect(target)


def failed(message: str, target: str, status: int = 400, **payload):
    """A change the user asked for that could not be made."""
    if wants_json():
        return jsonify(error=message, **payload), status
    flash(message, "danger")
    return redirect(target)


def back_url(fallback: str) -> str:
    """The page the request came from when it is one of ours, else `fallback`."""
    ref = request.referrer
    if ref:
        parts = urlsplit(ref)
        if parts.netloc == request.host and parts.scheme in ("http", "https"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return fallback


def detail_url(cat: Category, slug: str) -> str:
    return url_for("assets.detail", cat=cat.singular, slug=slug)


def gallery_url(cat_key: str, **args) -> str:
    if cat_key == "characters":
        return url_for("library.index", **args)
    if cat_key == "checkpoints":
        return url_for("checkpoints.index", **args)
    return url_for("library.gallery", cat_key=cat_key, **args)


def asset_url(endpoint: str, cat: Category, slug: str, **args) -> str:
    return url_for(f"assets.{endpoint}", cat=cat.singular, slug=slug, **args)


def thumb_url(relative_path: str | None) -> str | None:
    """The thumbnail URL of an uploads file, versioned by its mtime; None when missing."""
    v = images.version(current_app.config["UPLOADS_DIR"], relative_path)
    return None if v is None else url_for("media.thumb", relpath=relative_path, v=v)


def media_url(relative_path: str | None) -> str | None:
    v = images.version(current_app.config["UPLOADS_DIR"], relative_path)
    return None if v is None else url_for("media.file", relpath=relative_path, v=v)


def character_choices():
    """(asset_id, name) of every character, for the look form's picker."""
    return Character.query.with_entities(Character.asset_id, Character.name).order_by(Character.name).all()


def without_state(data: dict) -> dict:
    """An entry's data as users edit it: without GAZE's own `_gaze` state."""
    return {k: v for k, v in (data or {}).items() if k != STATE_KEY}


def init_app(app: Flask) -> None:
    app.add_template_filter(without_state)
    app.jinja_env.globals.update(
        thumb_url=thumb_url, media_url=media_url, gallery_url=gallery_url,
        asset_url=asset_url, detail_url=detail_url, character_choices=character_choices)
