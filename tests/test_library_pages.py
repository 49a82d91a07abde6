"""Request-level tests of the Library pages: galleries, detail, edit and create."""
from __future__ import annotations

import re

import pytest

from models import Character, Look, db
from tests.helpers import post, read_entry

GENERIC = ["outfits", "actions", "styles", "scenes", "detailers", "looks"]
SAMPLES = {"characters": ("character", "mira_vance"), "looks": ("look", "mira_vance_library_look"),
           "outfits": ("outfit", "adventurer_gear"), "actions": ("action", "waving_hello"),
           "styles": ("style", "soft_watercolor"), "scenes": ("scene", "cozy_cafe"),
           "detailers": ("detailer", "better_hands")}


def cards(html: str) -> list[str]:
    return re.findall(r'class="card h-100 asset-card[^"]*" href="[^"]+" data-slug="([^"]+)"', html)


# ------------------------------------------------------------------ galleries

@pytest.mark.parametrize("url", ["/", "/outfits/", "/outfits", "/actions/", "/styles/", "/scenes/",
                                 "/detailers/", "/looks", "/looks/", "/checkpoints", "/gallery"])
def test_every_gallery_answers(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert b'id="comfy-status"' in response.data


def test_unknown_gallery_is_404(client):
    assert client.get("/gadgets/").status_code == 404


def test_gallery_search_by_name_id_and_tag(client):
    assert cards(client.get("/?q=mira").get_data(as_text=True)) == ["mira_vance"]
    assert cards(client.get("/?q=KAITO_(").get_data(as_text=True)) == ["kaito_winter"]
    by_tag = cards(client.get("/?q=seasonal").get_data(as_text=True))
    assert by_tag == ["kaito_winter"]
    assert cards(client.get("/?q=nobody+here").get_data(as_text=True)) == []
    assert "Nothing matches" in client.get("/?q=zzz").get_data(as_text=True)
    # LIKE wildcards in the query are literal
    assert cards(client.get("/?q=%25").get_data(as_text=True)) == []


def test_gallery_paginates_with_chosen_page_size(client):
    first = client.get("/?per_page=3").get_data(as_text=True)
    second = client.get("/?per_page=3&page=2").get_data(as_text=True)
    last = client.get("/?per_page=3&page=99").get_data(as_text=True)
    assert len(cards(first)) == 3 and len(cards(second)) == 3 and len(cards(last)) == 2
    assert not set(cards(first)) & set(cards(second))
    assert "Showing 1–3 of 8" in first and 'aria-current="page">2<' in second
    assert "per_page=3" in first and "page=2" in first  # page links keep the page size
    # the choice is remembered for the next gallery without per_page
    assert len(cards(client.get("/").get_data(as_text=True))) == 3
    assert len(cards(client.get("/?per_page=junk").get_data(as_text=True))) == 3


def test_gallery_filters_cover_lora_and_looks(app, client):
    with app.app_context():
        Character.query.filter_by(slug="hana_okabe").one().image_path = "characters/hana_okabe/x.png"
        db.session.commit()
    assert cards(client.get("/?cover=yes").get_data(as_text=True)) == ["hana_okabe"]
    assert "hana_okabe" not in cards(client.get("/?cover=no").get_data(as_text=True))
    no_lora = cards(client.get("/?lora=no").get_data(as_text=True))
    assert set(no_lora) == {"pip_marlowe", "rin_takamori"}
    assert len(cards(client.get("/?lora=yes").get_data(as_text=True))) == 6
    with_looks = cards(client.get("/?looks=1").get_data(as_text=True))
    assert set(with_looks) == {"mira_vance", "kaito_winter", "pip_marlowe"}
    assert len(cards(client.get("/?looks=0").get_data(as_text=True))) == 5
    assert cards(client.get("/?looks=2").get_data(as_text=True)) == []
    assert "1 look" in client.get("/?q=mira").get_data(as_text=True)


def test_gallery_sorts(app, client):
    from datetime import datetime
    with app.app_context():
        Character.query.filter_by(slug="sera_lindqvist").one().last_generated_at = datetime(2030, 1, 1)
        Character.query.filter_by(slug="rin_takamori").one().last_generated_at = datetime(2029, 1, 1)
        Character.query.filter_by(slug="juno_and_theo").one().created_at = datetime(2031, 1, 1)
        db.session.commit()
    by_name = cards(client.get("/").get_data(as_text=True))
    assert by_name == sorted(by_name, key=lambda s: s)  # names sort like their slugs here
    assert cards(client.get("/?sort=generated").get_data(as_text=True))[:2] == ["sera_lindqvist", "rin_takamori"]
    assert cards(client.get("/?sort=newest").get_data(as_text=True))[0] == "juno_and_theo"


def test_gallery_shows_thumbnails_never_full_covers(app, client, token):
    from tests.helpers import image_bytes
    post(client, "/character/mira_vance/upload", token, {"image": (image_bytes(), "c.png")},
         content_type="multipart/form-data")
    html = client.get("/").get_data(as_text=True)
    srcs = re.findall(r'<img class="card-img-top"[^>]* src="([^"]+)"', html)
    assert len(srcs) == 1 and srcs[0].startswith("/thumb/characters/mira_vance/cover_") and "?v=" in srcs[0]
    assert "/media/" not in html.split('id="gallery"')[1]


# --------------------------------------------------------------- detail pages

@pytest.mark.parametrize("cat", sorted(SAMPLES))
def test_detail_pages_under_singular_and_plural(client, cat):
    singular, slug = SAMPLES[cat]
    one = client.get(f"/{singular}/{slug}")
    assert one.status_code == 200
    html = one.get_data(as_text=True)
    assert 'id="generate-form"' in html and 'data-generate' in html
    assert f'action="/{singular}/{slug}/generate"' in html
    for name in ("checkpoint", "width", "height", "seed", "extra_positive", "extra_negative"):
        assert f'name="{name}"' in html
    assert 'value="preview"' in html and 'value="replace"' in html
    if cat == "characters":
        assert 'name="character"' not in html
    else:
        assert 'name="character"' in html and 'value="__random__"' in html
    assert client.get(f"/{cat}/{slug}").status_code == 200
    assert client.get(f"/{singular}/no_such_entry").status_code == 404
    assert client.get(f"/{singular}/no_such_entry/edit").status_code == 404


def test_character_detail_has_field_checkboxes_wardrobe_and_looks(client):
    html = client.get("/character/mira_vance").get_data(as_text=True)
    for field in ("identity::hair", "wardrobe::top", "defaults::expression", "styles::aesthetic",
                  "special::name", "special::tags", "lora::lora_triggers"):
        assert f'name="include_field" value="{field}"' in html
    assert html.count('name="include_field"') == html.count('name="include_field" value="') == 29
    assert html.count("checked>") >= 29, "no saved defaults: every field is ticked"
    assert 'data-outfit="casual"' in html and 'id="active-outfit">default<' in html
    assert "Mira Vance - Library Look" in html


def test_field_checkboxes_follow_defaults_then_session(client, token):
    post(client, "/character/mira_vance/save_defaults", token, {"include_field": ["identity::hair", "bogus::x"]})
    html = client.get("/character/mira_vance").get_data(as_text=True)
    ticked = re.findall(r'name="include_field" value="([^"]+)"[^>]*checked', html)
    assert ticked == ["identity::hair"]


def test_look_detail_links_its_character(client):
    html = client.get("/look/mira_vance_library_look").get_data(as_text=True)
    assert 'href="/character/mira_vance"' in html


def test_detail_lists_generated_images_newest_first(app, client):
    import os
    folder = app.config["UPLOADS_DIR"] / "outfits" / "adventurer_gear"
    folder.mkdir(parents=True)
    from PIL import Image
    for i, name in enumerate(["gen_1_a.png", "gen_2_b.png"]):
        Image.new("RGB", (64, 64)).save(folder / name)
        os.utime(folder / name, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))
    html = client.get("/outfit/adventurer_gear").get_data(as_text=True)
    assert html.index("gen_2_b.png") < html.index("gen_1_a.png")
    assert "/thumb/outfits/adventurer_gear/gen_2_b.png" in html


