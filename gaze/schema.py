"""Per-category schema: fill missing sub-keys with defaults, report wrong types.

`normalize` never drops unknown keys and keeps the file's key order; keys the
file lacks are appended in schema order. A file is malformed only when it is
not an object, lacks its id, or has values of the wrong type.
"""
from __future__ import annotations

import hashlib
import re

from .categories import CHARACTERS, CHECKPOINT_DEFAULTS, LORA_KEYS, Category

_SLUG_DROP = re.compile(r"[^a-zA-Z0-9_]")


def slugify(asset_id: str) -> str:
    """SPEC §2: drop every character outside [a-zA-Z0-9_]. Ids with none left
    (e.g. entirely non-ASCII) get a stable hash-based slug instead of ''."""
    slug = _SLUG_DROP.sub("", asset_id)
    if not slug:
        slug = "id_" + hashlib.sha1(asset_id.encode("utf-8")).hexdigest()[:10]
    return slug


def checkpoint_slug(path: str) -> str:
    """Checkpoint slugs replace (not drop) characters outside [a-zA-Z0-9_]."""
    return _SLUG_DROP.sub("_", path)


#: GAZE's own state inside an entry's JSON (cover, default prompt fields), so the
#: files stay the whole truth: a database rebuilt from them loses nothing.
STATE_KEY = "_gaze"


def entry_state(data: dict) -> dict:
    state = data.get(STATE_KEY) if isinstance(data, dict) else None
    return state if isinstance(state, dict) else {}


def state_cover(data: dict) -> str | None:
    cover = entry_state(data).get("cover")
    return cover if isinstance(cover, str) and cover else None


def state_default_fields(data: dict) -> list[str] | None:
    fields = entry_state(data).get("default_fields")
    if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
        return fields
    return None


