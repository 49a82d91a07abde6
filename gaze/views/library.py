"""Galleries of every category, the Library problems page and rescans."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session, url_for

from models import LibraryProblem

from .. import categories
from ..queries import (
    COVER_FILTERS,
    LOOK_FILTERS,
    LORA_FILTERS,
    PER_PAGE_CHOICES,
    PER_PAGE_DEFAULT,
    SORTS,
    GalleryParams,
    gallery_page,
)
from ..sync import sync_all
from .helpers import back_url, category_or_404, done, failed, gallery_url, render_asset

bp = Blueprint("library", __name__)
_GALLERIES = ", ".join(k for k in categories.REGISTRY if k != "characters")
_RESCANNABLE = ", ".join(categories.TOKENS)


def _gallery(cat_key: str):
    cat = category_or_404(cat_key)
    params = GalleryParams.from_args(request.args, session.get("per_page", PER_PAGE_DEFAULT))
    if "per_page" in request.args:
        session["per_page"] = params.per_page
    page = gallery_page(cat.key, params)
    return render_asset(cat, "gallery", page=page, params=params, sorts=SORTS, cover_filters=COVER_FILTERS,
                        lora_filters=LORA_FILTERS, look_filters=LOOK_FILTERS if cat.key == "characters" else {},
                        per_page_choices=PER_PAGE_CHOICES,
                        page_url=lambda n: gallery_url(cat.key, **params.args(page=n)))


@bp.route("/")
def index():
    return _gallery("characters")


@bp.route(f"/<any({_GALLERIES}):cat_key>")
@bp.route(f"/<any({_GALLERIES}):cat_key>/")
def gallery(cat_key: str):
    return _gallery(cat_key)


@bp.route("/problems")
def problems():
    rows = LibraryProblem.query.order_by(LibraryProblem.category, LibraryProblem.filename).all()
    return render_template("problems.html", problems=rows)


def _rescan(only: str | None):
    report = sync_all(current_app.config["DATA_DIR"], current_app.config.get("CHECKPOINT_ROOT"), only=only,
                      full=request.form.get("full") == "1")
    message = (f"Rescan: {report.added} added, {report.updated} updated, {report.removed} removed"
               + (f", {len(report.problems)} problems" if report.problems else ""))
    target = back_url(gallery_url(only) if only else url_for("library.index"))
    return done(message, target, "warning" if report.problems else "success",
                added=report.added, updated=report.updated, removed=report.removed, problems=report.problems)


@bp.route("/rescan", methods=["POST"])
def rescan():
    """Rescan every category, or the one named by the form field `category`."""
    only = request.form.get("category") or None
    if only is not None and only not in categories.TOKENS:
        return failed("unknown category", back_url(url_for("library.index")))
    return _rescan(only)


@bp.route(f"/<any({_RESCANNABLE}):cat_key>/rescan", methods=["POST"])
def rescan_category(cat_key: str):
    return _rescan(cat_key)
