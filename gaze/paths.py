"""Safe paths: every path built from a request must stay inside its root."""
from __future__ import annotations

import os
from pathlib import Path

NAME_MAX = 255    # bytes in one file name (Linux, macOS, Windows)
PATH_MAX = 4096   # bytes in a whole path (Linux)


class UnsafePath(ValueError):
    """A request tried to reach outside the folder it belongs to."""


def safe_join(root: Path | str, *parts: str) -> Path:
    """Join `parts` under `root`, resolve symlinks and `..`, and refuse any
    result outside `root`. NULs, absolute parts and drive letters are refused,
    and so are names no file system can hold (unencodable, too long), so that
    callers never meet an OSError for them."""
    root_path = Path(root).resolve()
    for part in parts:
        if not isinstance(part, str) or "\x00" in part:
            raise UnsafePath("invalid path component")
        if part.startswith(("/", "\\")) or (len(part) > 1 and part[1] == ":"):
            raise UnsafePath(f"absolute path not allowed: {part!r}")
        try:
            encoded = os.fsencode(part)
        except UnicodeError:
            raise UnsafePath("invalid characters in path") from None
        if len(encoded) > PATH_MAX or any(len(name) > NAME_MAX for name in encoded.split(b"/")):
            raise UnsafePath("path too long")
    try:
        candidate = root_path.joinpath(*parts).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise UnsafePath("path cannot be resolved") from None
    if candidate != root_path and root_path not in candidate.parents:
        raise UnsafePath(f"path leaves its folder: {os.path.join(*parts)!r}")
    if len(os.fsencode(candidate)) > PATH_MAX:
        raise UnsafePath("path too long")
    return candidate


def is_inside(root: Path | str, path: Path | str) -> bool:
    try:
        root_path = Path(root).resolve()
        resolved = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return resolved == root_path or root_path in resolved.parents
