"""Benchmark the files → DB sync against the floor of reading the files.

Generates 10,000 JSON assets across every category in a temporary folder,
then measures a cold sync, a no-op rescan and a rescan after 10 changed
files, and in the same run the floors: reading + parsing every file in a bare
loop, and listing + stat-ing them. Run from the repo root:

    python bench/sync.py
"""
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py shadows the standard library's `queue`: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gaze import categories  # noqa: E402
from gaze.config import TestConfig  # noqa: E402

TOTAL = 10_000


def make_entry(cat, i: int) -> dict:
    data = {cat.id_key: f"{cat.singular}_{i:05d}", cat.name_key: f"{cat.label} {i}"}
    for section in cat.sections:
        data[section.name] = {k: f"tag {k} {i % 17}, other tag" for k in section.keys}
    if cat.key == "characters":
        data["wardrobe"] = {"default": data["wardrobe"]}
    for key in cat.text_fields:
        data[key] = f"{key} text {i}"
    for key in cat.list_fields:
        data[key] = [f"t{i % 7}", "sample"]
    if cat.prompt_field:
        data[cat.prompt_field] = ["detailed", f"detail {i}"]
    data["lora"] = {"lora_name": f"{cat.lora_prefix}x{i}.safetensors", "lora_weight": 0.8, "lora_triggers": "trig"}
    return data


def generate(root: Path) -> list[Path]:
    cats = list(categories.REGISTRY.values())
    files = []
    for i in range(TOTAL):
        cat = cats[i % len(cats)]
        folder = root / cat.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{cat.singular}_{i:05d}.json"
        path.write_text(json.dumps(make_entry(cat, i), indent=2))
        files.append(path)
    return files


def best_of(n: int, fn) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    import logging
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        data_dir = tmp_path / "data"
        files = generate(data_dir)
        folders = sorted({p.parent for p in files})

        def read_parse_floor():
            for path in files:
                with open(path, "rb") as fh:
                    json.loads(fh.read().decode("utf-8"))

        def stat_floor():
            for folder in folders:
                with os.scandir(folder) as it:
                    for entry in it:
                        if entry.name.endswith(".json"):
                            entry.stat()

        read_parse = best_of(3, read_parse_floor)
        stat_s = best_of(5, stat_floor)

        from gaze import create_app
        from gaze.sync import sync_all
        cfg = TestConfig(tmp_path)
        cfg.SYNC_ON_START = False
        app = create_app(cfg)
        with app.app_context():
            t0 = time.perf_counter()
            report = sync_all(data_dir)
            cold = time.perf_counter() - t0
            assert report.added == TOTAL, report
            noop = best_of(5, lambda: sync_all(data_dir))

            def change_ten():
                for path in files[:: TOTAL // 10][:10]:
                    data = json.loads(path.read_text())
                    data["note"] = time.time_ns()
                    path.write_text(json.dumps(data))
                    st = path.stat()
                    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
            timings = []
            for _ in range(5):
                change_ten()
                t0 = time.perf_counter()
                r = sync_all(data_dir)
                timings.append(time.perf_counter() - t0)
                assert r.updated == 10, r
            ten = min(timings)

    result = {
        "cold_sync_s": round(cold, 4), "read_parse_floor_s": round(read_parse, 4),
        "cold_ratio": round(cold / read_parse, 2),
        "noop_rescan_s": round(noop, 4), "stat_floor_s": round(stat_s, 4),
        "noop_ratio": round(noop / stat_s, 2),
        "ten_changed_s": round(ten, 4), "ten_changed_ratio": round(ten / noop, 2),
    }
    out = sys.stdout
    out.write(f"files: {TOTAL}\n")
    out.write(f"cold sync      {cold:.3f} s   floor (read+parse) {read_parse:.3f} s   ratio {result['cold_ratio']}\n")
    out.write(f"no-op rescan   {noop:.3f} s   floor (list+stat)  {stat_s:.3f} s   ratio {result['noop_ratio']}\n")
    out.write(f"10 changed     {ten:.3f} s   vs no-op ratio {result['ten_changed_ratio']}\n")
    out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
