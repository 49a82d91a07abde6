"""Under load: GAZE served by waitress (as in production) and driven by 20
threads mixing gallery reads, edits, generations and rescans answers every request without
a server error, loses no edit, finishes every job, and keeps its memory bounded.

Operations are discovered from `app.url_map` at run time: edits go through the
`save_json` routes when the app has them, and rescans stand in otherwise. To
add a step (e.g. generation), write `op_<name>(ctx, rng)` and add it to
`operations()` with a weight.
"""
from __future__ import annotations

import gc
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import requests

from gaze import categories, serve
from tests.conftest import LiveServer
from tests.routes import SAMPLE_UPLOAD, prepare

THREADS = 20
OPS_PER_THREAD = 40
DEADLINE_S = 30.0
RSS_GROWTH_LIMIT_MB = 150
_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class Ctx:
    """What one load thread has: its own browser-like session and its entries."""

    base: str
    session: requests.Session
    token: str
    thread: int
    data_dir: Path
    edit_targets: list[tuple[str, str, Path]]  # (save_json URL, category, JSON file) owned by this thread
    last_edit: dict[Path, int] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)
    timings: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-CSRFToken": self.token, **kwargs.pop("headers", {})} if method != "GET" else {}
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, headers=headers, timeout=30,
                                            allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.errors.append(f"{method} {path}: {exc!r}")
            raise
        self.timings.append(time.perf_counter() - started)
        if response.status_code >= 500:
            self.errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response


# ----------------------------------------------------------------- operations

READ_PATHS = ["/", "/outfits/", "/actions/", "/styles/", "/scenes/", "/detailers/", "/looks/",
              "/checkpoints", "/problems", f"/media/{SAMPLE_UPLOAD}", "/api/health"]


def op_read(ctx: Ctx, rng: random.Random) -> None:
    path = rng.choice(READ_PATHS)
    response = ctx.request("GET", path)
    if response.status_code != 200:
        ctx.errors.append(f"GET {path}: {response.status_code}")


def op_edit(ctx: Ctx, rng: random.Random) -> None:
    if not ctx.edit_targets:  # entries are shared out between threads: never two editors of one
        return op_read(ctx, rng)
    url, _category, path = rng.choice(ctx.edit_targets)
    data = json.loads(path.read_text())
    n = ctx.last_edit.get(path, 0) + 1
    data["load_test"] = {"thread": ctx.thread, "n": n}
    response = ctx.request("POST", url, data=json.dumps(data), headers={"Content-Type": "application/json"})
    if response.status_code == 200:
        ctx.last_edit[path] = n
    else:
        ctx.errors.append(f"POST {url}: {response.status_code} {response.text[:200]}")


def op_rescan(ctx: Ctx, rng: random.Random) -> None:
    only = rng.choice(["", *categories.TOKENS])
    response = ctx.request("POST", "/rescan", data={"csrf_token": ctx.token, "category": only})
    if response.status_code != 302:
        ctx.errors.append(f"POST /rescan {only!r}: {response.status_code}")


GENERATE_CHARACTERS = ["mira_vance", "hana_okabe", "sera_lindqvist", "__random__"]


def op_generate(ctx: Ctx, rng: random.Random) -> None:
    body = {"character": rng.choice(GENERATE_CHARACTERS), "quality": "draft"}
    response = ctx.request("POST", "/api/generate", data=json.dumps(body),
                           headers={"Content-Type": "application/json"})
    if response.status_code == 202:
        ctx.jobs.append(response.json()["job_id"])
    else:
        ctx.errors.append(f"POST /api/generate: {response.status_code} {response.text[:200]}")


def operations(has_edits: bool) -> list[tuple[Callable[[Ctx, random.Random], None], int]]:
    """(operation, weight). Edits when the app has save_json routes, else rescans."""
    ops = [(op_read, 6), (op_edit, 3) if has_edits else (op_rescan, 2), (op_generate, 1)]
    if has_edits:
        ops.append((op_rescan, 1))
    return ops


# ----------------------------------------------------------------- discovery

