"""Request-level tests of the Library's state-changing routes: clone, cover
upload, default fields, the JSON editor's save, delete and rescan."""
from __future__ import annotations

import io
import json

import pytest

from models import Character, Outfit
from tests.helpers import image_bytes, post, post_json, read_entry

# ---------------------------------------------------------------------- clone

def test_clone_redirects_to_the_copy(app, client, token, library):
    response = post(client, "/outfit/adventurer_gear/clone", token)
    assert response.status_code == 302 and response.headers["Location"] == "/outfit/adventurer_gear_copy"
    copy = read_entry(library, "clothing", "adventurer_gear_copy.json")
    assert copy["outfit_name"] == "Adventurer Gear (copy)"
    assert copy["wardrobe"] == read_entry(library, "clothing", "adventurer_gear.json")["wardrobe"]


def test_clone_answers_json_for_ajax_and_numbers_copies(client, token):
    post(client, "/outfits/adventurer_gear/clone", token)
    response = post(client, "/outfit/adventurer_gear/clone", token, ajax=True)
    assert response.status_code == 200
    assert response.get_json()["slug"] == "adventurer_gear_copy_2"
    assert response.get_json()["url"] == "/outfit/adventurer_gear_copy_2"
    assert post(client, "/outfit/nope/clone", token, ajax=True).status_code == 404


def test_clone_works_for_characters_too(client, token):
    response = post(client, "/character/kaito_winter/clone", token)
    assert response.headers["Location"] == "/character/kaito_winter_copy"


# ---------------------------------------------------------------- cover upload

