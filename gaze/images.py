"""Images in the uploads folder: cover uploads, thumbnails, generated images.

Uploads are checked with Pillow (format whitelist, pixel limit) and re-encoded
under a generated name, so nothing a user sends is stored as sent. Thumbnails
are WebP, made on first request and cached under the instance folder, keyed
by the source's path, mtime and size: a changed image gets a new thumbnail.
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from .paths import UnsafePath, safe_join
from .store import atomic_write_bytes

log = logging.getLogger(__name__)

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
MAX_PIXELS = 50_000_000          # a 7000×7000 image; larger uploads are refused
THUMB_SIZE = 384                 # longest side of a thumbnail, in pixels
THUMB_QUALITY = 78
IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg", ".gif")
GENERATED_PREFIX = "gen_"
COVER_PREFIX = "cover_"


class ImageError(ValueError):
    """An upload that is not an acceptable image; the message says why."""


# ---------------------------------------------------------------- uploads

def _open_checked(stream: BinaryIO) -> Image.Image:
    try:
        img = Image.open(stream)
    except UnidentifiedImageError as exc:
        raise ImageError("the file is not an image GAZE can read (PNG, JPEG, WebP or GIF)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError("the image is too large") from exc
    if img.format not in ALLOWED_FORMATS:
        raise ImageError(f"{img.format or 'this'} images are not accepted; use PNG, JPEG, WebP or GIF")
    width, height = img.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise ImageError(f"the image is too large ({width}×{height}); "
                         f"the limit is {MAX_PIXELS // 1_000_000} megapixels")
    try:
        img.load()
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise ImageError("the image file is damaged or truncated") from exc
    return img


def save_cover(uploads: Path, category: str, slug: str, stream: BinaryIO,
               thumbs: Path | None = None) -> str:
    """Verify an uploaded image, re-encode it and store it as
    `<uploads>/<category>/<slug>/cover_<uuid>.png|webp`. Returns the path
    relative to the uploads folder. Raises ImageError for anything but a
    sane PNG/JPEG/WebP/GIF. With `thumbs`, its thumbnail is made at once."""
    img = _open_checked(stream)
    source_format = img.format
    img = ImageOps.exif_transpose(img)
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")
    folder = safe_join(uploads, category, slug)
    folder.mkdir(parents=True, exist_ok=True)
    if source_format in ("PNG", "GIF"):
        name, fmt, opts = f"{COVER_PREFIX}{uuid.uuid4().hex}.png", "PNG", {"compress_level": 6}
    else:
        name, fmt, opts = f"{COVER_PREFIX}{uuid.uuid4().hex}.webp", "WEBP", {"quality": 92, "method": 4}
    buf = BytesIO()
    img.save(buf, fmt, **opts)
    atomic_write_bytes(folder / name, buf.getvalue())
    log.info("stored cover %s/%s/%s", category, slug, name)
    relative = f"{category}/{slug}/{name}"
    make_thumbnail_for(uploads, thumbs, relative)
    return relative


def remove_cover_file(uploads: Path, relative_path: str | None) -> None:
    """Delete a previous uploaded cover (`cover_*`); generated images are kept."""
    if not relative_path or not Path(relative_path).name.startswith(COVER_PREFIX):
        return
    try:
        safe_join(uploads, relative_path).unlink()
    except (FileNotFoundError, UnsafePath):
        pass


# ------------------------------------------------------------- thumbnails

def thumbs_root(instance_dir: Path) -> Path:
    return Path(instance_dir) / "thumbs"


def version(uploads: Path, relative_path: str | None) -> int | None:
    """The source file's mtime (ns), used as the cache-busting `v` of URLs; None when missing."""
    # Called for every card of a gallery, so a plain string check instead of
    # resolving the path: it only reads a time stamp, and the routes that
    # serve files check their paths with safe_join.
    if not relative_path or relative_path.startswith(("/", "\\")) or "\x00" in relative_path \
            or ".." in relative_path.replace("\\", "/").split("/"):
        return None
    try:
        return os.stat(os.path.join(uploads, relative_path)).st_mtime_ns
    except (OSError, ValueError):
        return None


