"""A LoRA's own metadata from its safetensors header, read by hand (no tensors are loaded).

A safetensors file starts with an 8-byte little-endian header length, then that
many bytes of JSON: tensor descriptions plus an optional ``__metadata__`` object
of text values. Training tools (kohya's sd-scripts) put ``ss_tag_frequency``
(JSON text: dataset folder → tag → count), ``ss_output_name``,
``ss_base_model_version`` and the ``modelspec.*`` keys there.
"""
from __future__ import annotations

import json
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: Headers larger than this are refused (real ones are a few hundred KB at most).
MAX_HEADER_BYTES = 64 * 1024 * 1024
_REPEATS_PREFIX = re.compile(r"^\d+_")
_GENERIC_FOLDERS = {"img", "image", "images", "train", "training", "dataset", "data", "reg", "regularization"}


class MetadataError(ValueError):
    """The file is not a readable safetensors file; the message says why."""


def read_header(path: Path) -> dict:
    """The JSON header of a safetensors file.

    Raises:
        MetadataError: unreadable file, absurd or truncated header, or a header that is not a JSON object.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise MetadataError("the file is too short to be a safetensors file")
            (length,) = struct.unpack("<Q", head)
            if length < 2 or length > MAX_HEADER_BYTES:
                raise MetadataError(f"the header length ({length} bytes) is not plausible: "
                                    "not a safetensors file, or a damaged one")
            size = path.stat().st_size
            if 8 + length > size:
                raise MetadataError(f"the header claims {length} bytes but the file has only {size - 8}: "
                                    "the file is truncated or damaged")
            raw = fh.read(length)
    except OSError as exc:
        raise MetadataError(f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        header = json.loads(raw.decode("utf-8").rstrip(" \x00"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MetadataError(f"the header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise MetadataError("the header is not a JSON object")
    return header


@dataclass
class LoraInfo:
    """What a LoRA file says about itself."""

    name: str = ""                 # modelspec.title, else ss_output_name, else the file name
    output_name: str = ""
    base_model: str = ""           # ss_base_model_version / modelspec.architecture
    triggers: list[str] = field(default_factory=list)
    tag_counts: list[tuple[str, int]] = field(default_factory=list)   # most frequent first
    images: int = 0
    has_metadata: bool = False

    def top_tags(self, limit: int = 40, exclude: set[str] | None = None) -> list[str]:
        skip = {t.lower() for t in (exclude or set())}
        return [tag for tag, _ in self.tag_counts if tag.lower() not in skip][:limit]


def _text(meta: dict, key: str) -> str:
    value = meta.get(key)
    return value.strip() if isinstance(value, str) else ""


def _clean_tag(tag: str) -> str:
    return " ".join(tag.replace("_", " ").split()) if not re.fullmatch(r"[\W_]+", tag.strip()) else tag.strip()


def tag_frequency(raw: str) -> tuple[list[tuple[str, int]], list[str]]:
    """``ss_tag_frequency`` → (tags by total count, dataset folder names); bad JSON gives nothing."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return [], []
    if not isinstance(value, dict):
        return [], []
    counts: Counter[str] = Counter()
    folders: list[str] = []
    for folder, tags in value.items():
        folders.append(str(folder))
        if not isinstance(tags, dict):
            continue
        for tag, count in tags.items():
            if not isinstance(tag, str) or isinstance(count, bool) or not isinstance(count, (int, float)):
                continue
            clean = _clean_tag(tag)
            if clean and len(clean) <= 100:
                counts[clean] += int(count)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0])), folders


def _folder_trigger(folder: str) -> str:
    """Kohya folders are named ``<repeats>_<trigger> [class]``: the part after the repeats."""
    name = _REPEATS_PREFIX.sub("", folder.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return "" if not name or name.lower() in _GENERIC_FOLDERS or name == folder.strip() else name


def read_lora_info(path: Path) -> LoraInfo:
    """The name, base model, trigger words and training tags of a LoRA file.

    Raises:
        MetadataError: when the file cannot be read as safetensors.
    """
    header = read_header(path)
    meta = header.get("__metadata__")
    meta = meta if isinstance(meta, dict) else {}
    info = LoraInfo(has_metadata=bool(meta))
    info.output_name = _text(meta, "ss_output_name")
    info.name = _text(meta, "modelspec.title") or info.output_name or path.stem
    info.base_model = _text(meta, "ss_base_model_version") or _text(meta, "modelspec.architecture")
    info.tag_counts, folders = tag_frequency(_text(meta, "ss_tag_frequency"))
    trigger = _text(meta, "modelspec.trigger_phrase")
    if trigger:
        info.triggers = [t.strip() for t in trigger.split(",") if t.strip()]
    else:
        info.triggers = list(dict.fromkeys(t for t in map(_folder_trigger, folders) if t))
    try:
        info.images = int(_text(meta, "ss_num_train_images") or 0)
    except ValueError:
        info.images = 0
    return info
