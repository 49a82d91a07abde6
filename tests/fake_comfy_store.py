"""In-memory input/output/temp folders of the fake ComfyUI (PNG files made with Pillow)."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from typing import Any

from PIL import Image, PngImagePlugin

log = logging.getLogger(__name__)


def make_png(size: tuple[int, int], color: tuple[int, int, int], text: dict[str, str] | None = None) -> bytes:
    img = Image.new("RGB", size, color)
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info, compress_level=1)
    return buf.getvalue()


def make_jpeg(size: tuple[int, int] = (16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 90, 90)).save(buf, format="JPEG")
    return buf.getvalue()


def _split(name: str) -> tuple[str, str]:
    sub, _, base = name.removesuffix(" [input]").rpartition("/")
    return sub, base


class FileStore:
    """Files keyed by (type, subfolder, name); survives a fake restart like a disk would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[tuple[str, str, str], bytes] = {
            ("input", "", "example.png"): make_png((64, 64), (200, 120, 40)),
            ("input", "", "gaze_upload_test.png"): make_png((8, 8), (10, 20, 30)),
        }
        self._counters: dict[tuple[str, str], int] = {}

    def get(self, kind: str, subfolder: str, name: str) -> bytes | None:
        with self._lock:
            return self._files.get((kind, subfolder, name))

    def input_names(self) -> list[str]:
        """Top-level input files, as LoadImage lists them (subfolders are not listed)."""
        with self._lock:
            return sorted(name for (kind, sub, name) in self._files if kind == "input" and sub == "")

    def store_upload(self, kind: str, subfolder: str, name: str, data: bytes, overwrite: bool) -> str:
        """Store like /upload/image: same bytes → same name, else "name (1).png" unless overwrite."""
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        with self._lock:
            if not overwrite:
                i = 1
                while (kind, subfolder, name) in self._files:
                    if self._files[(kind, subfolder, name)] == data:
                        return name
                    name = f"{stem} ({i}){dot}{ext}"
                    i += 1
            self._files[(kind, subfolder, name)] = data
        return name

    def save_output(self, prefix: str, size: tuple[int, int], seed: int, prompt: dict,
                    extra_pnginfo: dict[str, Any]) -> dict[str, str]:
        """SaveImage: "<prefix>_NNNNN_.png" with a ``prompt`` tEXt chunk holding the graph."""
        subfolder, _, base = prefix.rpartition("/")
        color = ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)
        text = {"prompt": json.dumps(prompt)}
        text.update({k: json.dumps(v) for k, v in extra_pnginfo.items()})
        data = make_png(size, color, text)
        with self._lock:
            counter = self._counters.get((subfolder, base), 0) + 1
            self._counters[(subfolder, base)] = counter
            filename = f"{base}_{counter:05}_.png"
            self._files[("output", subfolder, filename)] = data
        return {"filename": filename, "subfolder": subfolder, "type": "output"}

    def input_digest(self, name: str) -> str:
        return hashlib.sha1(self.get("input", *_split(name)) or b"").hexdigest()

    def input_size(self, name: str) -> tuple[int, int]:
        data = self.get("input", *_split(name))
        if not data:
            return (64, 64)
        with Image.open(io.BytesIO(data)) as img:
            return img.size

    def validate_load_image(self, image: Any) -> bool | str:
        """LoadImage's VALIDATE_INPUTS: the file must exist in the input folder."""
        return True if self.get("input", *_split(str(image))) is not None else f"Invalid image file: {image}"
