"""Drafting with AI in a real browser: describe a character, get the scripted LLM's draft in the
form, adjust it, save, and find the JSON file on disk. Also the Settings page's test button."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot
from tests.llm_helpers import SECRET, use_llm
from tests.llm_server import completion

pytestmark = pytest.mark.browser

DRAFT = {
    "character_id": "aria_quill", "character_name": "Aria Quill",
    "identity": {"base_specs": "1girl", "hair": "long hair, silver hair", "eyes": "red eyes, sparkly gaze",
                 "hands": "", "arms": "", "torso": "", "pelvis": "", "legs": "", "feet": "", "extra": ""},
    "defaults": {"expression": "smile", "pose": "standing", "scene": ""},
    "wardrobe": {"default": {"full_body": "", "headwear": "hat", "top": "white shirt", "bottom": "pleated skirt",
                             "legwear": "thighhighs", "footwear": "boots", "hands": "", "gloves": "",
                             "accessories": "ribbon"},
                 "travel": {"full_body": "", "headwear": "", "top": "jacket", "bottom": "skirt", "legwear": "",
                            "footwear": "boots", "hands": "", "gloves": "", "accessories": ""}},
    "styles": {"aesthetic": "", "primary_color": "silver", "secondary_color": "", "tertiary_color": ""},
    "lora": {"lora_name": "", "lora_weight": 0.8, "lora_triggers": ""},
    "tags": ["original"], "participants": {"orientation": "1F", "solo_focus": "true"},
}


@pytest.fixture
def llm_config(config, llm_server):
    use_llm(config, llm_server, tags=True)
    return config


def test_draft_a_character_and_save_it(llm_config, live_server, page, library, llm_server):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    llm_server.script([completion("Here is your character:\n```json\n" + json.dumps(DRAFT) + "\n```")])
    page.goto(live_server.url + "/create")
    assert "GAZE's tag server" in page.inner_text("#draft-tag-status")
    page.fill("#draft-description", "a silver-haired wandering scholar with two outfits")
    page.click("#draft-button")
    expect(page.locator('[name="character_id"]')).to_have_value("aria_quill", timeout=15000)
    assert page.input_value('[name="identity.hair"]') == "long hair, silver hair"
    assert page.input_value('[name="wardrobe.top"]') == "white shirt"
    assert page.input_value('[name="participants.orientation"]') == "1F"
    assert page.input_value('[name="lora.lora_weight"]') == "0.8"
    result = page.locator("#draft-result")
    assert "sparkly gaze" in page.inner_text("#draft-unknown-tags")
    assert "2 outfits" in result.inner_text()
    # the editor marks the unknown tag by its field
    page.locator('[data-unknown-for="identity.eyes"]').wait_for()
    assert "sparkly gaze" in page.inner_text('[data-unknown-for="identity.eyes"]')
    screenshot(page, "draft_with_ai")
    assert "a silver-haired wandering scholar" in llm_server.requests[0]["messages"][1]["content"]
    assert not (library / "characters" / "aria_quill.json").exists(), "nothing is written before Save"

    page.fill('[name="identity.eyes"]', "red eyes")
    page.fill('[name="character_name"]', "Aria Quill the Scholar")
    page.click("#save-entry")
    page.wait_for_url(live_server.url + "/character/aria_quill")
    saved = json.loads((library / "characters" / "aria_quill.json").read_text())
    assert saved["character_name"] == "Aria Quill the Scholar"
    assert saved["identity"]["eyes"] == "red eyes"
    assert saved["identity"]["hair"] == "long hair, silver hair"
    assert saved["wardrobe"]["travel"]["top"] == "jacket"
    assert saved["participants"] == {"orientation": "1F", "solo_focus": "true"}
    assert not errors, errors


def test_an_invalid_draft_shows_the_reason_and_the_reply(llm_config, live_server, page, library, llm_server):
    llm_server.script([completion('{"outfit_name": "Broken", "wardrobe": "a coat"}')])
    page.goto(live_server.url + "/outfits/create")
    page.fill("#draft-description", "a coat")
    page.click("#draft-button")
    page.locator("#draft-error").wait_for()
    assert "wardrobe must be an object" in page.inner_text("#draft-error-text")
    page.click("#draft-raw-box summary")
    assert page.inner_text("#draft-raw") == '{"outfit_name": "Broken", "wardrobe": "a coat"}'
    assert page.input_value('[name="outfit_name"]') == ""
    assert not (library / "clothing" / "broken.json").exists()


def test_tag_autocomplete_in_an_editor(llm_config, live_server, page):
    page.goto(live_server.url + "/outfit/adventurer_gear/edit")
    field = page.locator('[name="wardrobe.legwear"]')
    field.fill("")
    field.type("thigh", delay=20)
    option = page.locator('.tag-suggest [data-tag="thighhighs"]')
    option.wait_for()
    option.dispatch_event("mousedown")
    assert field.input_value() == "thighhighs, "
    field.fill("thighhighs, glowing socks of doom")
    page.locator('[name="wardrobe.top"]').focus()
    page.locator('[data-unknown-for="wardrobe.legwear"]').wait_for()
    assert "glowing socks of doom" in page.inner_text('[data-unknown-for="wardrobe.legwear"]')


def test_settings_test_connection_lists_models(llm_config, live_server, page, llm_server):
    page.goto(live_server.url + "/settings")
    assert SECRET not in page.content()
    page.click("#test-llm")
    page.locator("#model-names").wait_for()
    assert re.search(r"answered: 2 model", page.inner_text("#llm-test-result"))
    page.click("#model-names >> text=other-model")
    assert page.input_value("#model") == "other-model"
    page.click("#test-tags")
    expect(page.locator("#tags-test-result")).to_contain_text("unknown", timeout=20000)
    assert "gaze_no_such_tag" in page.inner_text("#tags-test-result")
    screenshot(page, "settings")


@pytest.fixture
def model_root(tmp_path, config):
    root = tmp_path / "models"
    (root / "Noob").mkdir(parents=True)
    (root / "Noob" / "fresh.safetensors").write_bytes(b"x")
    config.CHECKPOINT_ROOT = root
    return root


def test_draft_the_settings_of_a_model_found_on_disk(llm_config, model_root, live_server, page, library, llm_server):
    reply = json.dumps({"checkpoint_path": "Noob/fresh.safetensors", "checkpoint_name": "Fresh Noob",
                        "base_positive": "masterpiece, best quality", "base_negative": "lowres, worst quality",
                        "steps": 30, "cfg": 4.5, "sampler_name": "dpmpp_2m", "scheduler": "karras",
                        "vae": "integrated"})
    llm_server.script([completion(reply)])
    page.goto(live_server.url + "/checkpoint/Noob_fresh_safetensors")
    page.fill("#draft-description", "a Noob vpred model that likes low cfg")
    page.click("#draft-button")
    expect(page.locator('[name="checkpoint_name"]')).to_have_value("Fresh Noob", timeout=15000)
    assert page.input_value('[name="steps"]') == "30" and page.input_value('[name="sampler_name"]') == "dpmpp_2m"
    assert page.input_value('[name="scheduler"]') == "karras"
    assert "Noob/fresh.safetensors" in llm_server.requests[0]["messages"][1]["content"]
    assert "checkpoint_path" in llm_server.requests[0]["messages"][0]["content"]
    page.click("#save-checkpoint")
    page.wait_for_url(live_server.url + "/checkpoint/Noob_fresh_safetensors")
    saved = json.loads((library / "checkpoints" / "fresh.json").read_text())
    assert saved["checkpoint_path"] == "Noob/fresh.safetensors" and saved["cfg"] == 4.5
    assert saved["base_negative"] == "lowres, worst quality"
    assert page.locator("#draft-card").count() == 0   # it has a settings file now
