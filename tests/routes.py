"""Walk `app.url_map` and fill each rule's URL parameters with real values from
the sample library, so tests cover every route — including routes added after
these tests were written — and a route's own 404 does not hide what is tested.
"""
from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field

from flask import Flask
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter, NumberConverter, PathConverter

from gaze import categories

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
SAMPLE_UPLOAD = "characters/mira_vance/gen_sample.png"
_CATEGORY_ARGS = ("category", "cat_key", "cat", "cat_token", "token", "kind")


@dataclass
class Samples:
    """Real values found in the app's database and uploads folder."""

    slugs: dict[str, list[str]] = field(default_factory=dict)   # category token → slugs
    checkpoint_slugs: list[str] = field(default_factory=list)
    checkpoint_paths: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    outfit_names: list[str] = field(default_factory=list)
    upload: str = SAMPLE_UPLOAD


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(buf, "PNG")
    return buf.getvalue()


def prepare(app: Flask) -> Samples:
    """Collect real values; add one finished job and one uploaded image so that
    routes taking a job id or an upload path have something to find."""
    from models import MODELS, Character, Checkpoint, Job, db
    upload = app.config["UPLOADS_DIR"] / SAMPLE_UPLOAD
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(png_bytes())
    with app.app_context():
        if not Job.query.first():
            db.session.add(Job(id=uuid.uuid4().hex, status="done", label="sample", category="characters",
                               slug="mira_vance", result={"relative_path": SAMPLE_UPLOAD}))
            db.session.commit()
        samples = Samples(
            slugs={key: [a.slug for a in model.query.order_by(model.slug)] for key, model in MODELS.items()},
            checkpoint_slugs=[c.slug for c in Checkpoint.query.order_by(Checkpoint.slug)],
            checkpoint_paths=[c.checkpoint_path for c in Checkpoint.query.order_by(Checkpoint.slug)],
            job_ids=[j.id for j in Job.query],
        )
        mira = Character.query.filter_by(slug="mira_vance").first()
        samples.outfit_names = (mira.outfit_names if mira is not None else []) or ["default"]
    return samples


def rules(app: Flask, methods: tuple[str, ...] | None = None) -> list[tuple[Rule, str]]:
    """(rule, method) for every route of the app, static files excluded."""
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if methods is None or method in methods:
                out.append((rule, method))
    return out


def is_api(rule: Rule) -> bool:
    return rule.rule == "/api" or rule.rule.startswith("/api/")


def rule_category(rule: Rule, values: dict[str, str]) -> str | None:
    """The category a rule is about: from a category argument, else from a
    static path segment naming one (`/character/<slug>` → characters)."""
    for arg in _CATEGORY_ARGS:
        if arg in values:
            cat = categories.get(values[arg])
            if cat is not None:
                return cat.key
            if values[arg] == categories.CHECKPOINT_TOKEN:
                return categories.CHECKPOINT_TOKEN
    for segment in rule.rule.split("/"):
        if not segment or "<" in segment:
            continue
        if segment in ("checkpoint", "checkpoints"):
            return categories.CHECKPOINT_TOKEN
        cat = categories.get(segment)
        if cat is not None:
            return cat.key
    return None


def fill(rule: Rule, samples: Samples, pick: int = 0) -> dict[str, str]:
    """Values for every argument of `rule` that point at real things.
    `pick` chooses among the candidates, so repeated calls can vary."""
    values: dict[str, str] = {}
    converters = rule._converters  # noqa: SLF001 - werkzeug keeps them here
    # category-like arguments first: slugs depend on them
    for arg in sorted(rule.arguments, key=lambda a: a not in _CATEGORY_ARGS):
        conv = converters.get(arg)
        if isinstance(conv, AnyConverter):
            items = sorted(conv.items)
            values[arg] = items[pick % len(items)]
        elif isinstance(conv, (IntegerConverter, NumberConverter)):
            values[arg] = "1"
        elif arg in _CATEGORY_ARGS:
            values[arg] = list(categories.TOKENS)[pick % len(categories.TOKENS)]
        elif "job" in arg:
            values[arg] = samples.job_ids[pick % len(samples.job_ids)] if samples.job_ids else uuid.uuid4().hex
        elif "slug" in arg:
            cat = rule_category(rule, values)
            if cat == categories.CHECKPOINT_TOKEN:
                pool = samples.checkpoint_slugs
            else:
                pool = samples.slugs.get(cat or "characters") or samples.slugs.get("characters") or ["x"]
            values[arg] = pool[pick % len(pool)] if pool else "x"
        elif "outfit" in arg or arg == "name":
            values[arg] = samples.outfit_names[pick % len(samples.outfit_names)]
        elif "checkpoint" in arg or arg == "ckpt":
            values[arg] = samples.checkpoint_paths[0] if samples.checkpoint_paths else "x"
        elif isinstance(conv, PathConverter):
            values[arg] = samples.upload
        else:
            values[arg] = "x"
    return values


def url_for_rule(rule: Rule, values: dict[str, str]) -> str:
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule} from {values}"
    return built[1]
