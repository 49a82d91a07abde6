"""POST /<category>/bulk_create against LoRA files with real safetensors headers: with the
scripted LLM, without any LLM, with unreadable files, and never over an existing entry."""
from __future__ import annotations

import json
import struct
import time

import pytest

from gaze import create_app
from gaze.safetensors_meta import (
    MAX_HEADER_BYTES,
    MetadataError,
    read_header,
    read_lora_info,
)
from tests.conftest import csrf_token
from tests.jobs_helpers import wait_for
from tests.llm_helpers import SECRET, kohya_metadata, use_llm, write_safetensors
from tests.llm_server import completion

CHAR_TAGS = {"1girl": 40, "solo": 40, "long_hair": 38, "red_eyes": 36, "black_hair": 35, "smile": 20,
             "school_uniform": 18, "pleated_skirt": 15, "thighhighs": 12, "jacket": 10, "hat": 6,
             "simple_background": 9}
OUTFIT_TAGS = {"1girl": 30, "serafuku": 30, "pleated_skirt": 28, "sailor_collar": 25, "white_shirt": 20,
               "boots": 8, "looking_at_viewer": 22}


@pytest.fixture
def loras(lora_root):
    """A character folder with metadata-rich, bare and broken LoRA files."""
    looks = lora_root / "Illustrious" / "Looks"
    write_safetensors(looks / "rin_v2.safetensors", kohya_metadata(
        "rin_v2", CHAR_TAGS, folder="10_rinko", **{"modelspec.title": "Rinko Aoba",
                                                   "modelspec.trigger_phrase": "rinko aoba"}))
    write_safetensors(looks / "bare_model.safetensors")                     # a header without metadata
    (looks / "broken.safetensors").write_bytes(struct.pack("<Q", 10**15) + b"{}")
    (looks / "truncated.safetensors").write_bytes(struct.pack("<Q", 5000) + b'{"a":')
    (looks / "old.ckpt").write_bytes(b"pickle")
    write_safetensors(looks / "mira_vance.safetensors", kohya_metadata("mira", {"1girl": 1}))  # mira_vance's own
    return lora_root


def _queue(app, category):
    client = app.test_client()
    token = csrf_token(client, "/")
    response = client.post(f"/{category}/bulk_create", data={"csrf_token": token},
                           headers={"X-Requested-With": "XMLHttpRequest"})
    return client, response


def _run(app, category):
    response = _queue(app, category)[1]
    body = response.get_json()
    assert response.status_code == 200, body
    if body["job_id"] is None:
        return body, None
    state = wait_for(app, [body["job_id"]], timeout=60)[body["job_id"]]
    return body, state


def _wait_result(app, job_id, timeout=20.0):
    """A job's status once the runner has written its result."""
    from gaze.jobs import get_queue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            state = get_queue(app).status(job_id)
        if state["result"] is not None:
            return state
        time.sleep(0.05)
    raise AssertionError(f"no result for job {job_id}: {state}")


def _entry(library, folder, name):
    return json.loads((library / folder / name).read_text())


