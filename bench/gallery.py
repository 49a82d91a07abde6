"""Gallery benchmark: 5,000 characters, each with a 1024×1024 cover.

Run from the repository root:  python bench/gallery.py

Measures, in one run and through the Flask test client:
  * server time of the first and of a middle gallery page (median of 20),
    against a floor (the problems page: the layout alone) measured the same way;
  * the HTML size of a gallery page;
  * the bytes a browser fetches for that page's images (thumbnails) against
    the bytes of the full covers of the same entries.
The last line printed is one JSON object with the headline figures.
"""
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py shadows the standard library's `queue`: keep this folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

ENTRIES = 5000
DISTINCT_COVERS = 8
RUNS = 20


def make_cover(seed: int) -> Image.Image:
    """A stand-in for a generated image: gradients, shapes, soft detail and
    fine grain, so that PNG sizes are like real 1024×1024 renders."""
    rnd = random.Random(seed)
    size = 1024
    grad = Image.linear_gradient("L").resize((size, size))
    img = Image.merge("RGB", (grad.point(lambda v: (v + seed * 37) % 256),
                              grad.rotate(90).point(lambda v: (v // 2 + 60)),
                              grad.point(lambda v: 255 - v // 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = rnd.randrange(size), rnd.randrange(size)
        r = rnd.randrange(20, 220)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(3))
    grain = Image.effect_noise((size, size), 18).convert("RGB")
    return Image.blend(img, grain, 0.12)


def build_library(base: Path) -> tuple[Path, Path]:
    data = base / "data"
    uploads = base / "uploads"
    (data / "characters").mkdir(parents=True)
    for folder in ("looks", "clothing", "actions", "styles", "scenes", "detailers", "checkpoints"):
        (data / folder).mkdir()
    covers = []
    for i in range(DISTINCT_COVERS):
        path = base / f"cover_{i}.png"
        make_cover(i).save(path, "PNG")
        covers.append(path)
    for i in range(ENTRIES):
        cid = f"char_{i:05d}"
        entry = {"character_id": cid, "character_name": f"Character {i:05d}",
                 "identity": {"hair": "long hair", "eyes": "blue eyes"},
                 "wardrobe": {"default": {"top": "shirt"}},
                 "lora": {"lora_name": f"Illustrious/Looks/{cid}.safetensors" if i % 3 else "", "lora_weight": 0.8},
                 "tags": ["bench", f"group{i % 50}"]}
        (data / "characters" / f"{cid}.json").write_text(json.dumps(entry))
        folder = uploads / "characters" / cid
        folder.mkdir(parents=True)
        os.link(covers[i % DISTINCT_COVERS], folder / "cover.png")
    return data, uploads


def timed(client, url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, response.data


def median_ms(client, url: str) -> float:
    client.get(url)  # warm: templates compiled, caches filled
    return statistics.median(timed(client, url)[0] for _ in range(RUNS))


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gaze-bench-") as tmp:
        base = Path(tmp)
        data, uploads = build_library(base)
        built = time.perf_counter()
        print(f"library: {ENTRIES} characters, {DISTINCT_COVERS} distinct covers, built in {built - started:.1f}s")

        from gaze import create_app
        from gaze.config import TestConfig
        from models import db
        config = TestConfig(base)
        config.DATA_DIR, config.UPLOADS_DIR = data, uploads
        app = create_app(config)
        synced = time.perf_counter()
        print(f"cold sync of the library: {synced - built:.1f}s")
        with app.app_context():
            db.session.execute(db.text(
                "UPDATE assets SET image_path = 'characters/' || slug || '/cover.png' WHERE category = 'characters'"))
            db.session.commit()

        client = app.test_client()
        pages = -(-ENTRIES // 48)
        middle = f"/?page={pages // 2}"
        floor = median_ms(client, "/problems")
        first = median_ms(client, "/")
        mid = median_ms(client, middle)
        search = median_ms(client, "/?q=group7&sort=newest&lora=yes")
        print(f"floor (layout only, /problems): {floor:.2f} ms")
        print(f"gallery page 1: {first:.2f} ms · page {pages // 2} of {pages}: {mid:.2f} ms · "
              f"search+filter+sort: {search:.2f} ms (medians of {RUNS})")

        _, html = timed(client, "/")
        srcs = re.findall(r'<img class="card-img-top"[^>]* src="([^"]+)"', html.decode())
        assert len(srcs) == 48, len(srcs)
        start = time.perf_counter()
        thumb_bytes = sum(len(client.get(src).data) for src in srcs)
        cold = (time.perf_counter() - start) * 1000 / len(srcs)
        start = time.perf_counter()
        assert sum(len(client.get(src).data) for src in srcs) == thumb_bytes
        warm = (time.perf_counter() - start) * 1000 / len(srcs)
        full_urls = [re.sub(r"^/thumb/", "/media/", src) for src in srcs]
        full_bytes = sum(len(client.get(url).data) for url in full_urls)
        print(f"thumbnails: {cold:.1f} ms each on first request, {warm:.2f} ms cached")
        print(f"page images: {thumb_bytes} bytes of thumbnails vs {full_bytes} bytes of full covers")

        page_median = max(first, mid)
        result = {"page_median_ms": round(page_median, 2), "html_bytes": len(html),
                  "thumb_bytes": thumb_bytes, "full_bytes": full_bytes,
                  "bytes_ratio": round(thumb_bytes / full_bytes, 4)}
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    print(f"total {time.perf_counter() - started:.1f}s; targets: page_median_ms <= 50, bytes_ratio <= 0.05")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
