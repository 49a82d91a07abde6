"""Prompt composition (SPEC §2 participants, §3 build_prompt / extras / helpers)."""
from __future__ import annotations

import copy
import random

import pytest

from gaze import categories
from gaze.categories import Category, Section
from gaze.prompts import (
    IDENTITY_KEYS,
    WARDROBE_KEYS,
    Prompts,
    append_background,
    build_extras_prompt,
    build_prompt,
    ensure_character_fields,
    extras_tags,
    orientation_error,
    parse_orientation,
    split_tags,
)
from tests.prompt_helpers import load_json

HANA = load_json("characters", "hana_okabe")          # nested wardrobe, 1F solo
MIRA = load_json("characters", "mira_vance")          # nested wardrobe with 4 outfits
RIN = load_json("characters", "rin_takamori")         # flat (legacy) wardrobe, no participants
JUNO = load_json("characters", "juno_and_theo")       # 1M1F
ALL_CHARACTERS = [HANA, MIRA, RIN, JUNO, load_json("characters", "pip_marlowe"),
                  load_json("characters", "sera_lindqvist"), load_json("characters", "kaito_(winter)"),
                  load_json("characters", "noelle_ashgrove")]


def main_tags(prompts) -> list[str]:
    return split_tags(prompts["main"])


# --------------------------------------------------------------- orientation

@pytest.mark.parametrize("text, solo, tags", [
    ("1F", "true", ["1girl", "solo"]),
    ("1F", "false", ["1girl"]),
    ("1F", True, ["1girl", "solo"]),
    ("F", "true", ["1girl", "solo"]),
    ("1M", "true", ["1boy", "solo"]),
    ("2F", "true", ["2girls"]),
    ("3M", False, ["3boys"]),
    ("1M1F", "true", ["1boy", "1girl", "hetero"]),
    ("MF", "false", ["1boy", "1girl", "hetero"]),
    ("1F1M", False, ["1girl", "1boy", "hetero"]),
    ("2F1M", False, ["2girls", "1boy", "hetero"]),
    ("1f 1m", False, ["1girl", "1boy", "hetero"]),
    ("1F+1F", False, ["2girls"]),
    ("7F", False, ["6+girls"]),
])
def test_parse_orientation(text, solo, tags):
    assert parse_orientation(text, solo) == tags


@pytest.mark.parametrize("text", ["", "   ", "X", "1X", "girl", "0F", "1F2", "F-M", "100F", None, 3, ["1F"]])
def test_unparseable_orientation_is_none_not_an_error(text):
    assert parse_orientation(text, True) is None


def test_parse_orientation_accepts_the_participants_dict():
    assert parse_orientation({"orientation": "1F", "solo_focus": "true"}) == ["1girl", "solo"]
    assert parse_orientation({"orientation": "??"}) is None


def test_orientation_error_is_reported_readably():
    assert orientation_error("1F") is None
    assert orientation_error("") is None
    message = orientation_error("two girls")
    assert "two girls" in message and "1F" in message


# ------------------------------------------------------------ build_prompt

def test_selection_wins_over_defaults_and_all():
    prompts = build_prompt(HANA, ["identity::hair"], ["identity::eyes"], None)
    assert main_tags(prompts) == ["1girl", "solo", "short hair", "bob cut", "brown hair", "ahoge"]


def test_defaults_are_used_when_nothing_is_selected():
    prompts = build_prompt(HANA, [], ["identity::eyes", "special::name"], None)
    assert main_tags(prompts) == ["1girl", "solo", "Hana Okabe", "green eyes"]
    assert build_prompt(HANA, None, ["identity::eyes"], None)["main"] == "1girl, solo, green eyes"


def test_everything_is_used_without_selection_or_defaults():
    tags = main_tags(build_prompt(HANA, [], None, None))
    for expected in ["Hana Okabe", "petite", "green eyes", "freckles", "open mouth", "peace sign",
                     "serafuku", "loafers", "hairpin", "bright", "original", "school", "hana okabe"]:
        assert expected in tags
    assert tags.count("1girl") == 1, "the participant tags replace base_specs' count tags"


def test_main_order_follows_the_spec():
    tags = main_tags(build_prompt(HANA, [], None, None))
    order = ["1girl", "Hana Okabe", "petite", "open mouth", "serafuku", "bright", "original", "hana okabe"]
    assert [tags.index(t) for t in order] == sorted(tags.index(t) for t in order)


def test_participants_absent_injects_weighted_solo():
    prompts = build_prompt(RIN, [], None, None)
    assert main_tags(prompts)[0] == "(solo:1.2)"
    assert "1girl" in main_tags(prompts), "without participants base_specs keep their count tags"
    assert prompts.tags["main"][0].source["rule"] == "no participants"


