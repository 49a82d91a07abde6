"""The generator page: batches, a fixed seed, and re-make from a PNG's recipe."""
from __future__ import annotations

from models import Job
from tests.conftest import csrf_token
from tests.jobs_helpers import wait_for

AJAX = {"X-Requested-With": "XMLHttpRequest"}


def _post(client, data):
    return client.post("/generator", data=data, headers={**AJAX, "X-CSRFToken": csrf_token(client)})


def test_page_lists_every_category(gen_client):
    html = gen_client.get("/generator").get_data(as_text=True)
    for name in ("outfits", "actions", "styles", "scenes", "detailers"):
        assert f'name="{name}"' in html
    assert "Random character" in html and "Winter Coat" in html


def test_batch_of_three_with_fixed_seed(gen_app, gen_client):
    data = {"character": "mira_vance", "outfits": ["winter_coat_set"], "actions": ["waving_hello"],
            "scenes": ["cozy_cafe"], "seed": "100", "count": "3", "width": "512", "height": "512"}
    ids = _post(gen_client, data).get_json()["job_ids"]
    assert len(ids) == 3
    states = wait_for(gen_app, ids, timeout=60)
    assert all(s["status"] == "done" for s in states.values())
    with gen_app.app_context():
        graphs = [Job.query.get(i).graph for i in ids]
    assert [g["3"]["inputs"]["seed"] for g in graphs] == [100, 101, 102]
    again = _post(gen_client, {**data, "count": "1"}).get_json()["job_ids"][0]
    with gen_app.app_context():
        assert Job.query.get(again).graph == graphs[0], "same seed, same graph"
    wait_for(gen_app, [again])


def test_bad_batch_count(gen_client):
    assert _post(gen_client, {"count": "0"}).status_code == 400
    assert _post(gen_client, {"count": "lots"}).status_code == 400


def test_remake_reproduces_the_graph(gen_app, gen_client):
    data = {"character": "sera_lindqvist", "outfits": ["adventurer_gear"], "styles": ["soft_watercolor"],
            "seed": "4242", "extra_positive": "night sky", "checkpoint": "Noob/test_noob.safetensors"}
    job_id = _post(gen_client, data).get_json()["job_ids"][0]
    state = wait_for(gen_app, [job_id])[job_id]
    rel = state["result"]["relative_path"]
    html = gen_client.get("/generator", query_string={"remake": rel}).get_data(as_text=True)
    assert 'value="4242"' in html and "night sky" in html
    assert '<option value="adventurer_gear" selected' in html
    # submitting the re-made form builds the very same graph
    from gaze.views.generator import _remake_defaults
    with gen_app.test_request_context():
        fields = _remake_defaults(rel)
    fields.pop("fields")
    again = gen_client.post("/api/generate", json={k: v for k, v in fields.items() if v not in (None, "", [])})
    with gen_app.app_context():
        assert Job.query.get(again.get_json()["job_id"]).graph == Job.query.get(job_id).graph
    wait_for(gen_app, [again.get_json()["job_id"]])


def test_remake_of_unknown_image_warns(gen_client):
    r = gen_client.get("/generator", query_string={"remake": "../../etc/passwd"})
    assert r.status_code == 200 and "no GAZE recipe" in r.get_data(as_text=True)