@pytest.fixture
def make_app():
    made = []

    def make(config):
        app = create_app(config)
        made.append(app)
        return app
    yield make
    from gaze.jobs import get_queue
    from models import db
    for app in made:
        get_queue(app).stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_bulk_create_without_an_llm_fills_from_metadata(config, loras, library, make_app):
    app = make_app(config)
    body, state = _run(app, "characters")
    assert sorted(body["files"]) == sorted(f"Illustrious/Looks/{n}" for n in (
        "bare_model.safetensors", "broken.safetensors", "old.ckpt", "rin_v2.safetensors", "truncated.safetensors"))
    assert state["status"] == "done" and state["kind"] == "bulk_create"
    assert state["progress"]["value"] == state["progress"]["max"] == 5
    result = state["result"]
    assert sorted(c["id"] for c in result["created"]) == ["bare_model", "rinko_aoba"]
    skipped = {s["file"].rsplit("/", 1)[-1]: s["skipped"] for s in result["skipped"]}
    assert "header length" in skipped["broken.safetensors"]
    assert "truncated" in skipped["truncated.safetensors"]
    assert ".safetensors" in skipped["old.ckpt"]
    assert "created 2" in result["summary"] and "skipped 3" in result["summary"]

    rin = _entry(library, "characters", "rinko_aoba.json")
    assert rin["character_name"] == "Rinko Aoba"
    assert rin["lora"] == {"lora_name": "Illustrious/Looks/rin_v2.safetensors", "lora_weight": 1.0,
                           "lora_triggers": "rinko aoba"}
    assert rin["identity"]["base_specs"] == "1girl"
    assert rin["identity"]["hair"] == "long hair, black hair"
    assert rin["identity"]["eyes"] == "red eyes"
    wardrobe = rin["wardrobe"]["default"]
    assert wardrobe["full_body"] == "school uniform" and wardrobe["bottom"] == "pleated skirt"
    assert wardrobe["legwear"] == "thighhighs" and wardrobe["top"] == "jacket" and wardrobe["headwear"] == "hat"
    prompt_text = json.dumps([rin["identity"], rin["wardrobe"]])
    assert "solo" not in prompt_text and "simple background" not in prompt_text and "smile" in prompt_text
    assert rin["participants"] == {"orientation": "1F", "solo_focus": "true"}
    assert rin["tags"] == ["sdxl_base_v1-0"]
    bare = _entry(library, "characters", "bare_model.json")
    assert bare["character_name"] == "Bare Model" and bare["lora"]["lora_triggers"] == ""

    # the entries are in the library at once; a second run finds nothing new to create
    assert app.test_client().get("/character/rinko_aoba").status_code == 200
    body, state = _run(app, "characters")
    assert sorted(body["files"]) == sorted(f"Illustrious/Looks/{n}" for n in (
        "broken.safetensors", "old.ckpt", "truncated.safetensors"))
    assert state["result"]["created"] == []


def test_bulk_create_with_the_scripted_llm(config, loras, library, llm_server, make_app, caplog):
    use_llm(config, llm_server)
    draft = {"character_id": "rinko_aoba", "character_name": "Rinko Aoba",
             "identity": {"base_specs": "1girl", "hair": "long hair, black hair", "eyes": "red eyes"},
             "wardrobe": {"default": {"full_body": "school uniform", "bottom": "pleated skirt"},
                          "casual": {"top": "jacket", "headwear": "hat"}},
             "lora": {"lora_name": "Illustrious/Looks/rin_v2.safetensors", "lora_weight": 0.8,
                      "lora_triggers": ""},
             "participants": {"orientation": "1F", "solo_focus": "true"}, "tags": ["original"]}
    # files are processed in name order: bare_model (LLM answers nonsense), rin_v2 (a good draft)
    llm_server.script([completion("I am not sure what this LoRA is."), completion("```json\n" + json.dumps(draft) + "\n```")])
    app = make_app(config)
    state = _run(app, "characters")[1]
    result = state["result"]
    assert sorted((c["id"], c["source"]) for c in result["created"]) == [("bare_model", "metadata"),
                                                                          ("rinko_aoba", "llm")]
    bare_note = next(c for c in result["created"] if c["id"] == "bare_model")["note"]
    assert "LLM draft failed" in bare_note
    rin = _entry(library, "characters", "rinko_aoba.json")
    assert set(rin["wardrobe"]) == {"default", "casual"}                 # outfits grouped by the LLM
    assert rin["lora"]["lora_triggers"] == "rinko aoba"                  # filled from the metadata
    assert rin["lora"]["lora_weight"] == 0.8
    # the evidence the LLM saw: the file, triggers and the most frequent training tags, with the system prompt
    sent = llm_server.requests[1]["messages"]
    assert sent[0]["content"] == (library / "prompts" / "character_system.txt").read_text()
    evidence = sent[1]["content"]
    assert 'LoRA file "Illustrious/Looks/rin_v2.safetensors"' in evidence
    assert '"rinko aoba" as lora.lora_triggers' in evidence
    assert "- 1girl: 40" in evidence and "- long hair: 38" in evidence
    assert evidence.index("long hair") < evidence.index("smile")
    assert "identity" in evidence and "wardrobe" in evidence
    assert SECRET not in json.dumps(state) and SECRET not in caplog.text


