"""The queue page: pending, running and recent jobs across every server."""
from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("queue", __name__)


@bp.get("/queue")
def page():
    return render_template("queue/index.html")
