"""Generate from every page, through HTTP, against the fake ComfyUI."""
from __future__ import annotations

import pytest
from PIL import Image

from models import Character, Job, Outfit
from tests.conftest import csrf_token
from tests.jobs_helpers import wait_for

AJAX = {"X-Requested-With": "XMLHttpRequest"}


def post(client, url, data=None, **kw):
    token = csrf_token(client)
    return client.post(url, data=dict(data or {}), headers={**AJAX, "X-CSRFToken": token}, **kw)


def test_character_generate_replace_sets_cover(gen_app, gen_client, comfy):
    r = post(gen_client, "/character/mira_vance/generate",
             {"action": "replace", "seed": "42", "width": "512", "height": "512",
              "include_field": ["identity::hair", "special::name"]})
    assert r.status_code == 200, r.get_json()
    job_id = r.get_json()["job_id"]
    state = wait_for(gen_app, [job_id])[job_id]
    assert state["status"] == "done", state
    with gen_app.app_context():
        mira = Character.query.filter_by(slug="mira_vance").one()
        assert mira.image_path == state["result"]["relative_path"]
        assert mira.last_generated_at is not None
    graph = comfy.submitted[-1]
    positive = graph["6"]["inputs"]["text"]
    assert "silver hair" in positive and "violet eyes" not in positive, "only the ticked fields"
    assert graph["3"]["inputs"]["seed"] == 42
    assert "11" in graph, "FaceDetailer kept: the server has it and its detector"


def test_character_preview_keeps_cover_and_can_replace_later(gen_app, gen_client):
    r = post(gen_client, "/character/hana_okabe/generate", {"action": "preview"})
    job_id = r.get_json()["job_id"]
    assert wait_for(gen_app, [job_id])[job_id]["status"] == "done"
    with gen_app.app_context():
        assert Character.query.filter_by(slug="hana_okabe").one().image_path is None
    r = post(gen_client, "/character/hana_okabe/replace_cover_from_preview")
    assert r.status_code == 200 and r.get_json()["ok"]
    with gen_app.app_context():
        assert Character.query.filter_by(slug="hana_okabe").one().image_path.startswith("characters/hana_okabe/")


def test_same_seed_same_graph(gen_app, gen_client, comfy):
    ids = [post(gen_client, "/character/mira_vance/generate", {"seed": "7"}).get_json()["job_id"] for _ in range(2)]
    with gen_app.app_context():
        graphs = [Job.query.get(i).graph for i in ids]
    assert graphs[0] == graphs[1]