def test_bulk_create_never_overwrites_an_existing_entry(config, lora_root, library, llm_server, make_app):
    clothing = lora_root / "Illustrious" / "Clothing"
    # LoRA files the sample outfits already use: adventurer_gear (written by the fixture) and winter_coat_set
    write_safetensors(clothing / "winter_coat_set.safetensors", kohya_metadata("winter_coat_set", {"coat": 3}))
    # new files whose drafted ids are taken by sample outfits that have no (or another) LoRA
    write_safetensors(clothing / "maid_outfit_classic.safetensors", kohya_metadata("maid", {"maid": 3}))
    write_safetensors(clothing / "school" / "sailor.safetensors", kohya_metadata("sailor_uniform_summer", OUTFIT_TAGS))
    before = {p.name: p.read_bytes() for p in (library / "clothing").glob("*.json")}
    use_llm(config, llm_server)
    llm_server.script([
        completion(json.dumps({"outfit_id": "maid_outfit_classic", "outfit_name": "Overwritten!"})),
        completion(json.dumps({"outfit_id": "sailor_uniform_summer", "outfit_name": "Sailor (LoRA)",
                               "wardrobe": {"full_body": "serafuku"}})),
    ])
    app = make_app(config)
    body, state = _run(app, "outfits")
    assert body["files"] == ["Illustrious/Clothing/maid_outfit_classic.safetensors",
                             "Illustrious/Clothing/school/sailor.safetensors"]
    assert body["existing"] == 2
    after = {p.name: p.read_bytes() for p in (library / "clothing").glob("*.json")}
    assert {name: after[name] for name in before} == before, "existing files are untouched"
    assert sorted(set(after) - set(before)) == ["sailor.json"]
    # the LLM's id was taken, so the file name gave a fresh one
    assert [(c["file"], c["id"]) for c in state["result"]["created"]] == [
        ("Illustrious/Clothing/school/sailor.safetensors", "sailor")]
    sailor = _entry(library, "clothing", "sailor.json")
    assert sailor["outfit_name"] == "Sailor (LoRA)" and sailor["wardrobe"]["full_body"] == "serafuku"
    assert sailor["lora"]["lora_name"] == "Illustrious/Clothing/school/sailor.safetensors"
    [skipped] = state["result"]["skipped"]
    assert skipped["file"] == "Illustrious/Clothing/maid_outfit_classic.safetensors"
    assert "'maid_outfit_classic' already exists" in skipped["skipped"]


def test_bulk_create_needs_a_lora_root_and_a_token(client, token):
    response = client.post("/outfits/bulk_create", data={"csrf_token": token},
                           headers={"X-Requested-With": "XMLHttpRequest"})
    assert response.status_code == 400 and "GAZE_LORA_ROOT" in response.get_json()["error"]
    assert client.post("/outfits/bulk_create").status_code == 400          # no CSRF token
    assert client.post("/looks/bulk_create", data={"csrf_token": token}).status_code in (404, 405)


