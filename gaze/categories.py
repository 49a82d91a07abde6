"""The category registry: one frozen declaration per asset category.

Sync, schema checks, views, templates and prompt building are driven by these
declarations, so a new category is one entry here plus its JSON files.
"""
from __future__ import annotations

from dataclasses import dataclass, field

LORA_KEYS = ("lora_name", "lora_weight", "lora_triggers")
IDENTITY_KEYS = ("base_specs", "hair", "eyes", "hands", "arms", "torso",
                 "pelvis", "legs", "feet", "extra")
CHARACTER_WARDROBE_KEYS = ("full_body", "headwear", "top", "bottom", "legwear",
                           "footwear", "hands", "gloves", "accessories")
OUTFIT_WARDROBE_KEYS = ("full_body", "headwear", "top", "bottom", "legwear",
                        "footwear", "hands", "accessories")
#: (section, key) of text fields whose values are not Danbooru tags (not tag-checked)
NOT_TAG_FIELDS = frozenset({("styles", "primary_color"), ("styles", "secondary_color"),
                            ("styles", "tertiary_color"), ("style", "artist_name")})
#: top-level text fields holding prompt tags (looks), and a checkpoint's prompt fields
TAG_TEXT_FIELDS = ("positive", "negative", "base_positive", "base_negative")


@dataclass(frozen=True)
class Section:
    """A dict of text fields inside an asset, e.g. ``identity`` or ``scene``."""

    name: str
    keys: tuple[str, ...]
    label: str = ""


@dataclass(frozen=True)
class Category:
    key: str                 # URL token: "outfits"
    singular: str            # detail URL prefix and label base: "outfit"
    label: str               # "Outfit"
    plural_label: str        # "Outfits"
    folder: str              # data sub-folder: "clothing"
    id_key: str              # "outfit_id"
    name_key: str            # "outfit_name"
    lora_prefix: str         # "Illustrious/Clothing/"
    lora_node: str           # ComfyUI node the LoRA goes to
    sections: tuple[Section, ...] = ()
    text_fields: tuple[str, ...] = ()       # top-level strings (looks)
    list_fields: tuple[str, ...] = ("tags",)  # top-level lists of strings
    prompt_field: str | None = None         # detailer "prompt": list or string
    bool_sections: tuple[Section, ...] = ()  # detailer "focus"
    has_lora: bool = True
    missing_covers: bool = False            # offered by "generate missing covers"
    system_prompt: str = ""                 # data/prompts/<file>
    extras: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def model_name(self) -> str:
        return self.singular.capitalize()

    def all_sections(self) -> tuple[Section, ...]:
        return self.sections + self.bool_sections


CHARACTERS = Category(
    key="characters", singular="character", label="Character", plural_label="Characters",
    folder="characters", id_key="character_id", name_key="character_name",
    lora_prefix="Illustrious/Looks/", lora_node="16",
    sections=(
        Section("identity", IDENTITY_KEYS, "Identity"),
        Section("defaults", ("expression", "pose", "scene"), "Defaults"),
        Section("wardrobe", CHARACTER_WARDROBE_KEYS, "Wardrobe"),
        Section("styles", ("aesthetic", "primary_color", "secondary_color", "tertiary_color"), "Styles"),
    ),
    missing_covers=True, system_prompt="character_system.txt",
)
LOOKS = Category(
    key="looks", singular="look", label="Look", plural_label="Looks",
    folder="looks", id_key="look_id", name_key="look_name",
    lora_prefix="Illustrious/Looks/", lora_node="16",
    text_fields=("character_id", "positive", "negative"),
    system_prompt="look_system.txt",
)
OUTFITS = Category(
    key="outfits", singular="outfit", label="Outfit", plural_label="Outfits",
    folder="clothing", id_key="outfit_id", name_key="outfit_name",
    lora_prefix="Illustrious/Clothing/", lora_node="17",
    sections=(Section("wardrobe", OUTFIT_WARDROBE_KEYS, "Wardrobe"),),
    missing_covers=True, system_prompt="outfit_system.txt",
)
ACTIONS = Category(
    key="actions", singular="action", label="Action", plural_label="Actions",
    folder="actions", id_key="action_id", name_key="action_name",
    lora_prefix="Illustrious/Poses/", lora_node="18",
    sections=(Section("action", ("full_body", "additional", "head", "eyes", "arms", "hands"), "Action"),),
    missing_covers=True, system_prompt="action_system.txt",
)
STYLES = Category(
    key="styles", singular="style", label="Style", plural_label="Styles",
    folder="styles", id_key="style_id", name_key="style_name",
    lora_prefix="Illustrious/Styles/", lora_node="19",
    sections=(Section("style", ("artist_name", "artistic_style"), "Style"),),
    list_fields=(), system_prompt="style_system.txt",
)
SCENES = Category(
    key="scenes", singular="scene", label="Scene", plural_label="Scenes",
    folder="scenes", id_key="scene_id", name_key="scene_name",
    lora_prefix="Illustrious/Backgrounds/", lora_node="19",
    sections=(Section("scene", ("background", "foreground", "furniture", "colors",
                                "lighting", "theme"), "Scene"),),
    missing_covers=True, system_prompt="scene_system.txt",
)
DETAILERS = Category(
    key="detailers", singular="detailer", label="Detailer", plural_label="Detailers",
    folder="detailers", id_key="detailer_id", name_key="detailer_name",
    lora_prefix="Illustrious/Detailers/", lora_node="19",
    list_fields=(), prompt_field="prompt",
    bool_sections=(Section("focus", ("face", "hands"), "Focus"),),
    system_prompt="detailer_system.txt",
)

#: Every asset category in navbar order. Checkpoints are their own table.
REGISTRY: dict[str, Category] = {c.key: c for c in (
    CHARACTERS, LOOKS, OUTFITS, ACTIONS, STYLES, SCENES, DETAILERS)}

#: The categories served by the generic blueprint (characters and looks add their own pages).
GENERIC = ("outfits", "actions", "styles", "scenes", "detailers")

#: Priority for LoRA node 19: the first of these that has a LoRA wins.
NODE19_PRIORITY = ("styles", "detailers", "scenes")

CHECKPOINT_TOKEN = "checkpoints"
CHECKPOINT_FOLDER = "checkpoints"
CHECKPOINT_DEFAULTS = {
    "base_positive": "", "base_negative": "", "steps": 25, "cfg": 5.0,
    "sampler_name": "euler_ancestral", "scheduler": "normal", "vae": "integrated",
}
#: Every URL category token, checkpoints included (SPEC §2).
TOKENS = tuple(REGISTRY) + (CHECKPOINT_TOKEN,)


def get(key: str) -> Category | None:
    """The category for a URL token, accepting the singular form too."""
    if key in REGISTRY:
        return REGISTRY[key]
    for cat in REGISTRY.values():
        if cat.singular == key or cat.folder == key:
            return cat
    return None
