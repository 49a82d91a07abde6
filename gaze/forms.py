"""request.form ↔ a category's fields, with a validation error per field.

`edit_fields` lays an entry out as groups of form fields (driven by the
category registry); `parse_form` reads a submitted form back into the entry's
JSON, starting from the stored data so unknown keys survive, and returns the
problems keyed by field name. Nothing here writes: the caller saves through
`gaze.assets` only when there are no errors.
"""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .categories import CHARACTERS, NOT_TAG_FIELDS, TAG_TEXT_FIELDS, Category
from .choices import sampler_choices, scheduler_choices
from .schema import is_nested_wardrobe, normalize

LORA_WEIGHT_MIN, LORA_WEIGHT_MAX = 0.0, 2.0
LORA_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".bin")
LORA_LIST_LIMIT = 5000
ORIENTATION_RE = re.compile(r"^(?:\d{0,2}[FMfm])+$")
ID_RE = re.compile(r"^[^\x00-\x1f/\\]{1,200}$")


@dataclass
class Field:
    name: str                    # form field name: "identity.hair", "lora.lora_weight", "tags"
    label: str
    kind: str = "text"           # text | textarea | number | tags | bool | select | lora | character
    value: Any = ""
    help: str = ""
    choices: list = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    readonly: bool = False
    tagcheck: bool = False       # holds Danbooru tags: autocomplete and mark unknown ones


@dataclass
class FieldGroup:
    title: str
    fields: list[Field]
    note: str = ""


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _tags_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value or "")


def split_tags(text: str) -> list[str]:
    """'a, b,,  c, a' → ['a', 'b', 'c']: trimmed, no empties, first occurrence kept."""
    out: list[str] = []
    for part in (text or "").replace("\n", ",").split(","):
        part = " ".join(part.split())
        if part and part not in out:
            out.append(part)
    return out


OUTFIT_FIELD = "_outfit"   # hidden field: the outfit an edit form was showing


def wardrobe_target(cat: Category, data: dict, form: Mapping | None = None) -> str | None:
    """The outfit a character's edit form changes: the one the form showed
    (else the active one) of a nested wardrobe, or None for a flat wardrobe."""
    if cat is not CHARACTERS:
        return None
    wardrobe = data.get("wardrobe") or {}
    if not is_nested_wardrobe(wardrobe):
        return None
    shown = form.get(OUTFIT_FIELD) if form is not None else None
    if shown in wardrobe:
        return shown
    active = data.get("active_outfit")
    if active in wardrobe:
        return active
    return "default" if "default" in wardrobe else next(iter(wardrobe))


def _section_values(cat: Category, data: dict, section_name: str, outfit: str | None) -> dict:
    if cat is CHARACTERS and section_name == "wardrobe":
        wardrobe = data.get("wardrobe") or {}
        return (wardrobe.get(outfit) or {}) if outfit is not None else wardrobe
    return data.get(section_name) or {}


def lora_names(cat: Category, lora_root: Path | None) -> list[str]:
    """LoRA names (relative to the LoRA root) of the files under the
    category's LoRA folder, for the picker. Empty when no root is configured."""
    if not lora_root or not cat.has_lora:
        return []
    base = Path(lora_root) / cat.lora_prefix
    names: list[str] = []
    if not base.is_dir():
        return names
    for dirpath, _dirs, files in os.walk(base, followlinks=True):
        for name in files:
            if name.lower().endswith(LORA_EXTENSIONS):
                names.append((Path(dirpath) / name).relative_to(lora_root).as_posix())
                if len(names) >= LORA_LIST_LIMIT:
                    return sorted(names)
    return sorted(names)


