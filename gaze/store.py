"""Read and atomically write the JSON files of one category.

Writes go to a temporary file in the same folder, are flushed and fsynced,
then renamed over the target: a crash at any point leaves either the old file
or the new one, whole. Key order and unknown keys are kept as given.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from .paths import safe_join

log = logging.getLogger(__name__)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def dumps(data: dict) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, dumps(data))


def read_json(path: Path | str):
    """Parse a JSON file; raises json.JSONDecodeError / OSError / UnicodeError."""
    return json.loads(read_text(path))


def read_text(path: Path | str) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8")


def describe_json_error(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    if isinstance(exc, UnicodeError):
        return "the file is not UTF-8 text"
    return str(exc)


class CategoryStore:
    """The JSON files of one data sub-folder."""

    def __init__(self, data_dir: Path, folder: str):
        self.root = Path(data_dir) / folder

    def path_for(self, filename: str) -> Path:
        if not filename.endswith(".json") or "/" in filename or "\\" in filename:
            raise ValueError(f"not a JSON file name: {filename!r}")
        return safe_join(self.root, filename)

    def read(self, filename: str):
        return read_json(self.path_for(filename))

    def write(self, filename: str, data: dict) -> Path:
        path = self.path_for(filename)
        atomic_write_json(path, data)
        log.info("wrote %s/%s", self.root.name, filename)
        return path

    def delete(self, filename: str) -> bool:
        try:
            self.path_for(filename).unlink()
            return True
        except FileNotFoundError:
            return False

    def exists(self, filename: str) -> bool:
        return self.path_for(filename).exists()

    def scan(self) -> dict[str, os.stat_result]:
        """filename → stat for every *.json file (temporary files ignored)."""
        out: dict[str, os.stat_result] = {}
        try:
            with os.scandir(self.root) as it:
                for entry in it:
                    name = entry.name
                    if name.endswith(".json") and not name.startswith(".") and entry.is_file():
                        out[name] = entry.stat()
        except FileNotFoundError:
            pass
        return out

    def unique_filename(self, stem: str) -> str:
        """A file name for a new entry that does not overwrite an existing file."""
        safe = "".join(ch if ch.isalnum() or ch in "_-()" else "_" for ch in stem).strip("._") or "entry"
        name, n = f"{safe}.json", 2
        while self.path_for(name).exists():
            name, n = f"{safe}_{n}.json", n + 1
        return name
