"""Unit tests of the services under the Library pages: forms, gallery
queries, images and the sampler/scheduler hook."""
from __future__ import annotations

import io
import os

import pytest
from PIL import Image
from werkzeug.datastructures import MultiDict

from gaze import choices, forms, images
from gaze.categories import REGISTRY
from gaze.queries import GalleryParams, Page

CHAR, DET, LOOK = REGISTRY["characters"], REGISTRY["detailers"], REGISTRY["looks"]


# --------------------------------------------------------------------- forms

def test_split_tags_trims_dedupes_and_drops_empties():
    assert forms.split_tags(" a ,b,, a,\n c  d ") == ["a", "b", "c d"]
    assert forms.split_tags("") == []


@pytest.mark.parametrize("orientation, ok", [("1F", True), ("2F", True), ("1M1F", True), ("MF", True),
                                             ("3m", True), ("", True), ("F1", False), ("lots", False),
                                             ("1X", False)])
def test_orientation_validation(orientation, ok):
    base = forms.blank_entry(CHAR) | {"character_id": "x"}
    _data, errors = forms.parse_form(CHAR, MultiDict({"participants.orientation": orientation}), base)
    assert ("participants.orientation" in errors) is not ok


@pytest.mark.parametrize("weight, ok", [("0", True), ("2", True), ("0.75", True), ("", True),
                                        ("-0.1", False), ("2.01", False), ("x", False), ("nan", False)])
def test_lora_weight_range(weight, ok):
    base = forms.blank_entry(CHAR) | {"character_id": "x"}
    _data, errors = forms.parse_form(CHAR, MultiDict({"lora.lora_weight": weight}), base)
    assert ("lora.lora_weight" in errors) is not ok


@pytest.mark.parametrize("name, ok", [("Illustrious/Looks/a.safetensors", True), ("", True),
                                      ("../x.safetensors", False), ("/etc/passwd", False),
                                      ("C:\\loras\\x.safetensors", False), ("a/../../b", False)])
def test_lora_name_must_stay_inside_the_root(name, ok):
    assert (forms.check_lora_name(name) is None) is ok


def test_parse_form_keeps_unknown_keys_and_empty_participants_are_dropped():
    base = forms.blank_entry(CHAR) | {"character_id": "x", "mystery": {"a": 1},
                                      "participants": {"orientation": "1F", "solo_focus": "true"}}
    data, errors = forms.parse_form(CHAR, MultiDict({"character_name": "X"}), base)
    assert not errors and data["mystery"] == {"a": 1} and "participants" not in data
    base["participants"]["custom"] = 1
    data, _ = forms.parse_form(CHAR, MultiDict({}), base)
    assert data["participants"]["custom"] == 1 and data["participants"]["orientation"] == ""


def test_creating_derives_the_id_from_the_name():
    data, errors = forms.parse_form(LOOK, MultiDict({"look_name": "  Kaito: Beach Day! "}), forms.blank_entry(LOOK),
                                    creating=True)
    assert not errors and data["look_id"] == "kaito_beach_day"
    _, errors = forms.parse_form(LOOK, MultiDict({"look_id": "a/b"}), forms.blank_entry(LOOK), creating=True)
    assert "look_id" in errors


def test_detailer_prompt_list_stays_a_list():
    base = forms.blank_entry(DET) | {"detailer_id": "d", "prompt": ["a", "b"]}
    data, _ = forms.parse_form(DET, MultiDict({"prompt": "a, b, c", "focus.hands": "1"}), base)
    assert data["prompt"] == ["a", "b", "c"] and data["focus"] == {"face": False, "hands": True}


def test_lora_names_lists_the_category_folder(tmp_path):
    (tmp_path / "Illustrious" / "Looks" / "sub").mkdir(parents=True)
    (tmp_path / "Illustrious" / "Looks" / "sub" / "b.safetensors").write_bytes(b"")
    (tmp_path / "Illustrious" / "Looks" / "a.safetensors").write_bytes(b"")
    (tmp_path / "Illustrious" / "Looks" / "notes.txt").write_bytes(b"")
    (tmp_path / "Illustrious" / "Clothing").mkdir()
    (tmp_path / "Illustrious" / "Clothing" / "c.safetensors").write_bytes(b"")
    assert forms.lora_names(CHAR, tmp_path) == ["Illustrious/Looks/a.safetensors", "Illustrious/Looks/sub/b.safetensors"]
    assert forms.lora_names(CHAR, None) == []