def edit_fields(cat: Category, data: dict, *, creating: bool = False,
                form: Mapping | None = None, lora_choices: list[str] | None = None) -> list[FieldGroup]:
    """The edit form of an entry, grouped by section. With `form`, the values
    the user submitted are shown instead of the stored ones."""
    outfit = wardrobe_target(cat, data, form)
    groups: list[FieldGroup] = []

    def val(name: str, stored):
        if form is not None and name in form:
            return form.get(name)
        return stored

    basics = [
        Field(cat.id_key, "Id", value=val(cat.id_key, data.get(cat.id_key, "")), readonly=not creating,
              help="The id names the file and the URL; clone the entry to get a new one."
              if not creating else "Letters, digits and _ make the URL; leave blank to derive it from the name."),
        Field(cat.name_key, "Name", value=val(cat.name_key, data.get(cat.name_key, ""))),
    ]
    groups.append(FieldGroup("Basics", basics))
    for key in cat.text_fields:
        kind = "character" if key == "character_id" else "textarea"
        label = "Character" if key == "character_id" else _label(key)
        groups[0].fields.append(Field(key, label, kind=kind, value=val(key, data.get(key, "")),
                                      tagcheck=key in TAG_TEXT_FIELDS))
    for section in cat.sections:
        values = _section_values(cat, data, section.name, outfit)
        note = ""
        fields_ = [Field(f"{section.name}.{k}", _label(k), value=val(f"{section.name}.{k}", values.get(k, "")),
                         tagcheck=(section.name, k) not in NOT_TAG_FIELDS)
                   for k in section.keys]
        if cat is CHARACTERS and section.name == "wardrobe":
            note = f"Outfit: {outfit}" if outfit is not None else "Single (legacy) outfit"
            if outfit is not None:
                fields_.insert(0, Field(OUTFIT_FIELD, "Outfit", kind="hidden", value=outfit))
        groups.append(FieldGroup(section.label or _label(section.name), fields_, note=note))
    for section in cat.bool_sections:
        values = data.get(section.name) or {}
        fields_ = []
        for k in section.keys:
            stored = bool(values.get(k, True))
            checked = (form.get(f"{section.name}.{k}") is not None) if form is not None else stored
            fields_.append(Field(f"{section.name}.{k}", _label(k), kind="bool", value=checked))
        groups.append(FieldGroup(section.label or _label(section.name), fields_))
    if cat.prompt_field:
        prompt = _tags_text(data.get(cat.prompt_field))
        groups.append(FieldGroup("Prompt", [Field(cat.prompt_field, "Prompt", kind="textarea",
                                                  value=val(cat.prompt_field, prompt), tagcheck=True,
                                                  help="Comma-separated prompt tags.")]))
    if cat is CHARACTERS:
        part = data.get("participants") or {}
        groups.append(FieldGroup("Participants", [
            Field("participants.orientation", "Orientation",
                  value=val("participants.orientation", part.get("orientation", "")),
                  help="Counts and letters F/M, e.g. 1F, 2F, 1M1F. Leave blank for a solo character."),
            Field("participants.solo_focus", "Solo focus", kind="select",
                  value=val("participants.solo_focus", str(part.get("solo_focus", "true")).lower()),
                  choices=[("true", "Yes"), ("false", "No")]),
        ]))
    if cat.has_lora:
        lora = data.get("lora") or {}
        groups.append(FieldGroup("LoRA", [
            Field("lora.lora_name", "LoRA file", kind="lora",
                  value=val("lora.lora_name", lora.get("lora_name", "")), choices=lora_choices or [],
                  help=f"Relative to the LoRA folder, e.g. {cat.lora_prefix}name.safetensors"),
            Field("lora.lora_weight", "Weight", kind="number",
                  value=val("lora.lora_weight", lora.get("lora_weight", 1.0)),
                  attrs={"min": LORA_WEIGHT_MIN, "max": LORA_WEIGHT_MAX, "step": 0.05}),
            Field("lora.lora_triggers", "Trigger words",
                  value=val("lora.lora_triggers", lora.get("lora_triggers", ""))),
        ]))
    for key in cat.list_fields:
        groups.append(FieldGroup(_label(key), [Field(key, _label(key), kind="tags",
                                                     value=val(key, _tags_text(data.get(key))),
                                                     help="Comma-separated.")]))
    return groups


def _text(form: Mapping, name: str) -> str:
    return (form.get(name) or "").strip()


def derive_id(name: str) -> str:
    """An id for a new entry from its name: 'Tifa Lockhart' → 'tifa_lockhart'."""
    return re.sub(r"_+", "_", re.sub(r"\W", "_", name.strip().lower())).strip("_")


