"""Benchmark GAZE's job queue against a minimal client loop on the same ComfyUI.

In one run: 50 jobs submitted straight to a ComfyUI by the smallest possible
client (submit everything, wait for each to finish, download its image) — the
floor — then 50 jobs through GAZE's queue to the same server. Prints the
throughput ratio GAZE/floor and the median latency GAZE adds per job, from
ComfyUI's `execution_success` to the job being `done` with its file saved.

    python bench/queue.py                       # against the fake ComfyUI (100 ms renders)
    python bench/queue.py --comfyui URL --graph graph.json   # against a real ComfyUI
"""
from __future__ import annotations

import sys
from pathlib import Path

# This file's name shadows the standard library's `queue`: drop its folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import calendar
import copy
import json
import logging
import statistics
import tempfile
import time
import uuid

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gaze.comfy import ComfyClient, Done, Failed  # noqa: E402

JOBS = 50


def with_seed(graph: dict, seed: int) -> dict:
    graph = copy.deepcopy(graph)
    for node in graph.values():
        if node.get("class_type") in ("KSampler", "FaceDetailer") and "seed" in node.get("inputs", {}):
            node["inputs"]["seed"] = seed
    return graph


def floor_run(url: str, graph: dict, seeds: list[int]) -> float:
    """Submit every job at once, then follow each and download its image."""
    client = ComfyClient(url, timeout=30)
    client_id = uuid.uuid4().hex
    ws = client.open_socket(client_id)
    t0 = time.perf_counter()
    ids = [client.queue_prompt(with_seed(graph, s), client_id) for s in seeds]
    for prompt_id in ids:
        for event in client.follow(prompt_id, client_id, ws=ws, timeout=600, close_socket=False):
            if isinstance(event, Failed):
                raise SystemExit(f"floor job failed: {event.message}")
            if isinstance(event, Done):
                image = event.images[0]
                client.view(image["filename"], image.get("subfolder", ""), image.get("type", "output"))
                break
    elapsed = time.perf_counter() - t0
    ws.close()
    return elapsed


def success_ms(client: ComfyClient, prompt_id: str) -> int | None:
    entry = client.history(prompt_id) or {}
    for name, data in (entry.get("status") or {}).get("messages", []):
        if name == "execution_success":
            return int(data["timestamp"])
    return None


def gaze_run(url: str, graph: dict, seeds: list[int], tmp: Path) -> tuple[float, list[float]]:
    from gaze import create_app
    from gaze.config import TestConfig
    from gaze.jobs import get_queue
    from models import Job
    cfg = TestConfig(tmp)
    cfg.COMFYUI_URLS = [url]
    cfg.START_WORKER = True
    cfg.SYNC_ON_START = False
    cfg.FACE_DETECTOR = cfg.HAND_DETECTOR = "none"
    app = create_app(cfg)
    queue = get_queue(app)
    while not all(w.online for w in queue.workers):  # connect first: the floor was connected too
        time.sleep(0.02)
    t0 = time.perf_counter()
    with app.app_context():
        ids = [queue.enqueue(f"bench {s}", with_seed(graph, s), category="bench", slug="bench", action="preview")
               for s in seeds]
    with app.app_context():
        while True:
            done = Job.query.filter(Job.id.in_(ids), Job.status.in_(("done", "failed", "removed"))).count()
            if done == len(ids):
                break
            time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    client = ComfyClient(url)
    latencies = []
    with app.app_context():
        jobs = Job.query.filter(Job.id.in_(ids)).all()
        failed = [j for j in jobs if j.status != "done"]
        if failed:
            raise SystemExit(f"{len(failed)} GAZE jobs failed: {failed[0].error}")
        for job in jobs:
            ms = success_ms(client, job.prompt_id)
            if ms is not None:
                # finished_at is naive UTC
                finished = calendar.timegm(job.finished_at.timetuple()) * 1000 + job.finished_at.microsecond / 1000
                latencies.append(finished - ms)
    queue.stop()
    return elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", help="a real ComfyUI's URL (default: the fake, started here)")
    parser.add_argument("--graph", help="API-format graph JSON to run (needed with --comfyui)")
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--render", type=float, default=0.1, help="the fake's render time per image, seconds")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    fake = None
    if args.comfyui:
        if not args.graph:
            parser.error("--graph is required with --comfyui")
        url = args.comfyui.rstrip("/")
        graph = json.loads(Path(args.graph).read_text())
        graph = graph.get("prompt", graph)
    else:
        from tests.fake_comfy import FakeComfy
        fake = FakeComfy(render_delay=args.render, steps=4).start()
        url = fake.url
        graph = json.loads((ROOT / "tests" / "contract" / "prompt_ok.json").read_text())["request"]["prompt"]
    try:
        floor_s = floor_run(url, graph, list(range(1000, 1000 + args.jobs)))
        with tempfile.TemporaryDirectory() as tmp:
            gaze_s, latencies = gaze_run(url, graph, list(range(5000, 5000 + args.jobs)), Path(tmp))
    finally:
        if fake is not None:
            fake.stop()
    floor_rate, gaze_rate = args.jobs / floor_s, args.jobs / gaze_s
    median = statistics.median(latencies) if latencies else float("nan")
    result = {"floor_jobs_per_s": round(floor_rate, 3), "gaze_jobs_per_s": round(gaze_rate, 3),
              "throughput_ratio": round(gaze_rate / floor_rate, 3), "added_latency_ms_median": round(median, 1)}
    print(f"jobs: {args.jobs} on {'the fake ComfyUI' if fake else url}")
    print(f"floor  {floor_s:.2f} s  {floor_rate:.2f} jobs/s")
    print(f"GAZE   {gaze_s:.2f} s  {gaze_rate:.2f} jobs/s   ratio {result['throughput_ratio']}")
    print(f"added latency (execution_success → done, file saved): median {median:.1f} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
