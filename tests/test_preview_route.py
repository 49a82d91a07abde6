"""POST /generator/preview_prompt and the compose service behind it."""
from __future__ import annotations

import socket

import pytest
from flask import render_template_string

from gaze.compose import ComposeError, compose_request
from gaze.prompts import resolve_character, split_tags
from gaze.workflow import validate_against_server
from tests.conftest import csrf_token
from tests.prompt_helpers import SERVER, checked_graphs  # noqa: F401

pytestmark = pytest.mark.usefixtures("checked_graphs")
URL = "/generator/preview_prompt"
FULL = {"character": "mira_vance", "checkpoint": "Illustrious/test_model.safetensors",
        "outfits": ["maid_outfit_classic", "winter_coat_set"], "actions": ["waving_hello"],
        "styles": ["soft_watercolor"], "scenes": ["cozy_cafe"], "detailers": ["detailed_eyes", "face_detail_legacy"],
        "extra_positive": "sparkles", "extra_negative": "smile, blurry", "width": 832, "height": 1216,
        "seed": 7, "steps": 20, "cfg": 6.5}


@pytest.fixture
def post(client):
    token = csrf_token(client)

    def post(data=None, json=None, headers=None):
        return client.post(URL, data=data, json=json, headers={"X-CSRFToken": token, **(headers or {})})
    return post


def as_form(fields: dict) -> dict:
    return {k: (v if isinstance(v, list) else str(v)) for k, v in fields.items()}


def test_json_and_form_give_the_same_answer(post):
    by_json = post(json=FULL)
    by_form = post(data=as_form(FULL))
    assert by_json.status_code == by_form.status_code == 200
    assert by_json.get_json() == by_form.get_json()


def test_preview_contents(post):
    body = post(json=FULL).get_json()
    assert set(body) >= {"positive", "negative", "face", "hand", "loras", "tags", "tokens"}
    positive = split_tags(body["positive"])
    assert positive[:5] == ["masterpiece", "best quality", "absurdres", "1girl", "solo"]
    assert positive[-1] == "sparkles"
    for expected in ("maid headdress", "Mira Vance", "waving", "watercolor (medium)",
                     "cafe", "sparkling eyes", "detailed face"):
        assert expected in positive
    assert "smile" not in split_tags(body["negative"]) and "blurry" in split_tags(body["negative"])
    assert body["loras"] == [
        {"node": "16", "lora_name": "Illustrious/Looks/mira_vance.safetensors", "strength": 0.8},
        {"node": "17", "lora_name": "Illustrious/Clothing/winter_coat_set.safetensors", "strength": 0.6},
        {"node": "18", "lora_name": "Illustrious/Poses/waving_hello.safetensors", "strength": 0.6},
        {"node": "19", "lora_name": "Illustrious/Styles/soft_watercolor.safetensors", "strength": 0.7}]
    assert "violet eyes" in body["face"] and "sparkling eyes" in body["face"]
    assert body["seed"] == 7
    removed = [t for t in body["tags"] if t["removed_by_dedup"]]
    assert {(t["tag"], t["side"]) for t in removed} == {("smile", "positive"), ("smile", "negative")}
    for tag in body["tags"]:
        assert tag["side"] in ("positive", "negative") and isinstance(tag["source"], dict)
    kept = [t["tag"] for t in body["tags"] if t["side"] == "positive" and not t["removed_by_dedup"]]
    assert ", ".join(kept) == body["positive"]
    tokens = body["tokens"]
    assert tokens["estimate"] is True and "estimate" in tokens["method"]
    assert tokens["chunk_size"] == 75 and tokens["chunks"] == len(tokens["boundaries"]) + 1 >= 2
    assert len(tokens["per_tag"]) == len(kept) and sum(tokens["per_tag"]) == tokens["total"]
    assert all(0 < b["tag_index"] < len(kept) for b in tokens["boundaries"])


def test_only_wired_loras_are_listed(post):
    body = post(json={"character": "pip_marlowe", "scenes": ["cozy_cafe"]}).get_json()
    assert body["loras"] == []
    body = post(json={"character": "rin_takamori", "detailers": ["better_hands"]}).get_json()
    assert body["loras"] == [{"node": "19", "lora_name": "Illustrious/Detailers/better_hands.safetensors",
                              "strength": 0.7}]


def test_look(post):
    body = post(json={"character": "kaito_winter", "look": "kaito_winter_snowday",
                      "checkpoint": "Noob/test_noob.safetensors"}).get_json()
    assert body["loras"][0]["lora_name"] == "Illustrious/Looks/kaito_winter.safetensors"
    assert split_tags(body["negative"])[0] == "1girl"
    assert any(t["source"].get("category") == "looks" for t in body["tags"])


def test_comma_separated_lists_and_repeated_fields(post):
    a = post(data={"character": "hana_okabe", "styles": "soft_watercolor,retro_90s_anime", "seed": "1"}).get_json()
    b = post(data={"character": "hana_okabe", "styles": ["soft_watercolor", "retro_90s_anime"], "seed": "1"})
    assert a == b.get_json()
    assert "watercolor (medium)" in a["positive"]


