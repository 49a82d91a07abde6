"""Files → DB. Incremental: only files whose size or mtime changed are read.

A malformed file or a slug clash never stops the sync: it is recorded as a
LibraryProblem (listed on the Library problems page) and the rest goes on.
"""
from __future__ import annotations

import gc
import json
import logging
import os
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, update

from models import MODELS, Asset, Checkpoint, LibraryProblem, db, utcnow

from . import categories
from .categories import CHECKPOINT_FOLDER, Category
from .schema import (
    SchemaError,
    checkpoint_slug,
    default_checkpoint,
    normalize,
    normalize_checkpoint,
    slugify,
    state_cover,
    state_default_fields,
)
from .store import CategoryStore, describe_json_error, read_json, read_text

log = logging.getLogger(__name__)
MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth")


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)

    def merge(self, other: "SyncReport") -> None:
        self.added += other.added
        self.updated += other.updated
        self.removed += other.removed
        self.unchanged += other.unchanged
        self.problems += other.problems


def search_text_for(cat: Category, data: dict) -> str:
    tags = data.get("tags") if isinstance(data.get("tags"), list) else []
    parts = [data.get(cat.id_key, ""), data.get(cat.name_key, ""), *tags]
    return " ".join(str(p) for p in parts).lower()


def row_values(cat: Category, filename: str, data: dict, st: os.stat_result | None) -> dict:
    """The column values an Asset row gets from a normalized JSON entry."""
    lora = data.get("lora") or {}
    values = {
        "category": cat.key, "asset_id": data[cat.id_key], "slug": slugify(data[cat.id_key]),
        "name": data[cat.name_key], "filename": filename, "data": data,
        "search_text": search_text_for(cat, data),
        "has_lora": bool(str(lora.get("lora_name") or "").strip()),
        "parent_id": data.get("character_id") if cat.key == "looks" else None,
        "image_path": state_cover(data), "default_fields": state_default_fields(data),
    }
    if st is not None:
        values["file_size"] = st.st_size
        values["file_mtime_ns"] = st.st_mtime_ns
    return values


_INSERT_COLUMNS = ("category", "asset_id", "slug", "name", "filename", "data", "search_text",
                   "has_lora", "parent_id", "image_path", "default_fields", "file_size", "file_mtime_ns",
                   "created_at")


def _bulk_insert_assets(rows: list[dict]) -> None:
    """Insert many rows through the DB driver directly: the ORM's per-row
    bookkeeping costs more than reading the files for a cold sync."""
    now = utcnow()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    params = [(r["category"], r["asset_id"], r["slug"], r["name"], r["filename"],
               r.get("data_json") or dumps(r["data"]),
               r["search_text"], r["has_lora"], r["parent_id"], r["image_path"],
               None if r["default_fields"] is None else dumps(r["default_fields"]),
               r["file_size"], r["file_mtime_ns"], now)
              for r in rows]
    sql = (f"INSERT INTO {Asset.__tablename__} ({', '.join(_INSERT_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})")
    db.session.connection().exec_driver_sql(sql, params)


_RowRef = namedtuple("_RowRef", "id filename slug file_size file_mtime_ns")
_ProblemRef = namedtuple("_ProblemRef", "id filename kind file_size file_mtime_ns")


def _problem(cat_key: str, filename: str, kind: str, message: str, st) -> dict:
    return {"category": cat_key, "filename": filename, "kind": kind, "message": message,
            "file_size": st.st_size if st else 0, "file_mtime_ns": st.st_mtime_ns if st else 0}


def sync_category(cat: Category, data_dir: Path, full: bool = False) -> SyncReport:
    report = SyncReport()
    store = CategoryStore(data_dir, cat.folder)
    files = store.scan()
    conn = db.session.connection()
    rows = {r.filename: r for r in map(_RowRef._make, conn.exec_driver_sql(
        f"SELECT id, filename, slug, file_size, file_mtime_ns FROM {Asset.__tablename__} "
        "WHERE category = ?", (cat.key,)))}
    problems = {p.filename: p for p in map(_ProblemRef._make, conn.exec_driver_sql(
        f"SELECT id, filename, kind, file_size, file_mtime_ns FROM {LibraryProblem.__tablename__} "
        "WHERE category = ?", (cat.key,)))}

    def unchanged(rec, st) -> bool:
        return rec is not None and rec.file_size == st.st_size and rec.file_mtime_ns == st.st_mtime_ns

    gone = [r for name, r in rows.items() if name not in files]
    if gone:
        db.session.execute(delete(Asset).where(Asset.id.in_([r.id for r in gone])))
        report.removed += len(gone)
    slugs_changed = bool(gone)

    root = str(store.root)
    to_load: list[str] = []
    for name, st in files.items():
        if not full and unchanged(rows.get(name), st):
            report.unchanged += 1
            continue
        prob = problems.get(name)
        if not full and prob is not None and prob.kind == "malformed" and unchanged(prob, st):
            report.unchanged += 1
            continue
        to_load.append(name)
    # Files that lost a slug clash are retried every time: the winner may be gone.
    to_load += [n for n, p in problems.items() if p.kind == "collision" and n in files and n not in to_load]
    stale_problems = [p.id for n, p in problems.items() if n not in files or n in to_load]
    if stale_problems:
        db.session.execute(delete(LibraryProblem).where(LibraryProblem.id.in_(stale_problems)))

    taken = {r.slug: r.filename for n, r in rows.items() if n in files and n not in to_load}
    inserts, updates, new_problems = [], [], []
    for name in sorted(to_load):
        st = files[name]
        try:
            text = read_text(os.path.join(root, name))
            raw = json.loads(text)
            data = normalize(cat, raw)
        except SchemaError as exc:
            new_problems.append(_problem(cat.key, name, "malformed", "; ".join(exc.problems), st))
            continue
        except (ValueError, OSError, UnicodeError) as exc:
            new_problems.append(_problem(cat.key, name, "malformed", describe_json_error(exc), st))
            continue
        values = row_values(cat, name, data, st)
        if data == raw:  # nothing filled in: the file's own text is the row's JSON
            values["data_json"] = text
        owner = taken.get(values["slug"])
        if owner is not None and owner != name:
            new_problems.append(_problem(
                cat.key, name, "collision",
                f"its id {data[cat.id_key]!r} gives the URL name {values['slug']!r}, already used by "
                f"{owner}; give one of them a different id", st))
            continue
        taken[values["slug"]] = name
        old = rows.get(name)
        if old is None:
            inserts.append(values)
        else:
            slugs_changed |= old.slug != values["slug"]
            updates.append((old.id, values))
    # Free the slugs of rows being re-slugged before inserting new ones.
    for row_id, values in updates:
        values.pop("data_json", None)
        db.session.execute(update(Asset).where(Asset.id == row_id).values(**values))
    if inserts:
        _bulk_insert_assets(inserts)
    if new_problems:
        db.session.execute(insert(LibraryProblem), new_problems)
    report.added += len(inserts)
    report.updated += len(updates)
    report.problems += [f"{cat.folder}/{p['filename']}: {p['message']}" for p in new_problems]
    for msg in report.problems:
        log.warning("library problem: %s", msg)
    return report


