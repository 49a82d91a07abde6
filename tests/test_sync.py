"""The files → DB sync: cold, incremental, deletion, malformed files, clashes."""
from __future__ import annotations

import json
import os

from gaze.sync import sync_all
from models import Character, Checkpoint, LibraryProblem, Outfit, db


def _write(path, data):
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def _bump(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_cold_sync_loads_the_sample_library(app):
    with app.app_context():
        assert Character.query.count() == 8
        assert Outfit.query.count() == 6
        kaito = Character.query.filter_by(slug="kaito_winter").one()
        assert kaito.character_id == "kaito_(winter)"
        assert LibraryProblem.query.count() == 0
        assert {c.checkpoint_path for c in Checkpoint.query} == {
            "Illustrious/test_model.safetensors", "Noob/test_noob.safetensors"}


def test_missing_subkeys_take_defaults_and_unknown_keys_stay(app, library):
    _write(library / "clothing" / "bare.json", {"outfit_id": "bare", "custom": {"keep": 1}})
    with app.app_context():
        sync_all(library)
        row = Outfit.query.filter_by(slug="bare").one()
        assert row.name == "bare"
        assert row.data["wardrobe"]["top"] == ""
        assert row.data["lora"] == {"lora_name": "", "lora_weight": 1.0, "lora_triggers": ""}
        assert row.data["custom"] == {"keep": 1}


def test_incremental_rescan_reads_only_changed_files(app, library, monkeypatch):
    from gaze import sync as sync_mod
    reads = []
    real = sync_mod.read_text
    monkeypatch.setattr(sync_mod, "read_text", lambda p: reads.append(os.path.basename(p)) or real(p))
    with app.app_context():
        report = sync_all(library)
        assert reads == [] and report.added == report.updated == report.removed == 0
        path = library / "characters" / "mira_vance.json"
        data = json.loads(path.read_text())
        data["character_name"] = "Mira V."
        _write(path, data)
        _bump(path)
        report = sync_all(library)
        assert reads == ["mira_vance.json"] and report.updated == 1
        assert Character.query.filter_by(slug="mira_vance").one().name == "Mira V."


def test_new_and_deleted_files(app, library):
    with app.app_context():
        _write(library / "characters" / "new_one.json", {"character_id": "new_one", "character_name": "New"})
        (library / "characters" / "hana_okabe.json").unlink()
        report = sync_all(library)
        assert (report.added, report.removed) == (1, 1)
        slugs = {c.slug for c in Character.query}
        assert "new_one" in slugs and "hana_okabe" not in slugs


def test_malformed_files_are_reported_not_fatal(app, library, client):
    _write(library / "characters" / "broken.json", '{"character_id": "x",\n "identity": {')
    _write(library / "characters" / "list.json", "[1, 2]")
    _write(library / "characters" / "noid.json", {"character_name": "No id"})
    _write(library / "characters" / "types.json", {"character_id": "t", "identity": {"hair": 5}, "tags": "a"})
    with app.app_context():
        sync_all(library)
        problems = {p.filename: p.message for p in LibraryProblem.query}
        assert "line 2" in problems["broken.json"] and "column" in problems["broken.json"]
        assert "object" in problems["list.json"]
        assert "character_id" in problems["noid.json"]
        assert "identity.hair" in problems["types.json"] and "tags" in problems["types.json"]
        assert Character.query.count() == 8, "the good files still load"
    html = client.get("/").get_data(as_text=True)
    assert 'id="problems-badge"' in html and ">4<" in html.replace(" ", "")
    page = client.get("/problems").get_data(as_text=True)
    assert "broken.json" in page and "identity.hair" in page


def test_fixed_file_leaves_problem_list(app, library):
    path = library / "actions" / "bad.json"
    _write(path, "{nope")
    with app.app_context():
        sync_all(library)
        assert LibraryProblem.query.count() == 1
        _write(path, {"action_id": "bad_fixed"})
        _bump(path)
        sync_all(library)
        assert LibraryProblem.query.count() == 0


def test_slug_collision_reported_and_resolved(app, library):
    _write(library / "characters" / "mira-vance.json", {"character_id": "mira-vance", "character_name": "Clash"})
    # "mira-vance" drops the hyphen → "miravance"; make a real clash with "mira_vance":
    _write(library / "characters" / "mira__.json", {"character_id": "mira_vance()", "character_name": "Clash 2"})
    with app.app_context():
        sync_all(library)
        clash = LibraryProblem.query.filter_by(kind="collision").one()
        assert clash.filename == "mira__.json" and "mira_vance.json" in clash.message
        assert Character.query.filter_by(slug="mira_vance").one().name == "Mira Vance"
        (library / "characters" / "mira_vance.json").unlink()
        sync_all(library)
        assert LibraryProblem.query.filter_by(kind="collision").count() == 0
        assert Character.query.filter_by(slug="mira_vance").one().name == "Clash 2"


def test_checkpoints_from_disk_get_defaults(app, library, tmp_path):
    root = tmp_path / "models"
    (root / "Illustrious").mkdir(parents=True)
    (root / "Illustrious" / "test_model.safetensors").write_bytes(b"x")
    (root / "Noob").mkdir()
    (root / "Noob" / "fresh.safetensors").write_bytes(b"x")
    with app.app_context():
        sync_all(library, root)
        fresh = Checkpoint.query.filter_by(checkpoint_path="Noob/fresh.safetensors").one()
        assert fresh.on_disk and not fresh.has_json and fresh.data["steps"] == 25
        assert fresh.slug == "Noob_fresh_safetensors"
        known = Checkpoint.query.filter_by(checkpoint_path="Illustrious/test_model.safetensors").one()
        assert known.on_disk and known.has_json


def test_full_rescan_rebuilds_everything(app, library):
    with app.app_context():
        db.session.query(Character).delete()
        db.session.commit()
        # a plain rescan trusts size/mtime bookkeeping of remaining rows; full re-reads all files
        report = sync_all(library, full=True)
        assert Character.query.count() == 8 and report.added >= 8


def test_cover_and_default_fields_live_in_the_file(app, library):
    """The DB is a cache: covers and saved prompt fields survive a rebuild."""
    from gaze import assets, categories
    from models import LibraryProblem  # noqa: F401
    with app.app_context():
        mira = Character.query.filter_by(slug="mira_vance").one()
        assets.set_cover(mira, "characters/mira_vance/cover_x.png")
        assets.save_default_fields(mira, ["identity::hair", "special::name"])
        on_disk = json.loads((library / "characters" / "mira_vance.json").read_text())
        assert on_disk["_gaze"] == {"cover": "characters/mira_vance/cover_x.png",
                                    "default_fields": ["identity::hair", "special::name"]}
        # an edit that leaves GAZE's state out (e.g. the JSON editor) keeps it
        edited = {k: v for k, v in mira.data.items() if k != "_gaze"} | {"character_name": "Mira E."}
        assets.save(categories.REGISTRY["characters"], edited, mira)
        db.session.query(Character).delete()
        db.session.commit()
        sync_all(library, full=True)
        mira = Character.query.filter_by(slug="mira_vance").one()
        assert mira.name == "Mira E."
        assert mira.image_path == "characters/mira_vance/cover_x.png"
        assert mira.default_fields == ["identity::hair", "special::name"]
        clone = assets.clone(categories.REGISTRY["characters"], mira)
        assert clone.image_path is None and "_gaze" not in clone.data
        assets.set_cover(mira, None)
        assert "_gaze" in json.loads((library / "characters" / "mira_vance.json").read_text())
        assert Character.query.filter_by(slug="mira_vance").one().image_path is None


def test_normalize_fast_path_changes_nothing_the_full_path_would(library, monkeypatch):
    """Complete files skip the detailed checks; both paths must agree."""
    from gaze import categories, schema
    by_folder = {c.folder: c for c in categories.REGISTRY.values()}
    entries = [(by_folder[p.parent.name], json.loads(p.read_text()))
               for p in library.rglob("*.json") if p.parent.name in by_folder]
    fast = [schema.normalize(cat, raw) for cat, raw in entries]
    assert any(schema._is_complete(cat, raw) for cat, raw in entries), "the fast path is taken"
    monkeypatch.setattr(schema, "_is_complete", lambda cat, raw: False)
    slow = [schema.normalize(cat, raw) for cat, raw in entries]
    assert fast == slow


def test_json_editor_neither_shows_nor_changes_gaze_state(app, client, library):
    from gaze import assets
    from tests.conftest import csrf_token
    with app.app_context():
        assets.set_cover(Character.query.filter_by(slug="mira_vance").one(), "characters/mira_vance/a.png")
    html = client.get("/character/mira_vance").get_data(as_text=True)
    assert "characters/mira_vance/a.png" not in html.split('id="entry-json">')[1].split("</script>")[0]
    data = json.loads((library / "characters" / "mira_vance.json").read_text())
    data["_gaze"] = {"cover": "characters/mira_vance/stale.png"}
    data["character_name"] = "Mira J."
    r = client.post("/character/mira_vance/save_json", data=json.dumps(data),
                    headers={"Content-Type": "application/json", "X-CSRFToken": csrf_token(client)})
    assert r.status_code == 200, r.get_json()
    on_disk = json.loads((library / "characters" / "mira_vance.json").read_text())
    assert on_disk["character_name"] == "Mira J." and on_disk["_gaze"]["cover"] == "characters/mira_vance/a.png"
