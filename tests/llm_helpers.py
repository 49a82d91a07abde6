"""Helpers for the LLM-assisted creation tests: an app wired to the scripted LLM
server (and optionally GAZE's own tag server), and LoRA files with real
safetensors headers."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from gaze.tags.index import SAMPLE_CSV

SECRET = "sk-or-v1-SECRET-0123456789abcdef"


def use_llm(config, server, *, tags: bool = False, key: str = SECRET) -> None:
    """Point a TestConfig at the scripted LLM server (as if from GAZE_LLM_* variables)."""
    config.LLM_PROVIDER = "openai_compatible"
    config.LLM_BASE_URL = server.base_url
    config.LLM_MODEL = "test-model"
    config.LLM_API_KEY = key
    config.LLM_TIMEOUT_S = 10.0
    if tags:
        config.TAG_CSV = SAMPLE_CSV


def write_safetensors(path: Path, metadata: dict[str, Any] | None = None) -> Path:
    """A small but real safetensors file: one F16 tensor, and `__metadata__` when given
    (values that are not text are JSON-encoded, as the training tools do)."""
    header: dict[str, Any] = {"lora_unet_down.weight": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}
    if metadata is not None:
        header["__metadata__"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\x00\x3c\x00\x3c")
    return path


def kohya_metadata(output_name: str, tags: dict[str, int], folder: str = "10_subject", **extra: str) -> dict:
    return {"ss_output_name": output_name, "ss_base_model_version": "sdxl_base_v1-0",
            "ss_num_train_images": str(max((v for v in tags.values() if isinstance(v, int)), default=0)),
            "ss_tag_frequency": {folder: tags}, **extra}
