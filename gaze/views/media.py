"""Serving files from the uploads folder, which may live anywhere."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file

from ..paths import UnsafePath, safe_join

bp = Blueprint("media", __name__)


@bp.route("/media/<path:relpath>")
def file(relpath: str):
    try:
        path = safe_join(current_app.config["UPLOADS_DIR"], relpath)
    except UnsafePath:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(path, max_age=3600, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
