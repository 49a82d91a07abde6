"""POST /api/draft/<category> against the scripted OpenAI-compatible server and GAZE's tag server,
the create page taking a draft, and the tag endpoints of the editors."""
from __future__ import annotations

import json
import logging
import re

import pytest

from gaze import categories
from gaze.schema import normalize
from tests.conftest import REPO
from tests.llm_helpers import SECRET, use_llm
from tests.llm_server import OPENAI_BAD_KEY, completion, tool_call

DRAFT = {
    "character_id": "ivy_thorne", "character_name": "Ivy Thorne",
    "identity": {"base_specs": "1girl", "hair": "long hair, silver hair", "eyes": "violet eyes",
                 "extra": "glitter tail fins"},
    "defaults": {"expression": "smile", "pose": "standing", "scene": "library"},
    "wardrobe": {"default": {"top": "white shirt", "bottom": "skirt", "footwear": "boots"},
                 "winter": {"top": "coat", "accessories": "scarf"}},
    "styles": {"aesthetic": "soft lighting", "primary_color": "violet"},
    "lora": {"lora_name": "", "lora_weight": 0.8, "lora_triggers": ""},
    "tags": ["original"], "participants": {"orientation": "1F", "solo_focus": "true"},
}


def files(library, folder):
    return sorted(p.name for p in (library / folder).glob("*.json"))


@pytest.fixture
def llm_app(config, llm_server, app_factory):
    use_llm(config, llm_server)
    return app_factory(config)


@pytest.fixture
def tagged_app(config, llm_server, app_factory):
    use_llm(config, llm_server, tags=True)
    return app_factory(config)


