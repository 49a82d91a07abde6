"""Every SQLAlchemy model of GAZE, and the `db` extension.

The asset categories share one `assets` table (single-table inheritance with
a `category` discriminator): they have identical columns, so one query path
serves every gallery, search and sync. A subclass per category exists only to
name it and to carry behaviour that is truly its own (a character's wardrobe).
Checkpoints (keyed by path), settings, jobs and library problems are their own
tables. The JSON files on disk are the truth; these rows are a cache of them.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.orm import synonym

db = SQLAlchemy()


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Asset(db.Model):
    __tablename__ = "assets"
    id = db.Column(db.Integer, primary_key=True)
    category = db.Column(db.String(32), nullable=False)
    asset_id = db.Column(db.String(255), nullable=False)
    slug = db.Column(db.String(255), nullable=False)
    name = db.Column(db.String(255), nullable=False)
    filename = db.Column(db.String(255), nullable=False)
    data = db.Column(db.JSON, nullable=False)
    default_fields = db.Column(db.JSON, nullable=True)
    image_path = db.Column(db.String(512), nullable=True)
    search_text = db.Column(db.Text, nullable=False, default="")
    has_lora = db.Column(db.Boolean, nullable=False, default=False)
    parent_id = db.Column(db.String(255), nullable=True)  # a look's character_id
    file_size = db.Column(db.Integer, nullable=False, default=0)
    file_mtime_ns = db.Column(db.BigInteger, nullable=False, default=0)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_generated_at = db.Column(db.DateTime, nullable=True)

    __mapper_args__ = {"polymorphic_on": category, "polymorphic_identity": "asset"}
    __table_args__ = (
        UniqueConstraint("category", "slug", name="uq_asset_category_slug"),
        Index("ix_asset_category_name", "category", "name"),
        Index("ix_asset_category_created", "category", "created_at"),
        Index("ix_asset_category_generated", "category", "last_generated_at"),
        Index("ix_asset_category_parent", "category", "parent_id"),
    )

    @property
    def lora(self) -> dict:
        return (self.data or {}).get("lora") or {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.slug}>"


class Character(Asset):
    __mapper_args__ = {"polymorphic_identity": "characters"}
    character_id = synonym("asset_id")

    @property
    def wardrobe_is_nested(self) -> bool:
        wardrobe = (self.data or {}).get("wardrobe") or {}
        return bool(wardrobe) and all(isinstance(v, dict) for v in wardrobe.values())

    @property
    def outfit_names(self) -> list[str]:
        return list((self.data or {}).get("wardrobe") or {}) if self.wardrobe_is_nested else []

    @property
    def active_outfit(self) -> str:
        names = self.outfit_names
        wanted = (self.data or {}).get("active_outfit")
        if wanted in names:
            return wanted
        return "default" if "default" in names else (names[0] if names else "default")

    def get_active_wardrobe(self) -> dict:
        wardrobe = (self.data or {}).get("wardrobe") or {}
        if self.wardrobe_is_nested:
            return wardrobe.get(self.active_outfit) or {}
        return wardrobe


class Look(Asset):
    __mapper_args__ = {"polymorphic_identity": "looks"}
    look_id = synonym("asset_id")


class Outfit(Asset):
    __mapper_args__ = {"polymorphic_identity": "outfits"}
    outfit_id = synonym("asset_id")


class Action(Asset):
    __mapper_args__ = {"polymorphic_identity": "actions"}
    action_id = synonym("asset_id")


class Style(Asset):
    __mapper_args__ = {"polymorphic_identity": "styles"}
    style_id = synonym("asset_id")


class Scene(Asset):
    __mapper_args__ = {"polymorphic_identity": "scenes"}
    scene_id = synonym("asset_id")


class Detailer(Asset):
    __mapper_args__ = {"polymorphic_identity": "detailers"}
    detailer_id = synonym("asset_id")


#: category token → model class
MODELS: dict[str, type[Asset]] = {
    "characters": Character, "looks": Look, "outfits": Outfit, "actions": Action,
    "styles": Style, "scenes": Scene, "detailers": Detailer,
}


class Checkpoint(db.Model):
    __tablename__ = "checkpoints"
    id = db.Column(db.Integer, primary_key=True)
    checkpoint_path = db.Column(db.String(512), nullable=False, unique=True)
    slug = db.Column(db.String(512), nullable=False, unique=True)
    name = db.Column(db.String(255), nullable=False)
    filename = db.Column(db.String(255), nullable=True)   # JSON file, None when defaults
    data = db.Column(db.JSON, nullable=False)
    image_path = db.Column(db.String(512), nullable=True)
    on_disk = db.Column(db.Boolean, nullable=False, default=False)
    file_size = db.Column(db.Integer, nullable=False, default=0)
    file_mtime_ns = db.Column(db.BigInteger, nullable=False, default=0)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_generated_at = db.Column(db.DateTime, nullable=True)

    @property
    def has_json(self) -> bool:
        return self.filename is not None


class Setting(db.Model):
    """Key/value settings (LLM provider, tag server…). Secrets are never rendered."""
    __tablename__ = "settings"
    key = db.Column(db.String(64), primary_key=True)
    value = db.Column(db.JSON, nullable=True)


class LibraryProblem(db.Model):
    """A file the sync could not load, or a slug clash; listed on /problems."""
    __tablename__ = "library_problems"
    id = db.Column(db.Integer, primary_key=True)
    category = db.Column(db.String(32), nullable=False)
    filename = db.Column(db.String(255), nullable=False)
    kind = db.Column(db.String(32), nullable=False)       # malformed | collision
    message = db.Column(db.Text, nullable=False)
    file_size = db.Column(db.Integer, nullable=False, default=0)
    file_mtime_ns = db.Column(db.BigInteger, nullable=False, default=0)


class Job(db.Model):
    """A generation job. Rows survive restarts: the graph, category, slug and
    action are enough to run the job and rebuild its finalize step."""
    __tablename__ = "jobs"
    id = db.Column(db.String(32), primary_key=True)
    status = db.Column(db.String(16), nullable=False, default="pending", index=True)
    label = db.Column(db.String(255), nullable=False, default="")
    kind = db.Column(db.String(32), nullable=False, default="generate")
    category = db.Column(db.String(32), nullable=True)
    slug = db.Column(db.String(512), nullable=True)
    action = db.Column(db.String(16), nullable=True)       # None | replace | preview
    graph = db.Column(db.JSON, nullable=True)
    recipe = db.Column(db.JSON, nullable=True)             # what made it (PNG metadata)
    server = db.Column(db.String(255), nullable=True)
    prompt_id = db.Column(db.String(64), nullable=True)
    progress_value = db.Column(db.Integer, nullable=True)
    progress_max = db.Column(db.Integer, nullable=True)
    progress_node = db.Column(db.String(128), nullable=True)
    error = db.Column(db.Text, nullable=True)
    result = db.Column(db.JSON, nullable=True)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    started_at = db.Column(db.DateTime, nullable=True)
    finished_at = db.Column(db.DateTime, nullable=True)
