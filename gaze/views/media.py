"""Serving files from the uploads folder, which may live anywhere, and their
thumbnails (WebP, made on first request, cached under the instance folder)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, request, send_file

from .. import images
from ..paths import UnsafePath, safe_join

bp = Blueprint("media", __name__)
IMMUTABLE = "public, max-age=31536000, immutable"


def _cache(response, versioned: bool):
    response.headers["Cache-Control"] = IMMUTABLE if versioned else "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _source(relpath: str):
    try:
        path = safe_join(current_app.config["UPLOADS_DIR"], relpath)
    except UnsafePath:
        abort(404)
    if not path.is_file():
        abort(404)
    return path


def _versioned(path) -> bool:
    """True when the URL's `v` names the file's current version: then the
    response can be cached for good (a change makes a new URL)."""
    return request.args.get("v") == str(path.stat().st_mtime_ns)


@bp.route("/media/<path:relpath>")
def file(relpath: str):
    path = _source(relpath)
    response = send_file(path, conditional=True)
    return _cache(response, _versioned(path))


@bp.route("/thumb/<path:relpath>")
def thumb(relpath: str):
    path = _source(relpath)
    if not path.name.lower().endswith(images.IMAGE_SUFFIXES):
        abort(404)
    thumb_path = images.make_thumbnail_for(current_app.config["UPLOADS_DIR"],
                                           images.thumbs_root(current_app.config["INSTANCE_DIR"]), relpath)
    if thumb_path is None:
        abort(404, "no thumbnail: the file is not an image GAZE can read")
    response = send_file(thumb_path, mimetype="image/webp", conditional=True)
    return _cache(response, _versioned(path))