def test_participants_present_give_count_tags():
    tags = main_tags(build_prompt(JUNO, [], None, None))
    assert tags[:3] == ["1boy", "1girl", "hetero"]
    assert "(solo:1.2)" not in tags and "solo" not in tags
    assert tags.count("1boy") == 1 and tags.count("1girl") == 1 and "couple" in tags


def test_unparseable_participants_are_treated_as_absent_and_reported():
    data = copy.deepcopy(HANA)
    data["participants"]["orientation"] = "lots of girls"
    prompts = build_prompt(data, [], None, None)
    assert main_tags(prompts)[0] == "(solo:1.2)"
    assert any("lots of girls" in w for w in prompts.warnings)


def test_nested_wardrobe_uses_the_active_outfit():
    winter = main_tags(build_prompt(MIRA, ["wardrobe::top", "wardrobe::headwear"], None, "winter"))
    assert winter[-3:] == ["beret", "white coat", "long coat"]
    default = main_tags(build_prompt(MIRA, ["wardrobe::top"], None, None))
    assert default[-2:] == ["white shirt", "collared shirt"]
    unknown = main_tags(build_prompt(MIRA, ["wardrobe::top"], None, "no-such-outfit"))
    assert unknown[-2:] == ["white shirt", "collared shirt"]
    data = copy.deepcopy(MIRA)
    data["active_outfit"] = "casual"
    assert main_tags(build_prompt(data, ["wardrobe::top"], None, None))[-2:] == [
        "oversized sweater", "purple sweater"]


def test_flat_wardrobe_works_the_same():
    tags = main_tags(build_prompt(RIN, ["wardrobe::top", "wardrobe::gloves"], None, "default"))
    assert tags == ["(solo:1.2)", "black jacket", "leather jacket", "white tank top", "black gloves"]


def test_special_fields_are_addressable():
    prompts = build_prompt(HANA, ["special::name", "special::tags", "lora::lora_triggers"], None, None)
    assert prompts["main"] == "1girl, solo, Hana Okabe, original, school, hana okabe"


def test_face_and_hand_prompts():
    prompts = build_prompt(MIRA, [], None, "winter")
    assert prompts["face"] == ("Mira Vance, long hair, silver hair, straight hair, violet eyes, smile, beret")
    assert prompts["hand"] == "Mira Vance, mittens"
    only_eyes = build_prompt(MIRA, ["identity::eyes"], None, "winter")
    assert only_eyes["face"] == "violet eyes" and only_eyes["hand"] == ""


def test_merged_action_fields_reach_face_and_hand():
    data = {**copy.deepcopy(HANA), "action": load_json("actions", "waving_hello")["action"]}
    prompts = build_prompt(data, [], None, None)
    assert "looking at viewer" in split_tags(prompts["face"])
    assert split_tags(prompts["hand"])[-2:] == ["arm up", "waving"]


def test_empty_values_never_make_empty_tags():
    rng = random.Random(7)
    fields = [f"identity::{k}" for k in IDENTITY_KEYS] + [f"wardrobe::{k}" for k in WARDROBE_KEYS] + [
        "special::name", "special::tags", "lora::lora_triggers", "defaults::pose", "styles::primary_color"]
    for data in ALL_CHARACTERS:
        for _ in range(20):
            chosen = rng.sample(fields, rng.randint(0, len(fields)))
            prompts = build_prompt(data, chosen, None, rng.choice([None, "casual", "winter"]))
            for text in prompts.values():
                assert ", ," not in text and not text.startswith(",") and not text.endswith(",")
                assert "  " not in text and text == text.strip()


def test_every_tag_knows_its_source():
    prompts = build_prompt(MIRA, [], None, None)
    sources = {t.text: t.source for t in prompts.tags["main"]}
    assert sources["silver hair"] == {"kind": "asset", "category": "characters", "slug": "mira_vance",
                                      "field": "identity::hair"}
    assert sources["1girl"]["field"] == "participants::orientation"
    assert sources["mira vance"]["field"] == "lora::lora_triggers"
    assert sources["multi-outfit"]["field"] == "special::tags"
    kaito = build_prompt(load_json("characters", "kaito_(winter)"), [], None, None)
    assert kaito.tags["main"][0].source["slug"] == "kaito_winter"


# ------------------------------------------------------------------ extras

def test_detailer_prompt_list_is_extended_item_by_item():
    eyes = load_json("detailers", "detailed_eyes")
    assert build_extras_prompt({"detailers": [eyes]}) == (
        "detailed eyes, detailed eyes, eyelashes, sparkling eyes")  # triggers, then the list


