"""Queue generations: compose the graph for a request, record its recipe,
and put it on the job queue. No request or session here."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping

from flask import current_app

from models import MODELS, Asset, Checkpoint

from .assets import entry_for
from .compose import LIST_FIELDS, ComposeError, Composition, compose_request
from .jobs import get_queue

__all__ = ["GenerateRequest", "queue_generation", "recipe_for", "ComposeError", "QUALITY_DRAFT"]

#: Draft quality: fewer steps and a smaller image than the checkpoint's own.
QUALITY_DRAFT = {"steps_factor": 0.5, "min_steps": 8, "size_factor": 0.625}

#: The assets a secondary category puts in which compose field.
FIELD_FOR = {"outfits": "outfits", "actions": "actions", "styles": "styles",
             "scenes": "scenes", "detailers": "detailers"}
#: Categories whose previews get a simple background (SPEC §3).
BACKGROUND = ("outfits", "actions", "styles", "detailers", "checkpoints")


@dataclass
class GenerateRequest:
    """What to generate and where its image goes."""
    fields: dict
    category: str | None = None
    slug: str | None = None
    action: str | None = None            # None | "replace" | "preview"
    selected_fields: list[str] | None = None
    ensure_fields: bool = False
    background: bool = False
    label: str = ""


def recipe_for(comp: Composition, req: GenerateRequest) -> dict:
    """Everything that made an image: stored on the job and in the PNG."""
    info = comp.info
    assets = {name: [r.asset_id for r in rows] for name, rows in comp.assets.items() if rows}
    ckpt = comp.checkpoint
    return {
        "version": 1,
        "category": req.category, "slug": req.slug,
        "character": comp.character.asset_id if comp.character else None,
        "character_slug": comp.character.slug if comp.character else None,
        "look": comp.look.asset_id if comp.look else None,
        "look_slug": comp.look.slug if comp.look else None,
        "assets": assets,
        "asset_slugs": {name: [r.slug for r in rows] for name, rows in comp.assets.items() if rows},
        "fields": list(req.selected_fields or []),
        "seed": info.get("seed"),
        "width": info.get("width"), "height": info.get("height"),
        "checkpoint": {"checkpoint_path": info.get("checkpoint"), "steps": info.get("steps"),
                       "cfg": info.get("cfg"), "sampler_name": info.get("sampler_name"),
                       "scheduler": info.get("scheduler"), "vae": info.get("vae"),
                       "name": ckpt.name if ckpt else None},
        "loras": info.get("loras", []),
        "prompts": {"positive": info.get("positive"), "negative": info.get("negative"),
                    "face": info.get("face"), "hand": info.get("hand")},
        "extra_positive": req.fields.get("extra_positive") or "",
        "extra_negative": req.fields.get("extra_negative") or "",
    }


def apply_quality(fields: dict, quality: str | None) -> dict:
    """Draft quality shrinks steps and size from the checkpoint's settings;
    explicit steps, width and height in the request always win."""
    if quality in (None, "", "final"):
        return fields
    if quality != "draft":
        raise ComposeError([f"quality must be 'draft' or 'final', not {quality!r}"], {})
    out = dict(fields)
    ckpt = None
    if out.get("checkpoint"):
        ckpt = Checkpoint.query.filter_by(checkpoint_path=out["checkpoint"]).first()
    base_steps = int((ckpt.data if ckpt else {}).get("steps") or 25)
    if out.get("steps") in (None, ""):
        out["steps"] = max(QUALITY_DRAFT["min_steps"], int(base_steps * QUALITY_DRAFT["steps_factor"]))
    for key in ("width", "height"):
        if out.get(key) in (None, ""):
            out[key] = int(1024 * QUALITY_DRAFT["size_factor"]) // 64 * 64
    return out


def queue_generation(req: GenerateRequest, default_checkpoint: str | None = None) -> tuple[str, Composition]:
    """Compose and enqueue one job; raises ComposeError for bad input."""
    comp = compose_request(req.fields, default_checkpoint=default_checkpoint,
                           selected_fields=req.selected_fields, ensure_fields=req.ensure_fields,
                           background=req.background)
    label = req.label or _label(comp, req)
    job_id = get_queue(current_app).enqueue(label, comp.graph, category=req.category, slug=req.slug,
                                            action=req.action, recipe=recipe_for(comp, req))
    return job_id, comp


def _label(comp: Composition, req: GenerateRequest) -> str:
    parts = []
    if req.category and req.slug:
        target = entry_for(req.category, req.slug)
        parts.append(target.name if target is not None else req.slug)
    if comp.character is not None and (req.category != "characters"):
        parts.append(comp.character.name)
    return " · ".join(parts) or "Generator"


def fields_for_entry(category: str, entry: Asset | Checkpoint, form: Mapping[str, Any]) -> dict:
    """The compose fields for Generate on one entry's detail page."""
    fields: dict = {k: form.get(k) for k in ("checkpoint", "width", "height", "seed", "extra_positive",
                                            "extra_negative", "steps", "cfg") if form.get(k) not in (None, "")}
    if category == "characters":
        fields["character"] = entry.slug
        if form.get("look"):
            fields["look"] = form.get("look")
    elif category == "looks":
        fields["look"] = entry.slug
        char = form.get("character") or _look_character_slug(entry)
        if char:
            fields["character"] = char
    elif category == "checkpoints":
        fields["checkpoint"] = entry.checkpoint_path
        if form.get("character"):
            fields["character"] = form.get("character")
    else:
        fields[FIELD_FOR[category]] = [entry.slug]
        if form.get("character"):
            fields["character"] = form.get("character")
        if category == "detailers" and form.get("with_action"):
            fields["actions"] = [form.get("with_action")]
    return fields


def _look_character_slug(look: Asset) -> str | None:
    char_id = (look.data or {}).get("character_id")
    if not char_id:
        return None
    row = MODELS["characters"].query.filter_by(asset_id=char_id).first()
    return row.slug if row else None


def missing_cover_fields(category: str, entry: Asset) -> GenerateRequest:
    """A comparable cover: fixed seed and a standard prompt per category."""
    fields: dict = {"seed": 123456789}
    if category == "characters":
        fields["character"] = entry.slug
        fields["extra_positive"] = "portrait, looking at viewer, upper body, simple background"
        return GenerateRequest(fields, "characters", entry.slug, None, label=f"Cover · {entry.name}")
    fields[FIELD_FOR[category]] = [entry.slug]
    fields["extra_positive"] = {
        "outfits": "1girl, solo, standing, full body, simple background, white background",
        "actions": "1girl, solo, simple background, white background",
        "scenes": "scenery, no humans, wide shot",
    }.get(category, "")
    return GenerateRequest(fields, category, entry.slug, None, background=category in BACKGROUND,
                           label=f"Cover · {entry.name}")


def random_seed() -> int:
    return random.randint(0, 2**53 - 1)


LIST_FIELD_NAMES = LIST_FIELDS
