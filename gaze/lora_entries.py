"""An entry for a LoRA file from its own metadata: the LLM's evidence prompt, or a fill without any LLM.

Without an LLM the entry gets the LoRA's name, trigger words and its most
frequent training tags, sorted into the category's fields by simple word
rules (hair and eye tags to identity, garments to wardrobe slots…). It is a
starting point the user edits, not a finished entry.
"""
from __future__ import annotations

import re

from .categories import CHARACTERS, Category
from .forms import derive_id
from .safetensors_meta import LoraInfo

EVIDENCE_TAGS = 40
FILL_TAGS = 20
#: Training tags that describe the picture, not the subject.
NOISE = {"solo", "simple background", "white background", "grey background", "gray background",
         "transparent background", "black background", "highres", "absurdres", "lowres", "commentary request",
         "commentary", "english commentary", "translated", "artist name", "signature", "watermark",
         "twitter username", "web address", "patreon username", "dated", "jpeg artifacts", "looking at viewer",
         "upper body", "full body", "cowboy shot", "portrait", "close-up", "masterpiece", "best quality"}
_COUNT = re.compile(r"^(?:\d\+?|multiple )(?:girls?|boys?|others?)$")
_WARDROBE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("headwear", ("hat", "cap", "beret", "helmet", "crown", "tiara", "headband", "hairband", "headdress",
                  "hair ornament", "hair ribbon", "hair bow", "hood", "veil", "earmuffs")),
    ("footwear", ("boots", "shoes", "sandals", "heels", "sneakers", "loafers", "slippers", "geta")),
    ("legwear", ("thighhighs", "pantyhose", "socks", "stockings", "kneehighs", "leggings", "legwear")),
    ("gloves", ("gloves", "mittens")),
    ("bottom", ("skirt", "pants", "shorts", "jeans", "trousers", "hakama")),
    ("full_body", ("dress", "kimono", "yukata", "bodysuit", "leotard", "swimsuit", "uniform", "robe",
                   "jumpsuit", "overalls", "armor", "serafuku", "gown")),
    ("accessories", ("necklace", "earrings", "choker", "bracelet", "scarf", "belt", "jewelry", "bag",
                     "necktie", "neckerchief", "bowtie", "glasses", "cape", "pendant")),
    ("top", ("shirt", "jacket", "coat", "sweater", "hoodie", "blouse", "vest", "cardigan", "top", "sleeves",
             "collar", "tank top", "crop top", "bra", "corset")),
]
_HAIR = ("hair", "ponytail", "twintails", "braid", "bangs", "ahoge", "bun", "sidelocks", "drill")
_EYES = ("eyes", "eyelashes", "pupils", "heterochromia")


def pretty_name(raw: str) -> str:
    """``tifa_lockhart-v2`` → ``Tifa Lockhart V2``."""
    words = re.sub(r"[_\-.]+", " ", raw).split()
    return " ".join(w if any(c.isupper() for c in w[1:]) else w[:1].upper() + w[1:] for w in words) or raw


def _wardrobe_slot(tag: str) -> str | None:
    words = tag.lower()
    for slot, needles in _WARDROBE_WORDS:
        if _has_word(words, needles):
            return slot
    return None