def test_detailer_prompt_string_is_one_item():
    legacy = load_json("detailers", "face_detail_legacy")
    assert isinstance(legacy["prompt"], str)
    assert build_extras_prompt({"detailers": [legacy]}) == "detailed face, detailed face, blush, eyelashes, lips"
    weird = {**legacy, "prompt": ["a, b", "", "c"], "lora": {"lora_triggers": ""}}
    assert build_extras_prompt({"detailers": [weird]}) == "a, b, c"


def test_extras_take_every_declared_field_in_registry_order():
    items = {"scenes": [load_json("scenes", "cozy_cafe")], "outfits": [load_json("clothing", "maid_outfit_classic")],
             "actions": [load_json("actions", "waving_hello")], "styles": [load_json("styles", "soft_watercolor")]}
    tags = split_tags(build_extras_prompt(items))
    assert tags[:3] == ["maid", "black dress", "long dress"]          # outfits first (registry order)
    assert tags.index("waving") < tags.index("watercolor") < tags.index("indoors")
    assert "uniform" not in tags, "organisational tags lists are not prompt text"
    assert "cozy" in tags and "traditional media" in tags


def test_extras_route_face_hand_and_look_negative():
    out = extras_tags({"actions": [load_json("actions", "waving_hello")],
                       "detailers": [load_json("detailers", "better_hands")],
                       "looks": [load_json("looks", "kaito_winter_snowday")]})
    assert [t.text for t in out["face"]] == ["smile", "open mouth", "looking at viewer"]
    assert [t.text for t in out["hand"]] == ["arm up", "waving", "detailed hands", "fingernails", "five fingers"]
    assert [t.text for t in out["negative"]] == ["1girl", "long hair", "bad anatomy"]
    assert "kaito_(winter)" not in [t.text for t in out["main"]], "a look's character_id is a reference"
    assert out["main"][0].source == {"kind": "asset", "category": "looks", "slug": "kaito_winter_snowday",
                                     "field": "lora::lora_triggers"}


def test_a_new_registry_category_needs_no_code(monkeypatch):
    props = Category(key="props", singular="prop", label="Prop", plural_label="Props", folder="props",
                     id_key="prop_id", name_key="prop_name", lora_prefix="Illustrious/Props/", lora_node="19",
                     sections=(Section("prop", ("held", "nearby")),), text_fields=("caption",),
                     prompt_field="prompt")
    monkeypatch.setitem(categories.REGISTRY, "props", props)
    item = {"prop_id": "umbrella", "prop": {"held": "umbrella", "nearby": ""}, "caption": "rain",
            "prompt": ["wet", "puddle"], "lora": {"lora_triggers": "umbr"}}
    out = extras_tags({"props": [item]})
    assert [t.text for t in out["main"]] == ["umbr", "umbrella", "rain", "wet", "puddle"]
    assert out["main"][1].source == {"kind": "asset", "category": "props", "slug": "umbrella",
                                     "field": "prop::held"}


def test_unknown_extras_category_is_an_error():
    with pytest.raises(KeyError):
        build_extras_prompt({"nonsense": [{}]})


# ------------------------------------------------------- character helpers

def test_ensure_character_fields_adds_populated_identity_wardrobe_and_name():
    selected = ["styles::aesthetic", "identity::hair"]
    out = ensure_character_fields(MIRA, selected)
    assert out is selected
    assert selected[:2] == ["styles::aesthetic", "identity::hair"]
    assert selected.count("identity::hair") == 1
    assert "identity::hands" not in selected, "empty fields are not added"
    assert "wardrobe::top" in selected and "wardrobe::gloves" not in selected  # default outfit has no gloves
    assert selected[-1] == "special::name"
    assert not any(f.startswith("defaults::") for f in selected)
    with_defaults = ensure_character_fields(MIRA, [], include_wardrobe=False, include_defaults=True)
    assert "defaults::pose" in with_defaults and not any(f.startswith("wardrobe::") for f in with_defaults)


def test_ensure_character_fields_uses_the_active_outfit():
    data = {**copy.deepcopy(MIRA), "active_outfit": "winter"}
    assert "wardrobe::gloves" in ensure_character_fields(data, [])


def test_append_background():
    prompts = build_prompt(MIRA, ["special::name"], None, None)
    append_background(prompts, MIRA)
    assert prompts["main"].endswith("Mira Vance, violet simple background")
    assert prompts.tags["main"][-1].source["rule"] == "background"
    plain = append_background({"main": "", "face": "", "hand": ""})
    assert plain["main"] == "simple background"
    no_color = append_background(Prompts(), load_json("characters", "pip_marlowe"))
    assert no_color["main"] == "simple background"
