"""Create / update / clone / delete: the only code that changes an asset.

Every change writes the JSON file first (atomically), then the DB row, so
the file on disk — the truth — is never behind the cache.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from models import MODELS, Asset, Checkpoint, db

from . import categories, images
from .categories import CHECKPOINT_FOLDER, Category
from .paths import UnsafePath, is_inside, safe_join
from .schema import (
    STATE_KEY,
    SchemaError,
    checkpoint_slug,
    default_checkpoint,
    entry_state,
    normalize,
    normalize_checkpoint,
    slugify,
    state_cover,
    state_default_fields,
)
from .store import CategoryStore
from .sync import row_values

log = logging.getLogger(__name__)


class AssetError(ValueError):
    """A change a user asked for that cannot be made; the message says why."""

    def __init__(self, message: str, problems: dict[str, str] | None = None):
        super().__init__(message)
        self.problems = problems or {}


def store_for(cat: Category) -> CategoryStore:
    return CategoryStore(current_app.config["DATA_DIR"], cat.folder)


def entry_for(category: str | None, slug: str | None) -> Asset | Checkpoint | None:
    """The row of any entry by its URL category token and slug, checkpoints included."""
    if not category or not slug:
        return None
    if category == "checkpoints":
        return Checkpoint.query.filter_by(slug=slug).first()
    model = MODELS.get(category)
    return model.query.filter_by(slug=slug).first() if model else None


def get_asset(cat_key: str, slug: str) -> Asset | None:
    model = MODELS.get(cat_key)
    return None if model is None else model.query.filter_by(slug=slug).first()


def _stat(path: Path):
    try:
        return os.stat(path)
    except OSError:
        return None


def save(cat: Category, data: dict, asset: Asset | None = None) -> Asset:
    """Write a new or changed entry: JSON file (atomic), then its DB row.

    Raises AssetError (nothing written) when the data is malformed, when the id
    of an existing entry would change, or when a new id's slug is taken.
    """
    try:
        data = normalize(cat, data)
    except SchemaError as exc:
        raise AssetError("; ".join(exc.problems)) from exc
    if asset is not None and STATE_KEY not in data and entry_state(asset.data):
        data[STATE_KEY] = entry_state(asset.data)
    slug = slugify(data[cat.id_key])
    model = MODELS[cat.key]
    clash = model.query.filter_by(slug=slug).first()
    if asset is None:
        if clash is not None:
            raise AssetError(f"an entry with the URL name {slug!r} already exists ({clash.name})",
                             {cat.id_key: "choose another id"})
        store = store_for(cat)
        filename = store.unique_filename(data[cat.id_key])
    else:
        if data[cat.id_key] != asset.asset_id:
            raise AssetError(f"the id cannot be changed here (it is {asset.asset_id!r}); clone the entry instead",
                             {cat.id_key: "the id cannot change"})
        store = store_for(cat)
        filename = asset.filename
    path = store.write(filename, data)
    values = row_values(cat, filename, data, _stat(path))
    if asset is None:
        asset = model(**{k: v for k, v in values.items() if k != "category"})
        db.session.add(asset)
    else:
        for key, value in values.items():
            if key != "category":
                setattr(asset, key, value)
    db.session.commit()
    return asset


def clone(cat: Category, asset: Asset) -> Asset:
    """A copy under a fresh id (`<id>_copy`, `<id>_copy_2`, …), cover not copied."""
    data = dict(asset.data)
    data.pop(STATE_KEY, None)
    base = f"{asset.asset_id}_copy"
    new_id, n = base, 2
    model = MODELS[cat.key]
    while model.query.filter_by(slug=slugify(new_id)).first() is not None:
        new_id, n = f"{base}_{n}", n + 1
    data[cat.id_key] = new_id
    data[cat.name_key] = f"{asset.name} (copy)"
    return save(cat, data)


def _with_state(data: dict, **changes) -> dict:
    """A copy of `data` whose GAZE state has `changes` applied (None removes a key)."""
    data = dict(data)
    state = dict(entry_state(data))
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    if state:
        data[STATE_KEY] = state
    else:
        data.pop(STATE_KEY, None)
    return data


def _write_state(entry: Asset | Checkpoint, **changes) -> None:
    """Record cover / default fields in the entry's JSON file, then its row."""
    data = _with_state(entry.data or {}, **changes)
    if isinstance(entry, Checkpoint):
        save_checkpoint(data, entry)
        return
    cat = categories.REGISTRY[entry.category]
    path = store_for(cat).write(entry.filename, data)
    st = _stat(path)
    entry.data = data
    entry.image_path = state_cover(data)
    entry.default_fields = state_default_fields(data)
    if st is not None:
        entry.file_size, entry.file_mtime_ns = st.st_size, st.st_mtime_ns
    db.session.commit()


def set_cover(asset: Asset | Checkpoint, relative_path: str | None) -> None:
    """Make `relative_path` (under the uploads folder) the entry's cover, or clear it."""
    _write_state(asset, cover=relative_path or None)