def scan_model_files(root: Path | None) -> dict[str, Path]:
    """checkpoint_path ('Illustrious/x.safetensors') → file, under a models root."""
    found: dict[str, Path] = {}
    if root is None or not Path(root).is_dir():
        return found
    for dirpath, _dirs, names in os.walk(root, followlinks=True):
        for name in names:
            if name.lower().endswith(MODEL_EXTENSIONS):
                full = Path(dirpath) / name
                found[full.relative_to(root).as_posix()] = full
    return found


def sync_checkpoints(data_dir: Path, checkpoint_root: Path | None, full: bool = False) -> SyncReport:
    report = SyncReport()
    store = CategoryStore(data_dir, CHECKPOINT_FOLDER)
    db.session.execute(delete(LibraryProblem).where(LibraryProblem.category == "checkpoints"))
    entries: dict[str, tuple[str | None, dict, os.stat_result | None]] = {}
    existing = {c.checkpoint_path: c for c in Checkpoint.query.all()}
    known = {(c.filename, c.file_size, c.file_mtime_ns): c for c in existing.values() if c.filename}
    for name, st in sorted(store.scan().items()):
        row = None if full else known.get((name, st.st_size, st.st_mtime_ns))
        if row is not None:
            entries[row.checkpoint_path] = (name, row.data, st)
            continue
        try:
            data = normalize_checkpoint(read_json(store.root / name))
        except SchemaError as exc:
            report.problems.append(f"checkpoints/{name}: {'; '.join(exc.problems)}")
            db.session.add(LibraryProblem(**_problem("checkpoints", name, "malformed", "; ".join(exc.problems), st)))
            continue
        except (ValueError, OSError, UnicodeError) as exc:
            report.problems.append(f"checkpoints/{name}: {describe_json_error(exc)}")
            db.session.add(LibraryProblem(**_problem("checkpoints", name, "malformed", describe_json_error(exc), st)))
            continue
        entries[data["checkpoint_path"]] = (name, data, st)
    on_disk = scan_model_files(checkpoint_root)
    for path in on_disk:
        entries.setdefault(path, (None, default_checkpoint(path), None))
    for path, row in existing.items():
        if path not in entries:
            db.session.delete(row)
            report.removed += 1
    for path, (filename, data, st) in entries.items():
        row = existing.get(path)
        values = dict(slug=checkpoint_slug(path), name=data["checkpoint_name"], filename=filename,
                      data=data, on_disk=path in on_disk, image_path=state_cover(data),
                      file_size=st.st_size if st else 0, file_mtime_ns=st.st_mtime_ns if st else 0)
        if row is None:
            db.session.add(Checkpoint(checkpoint_path=path, **values))
            report.added += 1
        elif (row.file_size, row.file_mtime_ns, row.filename, row.on_disk) != (
                values["file_size"], values["file_mtime_ns"], filename, values["on_disk"]) or full:
            for k, v in values.items():
                setattr(row, k, v)
            report.updated += 1
        else:
            report.unchanged += 1
    return report


def sync_all(data_dir: Path, checkpoint_root: Path | None = None, only: str | None = None,
             full: bool = False) -> SyncReport:
    """Sync every category (or just `only`) and commit. `full` re-reads every file."""
    report = SyncReport()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # it allocates thousands of small dicts: no cyclic collection passes over the whole heap meanwhile
    try:
        for cat in categories.REGISTRY.values():
            if only in (None, cat.key):
                report.merge(sync_category(cat, Path(data_dir), full=full))
        if only in (None, "checkpoints"):
            report.merge(sync_checkpoints(Path(data_dir), checkpoint_root, full=full))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    log.info("sync: %d added, %d updated, %d removed, %d unchanged, %d problems",
             report.added, report.updated, report.removed, report.unchanged, len(report.problems))
    return report


def model_for(cat_key: str):
    return MODELS[cat_key]
