"""The global gallery: every generated image, newest first, read from the
uploads folder, filterable by category and entry."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session, url_for

from models import MODELS, Asset, Checkpoint

from .. import categories, images
from ..queries import PER_PAGE_CHOICES, PER_PAGE_DEFAULT, GalleryParams, paginate_list

bp = Blueprint("gallery", __name__)


def _names(page_items) -> dict[tuple[str, str], str]:
    """(category, slug) → display name, for the images on one page."""
    wanted: dict[str, set[str]] = {}
    for img in page_items:
        wanted.setdefault(img.category, set()).add(img.slug)
    names = {}
    for cat, slugs in wanted.items():
        if cat == categories.CHECKPOINT_TOKEN:
            rows = Checkpoint.query.with_entities(Checkpoint.slug, Checkpoint.name).filter(Checkpoint.slug.in_(slugs))
        elif cat in MODELS:
            rows = (Asset.query.with_entities(Asset.slug, Asset.name)
                    .filter(Asset.category == cat, Asset.slug.in_(slugs)))
        else:
            continue
        names.update({(cat, slug): name for slug, name in rows})
    return names


def _filters(category: str, entry: str) -> dict:
    return {k: v for k, v in (("category", category), ("entry", entry)) if v}


#: Folders of generated images: every category, and the generator's own.
GALLERY_TOKENS = categories.TOKENS + ("generator",)


@bp.route("/gallery")
def index():
    uploads = current_app.config["UPLOADS_DIR"]
    category = request.args.get("category") or ""
    if category not in GALLERY_TOKENS:
        category = ""
    entry = (request.args.get("entry") or "").strip() if category else ""
    params = GalleryParams.from_args(request.args, session.get("per_page", PER_PAGE_DEFAULT))
    if "per_page" in request.args:
        session["per_page"] = params.per_page
    found = images.list_generated(uploads, GALLERY_TOKENS, category or None, entry or None)
    page = paginate_list(found, params.page, params.per_page)
    entries = images.entries_with_images(uploads, category) if category else []
    return render_template("gallery/index.html", page=page, params=params, category=category, entry=entry,
                           entries=entries, names=_names(page.items), tokens=GALLERY_TOKENS,
                           per_page_choices=PER_PAGE_CHOICES,
                           page_url=lambda n: url_for("gallery.index", **_filters(category, entry),
                                                      **params.args(page=n)))
