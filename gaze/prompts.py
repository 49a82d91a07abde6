"""Prompt composition (SPEC §3): orientation, build_prompt, extras, character
helpers and cross de-duplication.

Every composed tag is a `Tag` carrying its provenance (a *source* dict):

- ``{"kind": "asset", "category", "slug", "field"}`` — a field of an asset,
  addressed as ``section::key`` (``identity::hair``, ``lora::lora_triggers``,
  ``special::name``, ``special::tags``, ``participants::orientation``,
  ``prompt`` for a detailer's prompt, ``positive``/``negative`` for a look);
- ``{"kind": "rule", "rule", ...}`` — a tag a rule added (``(solo:1.2)`` for a
  character without participants, ``<color> simple background``);
- ``{"kind": "checkpoint", "path", "field"}`` and ``{"kind": "user", "field"}``
  are added by `gaze.workflow` (base prompts, the user's extra text).

`build_prompt` returns a `Prompts` dict of strings (``main``/``face``/``hand``)
whose ``.tags`` holds the same prompts as `Tag` lists.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import categories
from .categories import CHARACTER_WARDROBE_KEYS, CHARACTERS, REGISTRY, Category
from .schema import is_nested_wardrobe, slugify
from .tagtext import Dedup, Tag, attribute, cross_dedup, cross_dedup_tags, join_tags, split_tags, tag_key, tagged

__all__ = [
    "IDENTITY_KEYS",
    "WARDROBE_KEYS",
    "Dedup",
    "Prompts",
    "Tag",
    "active_wardrobe",
    "append_background",
    "asset_source",
    "attribute",
    "build_extras_prompt",
    "build_prompt",
    "cross_dedup",
    "cross_dedup_tags",
    "ensure_character_fields",
    "extras_tags",
    "join_tags",
    "orientation_error",
    "parse_orientation",
    "participant_tags",
    "resolve_character",
    "split_tags",
    "tag_key",
    "tagged",
]

IDENTITY_KEYS: tuple[str, ...] = categories.IDENTITY_KEYS
WARDROBE_KEYS: tuple[str, ...] = CHARACTER_WARDROBE_KEYS
DEFAULTS_KEYS: tuple[str, ...] = next(s.keys for s in CHARACTERS.sections if s.name == "defaults")

#: Fields that also feed the face detailer prompt (node 14) / hand detailer prompt (node 15).
FACE_FIELDS = frozenset({"special::name", "identity::hair", "identity::eyes", "defaults::expression",
                         "wardrobe::headwear", "action::head", "action::eyes"})
HAND_FIELDS = frozenset({"special::name", "identity::hands", "wardrobe::hands", "wardrobe::gloves",
                         "action::arms", "action::hands"})
SOLO_DEFAULT = "(solo:1.2)"
#: Count tags in `identity::base_specs` that the participant tags replace.
_COUNT_TAG = re.compile(r"^(?:\d+\+?(?:girl|boy)s?|solo|hetero)$", re.IGNORECASE)
_ORIENTATION = re.compile(r"(?:\d*[FM])+")
_ORIENTATION_GROUP = re.compile(r"(\d*)([FM])")
_MAX_COUNT = 99


# --------------------------------------------------------------- participants

def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _count_tag(n: int, word: str) -> str:
    if n == 1:
        return f"1{word}"
    return f"{n}{word}s" if n < 6 else f"6+{word}s"


def parse_orientation(orientation: Any, solo_focus: Any = False) -> list[str] | None:
    """SPEC §2: ``1F`` → [1girl], ``2F`` → [2girls], ``1M1F``/``MF`` → [1boy,
    1girl, hetero]; ``solo`` is added when `solo_focus` is true and there is
    exactly one participant. Spaces, commas, ``+`` and ``&`` between groups are
    allowed; letters are case-insensitive. A whole ``participants`` dict
    (``{"orientation", "solo_focus"}``) may be passed instead. Returns None
    when it does not parse (see `orientation_error`) — never raises."""
    if isinstance(orientation, Mapping):
        return parse_orientation(orientation.get("orientation"), orientation.get("solo_focus"))
    if not isinstance(orientation, str):
        return None
    text = re.sub(r"[\s,+&]", "", orientation).upper()
    if not text or not _ORIENTATION.fullmatch(text):
        return None
    counts: dict[str, int] = {}
    for digits, letter in _ORIENTATION_GROUP.findall(text):
        n = int(digits) if digits else 1
        if n < 1 or n > _MAX_COUNT:
            return None
        counts[letter] = counts.get(letter, 0) + n
        if counts[letter] > _MAX_COUNT:
            return None
    tags = [_count_tag(n, "girl" if letter == "F" else "boy") for letter, n in counts.items()]
    if len(counts) == 2:
        tags.append("hetero")
    if _truthy(solo_focus) and sum(counts.values()) == 1:
        tags.append("solo")
    return tags


def orientation_error(orientation: Any) -> str | None:
    """A readable problem with an orientation (for the edit page), or None."""
    if orientation is None or (isinstance(orientation, str) and not orientation.strip()):
        return None
    if parse_orientation(orientation) is None:
        return (f"Orientation {orientation!r} is not understood: use groups of an optional "
                "count and F or M, like 1F, 2F, 1M1F or MF. It is ignored (treated as absent).")
    return None


def participant_tags(data: Mapping[str, Any]) -> list[str] | None:
    """The participant tags of a character, or None when `participants` is
    absent, empty or does not parse (then `(solo:1.2)` applies)."""
    part = data.get("participants")
    return parse_orientation(part) if isinstance(part, Mapping) else None


# ------------------------------------------------------------------- helpers

def _category_of(data: Mapping[str, Any]) -> Category | None:
    for cat in REGISTRY.values():
        if isinstance(data.get(cat.id_key), str):
            return cat
    return None


def asset_source(data: Mapping[str, Any], category: str | None = None) -> dict[str, str]:
    """``{"category", "slug"}`` for an asset's data dict (slug per SPEC §2)."""
    cat = REGISTRY.get(category) if category else _category_of(data)
    if cat is None:
        return {"category": category or "", "slug": ""}
    raw_id = data.get(cat.id_key)
    return {"category": cat.key, "slug": slugify(raw_id) if isinstance(raw_id, str) and raw_id else ""}