def check_lora_name(name: str) -> str | None:
    """A problem with a LoRA name, or None. Names are relative paths that stay
    inside the LoRA folder."""
    if not name:
        return None
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in path.parts or "\x00" in name:
        return "the LoRA name must be a path inside the LoRA folder"
    return None


def blank_entry(cat: Category) -> dict:
    """The data of a new, empty entry (a character gets a nested wardrobe)."""
    data = normalize(cat, {cat.id_key: "new"})
    data[cat.id_key] = data[cat.name_key] = ""
    return data


def parse_form(cat: Category, form: Mapping, base: dict | None = None, *, creating: bool | None = None,
               known_character_ids: set[str] | None = None) -> tuple[dict, dict[str, str]]:
    """Read a submitted edit/create form into the entry's JSON.

    Starts from a copy of `base` (the stored entry, or `blank_entry` when
    creating) so that keys the form does not show are kept. Returns
    (data, errors); errors map field names to readable messages and the data
    must not be saved when there are any.
    """
    if creating is None:
        creating = base is None
    data = copy.deepcopy(base) if base else {}
    errors: dict[str, str] = {}

    name = _text(form, cat.name_key)
    if creating:
        asset_id = _text(form, cat.id_key) or derive_id(name)
        if not asset_id:
            errors[cat.id_key] = "give the new entry an id or a name"
        elif not ID_RE.match(asset_id):
            errors[cat.id_key] = "the id may not contain slashes or control characters"
        data[cat.id_key] = asset_id
    if not name:
        name = data.get(cat.id_key, "")
    data[cat.name_key] = name

    for key in cat.text_fields:
        value = _text(form, key)
        if key == "character_id" and value and known_character_ids is not None \
                and value not in known_character_ids and (creating or value != (base or {}).get(key)):
            errors[key] = f"no character has the id {value!r}"
        data[key] = value

    outfit = wardrobe_target(cat, data, form)
    for section in cat.sections:
        target = _section_values(cat, data, section.name, outfit)
        target = dict(target) if isinstance(target, dict) else {}
        for k in section.keys:
            target[k] = _text(form, f"{section.name}.{k}")
        if cat is CHARACTERS and section.name == "wardrobe":
            if outfit is not None:
                data["wardrobe"] = {**data["wardrobe"], outfit: target}
            else:
                data["wardrobe"] = target
        else:
            data[section.name] = target

    for section in cat.bool_sections:
        current = dict(data.get(section.name) or {})
        for k in section.keys:
            current[k] = form.get(f"{section.name}.{k}") is not None
        data[section.name] = current

    if cat.prompt_field:
        text = _text(form, cat.prompt_field)
        data[cat.prompt_field] = text if isinstance((base or {}).get(cat.prompt_field), str) else split_tags(text)

    if cat is CHARACTERS:
        orientation = _text(form, "participants.orientation")
        solo = (form.get("participants.solo_focus") or "true").strip().lower()
        if orientation and not ORIENTATION_RE.match(orientation):
            errors["participants.orientation"] = ("not an orientation GAZE understands: use counts and the "
                                                  "letters F and M, e.g. 1F, 2F, 1M1F")
        if solo not in ("true", "false"):
            errors["participants.solo_focus"] = "choose yes or no"
        part = dict(data.get("participants") or {})
        if orientation:
            part.update(orientation=orientation, solo_focus=solo)
            data["participants"] = part
        elif set(part) - {"orientation", "solo_focus"}:
            part.update(orientation="", solo_focus=solo)
            data["participants"] = part
        else:
            data.pop("participants", None)

    if cat.has_lora:
        lora = dict(data.get("lora") or {})
        lora_name = _text(form, "lora.lora_name")
        problem = check_lora_name(lora_name)
        if problem:
            errors["lora.lora_name"] = problem
        lora["lora_name"] = lora_name
        raw_weight = _text(form, "lora.lora_weight")
        try:
            weight = float(raw_weight) if raw_weight else 1.0
            if not (LORA_WEIGHT_MIN <= weight <= LORA_WEIGHT_MAX) or weight != weight:
                errors["lora.lora_weight"] = f"the weight must be between {LORA_WEIGHT_MIN:g} and {LORA_WEIGHT_MAX:g}"
        except ValueError:
            weight = 1.0
            errors["lora.lora_weight"] = "the weight must be a number, e.g. 0.8"
        lora["lora_weight"] = weight
        lora["lora_triggers"] = _text(form, "lora.lora_triggers")
        data["lora"] = lora

    for key in cat.list_fields:
        data[key] = split_tags(form.get(key) or "")
    return data, errors


