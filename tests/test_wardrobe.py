"""A character's wardrobe: switch, add, delete and rename outfits, in both
the nested and the legacy flat format."""
from __future__ import annotations

import pytest

from models import Character
from tests.helpers import post, read_entry

MIRA = "/character/mira_vance/outfit"
RIN = "/character/rin_takamori/outfit"   # legacy flat wardrobe


def test_switch_outfit(app, client, token, library):
    response = post(client, f"{MIRA}/switch", token, {"outfit": "winter"})
    assert response.status_code == 302 and response.headers["Location"] == "/character/mira_vance"
    assert read_entry(library, "characters", "mira_vance.json")["active_outfit"] == "winter"
    html = client.get("/character/mira_vance").get_data(as_text=True)
    assert 'id="active-outfit">winter<' in html and "Outfit: winter" in html
    with app.app_context():
        assert Character.query.filter_by(slug="mira_vance").one().get_active_wardrobe() == \
            read_entry(library, "characters", "mira_vance.json")["wardrobe"]["winter"]


def test_add_rename_delete_outfit(client, token, library):
    add = post(client, f"{MIRA}/add", token, {"name": "  swim   suit "}, ajax=True)
    assert add.status_code == 200 and add.get_json()["active"] == "swim suit"
    data = read_entry(library, "characters", "mira_vance.json")
    assert list(data["wardrobe"]) == ["default", "casual", "winter", "formal", "swim suit"]
    assert all(v == "" for v in data["wardrobe"]["swim suit"].values())
    rename = post(client, f"{MIRA}/rename", token, {"outfit": "swim suit", "name": "beach"}, ajax=True)
    assert rename.get_json()["outfits"][-1] == "beach" and rename.get_json()["active"] == "beach"
    rename_other = post(client, f"{MIRA}/rename", token, {"outfit": "casual", "name": "weekend"}, ajax=True)
    assert rename_other.get_json()["outfits"][1] == "weekend", "position kept"
    delete = post(client, f"{MIRA}/delete", token, {"outfit": "beach"}, ajax=True)
    assert delete.get_json()["active"] == "default", "deleting the active outfit falls back to default"
    assert list(read_entry(library, "characters", "mira_vance.json")["wardrobe"]) == \
        ["default", "weekend", "winter", "formal"]


def test_add_outfit_as_a_copy(client, token, library):
    post(client, f"{MIRA}/add", token, {"name": "winter 2", "copy_from": "winter"})
    wardrobe = read_entry(library, "characters", "mira_vance.json")["wardrobe"]
    assert wardrobe["winter 2"] == wardrobe["winter"]


@pytest.mark.parametrize("op, form, message", [
    ("switch", {"outfit": "nope"}, "no outfit named"),
    ("add", {"name": "casual"}, "already an outfit"),
    ("add", {"name": "   "}, "give the outfit a name"),
    ("add", {"name": "x" * 65}, "at most 64"),
    ("rename", {"outfit": "casual", "name": "winter"}, "already an outfit"),
    ("rename", {"outfit": "ghost", "name": "x"}, "no outfit named"),
    ("delete", {"outfit": "ghost"}, "no outfit named"),
])
def test_wardrobe_mistakes_are_400_and_change_nothing(client, token, library, op, form, message):
    before = (library / "characters" / "mira_vance.json").read_bytes()
    response = post(client, f"{MIRA}/{op}", token, form, ajax=True)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert (library / "characters" / "mira_vance.json").read_bytes() == before
    page = post(client, f"{MIRA}/{op}", token, form, follow_redirects=True)
    assert message in page.get_data(as_text=True)


def test_last_outfit_cannot_be_deleted(client, token, library):
    response = post(client, "/character/hana_okabe/outfit/delete", token, {"outfit": "default"}, ajax=True)
    assert response.status_code == 400 and "at least one outfit" in response.get_json()["error"]


def test_legacy_flat_wardrobe_converts_on_first_add(client, token, library):
    flat = read_entry(library, "characters", "rin_takamori.json")["wardrobe"]
    html = client.get("/character/rin_takamori").get_data(as_text=True)
    assert "single (legacy) outfit" in html and "wardrobe::top" in html
    assert post(client, f"{RIN}/switch", token, {"outfit": "default"}, ajax=True).status_code == 400
    response = post(client, f"{RIN}/add", token, {"name": "party"}, ajax=True)
    assert response.status_code == 200 and response.get_json()["outfits"] == ["default", "party"]
    data = read_entry(library, "characters", "rin_takamori.json")
    assert data["wardrobe"]["default"] == flat and data["active_outfit"] == "party"
    assert post(client, f"{RIN}/switch", token, {"outfit": "default"}).status_code == 302
    assert 'id="active-outfit">default<' in client.get("/character/rin_takamori").get_data(as_text=True)


def test_unknown_character_or_operation(client, token):
    assert post(client, "/character/nobody/outfit/add", token, {"name": "x"}).status_code == 404
    assert post(client, f"{MIRA}/explode", token, {"outfit": "casual"}).status_code == 404
    assert client.get(f"{MIRA}/switch").status_code == 405


def test_outfit_routes_refuse_non_text_json_values(client, token):
    """JSON bodies may carry anything: a dict where a name belongs is a 4xx, not a 500."""
    for op in ("switch", "add", "delete", "rename"):
        r = client.post(f"/character/mira_vance/outfit/{op}",
                        json={"outfit": {"negative": []}, "name": ["x"], "copy_from": 5},
                        headers={"X-CSRFToken": token, "X-Requested-With": "XMLHttpRequest"})
        assert 400 <= r.status_code < 500, (op, r.status_code)
