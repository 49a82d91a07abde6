"""Safe paths: every path built from a request must stay inside its root."""
from __future__ import annotations

import os
from pathlib import Path


class UnsafePath(ValueError):
    """A request tried to reach outside the folder it belongs to."""


def safe_join(root: Path | str, *parts: str) -> Path:
    """Join `parts` under `root`, resolve symlinks and `..`, and refuse any
    result outside `root`. NULs, absolute parts and drive letters are refused."""
    root_path = Path(root).resolve()
    for part in parts:
        if not isinstance(part, str) or "\x00" in part:
            raise UnsafePath("invalid path component")
        if part.startswith(("/", "\\")) or (len(part) > 1 and part[1] == ":"):
            raise UnsafePath(f"absolute path not allowed: {part!r}")
    candidate = root_path.joinpath(*parts).resolve()
    if candidate != root_path and root_path not in candidate.parents:
        raise UnsafePath(f"path leaves its folder: {os.path.join(*parts)!r}")
    return candidate


def is_inside(root: Path | str, path: Path | str) -> bool:
    try:
        root_path = Path(root).resolve()
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return resolved == root_path or root_path in resolved.parents
