"""Atomic writes, slug rules and configuration defaults."""
from __future__ import annotations

import json
import os

import pytest

from gaze import store
from gaze.config import Config
from gaze.paths import UnsafePath, safe_join
from gaze.schema import checkpoint_slug, slugify


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a.json"
    store.atomic_write_json(target, {"b": 1, "a": 2, "unknown": {"x": [1]}})
    text = target.read_text()
    assert json.loads(text) == {"b": 1, "a": 2, "unknown": {"x": [1]}}
    assert text.index('"b"') < text.index('"a"'), "key order is kept"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"], "no temporary file left"


def test_failure_between_write_and_rename_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "entry.json"
    store.atomic_write_json(target, {"id": "old"})

    def broken_replace(src, dst):
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.atomic_write_json(target, {"id": "new"})
    assert json.loads(target.read_text()) == {"id": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"], "the temporary file is cleaned up"


def test_failure_during_write_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "entry.json"
    store.atomic_write_json(target, {"id": "old"})
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("fsync failed")))
    with pytest.raises(OSError):
        store.atomic_write_json(target, {"id": "new"})
    assert json.loads(target.read_text()) == {"id": "old"}


@pytest.mark.parametrize("asset_id, slug", [
    ("yuna_(ff10)", "yuna_ff10"),
    ("tifa_lockhart", "tifa_lockhart"),
    ("Mira Vance-2.0", "MiraVance20"),
    ("kaito_(winter)", "kaito_winter"),
    ("émilie", "milie"),
])
def test_slug_rule(asset_id, slug):
    assert slugify(asset_id) == slug


def test_slug_of_id_without_ascii_is_stable_and_nonempty():
    a = slugify("初音")
    assert a and a == slugify("初音") and a != slugify("雪")
    assert all(ch.isalnum() or ch == "_" for ch in a)


def test_checkpoint_slug_replaces():
    assert checkpoint_slug("Illustrious/test_model.safetensors") == "Illustrious_test_model_safetensors"


def test_safe_join_refuses_escapes(tmp_path):
    assert safe_join(tmp_path, "a", "b.json") == (tmp_path / "a" / "b.json").resolve()
    for bad in ["../x", "a/../../x", "/etc/passwd", "a\x00b"]:
        with pytest.raises(UnsafePath):
            safe_join(tmp_path, bad)


def test_config_defaults(monkeypatch):
    for var in ["GAZE_DATA_DIR", "GAZE_INSTANCE_DIR", "GAZE_UPLOADS_DIR", "GAZE_LORA_ROOT",
                "GAZE_CHECKPOINT_ROOT", "COMFYUI_URL", "GAZE_HOST", "GAZE_PORT", "SECRET_KEY"]:
        monkeypatch.delenv(var, raising=False)
    cfg = Config()
    assert cfg.DATA_DIR.name == "data" and cfg.INSTANCE_DIR.name == "instance"
    assert cfg.UPLOADS_DIR.parts[-2:] == ("static", "uploads")
    assert cfg.LORA_ROOT is None and cfg.CHECKPOINT_ROOT is None
    assert cfg.COMFYUI_URLS == ["http://127.0.0.1:8188"]
    assert (cfg.HOST, cfg.PORT) == ("127.0.0.1", 5000)


def test_config_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GAZE_DATA_DIR", str(tmp_path / "lib"))
    monkeypatch.setenv("COMFYUI_URL", "http://a:1, http://b:2/")
    monkeypatch.setenv("GAZE_PORT", "6000")
    cfg = Config()
    assert cfg.DATA_DIR == tmp_path / "lib"
    assert cfg.COMFYUI_URLS == ["http://a:1", "http://b:2"]
    assert cfg.PORT == 6000


def test_secret_key_generated_once_and_kept(tmp_path, monkeypatch):
    from gaze.config import load_secret_key
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_secret_key(tmp_path)
    assert len(first) >= 32 and load_secret_key(tmp_path) == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
