"""Galleries of every category, the Library problems page and rescans."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from models import MODELS, Checkpoint, LibraryProblem

from .. import categories
from ..sync import sync_all

bp = Blueprint("library", __name__)


def _gallery(cat_key: str):
    cat = categories.get(cat_key)
    if cat is None:
        abort(404)
    entries = MODELS[cat.key].query.order_by(MODELS[cat.key].name).all()
    return render_template("gallery.html", cat=cat, entries=entries)


@bp.route("/")
def index():
    return _gallery("characters")


@bp.route("/<any(looks, outfits, actions, styles, scenes, detailers):cat_key>/")
@bp.route("/<any(looks, outfits, actions, styles, scenes, detailers):cat_key>")
def gallery(cat_key: str):
    return _gallery(cat_key)


@bp.route("/checkpoints")
def checkpoints():
    entries = Checkpoint.query.order_by(Checkpoint.name).all()
    return render_template("checkpoints.html", entries=entries)


@bp.route("/problems")
def problems():
    rows = LibraryProblem.query.order_by(LibraryProblem.category, LibraryProblem.filename).all()
    return render_template("problems.html", problems=rows)


@bp.route("/rescan", methods=["POST"])
def rescan():
    only = request.form.get("category") or None
    if only is not None and only not in categories.TOKENS:
        abort(400, "unknown category")
    report = sync_all(current_app.config["DATA_DIR"], current_app.config.get("CHECKPOINT_ROOT"), only=only,
                      full=request.form.get("full") == "1")
    flash(f"Rescan: {report.added} added, {report.updated} updated, {report.removed} removed"
          + (f", {len(report.problems)} problems" if report.problems else ""),
          "warning" if report.problems else "success")
    return redirect(request.referrer or url_for("library.index"))