# ------------------------------------------------------------------ edit form

def test_edit_form_has_a_field_for_every_known_key(client):
    html = client.get("/character/mira_vance/edit").get_data(as_text=True)
    for name in ("character_name", "identity.hair", "wardrobe.gloves", "styles.primary_color",
                 "defaults.pose", "lora.lora_triggers", "tags", "participants.orientation"):
        assert f'name="{name}"' in html
    assert re.search(r'type="number" id="field-lora-lora_weight" name="lora.lora_weight" value="0.8"\s+min="0.0" max="2.0"', html)
    detailer = client.get("/detailer/better_hands/edit").get_data(as_text=True)
    assert 'name="focus.face"' in detailer and 'name="prompt"' in detailer
    look = client.get("/look/mira_vance_library_look/edit").get_data(as_text=True)
    assert 'name="character_id"' in look and 'name="negative"' in look and 'list="character-ids"' in look


def _form(client, url):
    """The current values of an edit form, as a browser would submit them."""
    html = client.get(url).get_data(as_text=True)
    values = {}
    for name, value in re.findall(r'<input class="form-control[^"]*"(?: type="(?:text|number)")? id="[^"]+" name="([^"]+)" value="([^"]*)"', html):
        values[name] = value.replace("&#39;", "'").replace("&amp;", "&")
    for name, value in re.findall(r'<input type="hidden" name="(_\w+)" value="([^"]*)"', html):
        values[name] = value
    for name, value in re.findall(r'<textarea[^>]* name="([^"]+)"[^>]*>([^<]*)</textarea>', html):
        values[name] = value
    for name in re.findall(r'type="checkbox" id="[^"]+" name="([^"]+)" value="1" checked', html):
        values[name] = "1"
    for name, value in re.findall(r'<select[^>]* name="([^"]+)">\s*(?:<option[^>]*>[^<]*</option>)*?<option value="([^"]*)" selected', html):
        values[name] = value
    return values