class SchemaError(ValueError):
    """Raised with a list of readable problems (one per bad field)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _text(value, where: str, errors: list[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    errors.append(f"{where} must be text, not {type(value).__name__}")
    return ""


def _text_dict(raw, keys, where: str, errors: list[str]) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append(f"{where} must be an object, not {type(raw).__name__}")
        return {k: "" for k in keys}
    if all(type(v) is str for v in raw.values()) and all(k in raw for k in keys):
        return dict(raw)  # the common case: nothing to fill or check
    out = {}
    for k, v in raw.items():
        out[k] = _text(v, f"{where}.{k}", errors) if (k in keys or isinstance(v, (str, type(None)))) else v
    for k in keys:
        out.setdefault(k, "")
    return out


def _lora(raw, errors: list[str]) -> dict:
    if (type(raw) is dict and type(raw.get("lora_name")) is str and type(raw.get("lora_triggers")) is str
            and type(raw.get("lora_weight")) in (int, float)):
        return dict(raw)  # the common case: complete and well typed
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append(f"lora must be an object, not {type(raw).__name__}")
        raw = {}
    out = dict(raw)
    out["lora_name"] = _text(raw.get("lora_name"), "lora.lora_name", errors)
    out["lora_triggers"] = _text(raw.get("lora_triggers"), "lora.lora_triggers", errors)
    weight = raw.get("lora_weight", 1.0)
    if weight is None or weight == "":
        weight = 1.0
    if isinstance(weight, bool) or not isinstance(weight, (int, float, str)):
        errors.append("lora.lora_weight must be a number")
        weight = 1.0
    elif isinstance(weight, str):
        try:
            weight = float(weight)
        except ValueError:
            errors.append(f"lora.lora_weight must be a number, not {weight!r}")
            weight = 1.0
    out["lora_weight"] = weight
    return {k: out[k] for k in LORA_KEYS} | {k: v for k, v in out.items() if k not in LORA_KEYS}


def _str_list(raw, where: str, errors: list[str]) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        errors.append(f"{where} must be a list of text")
        return []
    return raw


def _bool(value, where: str, errors: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    errors.append(f"{where} must be true or false")
    return True


def _wardrobe(raw, keys, errors: list[str]) -> dict:
    """A character wardrobe, nested (name → outfit) or legacy flat (one outfit)."""
    if raw is None or raw == {}:
        return {"default": {k: "" for k in keys}}
    if not isinstance(raw, dict):
        errors.append("wardrobe must be an object")
        return {"default": {k: "" for k in keys}}
    if all(isinstance(v, dict) for v in raw.values()):
        return {name: _text_dict(o, keys, f"wardrobe.{name}", errors) for name, o in raw.items()}
    if any(isinstance(v, dict) for v in raw.values()):
        errors.append("wardrobe mixes named outfits and plain fields")
    return _text_dict(raw, keys, "wardrobe", errors)


def is_nested_wardrobe(wardrobe: dict) -> bool:
    return bool(wardrobe) and all(isinstance(v, dict) for v in wardrobe.values())


def _complete_text_dict(d, keys) -> bool:
    return type(d) is dict and all(type(d.get(k)) is str for k in keys) and None not in d.values()


def _complete_wardrobe(w, keys) -> bool:
    if type(w) is not dict or not w:
        return False
    if all(type(v) is dict for v in w.values()):
        return all(_complete_text_dict(v, keys) for v in w.values())
    return _complete_text_dict(w, keys) and not any(type(v) is dict for v in w.values())


def _is_complete(cat: Category, raw: dict) -> bool:
    """True when `normalize` would change nothing: every key present and well typed.
    The common case for files GAZE wrote; checked without building anything."""
    get = raw.get
    for key in (cat.id_key, cat.name_key):
        value = get(key)
        if type(value) is not str or not value.strip():
            return False
    for section in cat.sections:
        if cat is CHARACTERS and section.name == "wardrobe":
            if not _complete_wardrobe(get("wardrobe"), section.keys):
                return False
        elif not _complete_text_dict(get(section.name), section.keys):
            return False
    for section in cat.bool_sections:
        d = get(section.name)
        if type(d) is not dict or not all(type(d.get(k)) is bool for k in section.keys):
            return False
    if not all(type(get(k)) is str for k in cat.text_fields):
        return False
    for key in cat.list_fields:
        value = get(key)
        if type(value) is not list or not all(type(x) is str for x in value):
            return False
    if cat.prompt_field:
        value = get(cat.prompt_field)
        if not (type(value) is str or (type(value) is list and all(type(x) is str for x in value))):
            return False
    if cat.has_lora:
        lora = get("lora")
        if (type(lora) is not dict or type(lora.get("lora_name")) is not str
                or type(lora.get("lora_triggers")) is not str or type(lora.get("lora_weight")) not in (int, float)):
            return False
    if cat is CHARACTERS and get("participants") is not None:
        part = get("participants")
        if type(part) is not dict or type(part.get("orientation")) is not str:
            return False
    return True


def normalize(cat: Category, raw) -> dict:
    """Return the entry with defaults filled in; raise SchemaError if malformed."""
    if type(raw) is dict and _is_complete(cat, raw):
        return dict(raw)
    if not isinstance(raw, dict):
        raise SchemaError([f"the file must hold a JSON object, not {type(raw).__name__}"])
    errors: list[str] = []
    asset_id = raw.get(cat.id_key)
    if not isinstance(asset_id, str) or not asset_id.strip():
        raise SchemaError([f"missing or empty {cat.id_key!r}"])
    data = dict(raw)
    name = raw.get(cat.name_key)
    data[cat.name_key] = name if isinstance(name, str) and name.strip() else asset_id
    for section in cat.sections:
        if cat is CHARACTERS and section.name == "wardrobe":
            data["wardrobe"] = _wardrobe(raw.get("wardrobe"), section.keys, errors)
        else:
            data[section.name] = _text_dict(raw.get(section.name), section.keys, section.name, errors)
    for section in cat.bool_sections:
        got = raw.get(section.name)
        if got is None:
            got = {}
        if not isinstance(got, dict):
            errors.append(f"{section.name} must be an object")
            got = {}
        data[section.name] = dict(got) | {
            k: _bool(got.get(k, True), f"{section.name}.{k}", errors) for k in section.keys}
    for key in cat.text_fields:
        data[key] = _text(raw.get(key), key, errors)
    for key in cat.list_fields:
        data[key] = _str_list(raw.get(key), key, errors)
    if cat.prompt_field:
        value = raw.get(cat.prompt_field)
        if value is None:
            data[cat.prompt_field] = []
        elif not isinstance(value, str):
            data[cat.prompt_field] = _str_list(value, cat.prompt_field, errors)
    if cat.has_lora:
        data["lora"] = _lora(raw.get("lora"), errors)
    if cat is CHARACTERS and raw.get("participants") is not None:
        part = raw["participants"]
        if not isinstance(part, dict):
            errors.append("participants must be an object")
        else:
            data["participants"] = {**part,
                                    "orientation": _text(part.get("orientation"), "participants.orientation", errors)}
    if errors:
        raise SchemaError(errors)
    return data


def normalize_checkpoint(raw) -> dict:
    """A checkpoint JSON (keyed by checkpoint_path) with defaults filled in."""
    if not isinstance(raw, dict):
        raise SchemaError([f"the file must hold a JSON object, not {type(raw).__name__}"])
    path = raw.get("checkpoint_path")
    if not isinstance(path, str) or not path.strip():
        raise SchemaError(["missing or empty 'checkpoint_path'"])
    errors: list[str] = []
    data = dict(raw)
    name = raw.get("checkpoint_name")
    data["checkpoint_name"] = name if isinstance(name, str) and name.strip() else default_checkpoint_name(path)
    for key, default in CHECKPOINT_DEFAULTS.items():
        value = raw.get(key)
        if value is None or value == "":
            data[key] = default
        elif isinstance(default, str):
            data[key] = _text(value, key, errors)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                data[key] = type(default)(value)
            except (TypeError, ValueError):
                errors.append(f"{key} must be a number")
    if errors:
        raise SchemaError(errors)
    return data


def default_checkpoint_name(path: str) -> str:
    stem = path.rsplit("/", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def default_checkpoint(path: str) -> dict:
    """Built-in settings for a model file found on disk with no JSON."""
    return {"checkpoint_path": path, "checkpoint_name": default_checkpoint_name(path),
            **CHECKPOINT_DEFAULTS}