def test_upload_stores_a_reencoded_cover_and_makes_a_thumbnail(app, client, token):
    response = post(client, "/character/mira_vance/upload", token,
                    {"image": (image_bytes("JPEG", (1200, 1600)), "photo.jpg")}, ajax=True,
                    content_type="multipart/form-data")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] and body["image_path"].startswith("characters/mira_vance/cover_")
    assert body["image_path"].endswith(".webp"), "JPEG uploads are stored as WebP"
    with app.app_context():
        assert Character.query.filter_by(slug="mira_vance").one().image_path == body["image_path"]
    thumb = client.get(body["thumb_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/webp"
    assert "immutable" in thumb.headers["Cache-Control"] and "max-age=31536000" in thumb.headers["Cache-Control"]
    from PIL import Image
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 384
    assert len(thumb.data) < 30_000


def test_new_upload_replaces_the_previous_cover_file(app, client, token):
    first = post(client, "/outfit/adventurer_gear/upload", token, {"image": (image_bytes(), "a.png")}, ajax=True,
                 content_type="multipart/form-data").get_json()["image_path"]
    second = post(client, "/outfit/adventurer_gear/upload", token,
                  {"image": (image_bytes(color=(1, 2, 3)), "b.png")}, ajax=True,
                  content_type="multipart/form-data").get_json()["image_path"]
    uploads = app.config["UPLOADS_DIR"]
    assert first != second and not (uploads / first).exists() and (uploads / second).exists()
    assert second.endswith(".png")


@pytest.mark.parametrize("payload, message", [
    ((io.BytesIO(b"not an image at all"), "x.png"), "not an image"),
    ((image_bytes("BMP"), "x.bmp"), "BMP images are not accepted"),
    ((io.BytesIO(image_bytes().getvalue()[:200]), "cut.png"), "damaged"),
])
def test_upload_refuses_what_is_not_an_acceptable_image(app, client, token, payload, message):
    response = post(client, "/character/mira_vance/upload", token, {"image": payload}, ajax=True,
                    content_type="multipart/form-data")
    assert response.status_code == 400 and message in response.get_json()["error"]
    with app.app_context():
        assert Character.query.filter_by(slug="mira_vance").one().image_path is None
    # without AJAX: a flash message and a redirect back to the entry
    page = post(client, "/character/mira_vance/upload", token, {"image": (io.BytesIO(b"junk"), "x.png")},
                content_type="multipart/form-data", follow_redirects=True)
    assert page.status_code == 200 and "not an image" in page.get_data(as_text=True)


def test_upload_refuses_huge_pixel_counts(app, client, token, monkeypatch):
    from gaze import images
    monkeypatch.setattr(images, "MAX_PIXELS", 100 * 100)
    response = post(client, "/character/mira_vance/upload", token, {"image": (image_bytes(size=(200, 200)), "big.png")},
                    ajax=True, content_type="multipart/form-data")
    assert response.status_code == 400 and "too large" in response.get_json()["error"]


def test_upload_without_a_file_and_for_unknown_entry(client, token):
    assert post(client, "/character/mira_vance/upload", token, ajax=True).status_code == 400
    assert post(client, "/character/nobody/upload", token, {"image": (image_bytes(), "a.png")},
                content_type="multipart/form-data").status_code == 404


# ----------------------------------------------------------------- thumbnails

def test_thumbnail_is_cached_and_follows_image_changes(app, client):
    import os

    from PIL import Image
    folder = app.config["UPLOADS_DIR"] / "characters" / "hana_okabe"
    folder.mkdir(parents=True)
    source = folder / "gen_1.png"
    Image.new("RGB", (1024, 512), (255, 0, 0)).save(source)
    v1 = source.stat().st_mtime_ns
    one = client.get(f"/thumb/characters/hana_okabe/gen_1.png?v={v1}")
    assert one.status_code == 200 and "immutable" in one.headers["Cache-Control"]
    assert Image.open(io.BytesIO(one.data)).size == (384, 192)
    thumbs = list((app.config["INSTANCE_DIR"] / "thumbs").rglob("*.webp"))
    assert len(thumbs) == 1
    Image.new("RGB", (512, 1024), (0, 0, 255)).save(source)
    os.utime(source, ns=(v1 + 10**9, v1 + 10**9))
    two = client.get(f"/thumb/characters/hana_okabe/gen_1.png?v={v1 + 10**9}")
    assert Image.open(io.BytesIO(two.data)).size == (192, 384), "a changed image gets a new thumbnail"
    assert len(list((app.config["INSTANCE_DIR"] / "thumbs").rglob("*.webp"))) == 1, "the old one is dropped"
    stale = client.get(f"/thumb/characters/hana_okabe/gen_1.png?v={v1}")
    assert "immutable" not in stale.headers["Cache-Control"], "an outdated version is not cached for good"
    again = client.get(f"/thumb/characters/hana_okabe/gen_1.png?v={v1 + 10**9}",
                       headers={"If-None-Match": two.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["../instance/secret_key", "characters/none.png", "%2e%2e/x.png"])
def test_thumb_and_media_refuse_unknown_or_outside_paths(client, path):
    assert client.get(f"/thumb/{path}").status_code == 404
    assert client.get(f"/media/{path}").status_code == 404


def test_thumb_of_a_non_image_is_404(app, client):
    folder = app.config["UPLOADS_DIR"] / "characters" / "x"
    folder.mkdir(parents=True)
    (folder / "gen_bad.png").write_bytes(b"not a png")
    assert client.get("/thumb/characters/x/gen_bad.png").status_code == 404


# -------------------------------------------------------------- save_defaults

def test_save_defaults_keeps_only_known_fields(app, client, token):
    response = post(client, "/character/mira_vance/save_defaults", token,
                    {"include_field": ["identity::hair", "wardrobe::top", "evil::field"]}, ajax=True)
    assert response.get_json()["fields"] == ["identity::hair", "wardrobe::top"]
    with app.app_context():
        assert Character.query.filter_by(slug="mira_vance").one().default_fields == ["identity::hair", "wardrobe::top"]
    redirect = post(client, "/outfit/adventurer_gear/save_defaults", token, {"include_field": ["wardrobe::top"]})
    assert redirect.status_code == 302 and redirect.headers["Location"] == "/outfit/adventurer_gear"
    with app.app_context():
        assert Outfit.query.filter_by(slug="adventurer_gear").one().default_fields == ["wardrobe::top"]
    assert post(client, "/outfit/nope/save_defaults", token).status_code == 404


# ------------------------------------------------------------------ save_json

def test_save_json_saves_the_whole_entry(app, client, token, library):
    data = read_entry(library, "clothing", "adventurer_gear.json")
    data["wardrobe"]["top"] = "chainmail"
    data["extra_key"] = [1, 2]
    response = post_json(client, "/outfit/adventurer_gear/save_json", token, data)
    assert response.status_code == 200 and response.get_json() == {"ok": True}
    saved = read_entry(library, "clothing", "adventurer_gear.json")
    assert saved["wardrobe"]["top"] == "chainmail" and saved["extra_key"] == [1, 2]
    with app.app_context():
        assert Outfit.query.filter_by(slug="adventurer_gear").one().data["wardrobe"]["top"] == "chainmail"


@pytest.mark.parametrize("raw, message", [
    ('{"outfit_id": "adventurer_gear",', "invalid JSON at line 1"),
    ("[1, 2]", "must be a JSON object"),
    ('{"outfit_id": "something_else"}', "the id cannot be changed"),
    ('{"outfit_id": "adventurer_gear", "tags": "not a list"}', "tags must be a list"),
])
def test_save_json_rejects_bad_entries_and_writes_nothing(client, token, library, raw, message):
    before = (library / "clothing" / "adventurer_gear.json").read_bytes()
    response = post_json(client, "/outfits/adventurer_gear/save_json", token, None, raw=raw)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert (library / "clothing" / "adventurer_gear.json").read_bytes() == before


def test_save_json_for_characters_looks_and_unknown(client, token, library):
    data = read_entry(library, "characters", "kaito_(winter).json")
    data["character_name"] = "Kaito W."
    assert post_json(client, "/character/kaito_winter/save_json", token, data).status_code == 200
    assert read_entry(library, "characters", "kaito_(winter).json")["character_name"] == "Kaito W."
    look = read_entry(library, "looks", "mira_vance_library_look.json")
    assert post_json(client, "/look/mira_vance_library_look/save_json", token, look).status_code == 200
    assert post_json(client, "/outfit/nope/save_json", token, {}).status_code == 404


# --------------------------------------------------------------------- delete

def test_soft_delete_removes_json_only(lora_root, app, client, token, library):
    response = post(client, "/resource/outfits/adventurer_gear/delete", token, {"mode": "soft"})
    assert response.status_code == 302 and response.headers["Location"] == "/outfits/"
    assert not (library / "clothing" / "adventurer_gear.json").exists()
    assert (lora_root / "Illustrious/Clothing/fantasy/adventurer_gear.safetensors").exists()
    assert client.get("/outfit/adventurer_gear").status_code == 404


def test_hard_delete_removes_the_lora_inside_the_root(lora_root, client, token, library):
    response = post(client, "/resource/outfits/adventurer_gear/delete", token, {"mode": "hard"}, ajax=True)
    assert response.status_code == 200 and response.get_json()["ok"]
    assert any("LoRA" in r for r in response.get_json()["removed"])
    assert not (lora_root / "Illustrious/Clothing/fantasy/adventurer_gear.safetensors").exists()
    assert not (library / "clothing" / "adventurer_gear.json").exists()


def test_hard_delete_refuses_a_lora_outside_the_root(lora_root, client, token, library, tmp_path):
    outside = tmp_path / "precious.safetensors"
    outside.write_bytes(b"keep me")
    data = read_entry(library, "clothing", "streetwear_hoodie.json")
    data["lora"]["lora_name"] = "../precious.safetensors"
    assert post_json(client, "/outfit/streetwear_hoodie/save_json", token, data).status_code == 200
    response = post(client, "/resource/outfits/streetwear_hoodie/delete", token, {"mode": "hard"}, ajax=True)
    assert response.status_code == 400 and "not inside the LoRA folder" in response.get_json()["error"]
    assert outside.exists() and (library / "clothing" / "streetwear_hoodie.json").exists()
    page = post(client, "/resource/outfits/streetwear_hoodie/delete", token, {"mode": "hard"}, follow_redirects=True)
    assert "not inside the LoRA folder" in page.get_data(as_text=True)


def test_hard_delete_without_a_lora_root_is_refused(client, token, library):
    response = post(client, "/resource/characters/mira_vance/delete", token, {"mode": "hard"}, ajax=True)
    assert response.status_code == 400 and "GAZE_LORA_ROOT" in response.get_json()["error"]
    assert (library / "characters" / "mira_vance.json").exists()


def test_delete_checks_mode_category_and_slug(client, token, library):
    assert post(client, "/resource/outfits/adventurer_gear/delete", token, {}, ajax=True).status_code == 400
    assert post(client, "/resource/outfits/adventurer_gear/delete", token, {"mode": "nuke"}).status_code == 302
    assert (library / "clothing" / "adventurer_gear.json").exists()
    assert post(client, "/resource/gadgets/x/delete", token, {"mode": "soft"}).status_code == 404
    assert post(client, "/resource/outfits/nope/delete", token, {"mode": "soft"}).status_code == 404
    assert post(client, "/resource/outfit/adventurer_gear/delete", token, {"mode": "soft"}).status_code == 404
    for token_name, slug, folder in [("characters", "hana_okabe", "characters"), ("looks", "pip_marlowe_workshop", "looks"),
                                     ("actions", "waving_hello", "actions"), ("styles", "painterly_oil", "styles"),
                                     ("scenes", "cozy_cafe", "scenes"), ("detailers", "shiny_hair", "detailers")]:
        assert post(client, f"/resource/{token_name}/{slug}/delete", token, {"mode": "soft"}).status_code == 302
        assert not (library / folder / f"{slug}.json").exists()


# --------------------------------------------------------------------- rescan

def test_rescan_routes(client, token, library):
    (library / "clothing" / "new_coat.json").write_text(json.dumps({"outfit_id": "new_coat"}))
    response = post(client, "/outfits/rescan", token, ajax=True)
    assert response.status_code == 200 and response.get_json()["added"] == 1
    assert client.get("/outfit/new_coat").status_code == 200
    assert post(client, "/looks/rescan", token).status_code == 302
    assert post(client, "/checkpoints/rescan", token).status_code == 302
    assert post(client, "/rescan", token).status_code == 302
    assert post(client, "/rescan", token, {"category": "bogus"}, ajax=True).status_code == 400
    assert post(client, "/gadgets/rescan", token).status_code in (404, 405)