def active_wardrobe(data: Mapping[str, Any], active_outfit: str | None = None) -> Mapping[str, Any]:
    """The outfit dict in use: the named (else ``default``, else first) outfit of
    a nested wardrobe, or the legacy flat wardrobe itself."""
    wardrobe = data.get("wardrobe")
    if not isinstance(wardrobe, Mapping) or not wardrobe:
        return {}
    if not is_nested_wardrobe(wardrobe):
        return wardrobe
    for name in (active_outfit, data.get("active_outfit"), "default"):
        if isinstance(name, str) and isinstance(wardrobe.get(name), Mapping):
            return wardrobe[name]
    return next(iter(wardrobe.values()))


def _data_of(entry: Any) -> Mapping[str, Any]:
    """An asset's data dict from a dict or an ORM row (its ``.data``)."""
    if entry is None:
        return {}
    if isinstance(entry, Mapping):
        return entry
    return getattr(entry, "data", None) or {}


def _section_values(data: Mapping[str, Any], section_name: str, active_outfit: str | None) -> Mapping:
    if section_name == "wardrobe":
        return active_wardrobe(data, active_outfit)
    values = data.get(section_name)
    return values if isinstance(values, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class Prompts(dict):
    """``{"main", "face", "hand"}`` prompt strings; ``.tags`` holds the same
    prompts as `Tag` lists and ``.warnings`` readable notes (e.g. a bad
    orientation). A plain ``dict(prompts)`` is an ordinary dict of strings."""

    def __init__(self, tags: Mapping[str, list[Tag]] | None = None,
                 warnings: list[str] | None = None) -> None:
        tags = {k: list((tags or {}).get(k, [])) for k in ("main", "face", "hand")}
        super().__init__({k: join_tags(v) for k, v in tags.items()})
        self.tags: dict[str, list[Tag]] = tags
        self.warnings: list[str] = list(warnings or [])

    def tags_for(self, key: str) -> list[Tag]:
        """The tags of ``self[key]``; if the string was edited after composition,
        provenance is re-attached by matching tag text."""
        known = self.tags.get(key, [])
        if join_tags(known) == self.get(key, ""):
            return list(known)
        return attribute(self.get(key, ""), known, {"kind": "unknown"})


def prompt_tags(prompts: Mapping[str, Any] | None, key: str) -> list[Tag]:
    """The tags of one prompt of a `Prompts` (with provenance) or a plain dict."""
    if prompts is None:
        return []
    if isinstance(prompts, Prompts):
        return prompts.tags_for(key)
    return tagged(prompts.get(key, ""), {"kind": "prompt", "field": key})


# -------------------------------------------------------------- build_prompt

def _selector(selected_fields: Sequence[str] | None, default_fields: Sequence[str] | None):
    """SPEC §3 priority: the form's selection if non-empty; else the saved
    default fields; else every field."""
    chosen = set(selected_fields or ()) or set(default_fields or ())
    return (lambda f: f in chosen) if chosen else (lambda f: True)


def _character_sections(cat: Category | None, data: Mapping[str, Any]):
    """The sections to read: the asset's own category first (characters when
    unknown), then any other registry section present in a merged data dict."""
    primary = cat if cat is not None else CHARACTERS
    seen = {s.name for s in primary.sections}
    sections = list(primary.sections)
    for other in REGISTRY.values():
        for section in other.sections:
            if section.name not in seen and isinstance(data.get(section.name), Mapping):
                seen.add(section.name)
                sections.append(section)
    return sections


def build_prompt(data: Mapping[str, Any] | None, selected_fields: Sequence[str] | None = None,
                 default_fields: Sequence[str] | None = None, active_outfit: str | None = None,
                 *, source: Mapping[str, str] | None = None) -> Prompts:
    """SPEC §3: a character's (or a character merged with another asset's)
    data → ``{"main", "face", "hand"}``.

    ``main``: participant tags (or ``(solo:1.2)``), then the selected
    ``special::name``, identity, defaults, wardrobe (active outfit or flat),
    styles and any merged section (``action::…``, ``scene::…``), a merged
    ``prompt``, ``special::tags`` and ``lora::lora_triggers``. ``face`` and
    ``hand`` get the selected fields of `FACE_FIELDS` / `HAND_FIELDS`.
    `source` (``{"category", "slug"}``) defaults to the id in `data`."""
    data = _data_of(data)
    cat = _category_of(data)
    base = {"kind": "asset", **(dict(source) if source else asset_source(data))}
    is_selected = _selector(selected_fields, default_fields)
    out: dict[str, list[Tag]] = {"main": [], "face": [], "hand": []}
    warnings: list[str] = []

    def add(field: str, value: Any, *, selectable: bool = True, drop=None) -> None:
        if selectable and not is_selected(field):
            return
        tags = tagged(value, {**base, "field": field})
        if drop is not None:
            tags = [t for t in tags if not drop(t.text)]
        out["main"].extend(tags)
        if field in FACE_FIELDS:
            out["face"].extend(tags)
        if field in HAND_FIELDS:
            out["hand"].extend(tags)

    participants = participant_tags(data)
    part = data.get("participants")
    if participants is None:
        if isinstance(part, Mapping):
            problem = orientation_error(part.get("orientation"))
            if problem:
                warnings.append(problem)
        out["main"].append(Tag(SOLO_DEFAULT, {"kind": "rule", "rule": "no participants",
                                              "category": base.get("category", ""),
                                              "slug": base.get("slug", "")}))
    else:
        add("participants::orientation", participants, selectable=False)

    add("special::name", _text(data.get((cat or CHARACTERS).name_key)))
    for section in _character_sections(cat, data):
        values = _section_values(data, section.name, active_outfit)
        for key in section.keys:
            drop = (lambda t: bool(_COUNT_TAG.match(t))) if (
                participants is not None and section.name == "identity" and key == "base_specs") else None
            add(f"{section.name}::{key}", _text(values.get(key)), drop=drop)
    prompt = data.get("prompt")
    if isinstance(prompt, (str, list)):
        add("special::prompt", prompt)
    tags = data.get("tags")
    if isinstance(tags, list):
        add("special::tags", [t for t in tags if isinstance(t, str)])
    lora = data.get("lora") if isinstance(data.get("lora"), Mapping) else {}
    add("lora::lora_triggers", _text(lora.get("lora_triggers")))
    return Prompts(out, warnings)


# ------------------------------------------------------------------- extras

def extras_tags(items: Mapping[str, Sequence[Any]]) -> dict[str, list[Tag]]:
    """The prompt text of checked items of any categories, driven by the
    registry: per item its LoRA triggers, every section field, its text fields
    (``negative`` goes to the negative side; ``*_id`` fields are references,
    not prompt text) and its prompt field (a list is extended item by item; a
    string is one item). Categories are taken in registry order.

    Returns ``{"main", "face", "hand", "negative"}`` tag lists. Face/hand get
    the `FACE_FIELDS`/`HAND_FIELDS`, and a prompt field when the item's
    ``focus`` section says ``face``/``hands``."""
    unknown = [k for k in items if categories.get(k) is None]
    if unknown:
        raise KeyError(f"unknown categories: {', '.join(map(repr, unknown))}")
    out: dict[str, list[Tag]] = {"main": [], "face": [], "hand": [], "negative": []}
    by_key = {categories.get(k).key: v for k, v in items.items()}
    for cat in REGISTRY.values():
        for entry in by_key.get(cat.key) or ():
            data = _data_of(entry)
            base = {"kind": "asset", **asset_source(data, cat.key)}

            def add(field: str, value: Any, targets: Iterable[str], base: dict = base) -> None:
                tags = tagged(value, {**base, "field": field})
                for target in targets:
                    out[target].extend(tags)

            if cat.has_lora and isinstance(data.get("lora"), Mapping):
                add("lora::lora_triggers", _text(data["lora"].get("lora_triggers")), ["main"])
            for section in cat.sections:
                values = _section_values(data, section.name, None)
                for key in section.keys:
                    field = f"{section.name}::{key}"
                    add(field, _text(values.get(key)),
                        ["main"] + ["face"] * (field in FACE_FIELDS) + ["hand"] * (field in HAND_FIELDS))
            for key in cat.text_fields:
                if key.endswith("_id"):
                    continue
                add(key, _text(data.get(key)), ["negative" if key == "negative" else "main"])
            if cat.prompt_field:
                value = data.get(cat.prompt_field)
                items_ = value if isinstance(value, list) else [value]
                focus = data.get("focus") if isinstance(data.get("focus"), Mapping) else {}
                targets = ["main"] + ["face"] * _truthy(focus.get("face")) + ["hand"] * _truthy(focus.get("hands"))
                for item in items_:
                    add(cat.prompt_field, _text(item), targets)
    return out


def build_extras_prompt(items: Mapping[str, Sequence[Any]]) -> str:
    """Category key → list of asset data dicts → one positive prompt string
    (see `extras_tags`). A new registry category needs no code here."""
    return join_tags(extras_tags(items)["main"])


# ------------------------------------------------------- character helpers

def resolve_character(slug: str | None):
    """The Character for `slug`; ``"__random__"`` picks a random one. None
    for a falsy or unknown slug (needs an app context)."""
    if not slug:
        return None
    from sqlalchemy import func

    from models import Character
    if slug == "__random__":
        return Character.query.order_by(func.random()).first()
    return Character.query.filter_by(slug=slug).first()


def ensure_character_fields(character: Any, selected_fields: list[str], include_wardrobe: bool = True,
                            include_defaults: bool = False) -> list[str]:
    """Append (in place) every populated identity field, the active outfit's
    populated wardrobe fields, optionally the defaults, and ``special::name``,
    skipping those already selected. Returns `selected_fields`."""
    data = _data_of(character)
    outfit = getattr(character, "active_outfit", None) if not isinstance(character, Mapping) else None
    wanted: list[str] = []
    identity = data.get("identity") if isinstance(data.get("identity"), Mapping) else {}
    wanted += [f"identity::{k}" for k in IDENTITY_KEYS if _text(identity.get(k)).strip()]
    if include_wardrobe:
        wardrobe = active_wardrobe(data, outfit)
        wanted += [f"wardrobe::{k}" for k in WARDROBE_KEYS if _text(wardrobe.get(k)).strip()]
    if include_defaults:
        defaults = data.get("defaults") if isinstance(data.get("defaults"), Mapping) else {}
        wanted += [f"defaults::{k}" for k in DEFAULTS_KEYS if _text(defaults.get(k)).strip()]
    wanted.append("special::name")
    for field in wanted:
        if field not in selected_fields:
            selected_fields.append(field)
    return selected_fields


def append_background(prompts: dict, character: Any = None) -> dict:
    """Append ``<primary_color> simple background`` (or ``simple background``)
    to ``prompts["main"]``; keeps a `Prompts`' provenance in step."""
    data = _data_of(character)
    styles = data.get("styles") if isinstance(data.get("styles"), Mapping) else {}
    color = " ".join(_text(styles.get("primary_color")).split())
    text = f"{color} simple background" if color else "simple background"
    source = {"kind": "rule", "rule": "background"}
    if data:
        source.update(asset_source(data), field="styles::primary_color")
    in_step = isinstance(prompts, Prompts) and join_tags(prompts.tags["main"]) == prompts.get("main", "")
    prompts["main"] = join_tags([prompts.get("main", ""), text])
    if isinstance(prompts, Prompts) and in_step:
        prompts.tags["main"].append(Tag(text, source))
    return prompts