@pytest.mark.parametrize("fields, named", [
    ({"character": "nobody"}, "nobody"),
    ({"outfits": ["maid_outfit_classic", "no_such_outfit"]}, "no_such_outfit"),
    ({"look": "ghost_look"}, "ghost_look"),
    ({"detailers": ["x1"], "scenes": ["y2"]}, "x1"),
    ({"checkpoint": "Illustrious/missing.safetensors"}, "Illustrious/missing.safetensors"),
])
def test_unknown_slugs_are_400_naming_them(post, fields, named):
    for resp in (post(json=fields), post(data=as_form(fields))):
        assert resp.status_code == 400
        assert named in resp.get_json()["error"]


@pytest.mark.parametrize("fields", [
    {"width": "abc"}, {"height": 8}, {"width": 1024.5}, {"steps": 0}, {"steps": "many"},
    {"seed": -1}, {"seed": "1e3"}, {"cfg": "hot"}, {"cfg": 101}, {"width": True},
])
def test_bad_numbers_are_400(post, fields):
    resp = post(json=fields)
    assert resp.status_code == 400 and resp.get_json()["error"]
    if not isinstance(next(iter(fields.values())), bool):
        assert post(data=as_form(fields)).status_code == 400


def test_bad_json_body_is_400(post):
    assert post(json=["character"]).status_code == 400


def test_csrf_is_required(client):
    assert client.post(URL, json={"character": "mira_vance"}).status_code == 400


def test_works_with_comfyui_unreachable(post, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    resp = post(json=FULL)
    assert resp.status_code == 200 and resp.get_json()["positive"]


def test_random_character(post):
    body = post(json={"character": "__random__", "seed": 3}).get_json()
    assert body["character"] and body["positive"]


def test_without_a_checkpoint_the_first_one_is_used_and_said(post):
    body = post(json={"character": "hana_okabe"}).get_json()
    assert body["checkpoint"] == "Illustrious/test_model.safetensors"  # "Test Model (Illustrious)" sorts first
    assert body["warnings"] == ["No checkpoint chosen: using 'Illustrious/test_model.safetensors'."]


def test_character_default_fields_and_active_outfit_are_used(app, post):
    from sqlalchemy.orm.attributes import flag_modified

    from models import Character, db
    with app.app_context():
        mira = Character.query.filter_by(slug="mira_vance").one()
        mira.default_fields = ["special::name", "wardrobe::top"]
        mira.data = {**mira.data, "active_outfit": "casual"}
        flag_modified(mira, "data")
        db.session.commit()
    body = post(json={"character": "mira_vance"}).get_json()
    assert body["positive"] == ("masterpiece, best quality, absurdres, "  # the checkpoint's base prompt
                                "1girl, solo, Mira Vance, oversized sweater, purple sweater")


def test_session_default_checkpoint(client, post):
    with client.session_transaction() as sess:
        sess["default_checkpoint"] = "Noob/test_noob.safetensors"
    body = post(json={"character": "hana_okabe"}).get_json()
    assert body["checkpoint"] == "Noob/test_noob.safetensors"
    assert body["positive"].startswith("masterpiece, best quality, very aesthetic, newest")
    explicit = post(json={"character": "hana_okabe", "checkpoint": "Illustrious/test_model.safetensors"})
    assert explicit.get_json()["checkpoint"] == "Illustrious/test_model.safetensors"


def test_compose_request_graph_is_valid_and_reusable(app):
    with app.app_context():
        comp = compose_request(FULL)
        assert validate_against_server(comp.graph, SERVER) == []
        assert comp.character.slug == "mira_vance"
        assert [r.slug for r in comp.assets["outfits"]] == ["maid_outfit_classic", "winter_coat_set"]
        secondary = compose_request({"character": "hana_okabe", "outfits": ["maid_outfit_classic"], "seed": 1},
                                    ensure_fields=True, background=True)
        positive = split_tags(secondary.info["positive"])
        assert "blue simple background" in positive
        assert "Hana Okabe" in positive and "peace sign" not in positive  # defaults not forced in
        with pytest.raises(ComposeError) as err:
            compose_request({"character": "nobody", "steps": "0"})
        assert err.value.unknown == {"character": ["nobody"]} and len(err.value.problems) == 2


def test_resolve_character(app):
    with app.app_context():
        assert resolve_character("mira_vance").name == "Mira Vance"
        assert resolve_character("__random__") is not None
        assert resolve_character("") is None and resolve_character(None) is None
        assert resolve_character("nobody") is None


def test_prompt_preview_macro_renders(app):
    template = ('{% from "_macros/prompt_preview.html" import prompt_preview %}'
                '{{ prompt_preview(fields={"outfits": ["maid_outfit_classic"], "character": "a\\"b"}, '
                'form="#gen", id="pp1") }}')
    with app.test_request_context("/"):
        html = render_template_string(template)
    assert 'data-url="/generator/preview_prompt"' in html
    assert 'data-form="#gen"' in html and 'id="pp1"' in html and "js/prompt_preview.js" in html
    assert "&#34;outfits&#34;" in html and 'a\\"b' not in html, "fields are attribute-escaped JSON"