def test_nothing_to_create_is_said_plainly(config, lora_root, make_app):
    app = make_app(config)
    client = app.test_client()
    token = csrf_token(client, "/outfits")
    response = client.post("/outfits/bulk_create", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "already has an entry" in page
    html = client.get("/outfits").get_data(as_text=True)
    assert 'id="bulk-create"' in html


def test_cancelling_a_bulk_job_stops_it(config, lora_root, library, make_app, llm_server):
    use_llm(config, llm_server)
    llm_server.delay = 0.3
    looks = lora_root / "Illustrious" / "Looks"
    for i in range(6):
        write_safetensors(looks / f"model_{i}.safetensors", kohya_metadata(f"model_{i}", {"1girl": 3}))
    llm_server.script([completion("no json")] * 6)
    app = make_app(config)
    client = app.test_client()
    body = _queue(app, "characters")[1].get_json()
    wait_for(app, [body["job_id"]], statuses=("running",), timeout=10)
    assert client.post(f"/api/queue/{body['job_id']}/cancel", json={}).get_json()["ok"] is True
    state = _wait_result(app, body["job_id"])
    assert state["status"] == "removed"
    assert len(state["result"]["created"]) < 6 and state["result"]["summary"].startswith("Cancelled")


# ---------------------------------------------------------------- the header reader


def test_read_lora_info(tmp_path):
    path = write_safetensors(tmp_path / "x.safetensors", kohya_metadata(
        "my_lora", {"long_hair": 5, "1girl": 9, "": 3, "bad": "x"}, folder="5_mira vance"))
    info = read_lora_info(path)
    assert info.name == "my_lora" and info.base_model == "sdxl_base_v1-0" and info.has_metadata
    assert info.tag_counts == [("1girl", 9), ("long hair", 5)]
    assert info.triggers == ["mira vance"]
    bare = read_lora_info(write_safetensors(tmp_path / "plain_name.safetensors"))
    assert bare.name == "plain_name" and bare.tag_counts == [] and not bare.has_metadata
    garbled = write_safetensors(tmp_path / "g.safetensors", {"ss_tag_frequency": "{not json", "ss_output_name": 5})
    assert read_lora_info(garbled).tag_counts == []


@pytest.mark.parametrize("content, message", [
    (b"", "too short"),
    (b"1234567", "too short"),
    (struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}", "not plausible"),
    (struct.pack("<Q", 0), "not plausible"),
    (struct.pack("<Q", 100) + b"{}", "truncated"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not valid JSON"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
])
def test_unreadable_headers_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(MetadataError, match=message):
        read_header(path)


def test_the_queue_lists_a_bulk_job_with_its_summary(config, loras, make_app):
    app = make_app(config)
    body = _run(app, "characters")[0]
    jobs = app.test_client().get("/api/queue").get_json()["jobs"]
    [job] = [j for j in jobs if j["id"] == body["job_id"]]
    assert job["kind"] == "bulk_create" and job["status"] == "done"
    assert job["label"] == "Bulk create characters from 5 LoRA files"
    assert job["result"]["summary"].startswith("created 2")
    assert job["note"] is None   # not "waiting for ComfyUI": bulk jobs do not need it


@pytest.mark.parametrize("category, field", [("outfits", "wardrobe"), ("actions", "action"), ("scenes", "scene"),
                                             ("styles", "style"), ("detailers", "prompt")])
def test_metadata_entries_fit_every_category(tmp_path, category, field):
    from gaze import categories
    from gaze.lora_entries import metadata_entry
    from gaze.schema import normalize
    cat = categories.REGISTRY[category]
    info = read_lora_info(write_safetensors(tmp_path / "x.safetensors", kohya_metadata("cool_thing-v1", OUTFIT_TAGS)))
    data = normalize(cat, metadata_entry(cat, cat.lora_prefix + "x.safetensors", info))
    assert data[cat.id_key] == "cool_thing_v1" and data[cat.name_key] == "Cool Thing V1"
    text = json.dumps(data[field])
    assert "serafuku" in text and "looking at viewer" not in text and "1girl" not in text
    if category == "outfits":
        assert data["wardrobe"]["full_body"] == "serafuku" and data["wardrobe"]["footwear"] == "boots"


def test_a_shutdown_mid_job_resumes_with_the_rest(config, lora_root, library, make_app, llm_server):
    from gaze import bulk
    from gaze.jobs import get_queue
    use_llm(config, llm_server)
    llm_server.delay = 0.25
    looks = lora_root / "Illustrious" / "Looks"
    for i in range(5):
        write_safetensors(looks / f"model_{i}.safetensors", kohya_metadata(f"model_{i}", {"1girl": 3}))
    llm_server.script([completion("no json")] * 5)
    app = make_app(config)
    job_id = _queue(app, "characters")[1].get_json()["job_id"]
    wait_for(app, [job_id], statuses=("running",), timeout=10)
    time.sleep(0.4)
    queue = get_queue(app)
    queue.stop_event.set()
    state = wait_for(app, [job_id], statuses=("pending",), timeout=10)[job_id]
    done_first = len(state["result"]["created"])
    assert 0 < done_first < 5 and state["result"]["summary"] is None
    queue.stop_event.clear()
    bulk.runner(app).wake()
    state = _wait_result(app, job_id)
    while state["result"]["summary"] is None:
        time.sleep(0.05)
        state = _wait_result(app, job_id)
    state = wait_for(app, [job_id], timeout=20)[job_id]
    assert state["status"] == "done" and state["progress"]["value"] == state["progress"]["max"] == 5
    assert sorted(c["id"] for c in state["result"]["created"]) == [f"model_{i}" for i in range(5)]
    assert state["result"]["skipped"] == []