def _has_word(text: str, words: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", text) for w in words)


def _join(tags: list[str]) -> str:
    return ", ".join(dict.fromkeys(tags))


def _fill_character(data: dict, tags: list[str]) -> None:
    identity: dict[str, list[str]] = {"base_specs": [], "hair": [], "eyes": [], "extra": []}
    wardrobe: dict[str, list[str]] = {}
    for tag in tags:
        low = tag.lower()
        slot = _wardrobe_slot(tag)
        if _COUNT.match(low):
            identity["base_specs"].append(tag)
        elif _has_word(low, _HAIR) and slot != "headwear":
            identity["hair"].append(tag)
        elif _has_word(low, _EYES):
            identity["eyes"].append(tag)
        elif slot is not None:
            wardrobe.setdefault(slot, []).append(tag)
        else:
            identity["extra"].append(tag)
    data["identity"] = {key: _join(value) for key, value in identity.items()}
    data["wardrobe"] = {"default": {slot: _join(value) for slot, value in wardrobe.items()}}
    counts = [t.lower() for t in identity["base_specs"]]
    if counts in (["1girl"], ["1boy"]):
        data["participants"] = {"orientation": "1F" if counts == ["1girl"] else "1M", "solo_focus": "true"}


def metadata_entry(cat: Category, lora_name: str, info: LoraInfo) -> dict:
    """A draft entry from the LoRA's metadata alone (no LLM)."""
    name = pretty_name(info.name)
    exclude = {t.lower() for t in info.triggers} | {info.output_name.lower(), info.name.lower()} | NOISE
    tags = [t for t in info.top_tags(FILL_TAGS + len(exclude), exclude=exclude)][:FILL_TAGS]
    data: dict = {cat.id_key: derive_id(name), cat.name_key: name,
                  "lora": {"lora_name": lora_name, "lora_weight": 1.0, "lora_triggers": ", ".join(info.triggers)}}
    if cat is not CHARACTERS:   # "1girl" and the like describe the subject, not an outfit, pose or scene
        tags = [t for t in tags if not _COUNT.match(t.lower())]
    if cat is CHARACTERS:
        _fill_character(data, tags)
    elif cat.key == "outfits":
        slots: dict[str, list[str]] = {}
        for tag in tags:
            slot = _wardrobe_slot(tag) or "top"
            slots.setdefault("hands" if slot == "gloves" else slot, []).append(tag)
        data["wardrobe"] = {slot: _join(value) for slot, value in slots.items()}
    elif cat.key == "actions":
        data["action"] = {"full_body": _join(tags)}
    elif cat.key == "scenes":
        data["scene"] = {"background": _join(tags)}
    elif cat.key == "styles":
        data["style"] = {"artist_name": "", "artistic_style": _join(tags)}
    elif cat.prompt_field:
        data[cat.prompt_field] = list(dict.fromkeys(tags))
    if "tags" in cat.list_fields and info.base_model:
        data["tags"] = [info.base_model]
    return data


def evidence_prompt(cat: Category, lora_name: str, info: LoraInfo) -> str:
    """The user message asking the LLM to draft an entry for one LoRA file from its training tags."""
    label = cat.label.lower()
    lines = [f'Draft one GAZE {label} entry for the LoRA file "{lora_name}" from its training metadata below.',
             f'Use "{lora_name}" as lora.lora_name.']
    if info.triggers:
        lines.append(f'Use "{", ".join(info.triggers)}" as lora.lora_triggers.')
    lines.append(f'The LoRA calls itself "{info.name}"; derive the {cat.name_key} and {cat.id_key} from that.')
    if info.base_model:
        lines.append(f"Base model: {info.base_model}.")
    evidence = info.tag_counts[:EVIDENCE_TAGS]
    if evidence:
        total = f" over {info.images} training images" if info.images else ""
        lines += ["", f"Most frequent training tags (tag: count{total}):"]
        lines += [f"- {tag}: {count}" for tag, count in evidence]
        lines += ["", (f"These tags are evidence of what the LoRA depicts. Keep the ones that describe the {label}; "
                       "drop composition, background, quality and meta tags.")]
    else:
        lines += ["", ("The file carries no training tags: infer what you can from its name, and leave fields "
                       "empty rather than guessing.")]
    if cat is CHARACTERS:
        lines.append("Separate identity from clothing: body traits (hair, eyes, build, ears, skin…) go in "
                     '"identity", garments and worn accessories in "wardrobe". When the tags show several distinct '
                     'outfits, make one named wardrobe entry per outfit ("default" for the most frequent one).')
    return "\n".join(lines)
