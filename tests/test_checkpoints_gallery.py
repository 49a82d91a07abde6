"""Checkpoint pages, the default-checkpoint selector and the global gallery."""
from __future__ import annotations

import os
import re

import pytest
from PIL import Image

from models import Checkpoint
from tests.helpers import image_bytes, post, post_json, read_entry

TEST_MODEL = "/checkpoint/Illustrious_test_model_safetensors"


@pytest.fixture
def model_root(tmp_path, config):
    root = tmp_path / "models"
    (root / "Noob").mkdir(parents=True)
    (root / "Noob" / "fresh.safetensors").write_bytes(b"x")
    config.CHECKPOINT_ROOT = root
    return root


def test_checkpoint_gallery_lists_files_on_disk_and_json_entries(model_root, client):
    html = client.get("/checkpoints").get_data(as_text=True)
    for slug in ("Illustrious_test_model_safetensors", "Noob_test_noob_safetensors", "Noob_fresh_safetensors"):
        assert f'data-slug="{slug}"' in html
    assert "defaults" in html and "on disk" in html
    assert 'data-slug="Noob_fresh_safetensors"' in client.get("/checkpoints?q=fresh").get_data(as_text=True)
    assert "test_model" not in client.get("/checkpoints?q=fresh").get_data(as_text=True).split('id="gallery"')[1]


def test_checkpoint_detail_offers_sampler_and_scheduler_lists(client):
    html = client.get(TEST_MODEL).get_data(as_text=True)
    assert '<option value="euler_ancestral" selected>' in html and '<option value="dpmpp_2m">' in html
    assert '<option value="karras">' in html and 'name="vae" value="integrated"' in html
    assert 'id="generate-form"' in html and 'value="__random__"' in html
    assert client.get("/checkpoint/nope").status_code == 404


def test_sampler_hook_replaces_the_builtin_list(client):
    from gaze import choices
    choices.set_provider("sampler", lambda: ["comfy_sampler_a", "comfy_sampler_b"])
    try:
        html = client.get(TEST_MODEL).get_data(as_text=True)
        assert '<option value="comfy_sampler_a">' in html
        assert '<option value="euler_ancestral" selected>' in html, "the current value stays selectable"
        assert '<option value="dpmpp_2m">' not in html
    finally:
        choices.set_provider("sampler", None)


def test_checkpoint_settings_form_saves_json(client, token, library):
    form = {"checkpoint_name": "Renamed", "steps": "30", "cfg": "6.5", "sampler_name": "dpmpp_2m",
            "scheduler": "karras", "vae": "sdxl_vae.safetensors", "base_positive": "best", "base_negative": "worst"}
    response = post(client, TEST_MODEL, token, form)
    assert response.status_code == 302
    saved = read_entry(library, "checkpoints", "test_model.json")
    assert (saved["steps"], saved["cfg"], saved["sampler_name"], saved["scheduler"]) == (30, 6.5, "dpmpp_2m", "karras")
    assert saved["checkpoint_name"] == "Renamed" and saved["checkpoint_path"] == "Illustrious/test_model.safetensors"


