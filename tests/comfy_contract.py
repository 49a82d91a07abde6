"""Access to the recorded ComfyUI v0.8.0 contract fixtures.

The fixtures are committed under ``tests/contract/`` so a fresh clone has
them. When the repository sits next to the shared recording
(``<repo>/../shared/comfyui-contract``) that folder is used as a fallback
for any file that was not copied, and tests can check the copies for drift.
"""
from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACT_DIR = REPO_ROOT / "tests" / "contract"
SHARED_CONTRACT_DIR = REPO_ROOT / ".." / "shared" / "comfyui-contract"


def contract_path(name: str) -> Path:
    """Path of a contract file, preferring the committed copy."""
    local = CONTRACT_DIR / name
    if local.exists():
        return local
    shared = SHARED_CONTRACT_DIR / name
    if shared.exists():
        log.debug("contract file %s taken from the shared folder", name)
        return shared
    raise FileNotFoundError(f"contract fixture {name!r} not found in {CONTRACT_DIR}")


@lru_cache(maxsize=None)
def _load_text(name: str) -> str:
    return contract_path(name).read_text(encoding="utf-8")


def load(name: str) -> Any:
    """Parsed JSON of a contract file (a fresh copy on every call)."""
    return json.loads(_load_text(name))


def body(name: str) -> Any:
    """The recorded response body of a contract file."""
    return load(name)["body"]


def ws_transcript(run: str | None = None) -> list[dict[str, Any]]:
    """Frames of ws_transcript.jsonl, optionally only those of one run."""
    rows = [json.loads(line) for line in _load_text("ws_transcript.jsonl").splitlines() if line.strip()]
    if run is not None:
        rows = [r for r in rows if r["run"] == run]
    return rows


def ok_graph() -> dict[str, Any]:
    """The API-format graph of the recorded successful prompt."""
    return load("prompt_ok.json")["request"]["prompt"]
