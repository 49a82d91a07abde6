"""Crash safety: a writer killed with SIGKILL at random moments never leaves a
torn JSON file or state that breaks the sync, and the database can always be
rebuilt from the files (`flask --app app rescan --full`)."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gaze import create_app, store
from gaze.config import TestConfig as _TestConfig
from gaze.store import CategoryStore
from tests.conftest import REPO

ROUNDS = 50
FILES = ("crash_a", "crash_b", "crash_c")

# The supervisor imports GAZE once; for each "go" it forks a writer that
# rewrites the files forever, alternating each between its old and new
# version, prints the writer's pid, and reports how the writer ended.
SUPERVISOR = r"""
import os, sys
from pathlib import Path
from gaze.store import atomic_write_json
from tests.test_crash_safety import version
folder, names = Path(sys.argv[1]), sys.argv[2].split(",")
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        i = 0
        while True:
            for name in names:
                atomic_write_json(folder / f"{name}.json", version(name, "new" if i % 2 == 0 else "old"))
            i += 1
    print(pid, flush=True)
    _pid, status = os.waitpid(pid, 0)
    print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1, flush=True)
"""


def version(name: str, which: str) -> dict:
    """A valid character entry with a sizable payload unique to (name, which)."""
    fill = "n" if which == "new" else "o"
    return {"character_id": name, "character_name": f"{name} {which}", "version": which,
            "identity": {"hair": f"{which} hair"},
            "notes": [f"{name}-{which}-{i:05d}-" + fill * 150 for i in range(1500)]}


def _check_files(folder: Path) -> dict[str, str]:
    """Every file is exactly the old or the new version, as valid JSON."""
    seen = {}
    for name in FILES:
        raw = (folder / f"{name}.json").read_bytes()
        data = json.loads(raw)  # valid JSON, never torn
        assert data in (version(name, "old"), version(name, "new")), f"{name}.json is a mix of versions"
        assert raw == store.dumps(data), f"{name}.json has extra bytes"
        seen[name] = data["version"]
    return seen


@pytest.mark.slow
def test_sigkill_during_writes_never_tears_a_file(tmp_path, library):
    folder = library / "characters"
    for name in FILES:
        store.atomic_write_json(folder / f"{name}.json", version(name, "old"))
    rng = random.Random(1234)
    versions_seen: set[str] = set()
    started = time.monotonic()
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(folder), ",".join(FILES)],
                                  cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for _round in range(ROUNDS):
            supervisor.stdin.write("go\n")
            supervisor.stdin.flush()
            writer = int(supervisor.stdout.readline())
            time.sleep(rng.uniform(0.0, 0.08))
            os.kill(writer, signal.SIGKILL)
            assert int(supervisor.stdout.readline()) == signal.SIGKILL
            versions_seen |= set(_check_files(folder).values())
    finally:
        supervisor.stdin.close()
        supervisor.wait(timeout=30)
        supervisor.stdout.close()
    leftovers = sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))
    assert versions_seen == {"old", "new"}, "the kills landed at different points of the cycle"
    assert all(p.startswith(".") for p in leftovers), leftovers
    # The temporary files a kill leaves behind are invisible to the sync...
    assert not any(name.startswith(".") for name in CategoryStore(library, "characters").scan())
    # ...and a GAZE started on this folder loads everything, with no problem reported.
    app = create_app(_TestConfig(tmp_path))
    from models import Character, LibraryProblem, db
    with app.app_context():
        assert LibraryProblem.query.count() == 0
        rows = {c.asset_id: c for c in Character.query}
        assert len(rows) == 8 + len(FILES)
        for name in FILES:
            on_disk = json.loads((folder / f"{name}.json").read_text())
            assert (rows[name].data["version"], rows[name].data["notes"]) == (on_disk["version"], on_disk["notes"])
        db.session.remove()
        db.engine.dispose()
    print(f"{ROUNDS} kills in {time.monotonic() - started:.1f}s, {len(leftovers)} temporary files left")


def test_rescan_full_rebuilds_the_database(app, library):
    from models import Asset, Checkpoint, db
    with app.app_context():
        before = {(a.category, a.slug): a.data for a in Asset.query}
        checkpoints = {c.checkpoint_path: c.data for c in Checkpoint.query}
        assert len(before) > 30
        Asset.query.delete()
        Checkpoint.query.delete()
        db.session.commit()
        assert Asset.query.count() == 0
    result = app.test_cli_runner().invoke(args=["rescan", "--full"])
    assert result.exit_code == 0, result.output
    assert f"{len(before) + len(checkpoints)} added" in result.output
    with app.app_context():
        assert {(a.category, a.slug): a.data for a in Asset.query} == before
        assert {c.checkpoint_path: c.data for c in Checkpoint.query} == checkpoints


def test_rescan_picks_up_files_changed_behind_gazes_back(app, library):
    path = library / "characters" / "mira_vance.json"
    data = json.loads(path.read_text())
    data["character_name"] = "Mira, edited by hand"
    path.write_text(json.dumps(data))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    (library / "clothing" / "broken.json").write_text("{not json")
    result = app.test_cli_runner().invoke(args=["rescan", "--category", "characters"])
    assert result.exit_code == 0 and "1 updated" in result.output
    result = app.test_cli_runner().invoke(args=["rescan"])
    assert "1 problems" in result.output and "broken.json" in result.output
    from models import Character
    with app.app_context():
        assert Character.query.filter_by(slug="mira_vance").one().name == "Mira, edited by hand"


def test_flask_cli_rescan_command_as_documented(tmp_path, library):
    """`flask --app app rescan --full`, the command the README gives, run for real."""
    flask = Path(sys.executable).with_name("flask")
    env = {**os.environ, "GAZE_DATA_DIR": str(library), "GAZE_INSTANCE_DIR": str(tmp_path / "instance"),
           "GAZE_UPLOADS_DIR": str(tmp_path / "uploads"), "GAZE_START_WORKER": "0"}
    db_file = tmp_path / "instance" / "gaze.db"
    first = subprocess.run([str(flask), "--app", "app", "rescan", "--full"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert db_file.exists()
    db_file.unlink()  # the database lost: the files rebuild it
    second = subprocess.run([str(flask), "--app", "app", "rescan", "--full"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "0 problems" in second.stdout