def test_form_post_redirects(gen_client):
    token = csrf_token(gen_client)
    r = gen_client.post("/character/mira_vance/generate", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/character/mira_vance")


def test_unknown_slug_404(gen_client):
    assert post(gen_client, "/character/nobody/generate").status_code == 404
    assert post(gen_client, "/outfit/nothing/generate").status_code == 404


@pytest.mark.parametrize("url, category", [
    ("/outfit/sailor_uniform_summer/generate", "outfits"),
    ("/action/waving_hello/generate", "actions"),
    ("/style/soft_watercolor/generate", "styles"),
    ("/scene/cozy_cafe/generate", "scenes"),
    ("/detailer/detailed_eyes/generate", "detailers"),
])
@pytest.mark.parametrize("character", ["mira_vance", "__random__"])
def test_secondary_categories(gen_app, gen_client, comfy, url, category, character):
    r = post(gen_client, url, {"character": character, "action": "replace", "seed": "1"})
    assert r.status_code == 200, r.get_json()
    job_id = r.get_json()["job_id"]
    state = wait_for(gen_app, [job_id])[job_id]
    assert state["status"] == "done", state
    slug = url.split("/")[2]
    assert state["result"]["relative_path"].startswith(f"{category}/{slug}/")
    positive = comfy.submitted[-1]["6"]["inputs"]["text"]
    if category != "scenes":
        assert "simple background" in positive
    if character == "mira_vance":
        assert "silver hair" in positive


def test_detailer_with_action_wires_node_18(gen_app, gen_client, comfy):
    r = post(gen_client, "/detailer/detailed_eyes/generate",
             {"character": "mira_vance", "with_action": "waving_hello", "extra_positive": "smiling widely"})
    job_id = r.get_json()["job_id"]
    assert wait_for(gen_app, [job_id])[job_id]["status"] == "done"
    graph = comfy.submitted[-1]
    loras = [n["inputs"]["lora_name"] for n in graph.values() if n["class_type"] == "LoraLoader"]
    assert any("Poses" in name for name in loras)
    assert "smiling widely" in graph["6"]["inputs"]["text"]


def test_look_and_checkpoint(gen_app, gen_client, comfy):
    r = post(gen_client, "/look/mira_vance_library_look/generate", {"seed": "3"})
    job_id = r.get_json()["job_id"]
    assert wait_for(gen_app, [job_id])[job_id]["status"] == "done"
    assert "mira_vance_library" in str(comfy.submitted[-1]) or "Looks" in str(comfy.submitted[-1])
    r = post(gen_client, "/checkpoint/Noob_test_noob_safetensors/generate", {})
    job_id = r.get_json()["job_id"]
    assert wait_for(gen_app, [job_id])[job_id]["status"] == "done"
    graph = comfy.submitted[-1]
    assert graph["4"]["inputs"]["ckpt_name"] == "Noob/test_noob.safetensors"
    assert graph["3"]["inputs"]["sampler_name"] == "dpmpp_2m"


def test_generate_missing_one_job_per_coverless_entry(gen_app, gen_client):
    missing = gen_client.get("/get_missing_outfits").get_json()
    assert missing["count"] == 6
    r = post(gen_client, "/generate_missing", {"category": "outfits"})
    body = r.get_json()
    assert body["count"] == 6
    states = wait_for(gen_app, body["job_ids"], timeout=60)
    assert all(s["status"] == "done" for s in states.values())
    assert gen_client.get("/get_missing_outfits").get_json()["count"] == 0
    with gen_app.app_context():
        graphs = [Job.query.get(j).graph for j in body["job_ids"]]
    assert {g["3"]["inputs"]["seed"] for g in graphs} == {123456789}, "covers share one fixed seed"
    r = post(gen_client, "/clear_all_outfit_covers")
    assert r.get_json()["cleared"] == 6
    with gen_app.app_context():
        assert Outfit.query.filter(Outfit.image_path.isnot(None)).count() == 0


def test_generate_missing_rejects_unknown_category(gen_client):
    assert post(gen_client, "/generate_missing", {"category": "styles"}).status_code == 400


def test_png_carries_recipe(gen_app, gen_client):
    import json
    r = post(gen_client, "/outfit/winter_coat_set/generate", {"character": "mira_vance", "seed": "99"})
    job_id = r.get_json()["job_id"]
    state = wait_for(gen_app, [job_id])[job_id]
    with Image.open(gen_app.config["UPLOADS_DIR"] / state["result"]["relative_path"]) as img:
        text = img.text
    recipe = json.loads(text["gaze"])
    assert recipe["seed"] == 99 and recipe["assets"]["outfits"] == ["winter_coat_set"]
    assert recipe["character"] == "mira_vance"
    assert "Negative prompt:" in text["parameters"] and "Seed: 99" in text["parameters"]
    assert "<lora:" in text["parameters"]
    assert "prompt" in text, "ComfyUI's chunk kept"


def test_api_generate(gen_app, gen_client, comfy):
    r = gen_client.post("/api/generate", json={"character": "mira_vance", "outfits": ["winter_coat_set"],
                                               "seed": 5, "checkpoint": "Illustrious/test_model.safetensors"})
    assert r.status_code == 202
    job_id = r.get_json()["job_id"]
    assert wait_for(gen_app, [job_id])[job_id]["status"] == "done"
    # draft: fewer steps and a smaller size; explicit values win
    r = gen_client.post("/api/generate", json={"character": "mira_vance", "quality": "draft", "count": 3,
                                               "checkpoint": "Illustrious/test_model.safetensors", "seed": 10})
    ids = r.get_json()["job_ids"]
    assert len(ids) == 3
    with gen_app.app_context():
        graphs = [Job.query.get(i).graph for i in ids]
    assert graphs[0]["3"]["inputs"]["steps"] < 25 and graphs[0]["5"]["inputs"]["width"] < 1024
    assert [g["3"]["inputs"]["seed"] for g in graphs] == [10, 11, 12]
    r = gen_client.post("/api/generate", json={"character": "mira_vance", "quality": "draft", "steps": 30,
                                               "width": 768, "checkpoint": "Illustrious/test_model.safetensors"})
    with gen_app.app_context():
        g = Job.query.get(r.get_json()["job_id"]).graph
    assert g["3"]["inputs"]["steps"] == 30 and g["5"]["inputs"]["width"] == 768
    wait_for(gen_app, ids + [r.get_json()["job_id"]], timeout=60)


@pytest.mark.parametrize("body, status", [
    ({"character": "nobody"}, 400), ({"count": 0}, 400), ({"count": "3"}, 400),
    ({"quality": "best"}, 400), ({"width": "wide"}, 400), ({"bogus": 1}, 400),
])
def test_api_generate_errors_are_json(gen_client, body, status):
    r = gen_client.post("/api/generate", json=body)
    assert r.status_code == status and "error" in r.get_json()


def test_api_requires_json(gen_client):
    assert gen_client.post("/api/generate", data={"character": "x"}).status_code == 415


def test_api_queue_list_and_cancel(gen_app, gen_client, comfy):
    comfy.set_render_delay(1.0)
    ids = gen_client.post("/api/generate", json={"character": "mira_vance", "count": 3}).get_json()["job_ids"]
    listing = gen_client.get("/api/queue").get_json()
    assert {j["id"] for j in listing["jobs"]} >= set(ids)
    r = gen_client.post(f"/api/queue/{ids[-1]}/cancel", json={})
    assert r.status_code == 200
    comfy.set_render_delay(0.02)
    states = wait_for(gen_app, ids, timeout=60)
    assert states[ids[-1]]["status"] == "removed"
    assert gen_client.post("/api/queue/nope/cancel", json={}).status_code == 404


def test_health_reports_servers(gen_client, comfy):
    body = gen_client.get("/api/health").get_json()
    assert body["app"] == "ok" and body["db"] == "ok"
    server = body["comfyui"][0]
    assert server["reachable"] and server["devices"]
    comfy.go_down()
    body = gen_client.get("/api/health").get_json()
    assert body["comfyui"][0]["reachable"] is False and body["comfyui"][0]["error"]
    comfy.come_back()


def test_server_without_facedetailer_gets_graph_without_it(config, library):
    """A ComfyUI without Impact Pack gets the graph without the detailer
    branch, and the job says what was left out."""
    from tests.fake_comfy import FakeComfy
    from tests.gen_fixtures import library_loras
    from tests.jobs_helpers import start_app, stop
    with FakeComfy(render_delay=0.02, with_impact=False, loras=library_loras(library)) as fake:
        app = start_app(config, [fake.url])
        try:
            client = app.test_client()
            job_id = post(client, "/character/mira_vance/generate").get_json()["job_id"]
            state = wait_for(app, [job_id])[job_id]
            assert state["status"] == "done", state
            assert state["warnings"] and "FaceDetailer" in " ".join(state["warnings"])
            graph = fake.submitted[-1]
            assert not any(n["class_type"] == "FaceDetailer" for n in graph.values())
            status = client.get("/api/status").get_json()
            assert "FaceDetailer" in status["servers"][0]["missing"]
        finally:
            stop(app)


def test_character_page_generates_with_a_look(gen_app, gen_client, comfy):
    html = gen_client.get("/character/mira_vance").get_data(as_text=True)
    assert 'name="look"' in html and "mira_vance_library_look" in html
    r = post(gen_client, "/character/mira_vance/generate", {"look": "mira_vance_library_look", "seed": "5"})
    job_id = r.get_json()["job_id"]
    assert wait_for(gen_app, [job_id])[job_id]["status"] == "done"
    graph = comfy.submitted[-1]
    assert "cardigan" in graph["6"]["inputs"]["text"], "the look's positive reaches the prompt"
    assert graph["7"]["inputs"]["text"].startswith("short hair"), "the look's negative is prepended"