def _thumb_key(relative_path: str) -> str:
    return hashlib.sha1(relative_path.encode("utf-8")).hexdigest()[:24]


def thumbnail_file(thumbs: Path, relative_path: str, st: os.stat_result) -> Path:
    key = _thumb_key(relative_path)
    return thumbs / key[:2] / f"{key}_{st.st_mtime_ns}_{st.st_size}.webp"


def make_thumbnail_for(uploads: Path, thumbs: Path | None, relative_path: str) -> Path | None:
    """The thumbnail of an uploads file, made (and older versions removed) when
    missing. Returns None when the source is missing or is not an image."""
    if thumbs is None:
        return None
    try:
        source = safe_join(uploads, relative_path)
        st = os.stat(source)
    except (OSError, UnsafePath):
        return None
    target = thumbnail_file(thumbs, relative_path, st)
    if target.exists():
        return target
    try:
        with Image.open(source) as img:
            if img.format not in ALLOWED_FORMATS or img.size[0] * img.size[1] > MAX_PIXELS:
                return None
            img.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))  # JPEG: decode at reduced size
            img = ImageOps.exif_transpose(img)
            if img.mode not in ("RGB", "RGBA"):
                img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")
            img.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS, reducing_gap=2.0)
            buf = BytesIO()
            img.save(buf, "WEBP", quality=THUMB_QUALITY, method=4)
    except (OSError, ValueError, Image.DecompressionBombError, UnidentifiedImageError):
        log.warning("could not make a thumbnail of %s", relative_path)
        return None
    atomic_write_bytes(target, buf.getvalue())
    prefix = target.name.split("_", 1)[0] + "_"
    for old in target.parent.glob(prefix + "*.webp"):   # older versions of the same image
        if old != target:
            try:
                old.unlink()
            except FileNotFoundError:
                pass
    return target


# ------------------------------------------------------- generated images

@dataclass(frozen=True)
class GeneratedImage:
    relative_path: str     # "<category>/<slug>/gen_….png", relative to the uploads folder
    category: str
    slug: str
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.relative_path.rsplit("/", 1)[-1]


def _scan_entry(folder: Path, category: str, slug: str, out: list[GeneratedImage]) -> None:
    try:
        with os.scandir(folder) as it:
            for item in it:
                name = item.name
                if name.startswith(GENERATED_PREFIX) and name.lower().endswith(IMAGE_SUFFIXES) and item.is_file():
                    out.append(GeneratedImage(f"{category}/{slug}/{name}", category, slug,
                                              item.stat().st_mtime_ns))
    except (FileNotFoundError, NotADirectoryError):
        pass


def _subdirs(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return [d.name for d in it if d.is_dir() and not d.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []


def list_generated(uploads: Path, categories: tuple[str, ...] | list[str],
                   category: str | None = None, slug: str | None = None) -> list[GeneratedImage]:
    """Every generated image (`<uploads>/<category>/<slug>/gen_*`), newest first,
    optionally of one category and one entry. Read from the file system."""
    out: list[GeneratedImage] = []
    for cat in ([category] if category else categories):
        if cat not in categories:
            continue
        try:
            cat_dir = safe_join(uploads, cat)
        except UnsafePath:
            continue
        slugs = [slug] if slug else _subdirs(cat_dir)
        for s in slugs:
            try:
                _scan_entry(safe_join(cat_dir, s), cat, s, out)
            except UnsafePath:
                continue
    out.sort(key=lambda g: (g.mtime_ns, g.name), reverse=True)
    return out


def entries_with_images(uploads: Path, category: str) -> list[str]:
    """Slugs of one category that have at least one generated image."""
    try:
        cat_dir = safe_join(uploads, category)
    except UnsafePath:
        return []
    found = []
    for s in sorted(_subdirs(cat_dir)):
        probe: list[GeneratedImage] = []
        _scan_entry(cat_dir / s, category, s, probe)
        if probe:
            found.append(s)
    return found