# ------------------------------------------------------------ checkpoints

CHECKPOINT_LIMITS = {"steps": (1, 200), "cfg": (0.0, 30.0)}


def checkpoint_fields(data: dict, form: Mapping | None = None) -> list[Field]:
    def val(name: str):
        if form is not None and name in form:
            return form.get(name)
        return data.get(name, "")

    return [
        Field("checkpoint_name", "Name", value=val("checkpoint_name")),
        Field("steps", "Steps", kind="number", value=val("steps"), attrs={"min": 1, "max": 200, "step": 1}),
        Field("cfg", "CFG", kind="number", value=val("cfg"), attrs={"min": 0, "max": 30, "step": 0.1}),
        Field("sampler_name", "Sampler", kind="select", value=val("sampler_name"),
              choices=[(s, s) for s in sampler_choices(data.get("sampler_name"))]),
        Field("scheduler", "Scheduler", kind="select", value=val("scheduler"),
              choices=[(s, s) for s in scheduler_choices(data.get("scheduler"))]),
        Field("vae", "VAE", value=val("vae"),
              help='"integrated" uses the checkpoint\'s own VAE; otherwise a VAE file name.'),
        Field("base_positive", "Base positive", kind="textarea", value=val("base_positive"), tagcheck=True),
        Field("base_negative", "Base negative", kind="textarea", value=val("base_negative"), tagcheck=True),
    ]


def parse_checkpoint_form(form: Mapping, base: dict) -> tuple[dict, dict[str, str]]:
    data = copy.deepcopy(base)
    errors: dict[str, str] = {}
    data["checkpoint_name"] = _text(form, "checkpoint_name") or base.get("checkpoint_name", "")
    for key, kind in (("steps", int), ("cfg", float)):
        raw = _text(form, key)
        low, high = CHECKPOINT_LIMITS[key]
        try:
            value = kind(raw)
            if not (low <= value <= high):
                errors[key] = f"must be between {low:g} and {high:g}"
            data[key] = value
        except ValueError:
            errors[key] = "must be a whole number" if kind is int else "must be a number"
    for key, choices in (("sampler_name", sampler_choices(base.get("sampler_name"))),
                         ("scheduler", scheduler_choices(base.get("scheduler")))):
        value = _text(form, key)
        if value not in choices:
            errors[key] = "choose one from the list"
        data[key] = value
    vae = _text(form, "vae") or "integrated"
    if vae != "integrated" and check_lora_name(vae):
        errors["vae"] = "the VAE must be a file name inside the VAE folder, or 'integrated'"
    data["vae"] = vae
    data["base_positive"] = _text(form, "base_positive")
    data["base_negative"] = _text(form, "base_negative")
    return data, errors


# ------------------------------------------------------- prompt field keys

def prompt_field_keys(cat: Category) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The `section::key` fields a generation can include, grouped:
    [(group label, section, [(field, label), …]), …]."""
    groups = [("Name & tags", "special", [("special::name", "Name")] +
               ([("special::tags", "Tags")] if "tags" in cat.list_fields else []))]
    for section in cat.sections:
        groups.append((section.label or _label(section.name), section.name,
                       [(f"{section.name}::{k}", _label(k)) for k in section.keys]))
    extras = [(f"special::{k}", _label(k)) for k in cat.text_fields if k != "character_id"]
    if cat.prompt_field:
        extras.append((f"special::{cat.prompt_field}", "Prompt"))
    if cat.has_lora:
        extras.append(("lora::lora_triggers", "LoRA triggers"))
    groups.append(("Prompt extras", "extras", extras))
    return groups


def all_prompt_fields(cat: Category) -> list[str]:
    return [f for _g, _s, fields_ in prompt_field_keys(cat) for f, _l in fields_]