def test_prompt_field_keys_follow_the_registry():
    keys = forms.all_prompt_fields(REGISTRY["outfits"])
    assert "wardrobe::top" in keys and "lora::lora_triggers" in keys and "special::tags" in keys
    assert "special::prompt" in forms.all_prompt_fields(DET)
    assert "special::tags" not in forms.all_prompt_fields(REGISTRY["styles"])


# ------------------------------------------------------------------- queries

def test_gallery_params_sanitize_the_query_string():
    p = GalleryParams.from_args({"page": "-3", "per_page": "100000", "sort": "evil", "cover": "maybe",
                                 "looks": "1; drop", "q": "  mira  "})
    assert (p.page, p.per_page, p.sort, p.cover, p.looks, p.q) == (1, 500, "name", "", "", "mira")
    assert GalleryParams.from_args({}).per_page == 48
    assert GalleryParams.from_args({}, per_page_default=24).per_page == 24
    assert p.args(page=3) == {"q": "mira", "per_page": 500, "page": 3}


def test_page_numbers_with_gaps():
    page = Page(items=[], total=20 * 48, page=10, per_page=48)
    assert list(page.iter_pages()) == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert (page.first_index, page.last_index, page.has_prev, page.has_next) == (433, 480, True, True)
    assert Page([], 0, 1, 48).pages == 1 and Page([], 0, 1, 48).first_index == 0


# -------------------------------------------------------------------- images

def _png(mode="RGBA", size=(300, 200), fmt="PNG"):
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, fmt)
    buf.seek(0)
    return buf


def test_save_cover_reencodes_keeps_alpha_and_strips_names(tmp_path):
    rel = images.save_cover(tmp_path, "characters", "a", _png("RGBA"), thumbs=tmp_path / "thumbs")
    assert rel.startswith("characters/a/cover_") and rel.endswith(".png")
    assert Image.open(tmp_path / rel).mode == "RGBA"
    gif = images.save_cover(tmp_path, "characters", "a", _png("P", fmt="GIF"))
    assert gif.endswith(".png")
    assert list((tmp_path / "thumbs").rglob("*.webp")), "the thumbnail was made at once"


def test_save_cover_refuses_paths_leaving_the_uploads(tmp_path):
    from gaze.paths import UnsafePath
    with pytest.raises(UnsafePath):
        images.save_cover(tmp_path, "characters", "../../escape", _png())


def test_list_generated_newest_first_and_only_gen_files(tmp_path):
    for cat, slug, name, t in [("characters", "a", "gen_1.png", 1), ("outfits", "b", "gen_2.webp", 3),
                               ("characters", "a", "cover_x.png", 9), ("characters", "a", "gen_3.txt", 9),
                               ("unknown", "z", "gen_9.png", 9)]:
        (tmp_path / cat / slug).mkdir(parents=True, exist_ok=True)
        (tmp_path / cat / slug / name).write_bytes(b"x")
        os.utime(tmp_path / cat / slug / name, ns=(t * 10**9, t * 10**9))
    found = images.list_generated(tmp_path, ("characters", "outfits"))
    assert [g.relative_path for g in found] == ["outfits/b/gen_2.webp", "characters/a/gen_1.png"]
    assert [g.name for g in images.list_generated(tmp_path, ("characters", "outfits"), "characters", "a")] == ["gen_1.png"]
    assert images.list_generated(tmp_path, ("characters",), "characters", "../outfits") == []
    assert images.entries_with_images(tmp_path, "characters") == ["a"]


# ------------------------------------------------------------------- choices

def test_choice_hook_falls_back_when_the_provider_fails():
    choices.set_provider("scheduler", lambda: 1 / 0)
    try:
        assert choices.scheduler_choices() == list(choices.BUILTIN_SCHEDULERS)
    finally:
        choices.set_provider("scheduler", None)
    assert "custom" in choices.sampler_choices("custom")
    with pytest.raises(ValueError):
        choices.set_provider("vae", lambda: [])
