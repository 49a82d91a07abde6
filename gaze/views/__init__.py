"""Blueprint registration, template context and error handling."""
from __future__ import annotations

import logging

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import defer
from werkzeug.exceptions import HTTPException

from models import Checkpoint, LibraryProblem, db

from .. import categories
from ..paths import UnsafePath

log = logging.getLogger(__name__)


def wants_json() -> bool:
    """AJAX requests and /api/ get JSON answers; forms get pages and redirects."""
    return (request.path.startswith("/api/")
            or request.headers.get("X-Requested-With") == "XMLHttpRequest"
            or request.accept_mimetypes.best == "application/json"
            or request.is_json)


def json_object() -> dict:
    """The request's JSON body when it is an object, else {} (lists, strings, bad JSON)."""
    body = request.get_json(silent=True) if request.is_json else None
    return body if isinstance(body, dict) else {}


def register_views(app: Flask) -> None:
    from .. import jobs
    from ..extensions import csrf
    from . import (
        api,
        assets,
        bulk,
        characters,
        checkpoints,
        drafts,
        gallery,
        generate,
        generator,
        helpers,
        library,
        media,
        queue,
        settings,
    )
    for module in (library, media, assets, characters, checkpoints, gallery, generator, generate, queue, api,
                   drafts, settings, bulk):
        app.register_blueprint(module.bp)
    app.register_blueprint(settings.api)
    for blueprint in (api.bp, drafts.bp, settings.api):
        csrf.exempt(blueprint)
    helpers.init_app(app)
    jobs.init_app(app)
    from .. import bulk as bulk_jobs
    bulk_jobs.init_app(app)
    app.jinja_env.globals["draft_status"] = drafts.draft_status

    @app.context_processor
    def inject_globals():
        from flask import session
        return {
            "categories": categories.REGISTRY,
            "problem_count": db.session.query(LibraryProblem.id).count(),
            "all_checkpoints": Checkpoint.query.options(defer(Checkpoint.data)).order_by(Checkpoint.name).all(),
            "default_checkpoint_path": session.get("default_checkpoint"),
        }

    @app.before_request
    def api_requires_json():
        if (request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH", "DELETE")
                and not request.is_json):
            return jsonify(error="send a JSON body with Content-Type: application/json"), 415
        return None

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = "This form has expired or came from another site. Reload the page and try again."
        if wants_json():
            return jsonify(error=message), 400
        flash(message, "danger")
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(UnsafePath)
    def unsafe_path(exc: UnsafePath):
        if wants_json():
            return jsonify(error="that path is not allowed"), 400
        return render_template("error.html", code=400, message="That path is not allowed."), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            return jsonify(error=exc.description or exc.name), exc.code
        return render_template("error.html", code=exc.code, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify(error="internal error; see the server log"), 500
        return render_template("error.html", code=500,
                               message="Something went wrong; the server log has the details."), 500

    app.jinja_env.globals["redirect_to"] = lambda endpoint, **kw: redirect(url_for(endpoint, **kw))

