"""`POST /<category>/bulk_create`: queue entries for the category's LoRA files that have none."""
from __future__ import annotations

from flask import Blueprint, current_app, url_for

from .. import bulk, categories, llm_settings
from .helpers import back_url, done, failed, gallery_url

bp = Blueprint("bulk", __name__)
_CATEGORIES = ", ".join(bulk.CATEGORIES)


@bp.route(f"/<any({_CATEGORIES}):cat_key>/bulk_create", methods=["POST"])
def bulk_create(cat_key: str):
    cat = categories.REGISTRY[cat_key]
    back = back_url(gallery_url(cat.key))
    root = current_app.config.get("LORA_ROOT")
    if not root:
        return failed("bulk create needs the LoRA folder: set GAZE_LORA_ROOT", back)
    files, existing = bulk.candidates(cat, root)
    folder = f"{cat.lora_prefix}"
    if not files:
        message = (f"Every LoRA file under {folder} already has an entry ({existing})." if existing
                   else f"There are no LoRA files under {folder} in the LoRA folder.")
        return done(message, back, "info", job_id=None, files=[], existing=existing)
    job_id = bulk.enqueue(current_app._get_current_object(), cat, files)
    how = "drafted by the LLM" if llm_settings.load().llm_config() is not None else "filled from their metadata"
    return done(f"Creating {len(files)} {cat.plural_label.lower()} from LoRA files ({how}); "
                f"{existing} already had an entry. Follow it on the queue page.",
                url_for("queue.page"), job_id=job_id, files=files, existing=existing)
