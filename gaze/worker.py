"""One worker per ComfyUI server: submit, follow, finalize, with a pipeline.

The worker keeps its server busy: it submits the next job while the current
one renders (pipeline depth, default 2), follows the head job over one
WebSocket, and notices a server that went away (its jobs go back to the queue
for another try, or fail with the reason).
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models import Job, db

from . import finalize
from .comfy import ComfyClient, ComfyError, ComfyUnreachable, ComfyValidationError, Done, Failed, NodeStart, Progress
from .jobs import WAITING_LABEL

if TYPE_CHECKING:
    from .jobs import JobQueue

log = logging.getLogger(__name__)


@dataclass
class InFlight:
    job_id: str
    prompt_id: str
    submitted: float = field(default_factory=time.monotonic)


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