def test_edit_saves_json_and_db_keeping_unknown_keys(app, client, token, library):
    path = library / "characters" / "mira_vance.json"
    original = read_entry(library, "characters", "mira_vance.json")
    original["custom_notes"] = {"keep": True}
    path.write_text(__import__("json").dumps(original))
    client.post("/rescan", data={"csrf_token": token})
    form = _form(client, "/character/mira_vance/edit")
    form.update({"identity.hair": "short hair, red hair", "tags": "a, b,, a , c", "lora.lora_weight": "1.25"})
    response = post(client, "/character/mira_vance/edit", token, form)
    assert response.status_code == 302 and response.headers["Location"] == "/character/mira_vance"
    saved = read_entry(library, "characters", "mira_vance.json")
    assert saved["identity"]["hair"] == "short hair, red hair"
    assert saved["tags"] == ["a", "b", "c"] and saved["lora"]["lora_weight"] == 1.25
    assert saved["custom_notes"] == {"keep": True}
    assert saved["wardrobe"]["casual"] == original["wardrobe"]["casual"], "other outfits untouched"
    with app.app_context():
        assert Character.query.filter_by(slug="mira_vance").one().data["identity"]["hair"] == "short hair, red hair"


def test_edit_errors_shown_next_to_fields_and_nothing_written(client, token, library):
    before = (library / "characters" / "mira_vance.json").read_bytes()
    form = _form(client, "/character/mira_vance/edit")
    form.update({"lora.lora_weight": "3", "participants.orientation": "lots", "lora.lora_name": "../../etc/x",
                 "identity.hair": "changed"})
    response = post(client, "/character/mira_vance/edit", token, form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-error-for="lora.lora_weight">the weight must be between 0 and 2' in html
    assert 'data-error-for="participants.orientation"' in html
    assert 'data-error-for="lora.lora_name"' in html
    assert 'value="changed"' in html, "the user's input is kept in the form"
    assert (library / "characters" / "mira_vance.json").read_bytes() == before


def test_edit_legacy_flat_wardrobe_and_detailer_string_prompt(client, token, library):
    form = _form(client, "/character/rin_takamori/edit")
    form["wardrobe.top"] = "red jacket"
    assert post(client, "/character/rin_takamori/edit", token, form).status_code == 302
    wardrobe = read_entry(library, "characters", "rin_takamori.json")["wardrobe"]
    assert wardrobe["top"] == "red jacket" and "default" not in wardrobe, "flat stays flat"
    form = _form(client, "/detailer/face_detail_legacy/edit")
    form["prompt"] = "detailed face, freckles"
    form.pop("focus.face", None)  # untick
    assert post(client, "/detailer/face_detail_legacy/edit", token, form).status_code == 302
    saved = read_entry(library, "detailers", "face_detail_legacy.json")
    assert saved["prompt"] == "detailed face, freckles" and saved["focus"] == {"face": False, "hands": False}


def test_look_edit_rejects_unknown_character(client, token, library):
    form = _form(client, "/look/mira_vance_library_look/edit")
    form["character_id"] = "nobody"
    response = post(client, "/look/mira_vance_library_look/edit", token, form)
    assert response.status_code == 400 and "no character has the id" in response.get_data(as_text=True)
    form["character_id"] = "kaito_(winter)"
    assert post(client, "/look/mira_vance_library_look/edit", token, form).status_code == 302
    assert read_entry(library, "looks", "mira_vance_library_look.json")["character_id"] == "kaito_(winter)"


def test_edit_page_warns_about_a_stored_bad_orientation(client, token, library):
    import json
    path = library / "characters" / "hana_okabe.json"
    data = json.loads(path.read_text())
    data["participants"] = {"orientation": "lots", "solo_focus": "true"}
    path.write_text(json.dumps(data))
    client.post("/rescan", data={"csrf_token": token})
    html = client.get("/character/hana_okabe/edit").get_data(as_text=True)
    assert "is not an orientation GAZE understands" in html


# --------------------------------------------------------------------- create

@pytest.mark.parametrize("url", ["/create", "/character/create", "/characters/create", "/outfits/create",
                                 "/outfit/create", "/look/create", "/looks/create", "/detailers/create"])
def test_create_pages_are_blank_forms(client, url):
    response = client.get(url, follow_redirects=True)  # /character/create → /create
    assert response.status_code == 200
    assert 'id="edit-form"' in response.get_data(as_text=True)


def test_create_character_derives_id_and_starts_nested_wardrobe(app, client, token, library):
    response = post(client, "/create", token, {"character_name": "Tifa Lockhart", "identity.hair": "black hair",
                                                "lora.lora_weight": "0.7", "tags": "ff7"})
    assert response.status_code == 302 and response.headers["Location"] == "/character/tifa_lockhart"
    saved = read_entry(library, "characters", "tifa_lockhart.json")
    assert saved["character_id"] == "tifa_lockhart" and saved["identity"]["hair"] == "black hair"
    assert set(saved["wardrobe"]) == {"default"} and saved["tags"] == ["ff7"]
    assert "participants" not in saved
    assert client.get("/character/tifa_lockhart").status_code == 200


def test_create_refuses_a_taken_id_and_empty_form(client, token, library):
    before = sorted(p.name for p in (library / "clothing").iterdir())
    taken = post(client, "/outfits/create", token, {"outfit_id": "adventurer_gear", "outfit_name": "X"})
    assert taken.status_code == 400 and "already exists" in taken.get_data(as_text=True)
    empty = post(client, "/outfits/create", token, {})
    assert empty.status_code == 400 and 'data-error-for="outfit_id"' in empty.get_data(as_text=True)
    assert sorted(p.name for p in (library / "clothing").iterdir()) == before


def test_create_look_prefilled_for_a_character(app, client, token, library):
    html = client.get("/look/create?character=kaito_winter").get_data(as_text=True)
    assert 'name="character_id" value="kaito_(winter)"' in html
    response = post(client, "/look/create", token, {"look_id": "kaito_beach", "look_name": "Kaito Beach",
                                                    "character_id": "kaito_(winter)", "positive": "swim trunks"})
    assert response.status_code == 302
    with app.app_context():
        assert Look.query.filter_by(slug="kaito_beach").one().parent_id == "kaito_(winter)"
    assert "Kaito Beach" in client.get("/character/kaito_winter").get_data(as_text=True)


def test_posts_without_csrf_token_are_refused(client, library):
    before = (library / "clothing" / "adventurer_gear.json").read_bytes()
    assert client.post("/outfit/adventurer_gear/clone").status_code == 400
    assert client.post("/resource/outfits/adventurer_gear/delete", data={"mode": "soft"}).status_code == 400
    assert (library / "clothing" / "adventurer_gear.json").read_bytes() == before


def test_edit_writes_the_outfit_the_form_showed(client, token, library):
    form = _form(client, "/character/mira_vance/edit")      # shows the active outfit, "default"
    assert form["_outfit"] == "default"
    post(client, "/character/mira_vance/outfit/switch", token, {"outfit": "winter"})  # e.g. from another tab
    form["wardrobe.top"] = "blue blouse"
    assert post(client, "/character/mira_vance/edit", token, form).status_code == 302
    wardrobe = read_entry(library, "characters", "mira_vance.json")["wardrobe"]
    assert wardrobe["default"]["top"] == "blue blouse" and wardrobe["winter"]["top"] != "blue blouse"


def test_lora_picker_lists_the_category_folder(lora_root, client):
    (lora_root / "Illustrious" / "Clothing" / "maid.safetensors").write_bytes(b"x")
    html = client.get("/outfit/adventurer_gear/edit").get_data(as_text=True)
    assert '<datalist id="lora-files"><option value="Illustrious/Clothing/fantasy/adventurer_gear.safetensors">' \
           '<option value="Illustrious/Clothing/maid.safetensors"></datalist>' in html
    assert '<option value="Illustrious/Clothing/maid.safetensors">' not in \
        client.get("/character/mira_vance/edit").get_data(as_text=True)


def test_create_with_a_non_ascii_name(client, token, library):
    response = post(client, "/styles/create", token, {"style_name": "水彩 Style"})
    assert response.status_code == 302
    assert read_entry(library, "styles", "水彩_style.json")["style_id"] == "水彩_style"
    assert client.get(response.headers["Location"]).status_code == 200
