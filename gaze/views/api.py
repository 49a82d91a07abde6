"""The JSON API: job status, the queue, health. POSTs take JSON bodies only
(a cross-site page cannot send one without a CORS preflight GAZE never grants)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from models import Job, db

from ..comfy import ComfyClient, ComfyError
from ..jobs import TERMINAL, get_queue
from ..security import bearer_ok, logged_in

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/queue/<job_id>/status")
def job_status(job_id: str):
    status = get_queue(current_app).status(job_id)
    if status is None:
        return jsonify(error=f"no job {job_id!r}"), 404
    return jsonify(status)


@bp.get("/queue")
def queue_list():
    queue = get_queue(current_app)
    active = Job.query.filter(Job.status.in_(("pending", "running"))).order_by(Job.created_at).all()
    recent = (Job.query.filter(Job.status.in_(TERMINAL)).order_by(Job.finished_at.desc(), Job.created_at.desc())
              .limit(50).all())
    return jsonify(jobs=[queue.status(j.id) for j in active + recent],
                   pending=sum(1 for j in active if j.status == "pending"),
                   running=sum(1 for j in active if j.status == "running"))


@bp.post("/queue/<job_id>/cancel")
def cancel(job_id: str):
    queue = get_queue(current_app)
    if db.session.get(Job, job_id) is None:
        return jsonify(error=f"no job {job_id!r}"), 404
    if not queue.cancel(job_id):
        return jsonify(error="the job has already finished"), 409
    return jsonify(ok=True, status=queue.status(job_id))


@bp.post("/queue/<job_id>/retry")
def retry(job_id: str):
    queue = get_queue(current_app)
    if db.session.get(Job, job_id) is None:
        return jsonify(error=f"no job {job_id!r}"), 404
    if not queue.retry(job_id):
        return jsonify(error="only a failed or cancelled job can be retried"), 409
    return jsonify(ok=True, job_id=job_id)


@bp.post("/queue/cancel_pending")
def cancel_pending():
    return jsonify(ok=True, cancelled=get_queue(current_app).cancel_all_pending())


def server_health(url: str) -> dict:
    client = ComfyClient(url, timeout=3)
    out: dict = {"url": url, "reachable": False}
    try:
        stats = client.system_stats()
        out["reachable"] = True
        devices = stats.get("devices") or []
        out["devices"] = [{"name": d.get("name"), "type": d.get("type"),
                           "vram_total": d.get("vram_total"), "vram_free": d.get("vram_free")} for d in devices]
        out["comfyui_version"] = (stats.get("system") or {}).get("comfyui_version")
        q = client.queue()
        out["queue"] = {"running": len(q["running"]), "pending": len(q["pending"])}
    except ComfyError as exc:
        out["error"] = str(exc)
    workers = {w.url: w for w in get_queue(current_app).workers}
    if url in workers:
        out["worker_online"] = workers[url].online
    return out


@bp.get("/health")
def health():
    try:
        db.session.execute(text("SELECT 1"))
        db_ok = True
    except Exception:  # noqa: BLE001 - reported, not raised
        db_ok = False
    body = {"app": "ok", "db": "ok" if db_ok else "error"}
    if current_app.config.get("PASSWORD") and not (logged_in() or bearer_ok()):
        return jsonify(body), 200 if db_ok else 503  # no details for strangers
    servers = [server_health(u) for u in current_app.config["COMFYUI_URLS"]]
    body |= {"comfyui": servers,
            "jobs": {"pending": Job.query.filter_by(status="pending").count(),
                     "running": Job.query.filter_by(status="running").count()}}
    return jsonify(body), 200 if db_ok else 503


MAX_BATCH = 50


@bp.post("/generate")
def generate():
    """Queue one image (or `count` of them) from the generator's JSON fields."""
    from flask import request, session

    from ..compose import LIST_FIELDS
    from ..generation import ComposeError, GenerateRequest, apply_quality, queue_generation
    from .generator import SCALAR_FIELDS

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="send a JSON object"), 400
    unknown = sorted(set(body) - set(SCALAR_FIELDS) - set(LIST_FIELDS) - {"quality", "count", "action"})
    if unknown:
        return jsonify(error=f"unknown field(s): {', '.join(unknown)}"), 400
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        return jsonify(error=f"count must be a whole number from 1 to {MAX_BATCH}"), 400
    fields = {k: body[k] for k in SCALAR_FIELDS + LIST_FIELDS if k in body}
    try:
        fields = apply_quality(fields, body.get("quality"))
        job_ids = []
        for i in range(count):
            batch_fields = dict(fields)
            if count > 1 and fields.get("seed") not in (None, ""):
                batch_fields["seed"] = int(fields["seed"]) + i  # a batch with a seed stays reproducible
            job_id, _ = queue_generation(GenerateRequest(batch_fields, "generator", "mix", "preview"),
                                         default_checkpoint=session.get("default_checkpoint"))
            job_ids.append(job_id)
    except ComposeError as exc:
        return jsonify(error="; ".join(exc.problems), problems=exc.problems, unknown=exc.unknown), 400
    except (TypeError, ValueError) as exc:
        return jsonify(error=f"bad value: {exc}"), 400
    if count == 1:
        return jsonify(job_id=job_ids[0]), 202
    return jsonify(job_ids=job_ids), 202


OPTIONAL_NODES = ("FaceDetailer", "UltralyticsDetectorProvider")


@bp.get("/status")
def status():
    """Cheap status for the navbar: each worker's view of its server (no
    network calls here), the optional nodes it lacks, and the queue counts."""
    servers = []
    for worker in get_queue(current_app).workers:
        info = worker.client.cached_object_info()
        missing = [n for n in OPTIONAL_NODES if info is not None and n not in info]
        servers.append({"url": worker.url, "online": worker.online, "missing": missing})
    if not servers:
        servers = [{"url": u, "online": False, "missing": []} for u in current_app.config["COMFYUI_URLS"]]
    return jsonify(servers=servers,
                   jobs={"pending": Job.query.filter_by(status="pending").count(),
                         "running": Job.query.filter_by(status="running").count()})
