"""Finalize a finished job: download its image, save it, set the result and
the cover. Rebuilt from the job row alone (category, slug, action)."""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime

from flask import Flask, url_for

from models import Job, utcnow

from . import pngmeta
from .assets import entry_for, set_cover
from .comfy import ComfyClient, error_from_history, images_from_history
from .paths import safe_join
from .store import atomic_write_bytes

log = logging.getLogger(__name__)

__all__ = ["finish", "error_from_history", "save_image"]


def save_image(app: Flask, category: str, slug: str, png: bytes, recipe: dict | None) -> str:
    """Save under <uploads>/<category>/<slug>/gen_<timestamp>_<id>.png; never
    overwrites. Returns the path relative to the uploads folder."""
    if recipe:
        try:
            png = pngmeta.add_text(png, {
                "gaze": json.dumps(recipe, ensure_ascii=False, sort_keys=True),
                "parameters": pngmeta.a1111_parameters(recipe),
            })
        except pngmeta.NotPNG:
            log.warning("ComfyUI sent an image that is not a PNG; saved without GAZE metadata")
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    name = f"gen_{stamp}_{uuid.uuid4().hex[:8]}.png"
    path = safe_join(app.config["UPLOADS_DIR"], category or "misc", slug or "none", name)
    atomic_write_bytes(path, png)
    return path.relative_to(app.config["UPLOADS_DIR"].resolve()).as_posix()


def finish(app: Flask, job: Job, client: ComfyClient, entry: dict | None = None,
           images: list[dict] | None = None) -> None:
    """Download the job's first output image, save it, record the result and
    update the cover when the job's action is None or 'replace'."""
    if images is None:
        if entry is None:
            entry = client.history(job.prompt_id)
        images = images_from_history(entry or {})
    if not images:
        raise RuntimeError("ComfyUI finished the job but reported no image")
    first = images[0]
    png = client.view(first["filename"], first.get("subfolder", ""), first.get("type", "output"))
    relative = save_image(app, job.category or "misc", job.slug or "none", png, job.recipe)
    with app.test_request_context():
        image_url = url_for("media.file", relpath=relative)
    job.result = {"image_url": image_url, "relative_path": relative}
    job.status = "done"
    job.error = None
    job.finished_at = utcnow()
    target = entry_for(job.category, job.slug)
    if target is not None:
        target.last_generated_at = utcnow()
        if job.action in (None, "", "replace"):
            set_cover(target, relative)
    thumbnail = app.extensions.get("gaze_thumbnail")
    if thumbnail is not None:
        try:
            thumbnail(relative)
        except Exception:  # noqa: BLE001 - a thumbnail is a nicety; the next request retries
            log.exception("thumbnail for %s failed", relative)