def upload_cover(category: str, asset: Asset | Checkpoint, stream: BinaryIO) -> str:
    """Store an uploaded image as the entry's cover (checked and re-encoded by
    gaze.images) and drop the previous uploaded cover file. `category` is the
    URL token (`characters`, `checkpoints`…). Raises AssetError for a bad image."""
    uploads = current_app.config["UPLOADS_DIR"]
    try:
        relative = images.save_cover(uploads, category, asset.slug, stream,
                                     thumbs=images.thumbs_root(current_app.config["INSTANCE_DIR"]))
    except images.ImageError as exc:
        raise AssetError(str(exc), {"image": str(exc)}) from exc
    previous = asset.image_path
    set_cover(asset, relative)
    if previous and previous != relative:
        images.remove_cover_file(uploads, previous)
    return relative


def save_default_fields(asset: Asset, fields: list[str]) -> None:
    _write_state(asset, default_fields=[f for f in fields if isinstance(f, str) and "::" in f])


def lora_file(cat: Category, lora_name: str) -> Path | None:
    """The LoRA file for a name, only when it resolves inside GAZE_LORA_ROOT."""
    root = current_app.config.get("LORA_ROOT")
    if not root or not lora_name:
        return None
    try:
        path = safe_join(root, lora_name)
    except UnsafePath:
        return None
    return path if is_inside(root, path) else None


def delete(cat: Category, asset: Asset, hard: bool = False) -> list[str]:
    """Soft: remove the JSON and the row. Hard: also the LoRA file, but only
    when it resolves inside the LoRA root. Returns what was removed."""
    removed: list[str] = []
    if hard:
        name = (asset.data.get("lora") or {}).get("lora_name") or ""
        if name:
            if not current_app.config.get("LORA_ROOT"):
                raise AssetError("a hard delete needs the LoRA folder (GAZE_LORA_ROOT) to be configured; "
                                 "nothing was deleted")
            path = lora_file(cat, name)
            if path is None:
                raise AssetError(f"refusing to delete LoRA {name!r}: it is not inside the LoRA folder; "
                                 "nothing was deleted")
            if path.is_file():
                path.unlink()
                removed.append(f"LoRA {name}")
    if store_for(cat).delete(asset.filename):
        removed.append(f"{cat.folder}/{asset.filename}")
    db.session.delete(asset)
    db.session.commit()
    return removed


def save_checkpoint(data: dict, checkpoint: Checkpoint | None = None) -> Checkpoint:
    """Write a checkpoint's JSON (creating it for a model found on disk) and its row."""
    try:
        data = normalize_checkpoint(data)
    except SchemaError as exc:
        raise AssetError("; ".join(exc.problems)) from exc
    if checkpoint is not None and data["checkpoint_path"] != checkpoint.checkpoint_path:
        raise AssetError("the checkpoint_path cannot be changed", {"checkpoint_path": "cannot change"})
    if checkpoint is not None and STATE_KEY not in data and entry_state(checkpoint.data):
        data[STATE_KEY] = entry_state(checkpoint.data)
    store = CategoryStore(current_app.config["DATA_DIR"], CHECKPOINT_FOLDER)
    filename = checkpoint.filename if checkpoint is not None and checkpoint.filename else \
        store.unique_filename(data["checkpoint_path"].rsplit("/", 1)[-1].rsplit(".", 1)[0])
    path = store.write(filename, data)
    st = _stat(path)
    if checkpoint is None:
        checkpoint = Checkpoint(checkpoint_path=data["checkpoint_path"], slug=checkpoint_slug(data["checkpoint_path"]))
        db.session.add(checkpoint)
    checkpoint.name = data["checkpoint_name"]
    checkpoint.filename = filename
    checkpoint.data = data
    checkpoint.image_path = state_cover(data)
    checkpoint.file_size = st.st_size if st else 0
    checkpoint.file_mtime_ns = st.st_mtime_ns if st else 0
    db.session.commit()
    return checkpoint


def delete_checkpoint(checkpoint: Checkpoint) -> list[str]:
    """Remove a checkpoint's JSON. A model still on disk keeps its row with
    the built-in settings; model files themselves are never deleted."""
    removed: list[str] = []
    if checkpoint.filename:
        store = CategoryStore(current_app.config["DATA_DIR"], CHECKPOINT_FOLDER)
        if store.delete(checkpoint.filename):
            removed.append(f"{CHECKPOINT_FOLDER}/{checkpoint.filename}")
    if checkpoint.on_disk:
        checkpoint.filename = None
        checkpoint.data = default_checkpoint(checkpoint.checkpoint_path)
        checkpoint.name = checkpoint.data["checkpoint_name"]
        checkpoint.file_size = checkpoint.file_mtime_ns = 0
    else:
        db.session.delete(checkpoint)
    db.session.commit()
    return removed


def category_or_none(token: str) -> Category | None:
    return categories.REGISTRY.get(token)
