"""Bulk create: an entry for every LoRA file of a category that has none yet, as a background job.

``enqueue`` records a ``Job`` row of kind ``bulk_create`` listing the files; one
runner thread per app (started on demand, it stops when there is nothing left)
claims those rows and works through the files with progress in the row and the
queue's live state, so ``/api/queue/<id>/status`` and the queue page show it.
Each file's entry is drafted by the LLM from the LoRA's own metadata, or filled
from the metadata alone when no LLM is configured or the LLM fails. A file that
cannot be read is skipped with the reason; an existing entry is never
overwritten (``assets.save`` refuses a taken id, and files already used by any
entry are left out).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import update

from models import MODELS, Asset, Job, db, utcnow

from . import assets, categories, drafts, llm_settings
from .categories import Category
from .forms import derive_id, lora_names
from .jobs import get_queue
from .lora_entries import evidence_prompt, metadata_entry
from .safetensors_meta import MetadataError, read_lora_info
from .schema import slugify

if TYPE_CHECKING:
    from .tags.client import TagClient

log = logging.getLogger(__name__)

KIND = "bulk_create"
CATEGORIES = ("characters", "outfits", "actions", "styles", "scenes", "detailers")


def used_lora_names() -> set[str]:
    """LoRA names any entry already uses (any category: a look's LoRA is not a new character)."""
    names = set()
    for (data,) in db.session.query(Asset.data):
        lora = (data or {}).get("lora") if isinstance(data, dict) else None
        if isinstance(lora, dict) and isinstance(lora.get("lora_name"), str) and lora["lora_name"]:
            names.add(lora["lora_name"].replace("\\", "/"))
    return names


def candidates(cat: Category, lora_root: Path | None) -> tuple[list[str], int]:
    """(LoRA names under the category's folder with no entry, how many already have one)."""
    names = lora_names(cat, lora_root)
    used = used_lora_names()
    fresh = [name for name in names if name not in used]
    return fresh, len(names) - len(fresh)


def enqueue(app: Flask, cat: Category, files: list[str]) -> str:
    """Queue one bulk-create job for ``files`` and wake the runner; returns the job id."""
    plural = cat.plural_label.lower()
    job = Job(id=uuid.uuid4().hex, status="pending", kind=KIND, category=cat.key,
              label=f"Bulk create {plural} from {len(files)} LoRA file{'s' if len(files) != 1 else ''}",
              recipe={"files": files}, progress_value=0, progress_max=len(files))
    db.session.add(job)
    db.session.commit()
    get_queue(app)._set_live(job.id, status="pending", value=0, max=len(files), node=None, finished=None)
    runner(app).wake()
    return job.id


# ---------------------------------------------------------------- one file


def _free_id(cat: Category, *ids: str) -> str | None:
    model = MODELS[cat.key]
    for asset_id in ids:
        if asset_id and model.query.filter_by(slug=slugify(asset_id)).first() is None:
            return asset_id
    return None


def _llm_entry(cat: Category, lora_name: str, info, settings: llm_settings.Settings,
               client: TagClient | None) -> dict:
    draft = drafts.run(cat.key, evidence_prompt(cat, lora_name, info), settings, client=client)
    return draft.data


def create_one(cat: Category, lora_name: str, settings: llm_settings.Settings,
               client: TagClient | None) -> dict:
    """Create the entry of one LoRA file. Returns ``{"file", "id"?, "source"?, "note"?, "skipped"?}``."""
    from flask import current_app
    outcome: dict = {"file": lora_name}
    path = assets.lora_file(cat, lora_name)
    if path is None:
        return outcome | {"skipped": "the file is not inside the LoRA folder"}
    if not path.is_file():
        return outcome | {"skipped": "the file is gone"}
    if lora_name in used_lora_names():
        return outcome | {"skipped": "an entry for this LoRA already exists"}
    if path.suffix.lower() != ".safetensors":
        return outcome | {"skipped": "only .safetensors files carry metadata GAZE can read"}
    try:
        info = read_lora_info(path)
    except MetadataError as exc:
        return outcome | {"skipped": f"cannot read the LoRA: {exc}"}
    data, source = None, "metadata"
    if settings.llm_config() is not None:
        try:
            data, source = _llm_entry(cat, lora_name, info, settings, client), "llm"
        except drafts.DraftError as exc:
            outcome["note"] = f"LLM draft failed ({exc}); filled from the metadata"
    if data is None:
        data = metadata_entry(cat, lora_name, info)
    lora = dict(data.get("lora") or {})
    lora["lora_name"] = lora_name
    if not lora.get("lora_triggers") and info.triggers:
        lora["lora_triggers"] = ", ".join(info.triggers)
    data["lora"] = lora
    asset_id = _free_id(cat, str(data.get(cat.id_key) or ""), derive_id(Path(lora_name).stem))
    if asset_id is None:
        return outcome | {"skipped": f"an entry with the id {data.get(cat.id_key)!r} already exists"}
    data[cat.id_key] = asset_id
    try:
        entry = assets.save(cat, data)
    except assets.AssetError as exc:
        return outcome | {"skipped": f"not saved: {exc}"}
    current_app.logger.info("bulk create: %s %s from %s (%s)", cat.singular, entry.slug, lora_name, source)
    return outcome | {"id": entry.asset_id, "slug": entry.slug, "name": entry.name, "source": source}


# ---------------------------------------------------------------- the job


def _summary(created: list[dict], skipped: list[dict], cancelled: bool) -> str:
    parts = [f"created {len(created)}"]
    from_meta = sum(1 for c in created if c.get("source") == "metadata")
    if from_meta:
        parts.append(f"{from_meta} from metadata only")
    if skipped:
        parts.append(f"skipped {len(skipped)}: " + "; ".join(f"{s['file'].rsplit('/', 1)[-1]} ({s['skipped']})"
                                                             for s in skipped[:5])
                     + (" …" if len(skipped) > 5 else ""))
    return ("Cancelled: " if cancelled else "") + ", ".join(parts) + "."


def process(app: Flask, job: Job) -> None:
    """Work through a claimed job's files, recording progress and the outcome of each."""
    queue = get_queue(app)
    cat = categories.REGISTRY.get(job.category or "")
    files = [f for f in ((job.recipe or {}).get("files") or []) if isinstance(f, str)]
    if cat is None or cat.key not in CATEGORIES:
        queue._fail(job, f"cannot bulk-create {job.category!r} entries")
        db.session.commit()
        return
    settings = llm_settings.load()
    client = drafts.usable_tag_client(settings)[0] if settings.llm_config() is not None else None
    # the files a run interrupted by a shutdown got through (a finished run has a summary)
    earlier = job.result if isinstance(job.result, dict) and job.result.get("summary") is None else {}
    created: list[dict] = list(earlier.get("created") or [])
    skipped: list[dict] = list(earlier.get("skipped") or [])
    done_before = len(created) + len(skipped)
    total = done_before + len(files)
    cancelled = False
    for index, name in enumerate(files):
        db.session.refresh(job)
        if job.status != "running":
            cancelled = True
            break
        if queue.stop_event.is_set():   # shutting down: the next start goes on with the rest
            job.status, job.started_at = "pending", None
            job.recipe = {"files": files[index:]}
            job.result = {"created": created, "skipped": skipped, "summary": None}
            db.session.commit()
            queue._set_live(job.id, status="pending")
            return
        job.progress_value, job.progress_max, job.progress_node = done_before + index, total, name[-128:]
        db.session.commit()
        queue._set_live(job.id, value=done_before + index, max=total, node=name.rsplit("/", 1)[-1])
        try:
            outcome = create_one(cat, name, settings, client)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the job
            log.exception("bulk create: %s failed", name)
            db.session.rollback()
            outcome = {"file": name, "skipped": f"unexpected error: {exc.__class__.__name__}"}
        (skipped if "skipped" in outcome else created).append(outcome)
    db.session.refresh(job)
    job.result = {"created": created, "skipped": skipped, "summary": _summary(created, skipped, cancelled)}
    if job.status == "running":
        job.status, job.finished_at = "done", utcnow()
        job.progress_value, job.progress_node = total, None
    db.session.commit()
    queue._set_live(job.id, status=job.status, value=job.progress_value, max=total, node=None,
                    finished=time.monotonic())


def claim() -> Job | None:
    while True:
        job = Job.query.filter_by(status="pending", kind=KIND).order_by(Job.created_at, Job.id).first()
        if job is None:
            return None
        claimed = db.session.execute(update(Job).where(Job.id == job.id, Job.status == "pending")
                                     .values(status="running", started_at=utcnow(),
                                             attempts=Job.attempts + 1)).rowcount
        db.session.commit()
        if claimed:
            db.session.refresh(job)
            return job


class Runner:
    """One thread per app that runs bulk jobs; started by :meth:`wake`, it ends when idle."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.signalled = False

    def wake(self) -> None:
        with self.lock:
            self.signalled = True
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="gaze-bulk-create", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        queue = get_queue(self.app)
        while not queue.stop_event.is_set():
            with self.app.app_context():
                try:
                    job = claim()
                    if job is not None:
                        get_queue(self.app)._set_live(job.id, status="running", note=None)
                        process(self.app, job)
                except Exception:  # noqa: BLE001 - the runner must go on
                    log.exception("bulk create runner: unexpected error")
                    job = None
                    time.sleep(0.5)
                finally:
                    db.session.remove()
            if job is None:
                with self.lock:
                    if not self.signalled:
                        self.thread = None
                        return
                    self.signalled = False
        with self.lock:
            self.thread = None


def runner(app: Flask) -> Runner:
    found = app.extensions.get("gaze_bulk")
    if found is None:
        found = app.extensions["gaze_bulk"] = Runner(app)
    return found


def resume(app: Flask) -> None:
    """At start-up: bulk jobs a previous process left running go back to pending, and run."""
    with app.app_context():
        left = Job.query.filter_by(status="running", kind=KIND).all()
        for job in left:
            job.status, job.started_at = "pending", None
        db.session.commit()
        pending = Job.query.filter_by(status="pending", kind=KIND).count()
    if pending:
        runner(app).wake()


def init_app(app: Flask) -> None:
    get_queue(app).wakers[KIND] = runner(app).wake
    app.extensions.setdefault("gaze_starters", []).append(resume)
