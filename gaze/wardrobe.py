"""A character's wardrobe: switch, add, delete and rename its outfits.

Works on both formats: nested (outfit name → outfit) and legacy flat (one
outfit). A flat wardrobe becomes nested, its outfit named "default", the
first time an outfit is added. The active outfit is kept in the JSON as
`active_outfit`. Every change is saved through `gaze.assets.save`.
"""
from __future__ import annotations

import copy
import re

from models import Character

from .assets import AssetError, save
from .categories import CHARACTER_WARDROBE_KEYS, CHARACTERS
from .schema import is_nested_wardrobe

NAME_RE = re.compile(r"^[^\x00-\x1f]{1,64}$")


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise AssetError("give the outfit a name")
    if not NAME_RE.match(name):
        raise AssetError("outfit names are at most 64 characters, without control characters")
    return name


def _data(character: Character) -> tuple[dict, dict]:
    data = copy.deepcopy(character.data)
    return data, data.get("wardrobe") or {}


def _require_nested(wardrobe: dict, name: str) -> None:
    if not is_nested_wardrobe(wardrobe):
        raise AssetError("this character has a single outfit; add one to start a wardrobe")
    if name not in wardrobe:
        raise AssetError(f"there is no outfit named {name!r}")


def switch_outfit(character: Character, name: str) -> Character:
    """Make `name` the active outfit."""
    data, wardrobe = _data(character)
    _require_nested(wardrobe, name)
    data["active_outfit"] = name
    return save(CHARACTERS, data, character)


def add_outfit(character: Character, name: str, copy_from: str | None = None) -> Character:
    """Add an empty outfit (or a copy of `copy_from`) and make it active. A
    legacy flat wardrobe is first converted: its outfit becomes "default"."""
    name = _clean_name(name)
    data, wardrobe = _data(character)
    if not is_nested_wardrobe(wardrobe):
        wardrobe = {"default": wardrobe or {k: "" for k in CHARACTER_WARDROBE_KEYS}}
    if name in wardrobe:
        raise AssetError(f"there is already an outfit named {name!r}")
    if copy_from:
        if copy_from not in wardrobe:
            raise AssetError(f"there is no outfit named {copy_from!r} to copy")
        wardrobe[name] = copy.deepcopy(wardrobe[copy_from])
    else:
        wardrobe[name] = {k: "" for k in CHARACTER_WARDROBE_KEYS}
    data["wardrobe"] = wardrobe
    data["active_outfit"] = name
    return save(CHARACTERS, data, character)


def delete_outfit(character: Character, name: str) -> Character:
    """Remove an outfit; the last one cannot go. Deleting the active outfit
    makes "default" (or the first remaining) active."""
    data, wardrobe = _data(character)
    _require_nested(wardrobe, name)
    if len(wardrobe) == 1:
        raise AssetError("a character keeps at least one outfit")
    del wardrobe[name]
    data["wardrobe"] = wardrobe
    if data.get("active_outfit") not in wardrobe:
        data["active_outfit"] = "default" if "default" in wardrobe else next(iter(wardrobe))
    return save(CHARACTERS, data, character)


def rename_outfit(character: Character, old: str, new: str) -> Character:
    """Rename an outfit in place (its position is kept); the active outfit follows."""
    new = _clean_name(new)
    data, wardrobe = _data(character)
    _require_nested(wardrobe, old)
    if new == old:
        return character
    if new in wardrobe:
        raise AssetError(f"there is already an outfit named {new!r}")
    data["wardrobe"] = {(new if k == old else k): v for k, v in wardrobe.items()}
    if character.active_outfit == old:
        data["active_outfit"] = new
    return save(CHARACTERS, data, character)
