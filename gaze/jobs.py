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
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from flask import Flask
from sqlalchemy import update

from models import Job, db, utcnow

from . import finalize
from .comfy import (ComfyClient, ComfyError, ComfyUnreachable, ComfyValidationError, Done,
                    Failed, NodeStart, Progress)

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


@dataclass
class InFlight:
    job_id: str
    prompt_id: str
    submitted: float = field(default_factory=time.monotonic)


class JobQueue:
    """Process-wide queue state: live progress and the workers."""

    def __init__(self, app: Flask):
        self.app = app
        self.live: dict[str, LiveState] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.workers: list[Worker] = []
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


class Worker:
    """Drives one ComfyUI server: submit, follow, finalize; pipeline depth N."""

    def __init__(self, queue: JobQueue, url: str):
        self.queue = queue
        self.url = url
        self.client = ComfyClient(url, timeout=10)
        self.client_id = f"gaze-{uuid.uuid4().hex[:12]}"
        self.online = False
        self.backoff = 1.0
        self.inflight: deque[InFlight] = deque()
        self.cancels: dict[str, str | None] = {}
        self.ws = None
        self.thread = threading.Thread(target=self.run, name=f"gaze-worker-{url}", daemon=True)

    def request_cancel(self, job_id: str, prompt_id: str | None) -> None:
        self.cancels[job_id] = prompt_id
        self.queue.wake.set()

    def run(self) -> None:
        app = self.queue.app
        depth = max(1, int(app.config.get("PIPELINE_DEPTH", 2)))
        while not self.queue.stop_event.is_set():
            with app.app_context():
                try:
                    self.step(depth)
                except Exception:  # noqa: BLE001 - the worker must go on
                    log.exception("worker %s: unexpected error", self.url)
                    time.sleep(1)
                finally:
                    self.queue.prune()
                    db.session.remove()

    def _ensure_socket(self) -> bool:
        if self.ws is not None:
            return True
        try:
            self.ws = self.client.open_socket(self.client_id)
        except ComfyError:
            self.ws = None
        return self.ws is not None

    def _mark_offline(self) -> None:
        if self.online:
            log.warning("ComfyUI at %s is not answering", self.url)
        self.online = False
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001
                pass
            self.ws = None

    def step(self, depth: int) -> None:
        self._handle_cancels()
        if not self.online:
            try:
                self.client.object_info(refresh=True)
                self.online, self.backoff = True, 1.0
                log.info("ComfyUI at %s is reachable", self.url)
            except ComfyError:
                self.queue.expire_waiting()
                self.queue.wake.wait(self.backoff)
                self.queue.wake.clear()
                self.backoff = min(self.backoff * 2, 30.0)
                return
        self._ensure_socket()
        while len(self.inflight) < depth and not self.queue.stop_event.is_set():
            job = self.queue.claim(self.url)
            if job is None:
                break
            if not self.submit(job):
                if not self.online:
                    return
        if not self.inflight:
            self.queue.wake.wait(0.5)
            self.queue.wake.clear()
            return
        self.follow_head()

    def submit(self, job: Job) -> bool:
        from .serverinfo import adapt_to_server, validate_against_server
        try:
            info = self.client.object_info()
            graph, dropped = adapt_to_server(job.graph, info,
                                             face_detector=self.queue.app.config["FACE_DETECTOR"],
                                             hand_detector=self.queue.app.config["HAND_DETECTOR"])
            problems = validate_against_server(graph, info)
            if problems:
                self.queue._fail(job, "; ".join(problems))
                db.session.commit()
                return False
            prompt_id = self.client.queue_prompt(graph, self.client_id)
        except ComfyValidationError as exc:
            self.queue._fail(job, "ComfyUI refused the workflow: " + "; ".join(exc.messages))
            db.session.commit()
            return False
        except ComfyUnreachable:
            job.status, job.server, job.started_at = "pending", None, None
            db.session.commit()
            self.queue._set_live(job.id, status="pending", note=WAITING_LABEL)
            self._mark_offline()
            return False
        except ComfyError as exc:
            self.queue._fail(job, f"ComfyUI error: {exc}")
            db.session.commit()
            return False
        job.prompt_id = prompt_id
        if dropped:
            job.recipe = dict(job.recipe or {}, dropped=dropped)
        db.session.commit()
        self.inflight.append(InFlight(job.id, prompt_id))
        return True

    def follow_head(self) -> None:
        head = self.inflight[0]
        limit = float(self.queue.app.config.get("JOB_TIMEOUT_S", 900))
        started = time.monotonic()
        outcome = None
        while outcome is None:
            chunk = max(1.0, min(5.0, limit - (time.monotonic() - started)))
            if self.ws is not None and not getattr(self.ws, "connected", False):
                self.ws = None
            self._ensure_socket()
            for event in self.client.follow(head.prompt_id, self.client_id, ws=self.ws,
                                            timeout=chunk, close_socket=False):
                if isinstance(event, Progress):
                    self.queue._set_live(head.job_id, value=event.value, max=event.max, node=event.node)
                elif isinstance(event, NodeStart):
                    self.queue._set_live(head.job_id, node=event.node)
                elif isinstance(event, (Done, Failed)):
                    outcome = event
                    break
                if head.job_id in self.cancels:
                    self._handle_cancels()
                    if not self.inflight or self.inflight[0] is not head:
                        return
            if isinstance(outcome, Failed) and outcome.kind == "timeout":
                if not self._reachable():
                    outcome = None
                    break
                if time.monotonic() - started < limit:
                    outcome = None  # still rendering: keep following
                    continue
                outcome = Failed(f"ComfyUI took longer than {int(limit)} s", "timeout")
        self.inflight.popleft()
        job = db.session.get(Job, head.job_id)
        if job is None or job.status != "running":
            return
        if outcome is None:
            self._mark_offline()
            self._lost(job)
        elif isinstance(outcome, Failed):
            self.queue._fail(job, outcome.message)
        else:
            try:
                finalize.finish(self.queue.app, job, self.client, images=outcome.images)
                self.queue._set_live(job.id, status="done", finished=time.monotonic())
            except ComfyUnreachable:
                self._mark_offline()
                self._lost(job)
            except Exception as exc:  # noqa: BLE001 - recorded on the job
                log.exception("job %s: finalize failed", job.id)
                self.queue._fail(job, f"could not save the image: {exc}")
        db.session.commit()

    def _reachable(self) -> bool:
        try:
            self.client.system_stats()
            return True
        except ComfyError:
            return False

    def _lost(self, job: Job) -> None:
        """The server went away mid-job: hand the job to another try, or fail it."""
        if job.attempts < 2:
            job.status, job.server, job.prompt_id, job.started_at = "pending", None, None, None
            self.queue._set_live(job.id, status="pending", note=WAITING_LABEL)
        else:
            self.queue._fail(job, f"lost the connection to ComfyUI at {self.url} while the job ran")
        for rest in list(self.inflight):
            other = db.session.get(Job, rest.job_id)
            if other is not None and other.status == "running":
                other.status, other.server, other.prompt_id = "pending", None, None
        self.inflight.clear()

    def _handle_cancels(self) -> None:
        while self.cancels:
            job_id, prompt_id = self.cancels.popitem()
            for item in list(self.inflight):
                if item.job_id != job_id:
                    continue
                try:
                    if item is self.inflight[0]:
                        self.client.interrupt(item.prompt_id)
                    else:
                        self.client.delete_from_queue([item.prompt_id])
                except ComfyError:
                    pass
                self.inflight.remove(item)


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
        def fetch() -> list[str]:
            for worker in get_queue(app).workers:
                info = worker.client.cached_object_info()
                if info and "KSampler" in info:
                    spec = info["KSampler"]["input"]["required"][name][0]
                    if isinstance(spec, list) and spec:
                        return list(spec)
            raise LookupError("no ComfyUI lists yet")
        return fetch

    choices.set_provider("sampler", provider("sampler_name"))
    choices.set_provider("scheduler", provider("scheduler"))