def save_json_url(app, cat: categories.Category, slug: str) -> str | None:
    """The URL of the app's save_json route for one entry, if the app has one."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.rule.endswith("/save_json") or "POST" not in rule.methods or "slug" not in rule.arguments:
            continue
        others = set(rule.arguments) - {"slug"}
        for token in (cat.singular, cat.key, cat.folder):
            built = rule.build({"slug": slug, **{arg: token for arg in others}}, append_unknown=False)
            if built is None:
                continue
            try:
                endpoint, args = adapter.match(built[1], method="POST")
            except Exception:  # noqa: BLE001 - not this rule's URL
                continue
            if endpoint == rule.endpoint and args.get("slug") == slug and \
                    all(categories.get(str(args[a])) is cat for a in others):
                return built[1]
    return None


def edit_targets(app, data_dir: Path) -> list[tuple[str, str, Path]]:
    from models import MODELS
    targets = []
    with app.app_context():
        for key, model in MODELS.items():
            cat = categories.REGISTRY[key]
            for entry in model.query.order_by(model.slug):
                url = save_json_url(app, cat, entry.slug)
                if url:
                    targets.append((url, cat.key, data_dir / cat.folder / entry.filename))
    return targets


@pytest.fixture
def load_app(config, library):
    """The app with its job worker driving a fake ComfyUI, as in production."""
    from tests.fake_comfy import FakeComfy
    from tests.gen_fixtures import DETECTOR, library_loras
    from tests.jobs_helpers import start_app, stop
    with FakeComfy(render_delay=0.02, loras=library_loras(library)) as fake:
        app = start_app(config, [fake.url], FACE_DETECTOR=DETECTOR, HAND_DETECTOR=DETECTOR)
        yield app
        stop(app)


@pytest.mark.slow
def test_twenty_threads_mixing_reads_edits_generations_and_rescans(load_app, library):
    app = load_app
    prepare(app)  # a job row and an uploaded image for the read mix
    targets = edit_targets(app, library)
    has_edits = bool(targets)
    server = LiveServer(app, threads=serve.THREADS).start()
    contexts: list[Ctx] = []
    try:
        for i in range(THREADS):
            session = requests.Session()
            token = _TOKEN.search(session.get(server.url + "/", timeout=30).text).group(1)
            contexts.append(Ctx(server.url, session, token, i, library, targets[i::THREADS]))
        for ctx in contexts:  # warm up every page once before measuring memory
            for path in READ_PATHS:
                ctx.request("GET", path)
            break
        gc.collect()
        rss_before = rss_mb()
        ops = operations(has_edits)
        deadline = time.monotonic() + DEADLINE_S
        barrier = threading.Barrier(THREADS)

        def run(ctx: Ctx) -> None:
            rng = random.Random(ctx.thread)
            barrier.wait()
            for _ in range(OPS_PER_THREAD):
                if time.monotonic() > deadline:
                    break
                op = rng.choices([o for o, _w in ops], weights=[w for _o, w in ops])[0]
                try:
                    op(ctx, rng)
                except requests.RequestException:
                    pass  # recorded in ctx.errors

        started = time.monotonic()
        threads = [threading.Thread(target=run, args=(ctx,)) for ctx in contexts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DEADLINE_S + 60)
        elapsed = time.monotonic() - started
        gc.collect()
        rss_after = rss_mb()
    finally:
        server.stop()

    # every job reaches a terminal state, and succeeds
    from tests.jobs_helpers import wait_for
    job_ids = [j for ctx in contexts for j in ctx.jobs]
    assert job_ids, "the load queued generations"
    job_states = wait_for(app, job_ids, timeout=120)
    assert all(st["status"] == "done" for st in job_states.values()), \
        [st for st in job_states.values() if st["status"] != "done"][:3]
    errors = [e for ctx in contexts for e in ctx.errors]
    timings = sorted(t for ctx in contexts for t in ctx.timings)
    assert not errors, f"{len(errors)} failed requests:\n" + "\n".join(errors[:20])
    assert len(timings) >= THREADS * 10, "the load ran"
    # no lost edit: every thread's last edit of each of its entries is in the file and the row
    from models import Asset
    with app.app_context():
        rows = {(r.category, r.filename): r.data for r in Asset.query}
    edits = 0
    for ctx in contexts:
        for _url, category, path in ctx.edit_targets:
            n = ctx.last_edit.get(path)
            if n is None:
                continue
            expected = {"thread": ctx.thread, "n": n}
            assert json.loads(path.read_text()).get("load_test") == expected, f"{path.name}: edit lost in the file"
            assert rows[(category, path.name)].get("load_test") == expected, f"{path.name}: edit lost in the DB"
            edits += 1
    assert not has_edits or edits > 0
    growth = rss_after - rss_before
    assert growth < RSS_GROWTH_LIMIT_MB, f"memory grew by {growth:.0f} MB"
    p50, p95 = timings[len(timings) // 2], timings[int(len(timings) * 0.95)]
    print(f"\nload: {len(timings)} requests in {elapsed:.1f}s ({len(timings) / elapsed:.0f}/s), "
          f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, {edits} entries edited, "
          f"RSS {rss_before:.0f} → {rss_after:.0f} MB, edits via save_json: {has_edits}, {len(job_ids)} jobs done")
