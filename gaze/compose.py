"""Request fields → assets → graph: the one path every generation takes.

`compose_request` resolves slugs to library rows, checks the numbers, builds
the character's prompts and calls `prepare_workflow`. The preview route
returns its `info`; the generation routes queue its `graph`. It never touches
`request` or `session` (callers pass plain values) and needs no ComfyUI.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from models import MODELS, Checkpoint

from .prompts import Prompts, append_background, build_prompt, ensure_character_fields, resolve_character
from .workflow import prepare_workflow

LIST_FIELDS = ("outfits", "actions", "styles", "scenes", "detailers")
_SLOT = {"outfits": "outfit", "actions": "action", "styles": "style", "scenes": "scene", "detailers": "detailer"}
#: name → (kind, minimum, maximum, default); limits are KSampler's/EmptyLatentImage's on ComfyUI.
NUMBERS = {
    "width": (int, 16, 16384, 1024),
    "height": (int, 16, 16384, 1024),
    "seed": (int, 0, 2 ** 64 - 1, None),
    "steps": (int, 1, 10000, None),
    "cfg": (float, 0.0, 100.0, None),
}


class ComposeError(ValueError):
    """A request that cannot be composed: unknown slugs or bad numbers.
    ``problems`` lists each one readably; ``unknown`` maps field → slugs."""

    def __init__(self, problems: list[str], unknown: dict[str, list[str]] | None = None):
        super().__init__("; ".join(problems))
        self.problems = problems
        self.unknown = unknown or {}


@dataclass
class Composition:
    graph: dict
    info: dict
    character: Any = None                 # the Character row, or None
    look: Any = None
    assets: dict[str, list] = field(default_factory=dict)  # category → rows, in request order
    checkpoint: Any = None                # the Checkpoint row, or None
    prompts: Prompts | None = None        # the character's build_prompt result


def slug_list(value: Any) -> list[str]:
    """A list of slugs from a list, or a comma/space separated string."""
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in values:
        if not isinstance(item, str):
            item = str(item)
        out += [s for s in item.replace(",", " ").split() if s]
    return list(dict.fromkeys(out))


def parse_number(fields: Mapping[str, Any], name: str, problems: list[str]):
    kind, low, high, default = NUMBERS[name]
    raw = fields.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        if isinstance(raw, bool):
            raise TypeError
        value = kind(raw.strip() if isinstance(raw, str) else raw)
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        if kind is float and math.isnan(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{name} must be {'a whole number' if kind is int else 'a number'}, not {raw!r}")
        return default
    if not low <= value <= high:
        problems.append(f"{name} must be between {low} and {high}, not {value}")
        return default
    return value


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _rows(category: str, slugs: list[str]) -> tuple[list, list[str]]:
    model = MODELS[category]
    found = {r.slug: r for r in model.query.filter(model.slug.in_(slugs)).all()} if slugs else {}
    return [found[s] for s in slugs if s in found], [s for s in slugs if s not in found]


def compose_request(fields: Mapping[str, Any], *, default_checkpoint: str | None = None,
                    selected_fields: list[str] | None = None, ensure_fields: bool = False,
                    background: bool = False) -> Composition:
    """Compose the graph for request `fields` (needs an app context).

    Fields: ``character`` (slug or ``__random__``), ``look`` (slug),
    ``checkpoint`` (path; else `default_checkpoint`, else the library's
    first checkpoint by name, with a warning), lists ``outfits``,
    ``actions``, ``styles``, ``scenes``, ``detailers`` (slugs),
    ``extra_positive``, ``extra_negative``, ``width``, ``height``, ``seed``,
    ``steps``, ``cfg``. The character's prompt uses `selected_fields`, else
    its saved ``default_fields``, else every field, and its active outfit.
    `ensure_fields` adds the character's identity/wardrobe/name fields (the
    secondary-category routes); `background` appends the simple background.
    Raises `ComposeError` for unknown slugs or bad numbers."""
    problems: list[str] = []
    unknown: dict[str, list[str]] = {}
    numbers = {name: parse_number(fields, name, problems) for name in NUMBERS}

    character = None
    char_slug = _text(fields, "character").strip()
    if char_slug:
        character = resolve_character(char_slug)
        if character is None:
            unknown["character"] = [char_slug]
    look = None
    look_slug = _text(fields, "look").strip()
    if look_slug:
        look = MODELS["looks"].query.filter_by(slug=look_slug).first()
        if look is None:
            unknown["look"] = [look_slug]
    assets: dict[str, list] = {}
    for name in LIST_FIELDS:
        assets[name], missing = _rows(name, slug_list(fields.get(name)))
        if missing:
            unknown[name] = missing
    checkpoint = None
    warnings: list[str] = []
    path = _text(fields, "checkpoint").strip()
    if path:
        checkpoint = Checkpoint.query.filter_by(checkpoint_path=path).first()
        if checkpoint is None:
            unknown["checkpoint"] = [path]
    else:
        if default_checkpoint:
            checkpoint = Checkpoint.query.filter_by(checkpoint_path=default_checkpoint).first()
            if checkpoint is None:
                warnings.append(f"The default checkpoint '{default_checkpoint}' is no longer in the library.")
        if checkpoint is None:
            checkpoint = Checkpoint.query.order_by(Checkpoint.name, Checkpoint.checkpoint_path).first()
            if checkpoint is not None:
                warnings.append(f"No checkpoint chosen: using '{checkpoint.checkpoint_path}'.")
    if unknown:
        if char_slug == "__random__" and "character" in unknown:
            problems.insert(0, "There is no character to pick at random")
            unknown.pop("character")
        problems[:0] = [f"Unknown {name}: {', '.join(repr(s) for s in slugs)}" for name, slugs in unknown.items()]
    if problems:
        raise ComposeError(problems, unknown)

    if character is not None:
        selected = list(selected_fields or [])
        if ensure_fields:
            ensure_character_fields(character, selected)
        prompts = build_prompt(character.data, selected, character.default_fields, character.active_outfit,
                               source={"category": "characters", "slug": character.slug})
    else:
        prompts = Prompts()
    if background:
        append_background(prompts, character)

    graph, info = prepare_workflow(
        character=character.data if character else None, look=look.data if look else None,
        **{_SLOT[name]: [r.data for r in rows] for name, rows in assets.items()},
        checkpoint=checkpoint.checkpoint_path if checkpoint else None,
        checkpoint_data=checkpoint.data if checkpoint else None, prompts=prompts,
        extra_positive=_text(fields, "extra_positive"), extra_negative=_text(fields, "extra_negative"),
        width=numbers["width"], height=numbers["height"], seed=numbers["seed"],
        steps=numbers["steps"], cfg=numbers["cfg"])
    info["warnings"] = warnings + info["warnings"]
    info["character"] = character.slug if character else None
    return Composition(graph, info, character, look, assets, checkpoint, prompts)
