"""`GET /api/health`: the container health check (open without a login: see
security.PUBLIC_PATHS; so it tells nothing but whether the app and its database answer)."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from models import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/api/health")
def health():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("health check: the database does not answer")
        return jsonify(status="error", database=False), 503
    return jsonify(status="ok", database=True)
