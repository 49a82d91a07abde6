"""The job queue: Job rows, one worker thread per ComfyUI server, finalize, prune.

Jobs are rows so they survive a restart. A row holds the graph, category,
slug and action; the finalize step is rebuilt from those (no closures). Live
progress is kept in memory (it changes every sampler step) and state changes
are written to the row. The worker keeps ComfyUI busy: it submits the next
job while the current one renders (pipeline depth, default 2).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from flask import Flask
from sqlalchemy import update

from models import Job, db, utcnow

from . import finalize
from .comfy import ComfyClient, ComfyError

log = logging.getLogger(__name__)
TERMINAL = ("done", "failed", "removed")
WAITING_LABEL = "waiting for ComfyUI"


@dataclass
class LiveState:
    """What the status endpoint shows between DB writes."""
    status: str = "pending"
    value: int | None = None
    max: int | None = None
    node: str | None = None
    note: str | None = None
    finished: float | None = None


class JobQueue:
    """Process-wide queue state: live progress and the workers."""

    def __init__(self, app: Flask):
        self.app = app
        self.live: dict[str, LiveState] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.workers: list = []  # gaze.worker.Worker, one per ComfyUI server
        #: job kind → function that wakes its runner (kinds other than "generate", e.g. gaze.bulk)
        self.wakers: dict[str, Callable[[], None]] = {}

    # --- enqueue / cancel / retry (called from requests) -------------------
    def enqueue(self, label: str, graph: dict, category: str | None = None, slug: str | None = None,
                action: str | None = None, recipe: dict | None = None) -> str:
        job = Job(id=uuid.uuid4().hex, status="pending", label=label[:255], category=category,
                  slug=slug, action=action, graph=graph, recipe=recipe)
        db.session.add(job)
        db.session.commit()
        with self.lock:
            self.live[job.id] = LiveState()
        self.wake.set()
        return job.id

    def cancel(self, job_id: str) -> bool:
        job = db.session.get(Job, job_id)
        if job is None or job.status in TERMINAL:
            return False
        if job.status == "pending":
            n = db.session.execute(update(Job).where(Job.id == job_id, Job.status == "pending")
                                   .values(status="removed", finished_at=utcnow())).rowcount
            db.session.commit()
            if n:
                self._set_live(job_id, status="removed", finished=time.monotonic())
                return True
            db.session.refresh(job)
        if job.status == "running":
            for worker in self.workers:
                if worker.url == job.server:
                    worker.request_cancel(job_id, job.prompt_id)
            job.status = "removed"
            job.error = "cancelled"
            job.finished_at = utcnow()
            db.session.commit()
            self._set_live(job_id, status="removed", finished=time.monotonic())
            return True
        return False

    def cancel_all_pending(self) -> int:
        n = db.session.execute(update(Job).where(Job.status == "pending")
                               .values(status="removed", finished_at=utcnow())).rowcount
        db.session.commit()
        return n

    def retry(self, job_id: str) -> bool:
        job = db.session.get(Job, job_id)
        if job is None or job.status not in ("failed", "removed"):
            return False
        if (job.kind == "generate" and not job.graph) or (job.kind != "generate" and job.kind not in self.wakers):
            return False
        job.status, job.error, job.prompt_id, job.server = "pending", None, None, None
        job.progress_value = job.progress_max = job.progress_node = None
        job.finished_at = job.started_at = None
        job.created_at = utcnow()
        db.session.commit()
        self._set_live(job_id, status="pending", value=None, max=None, node=None, finished=None)
        self.wakers.get(job.kind, self.wake.set)()
        return True

    # --- status ---------------------------------------------------------------
    def status(self, job_id: str) -> dict | None:
        job = db.session.get(Job, job_id)
        if job is None:
            return None
        with self.lock:
            live = self.live.get(job_id)
        progress = {"value": job.progress_value, "max": job.progress_max, "node": job.progress_node}
        note = None
        if live is not None and job.status not in TERMINAL:
            progress = {"value": live.value, "max": live.max, "node": live.node}
            note = live.note
        if job.status == "pending" and job.kind == "generate" and not any(w.online for w in self.workers):
            note = WAITING_LABEL
        return {"id": job.id, "status": job.status, "label": job.label, "progress": progress,
                "error": job.error, "result": job.result, "server": job.server, "note": note,
                "category": job.category, "slug": job.slug, "kind": job.kind,
                "warnings": list((job.recipe or {}).get("dropped") or []),
                "created_at": job.created_at.isoformat() + "Z" if job.created_at else None}

    def _set_live(self, job_id: str, **changes) -> None:
        with self.lock:
            state = self.live.setdefault(job_id, LiveState())
            for key, value in changes.items():
                setattr(state, key, value)

    def prune(self, max_age_s: float = 3600) -> int:
        """Forget the live state of terminal jobs older than max_age_s (rows stay)."""
        cutoff = time.monotonic() - max_age_s
        with self.lock:
            old = [k for k, s in self.live.items() if s.finished is not None and s.finished < cutoff]
            for key in old:
                del self.live[key]
        return len(old)

    # --- workers ----------------------------------------------------------------
    def start(self) -> None:
        if self.workers:
            return
        with self.app.app_context():
            self.recover()
        from .worker import Worker
        for url in self.app.config["COMFYUI_URLS"]:
            worker = Worker(self, url)
            self.workers.append(worker)
            worker.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.wake.set()
        for worker in self.workers:
            worker.thread.join(timeout)

    def recover(self) -> None:
        """Jobs left 'running' by a previous process: re-check them against
        ComfyUI's history; finish them, or put them back to pending if ComfyUI
        never saw them, or fail them with the reason."""
        for job in Job.query.filter_by(status="running", kind="generate").all():
            client = ComfyClient(job.server or self.app.config["COMFYUI_URLS"][0], timeout=5)
            if not job.prompt_id:
                job.status, job.server = "pending", None
                continue
            try:
                entry = client.history(job.prompt_id)
            except ComfyError:
                entry = None
                queued = False
            else:
                try:
                    q = client.queue()
                    queued = job.prompt_id in q["running"] + q["pending"]
                except ComfyError:
                    queued = False
            if entry:
                error = finalize.error_from_history(entry)
                if error:
                    self._fail(job, error)
                else:
                    try:
                        finalize.finish(self.app, job, client, entry)
                    except Exception as exc:  # noqa: BLE001 - recorded on the job
                        self._fail(job, f"could not save the image: {exc}")
            elif queued:
                job.note = None
                self.app.logger.info("job %s is still queued on ComfyUI; resubmitting", job.id)
                job.status, job.prompt_id = "pending", None
            else:
                job.status, job.prompt_id, job.server = "pending", None, None
        db.session.commit()

    def _fail(self, job: Job, message: str) -> None:
        job.status, job.error, job.finished_at = "failed", message, utcnow()
        self._set_live(job.id, status="failed", finished=time.monotonic())

    def claim(self, server: str) -> Job | None:
        """Atomically take the oldest pending job for a server."""
        while True:
            job = (Job.query.filter_by(status="pending", kind="generate")
                   .order_by(Job.created_at, Job.id).first())
            if job is None:
                return None
            n = db.session.execute(
                update(Job).where(Job.id == job.id, Job.status == "pending")
                .values(status="running", server=server, started_at=utcnow(),
                        attempts=Job.attempts + 1)).rowcount
            db.session.commit()
            if n:
                db.session.refresh(job)
                self._set_live(job.id, status="running", note=None)
                return job

    def expire_waiting(self) -> None:
        limit = utcnow() - timedelta(seconds=float(self.app.config.get("JOB_MAX_WAIT_S", 1800)))
        for job in Job.query.filter(Job.status == "pending", Job.kind == "generate", Job.created_at < limit).all():
            self._fail(job, "no ComfyUI server answered within the maximum wait")
        db.session.commit()


def get_queue(app: Flask) -> JobQueue:
    queue = app.extensions.get("gaze_jobs")
    if queue is None:
        queue = app.extensions["gaze_jobs"] = JobQueue(app)
    return queue


def init_app(app: Flask) -> None:
    from . import images

    def thumbnail(relative_path: str) -> None:
        images.make_thumbnail_for(app.config["UPLOADS_DIR"], images.thumbs_root(app.config["INSTANCE_DIR"]),
                                  relative_path)

    app.extensions["gaze_thumbnail"] = thumbnail
    _register_choices(app)
    queue = get_queue(app)
    app.extensions.setdefault("gaze_starters", []).append(lambda a: queue.start())


def _register_choices(app: Flask) -> None:
    """Offer ComfyUI's own sampler and scheduler lists once a worker has them."""
    from . import choices

    def provider(name: str):
        def fetch() -> list[str] | None:
            for worker in get_queue(app).workers:
                info = worker.client.cached_object_info()
                if info and "KSampler" in info:
                    spec = info["KSampler"]["input"]["required"][name][0]
                    if isinstance(spec, list) and spec:
                        return list(spec)
            return None  # no server has answered yet: the built-in list
        return fetch

    choices.set_provider("sampler", provider("sampler_name"))
    choices.set_provider("scheduler", provider("scheduler"))