def test_checkpoint_settings_errors_next_to_fields(client, token, library):
    before = (library / "checkpoints" / "test_model.json").read_bytes()
    form = {"checkpoint_name": "X", "steps": "0", "cfg": "abc", "sampler_name": "made_up", "scheduler": "normal",
            "vae": "../evil", "base_positive": "", "base_negative": ""}
    response = post(client, TEST_MODEL, token, form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for field in ("steps", "cfg", "sampler_name", "vae"):
        assert f'data-error-for="{field}"' in html
    assert (library / "checkpoints" / "test_model.json").read_bytes() == before


def test_checkpoint_on_disk_without_json_gets_one_on_save(model_root, client, token, library):
    response = post(client, "/checkpoint/Noob_fresh_safetensors", token,
                    {"checkpoint_name": "Fresh", "steps": "20", "cfg": "4", "sampler_name": "euler",
                     "scheduler": "normal", "vae": "integrated", "base_positive": "", "base_negative": ""})
    assert response.status_code == 302
    assert read_entry(library, "checkpoints", "fresh.json")["checkpoint_path"] == "Noob/fresh.safetensors"


def test_checkpoint_save_json(client, token, library):
    data = read_entry(library, "checkpoints", "test_model.json")
    data["steps"] = 40
    assert post_json(client, f"{TEST_MODEL}/save_json", token, data).get_json() == {"ok": True}
    assert read_entry(library, "checkpoints", "test_model.json")["steps"] == 40
    data["checkpoint_path"] = "Other/x.safetensors"
    changed = post_json(client, f"{TEST_MODEL}/save_json", token, data)
    assert changed.status_code == 400 and "cannot be changed" in changed.get_json()["error"]
    bad = post_json(client, f"{TEST_MODEL}/save_json", token, None, raw="{oops")
    assert bad.status_code == 400 and "invalid JSON" in bad.get_json()["error"]
    assert post_json(client, "/checkpoint/nope/save_json", token, data).status_code == 404


def test_checkpoint_cover_upload(app, client, token):
    response = post(client, f"{TEST_MODEL}/upload", token, {"image": (image_bytes(), "c.png")},
                    content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        path = Checkpoint.query.filter_by(slug="Illustrious_test_model_safetensors").one().image_path
    assert path.startswith("checkpoints/Illustrious_test_model_safetensors/cover_")
    assert "/thumb/" + path in client.get("/checkpoints").get_data(as_text=True)


def test_checkpoint_delete_is_soft_only(model_root, app, client, token, library):
    hard = post(client, "/resource/checkpoints/Illustrious_test_model_safetensors/delete", token, {"mode": "hard"},
                ajax=True)
    assert hard.status_code == 400 and "does not delete checkpoint model files" in hard.get_json()["error"]
    soft = post(client, "/resource/checkpoints/Illustrious_test_model_safetensors/delete", token, {"mode": "soft"})
    assert soft.status_code == 302 and not (library / "checkpoints" / "test_model.json").exists()
    assert client.get(TEST_MODEL).status_code == 404
    # a model on disk without JSON has nothing to delete
    assert post(client, "/resource/checkpoints/Noob_fresh_safetensors/delete", token, {"mode": "soft"},
                ajax=True).status_code == 400
    assert post(client, "/resource/checkpoints/nope/delete", token, {"mode": "soft"}).status_code == 404


def test_set_default_checkpoint_in_session(client, token):
    response = post(client, "/set_default_checkpoint", token, {"checkpoint": "Noob/test_noob.safetensors"}, ajax=True)
    assert response.get_json()["checkpoint"] == "Noob/test_noob.safetensors"
    html = client.get("/").get_data(as_text=True)
    assert '<option value="Noob/test_noob.safetensors" selected>' in html
    detail = client.get("/outfit/adventurer_gear").get_data(as_text=True)
    assert re.search(r'id="gen-checkpoint">\s*<option value="Illustrious/test_model.safetensors">.*'
                     r'<option value="Noob/test_noob.safetensors" selected>', detail, re.S)
    bad = post(client, "/set_default_checkpoint", token, {"checkpoint": "Nope/x.safetensors"}, ajax=True)
    assert bad.status_code == 400
    assert post(client, "/set_default_checkpoint", token, {"checkpoint": ""}).status_code == 302
    assert 'selected>' not in client.get("/").get_data(as_text=True).split('id="default-checkpoint"')[1].split("</select>")[0]


# ------------------------------------------------------------- global gallery

def _generated(app, category, slug, names):
    folder = app.config["UPLOADS_DIR"] / category / slug
    folder.mkdir(parents=True, exist_ok=True)
    for name, age in names:
        Image.new("RGB", (64, 64)).save(folder / name)
        os.utime(folder / name, ns=(10**18 - age * 10**9,) * 2)


def test_global_gallery_newest_first_filtered_and_paginated(app, client):
    _generated(app, "characters", "mira_vance", [("gen_a.png", 5), ("gen_b.png", 1)])
    _generated(app, "outfits", "adventurer_gear", [("gen_c.png", 3)])
    _generated(app, "outfits", "adventurer_gear", [("cover_x.png", 0)])   # a cover, not a generated image
    html = client.get("/gallery").get_data(as_text=True)
    order = re.findall(r'data-lightbox="gallery"[^>]*\n?\s*data-caption="[^"]*· (gen_\w+\.png)"', html)
    assert order == ["gen_b.png", "gen_c.png", "gen_a.png"]
    assert "Mira Vance" in html and "cover_x" not in html and 'id="lightbox"' in html
    only = client.get("/gallery?category=outfits").get_data(as_text=True)
    assert "gen_c.png" in only and "gen_a.png" not in only and '<option value="adventurer_gear"' in only
    entry = client.get("/gallery?category=characters&entry=mira_vance&per_page=1&page=2").get_data(as_text=True)
    assert "gen_a.png" in entry and "gen_b.png" not in entry and "category=characters" in entry
    assert client.get("/gallery?category=bogus&entry=../../x").status_code == 200
    assert client.get("/gallery?category=characters&entry=../../x").status_code == 200


def test_redirects_back_only_to_our_own_pages(client, token):
    ours = post(client, "/set_default_checkpoint", token, {"checkpoint": ""},
                headers={"Referer": "http://localhost/outfits/?q=x"})
    assert ours.headers["Location"] == "/outfits/?q=x"
    theirs = post(client, "/set_default_checkpoint", token, {"checkpoint": ""},
                  headers={"Referer": "https://evil.example/phish"})
    assert theirs.headers["Location"] == "/"