@pytest.fixture
def app_factory():
    from gaze import create_app
    made = []

    def make(config):
        app = create_app(config)
        made.append(app)
        return app
    yield make
    from models import db
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_draft_with_prose_and_fences_around_the_json(llm_app, llm_server, library, caplog):
    caplog.set_level(logging.DEBUG)
    reply = ("Of course! Here is the character you asked for.\n\n```json\n" + json.dumps(DRAFT, indent=2)
             + "\n```\n\nLet me know if you want changes.")
    llm_server.script([completion(reply)])
    before = files(library, "characters")
    response = llm_app.test_client().post("/api/draft/characters", json={"description": "a librarian mermaid"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["draft"]["character_id"] == "ivy_thorne"
    assert body["draft"]["identity"]["hair"] == "long hair, silver hair"
    assert body["draft"]["identity"]["legs"] == ""          # filled in by the schema
    assert set(body["draft"]["wardrobe"]) == {"default", "winter"}
    assert list(body["draft"])[:2] == ["character_id", "character_name"]   # the schema's order, not sorted
    assert body["tags_checked"] is False and body["unknown_tags"] == []
    # the request: the category's system prompt, the description, no tools without a tag server
    [sent] = llm_server.requests
    system = (library / "prompts" / "character_system.txt").read_text()
    assert sent["messages"][0] == {"role": "system", "content": system}
    assert "a librarian mermaid" in sent["messages"][1]["content"]
    assert "tools" not in sent
    assert llm_server.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert files(library, "characters") == before, "a draft writes nothing"
    assert SECRET not in caplog.text


@pytest.mark.parametrize("reply, reason", [
    ("I cannot help with that.", "no JSON"),
    (json.dumps({"character_id": "x", "identity": "long hair"}), "identity must be an object"),
    ("```json\n" + json.dumps({"character_name": "Bad", "tags": "not a list"}) + "\n```", "tags must be a list"),
    (json.dumps({"character_id": "x", "lora": {"lora_name": "../../etc/passwd"}}), "inside the LoRA folder"),
    (json.dumps(["a", "list"]), "no JSON"),
])
def test_an_invalid_draft_is_a_502_with_the_raw_reply_and_nothing_written(llm_app, llm_server, library,
                                                                          reply, reason):
    llm_server.script([completion(reply)])
    before = {folder: files(library, folder) for folder in ("characters", "clothing")}
    response = llm_app.test_client().post("/api/draft/characters", json={"description": "anything"})
    assert response.status_code == 502
    body = response.get_json()
    assert reason in body["error"]
    assert body["raw"] == reply
    assert {folder: files(library, folder) for folder in before} == before


def test_provider_errors_are_502_without_the_key(llm_app, llm_server, caplog):
    caplog.set_level(logging.DEBUG)
    llm_server.script([OPENAI_BAD_KEY])
    response = llm_app.test_client().post("/api/draft/outfits", json={"description": "a coat"})
    assert response.status_code == 502
    assert "Incorrect API key" in response.get_json()["error"]
    assert SECRET not in response.get_data(as_text=True) and SECRET not in caplog.text


@pytest.mark.parametrize("body, status, message", [
    ({}, 400, "description"),
    ({"description": "   "}, 400, "description"),
    ({"description": 5}, 400, "description"),
    ({"description": "x" * 5000}, 400, "longer than"),
    ({"description": "a model", "checkpoint_path": "../x.safetensors"}, 400, "checkpoints folder"),
])
def test_bad_requests_are_400(llm_app, llm_server, body, status, message):
    llm_server.script([])
    response = llm_app.test_client().post("/api/draft/checkpoints", json=body)
    assert response.status_code == status and message in response.get_json()["error"]
    assert llm_server.requests == []


def test_without_an_llm_the_draft_says_how_to_configure_one(client):
    response = client.post("/api/draft/scenes", json={"description": "a beach"})
    assert response.status_code == 400
    assert "Settings page" in response.get_json()["error"]
    assert client.post("/api/draft/nothing", json={"description": "x"}).status_code == 404


def test_draft_with_gaze_tag_server_lists_unknown_tags(tagged_app, llm_server):
    draft = {"outfit_id": "night_sky_dress", "outfit_name": "Night Sky Dress",
             "wardrobe": {"full_body": "dress, starry sky print", "footwear": "boots",
                          "accessories": "(ribbon:1.2), sparkle shoes of doom"},
             "lora": {"lora_name": "", "lora_weight": 0.8, "lora_triggers": "nsd"}, "tags": ["made up label"]}
    llm_server.script([
        completion(tool_calls=[tool_call("validate_tags", {"tags": ["dress", "starry sky print"]})]),
        completion(json.dumps(draft)),
    ])
    response = tagged_app.test_client().post("/api/draft/outfits", json={"description": "a starry dress"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["tags_checked"] is True
    assert body["unknown_tags"] == ["starry sky print", "sparkle shoes of doom"]   # labels and triggers are not tags
    first, second = llm_server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["search_tags", "validate_tags", "suggest_tags"]
    tool_reply = next(m for m in second["messages"] if m["role"] == "tool")
    assert json.loads(tool_reply["content"]) == {"valid": ["dress"], "invalid": ["starry sky print"]}


def test_checkpoint_draft_uses_the_model_path(llm_app, llm_server, library):
    reply = json.dumps({"checkpoint_path": "something/else.safetensors", "checkpoint_name": "Noob Test",
                        "base_positive": "masterpiece", "steps": 28, "cfg": 4.5, "sampler_name": "euler"})
    llm_server.script([completion(reply)])
    response = llm_app.test_client().post("/api/draft/checkpoints", json={
        "description": "a noob model", "checkpoint_path": "Noob/new_model.safetensors"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["draft"]["checkpoint_path"] == "Noob/new_model.safetensors"
    assert body["draft"]["steps"] == 28 and body["draft"]["scheduler"] == "normal"
    sent = llm_server.requests[0]["messages"]
    assert sent[0]["content"] == (library / "prompts" / "checkpoint_system.txt").read_text()
    assert "Noob/new_model.safetensors" in sent[1]["content"]


def test_look_draft_is_told_its_character(llm_app, llm_server):
    llm_server.script([completion(json.dumps({"look_name": "Snow Day", "character_id": "kaito_winter"}))])
    response = llm_app.test_client().post("/api/draft/looks", json={"description": "snowy",
                                                                     "character_id": "mira_vance"})
    assert response.status_code == 200
    assert response.get_json()["draft"]["look_id"] == "snow_day"   # derived from the name
    assert 'character_id "mira_vance"' in llm_server.requests[0]["messages"][1]["content"]


def test_create_page_saves_a_draft_with_all_its_outfits(client, token, library):
    draft = normalize(categories.CHARACTERS, dict(DRAFT, extra_key={"kept": True}))
    form = {"csrf_token": token, "_draft_base": json.dumps(draft), "_outfit": "default",
            "character_id": "ivy_thorne", "character_name": "Ivy Thorne (edited)",
            "identity.hair": "short hair", "wardrobe.top": "black shirt", "participants.orientation": "1F",
            "participants.solo_focus": "true", "lora.lora_weight": "0.8"}
    response = client.post("/create", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    saved = json.loads((library / "characters" / "ivy_thorne.json").read_text())
    assert saved["character_name"] == "Ivy Thorne (edited)"
    assert saved["identity"]["hair"] == "short hair"               # the form wins
    assert saved["identity"]["eyes"] == ""                         # the form's (empty) field, too
    assert saved["wardrobe"]["default"]["top"] == "black shirt"
    assert saved["wardrobe"]["winter"] == draft["wardrobe"]["winter"]   # the outfit the form did not show
    assert saved["extra_key"] == {"kept": True}


def test_create_page_ignores_a_broken_draft_base(client, token, library):
    for junk in ("{not json", "[1, 2]", '"text"', json.dumps({"identity": "bad"}), "[" * 5000 + "]" * 5000):
        response = client.post("/outfits/create", data={"csrf_token": token, "_draft_base": junk,
                                                        "outfit_id": "plain", "outfit_name": "Plain"})
        assert response.status_code in (302, 400)
    assert (library / "clothing" / "plain.json").exists()


def test_create_pages_offer_the_draft_box(client):
    for url in ("/create", "/outfits/create", "/look/create", "/detailer/create"):
        html = client.get(url).get_data(as_text=True)
        assert 'id="draft-card"' in html and "/static/js/draft.js" in html
        assert "no LLM is configured" in html and "Tags are not checked" in html
    html = client.get("/checkpoint/" + _checkpoint_slug(client)).get_data(as_text=True)
    assert 'id="draft-card"' not in html   # it has a JSON file: nothing to draft


def _checkpoint_slug(client):
    from models import Checkpoint
    with client.application.app_context():
        return Checkpoint.query.filter(Checkpoint.filename.isnot(None)).first().slug


def test_tag_endpoints_without_a_tag_server_degrade_silently(client):
    assert client.get("/api/tags/suggest?q=long").get_json() == {
        "suggestions": [], "checked": False, "note": "Tags are not checked: no tag server is configured."}
    body = client.post("/api/tags/validate", json={"text": "long hair, nope"}).get_json()
    assert body["checked"] is False and body["unknown"] == []


def test_tag_endpoints_with_gaze_tag_server(tagged_app):
    client = tagged_app.test_client()
    body = client.get("/api/tags/suggest", query_string={"q": "1girl, long h", "limit": "3"}).get_json()
    assert body["checked"] is True and body["suggestions"][0]["name"] == "long_hair"
    body = client.post("/api/tags/validate", json={"tags": ["long hair", "(smile:1.2)", "nope nope"]}).get_json()
    assert body == {"checked": True, "unknown": ["nope nope"], "valid": ["long_hair", "smile"]}
    assert client.post("/api/tags/validate", json={"tags": "x"}).status_code == 400
    assert client.get("/api/tags/suggest?q=" + "x" * 500).get_json()["suggestions"] == []


def test_edit_pages_mark_tag_fields(client):
    html = client.get("/character/mira_vance/edit").get_data(as_text=True)
    assert re.search(r'name="identity\.hair"[^>]*data-tag-check', html)
    assert not re.search(r'name="styles\.primary_color"[^>]*data-tag-check', html)
    assert not re.search(r'name="tags"[^>]*data-tag-check', html)
    assert "/static/js/tags.js" in html


PROMPT_EXAMPLE = re.compile(r"^\{\n.*?^\}$", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("token", categories.TOKENS)
def test_system_prompts_give_exactly_the_category_schema(token):
    """The example object of each data/prompts/*_system.txt, comments removed, has the category's keys."""
    from gaze.categories import CHECKPOINT_DEFAULTS, CHECKPOINT_TOKEN, LORA_KEYS
    from gaze.schema import normalize_checkpoint
    name = "checkpoint_system.txt" if token == CHECKPOINT_TOKEN else categories.REGISTRY[token].system_prompt
    text = (REPO / "data" / "prompts" / name).read_text()
    example = PROMPT_EXAMPLE.search(text).group(0)
    example = json.loads(re.sub(r"\s*//[^\n]*", "", example))
    assert "validate_tags" in text and "search_tags" in text and "ONLY the JSON object" in text
    if token == CHECKPOINT_TOKEN:
        assert set(example) == {"checkpoint_path", "checkpoint_name", *CHECKPOINT_DEFAULTS}
        assert normalize_checkpoint(example) == example
        return
    cat = categories.REGISTRY[token]
    expected = {cat.id_key, cat.name_key, *(s.name for s in cat.all_sections()), *cat.text_fields,
                *cat.list_fields, *([cat.prompt_field] if cat.prompt_field else []), *(["lora"] if cat.has_lora else [])}
    if cat is categories.CHARACTERS:
        expected.add("participants")
    assert set(example) == expected
    for section in cat.all_sections():
        block = example[section.name]
        blocks = block.values() if cat is categories.CHARACTERS and section.name == "wardrobe" else [block]
        for one in blocks:
            assert set(one) == set(section.keys), (token, section.name)
    if cat.has_lora:
        assert set(example["lora"]) == set(LORA_KEYS)
        assert cat.lora_prefix in text
    assert normalize(cat, example) == example
