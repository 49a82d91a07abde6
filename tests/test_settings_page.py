"""The Settings page: saving, the masked key, values from the environment with their source,
"test connection" listing models, the tag server choice and its test button."""
from __future__ import annotations

import logging
import re

import pytest

from gaze import create_app, llm_settings
from gaze.tags.index import SAMPLE_CSV
from tests.llm_helpers import SECRET, use_llm
from tests.llm_server import ScriptedLLMServer, completion

OTHER_KEY = "sk-saved-KEY-9876543210zyxw"


def origin(html: str, name: str) -> str:
    match = re.search(rf'data-origin-for="{name}">(.*?)</div>', html, re.DOTALL)
    assert match, name
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def effective(app) -> llm_settings.Settings:
    with app.app_context():
        return llm_settings.load()


@pytest.fixture
def env_app(config, llm_server):
    use_llm(config, llm_server)
    app = create_app(config)
    yield app
    from models import db
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def save(client, token, **fields):
    return client.post("/settings", data={"csrf_token": token, **fields})


def test_env_values_are_shown_with_their_source_and_the_key_masked(env_app, llm_server):
    client = env_app.test_client()
    html = client.get("/settings").get_data(as_text=True)
    assert SECRET not in html
    assert origin(html, "model") == "In use: test-model · environment (GAZE_LLM_MODEL)"
    assert origin(html, "base_url") == f"In use: {llm_server.base_url} · environment (GAZE_LLM_BASE_URL)"
    assert origin(html, "provider") == "In use: openai_compatible · environment (GAZE_LLM_PROVIDER)"
    assert origin(html, "api_key") == f"In use: •••• {SECRET[-4:]} · environment (GAZE_LLM_API_KEY)"
    assert origin(html, "tag_mode") == "In use: none · default"
    assert "Tags are not checked" in html
    assert 'data-nav="settings"' in html


def test_saving_overrides_the_environment_and_never_renders_the_key(env_app, llm_server, caplog):
    caplog.set_level(logging.DEBUG)
    client = env_app.test_client()
    token = client.get("/settings").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', token).group(1)
    response = save(client, token, provider="ollama", base_url="http://127.0.0.1:9/v1", model="llama3",
                    api_key=OTHER_KEY, tag_mode="gaze", tag_csv=str(SAMPLE_CSV))
    assert response.status_code == 302
    html = client.get("/settings").get_data(as_text=True)
    assert "Settings saved." in html
    assert OTHER_KEY not in html and SECRET not in html
    assert origin(html, "model") == "In use: llama3 · saved on this page"
    assert origin(html, "api_key") == f"In use: •••• {OTHER_KEY[-4:]} · saved on this page"
    assert origin(html, "tag_mode") == "In use: gaze · saved on this page"
    assert 'value="llama3"' in html                      # saved values fill the form…
    assert 'name="api_key" value=""' in html             # …except the key
    assert "Tags are checked by GAZE&#39;s tag server on sample_tags.csv" in html
    settings = effective(env_app)
    assert settings.llm_config().api_key == OTHER_KEY and settings.llm_config().provider == "ollama"
    assert settings.tag_spec() == f"python -m gaze.tags --csv {SAMPLE_CSV}"

    # an empty key field keeps the saved key; empty fields fall back to the environment
    assert save(client, token, provider="", base_url="", model="", api_key="", tag_mode="").status_code == 302
    settings = effective(env_app)
    assert settings["api_key"] == OTHER_KEY and settings.values["api_key"].source == "saved"
    assert settings["model"] == "test-model" and settings.values["model"].source == "env"
    assert settings["tag_mode"] == "none"
    # forgetting the saved key brings back the environment's
    assert save(client, token, clear_api_key="1").status_code == 302
    assert effective(env_app).values["api_key"].source == "env"
    assert OTHER_KEY not in caplog.text and SECRET not in caplog.text


@pytest.mark.parametrize("fields, field, message", [
    ({"provider": "skynet"}, "provider", "choose a provider"),
    ({"base_url": "ftp://x"}, "base_url", "http://"),
    ({"api_key": "has space"}, "api_key", "no spaces"),
    ({"tag_mode": "gaze", "tag_csv": "/no/such/file.csv"}, "tag_csv", "no .csv file"),
    ({"tag_mode": "gaze", "tag_csv": "/etc/passwd"}, "tag_csv", "no .csv file"),
    ({"tag_mode": "gaze"}, "tag_mode", "needs a tag CSV"),
    ({"tag_mode": "url", "tag_server": "python -m gaze.tags"}, "tag_mode", "starts with http"),
    ({"tag_mode": "sometimes"}, "tag_mode", "from the list"),
    ({"model": "a\x00b"}, "model", "control characters"),
])
def test_bad_values_are_refused_and_nothing_is_saved(client, token, fields, field, message):
    response = save(client, token, **fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'data-error-for="{field}">([^<]*)<', html)
    assert error and message in error.group(1).replace("&#39;", "'")
    with client.application.app_context():
        assert llm_settings.saved_values() == {}


def test_test_connection_lists_models(env_app, llm_server):
    llm_server.models = ["alpha", "test-model", "zeta"]
    client = env_app.test_client()
    response = client.post("/api/settings/test_llm", json={})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["models"] == ["alpha", "test-model", "zeta"] and body["model_listed"] is True
    # the form's unsaved values are tried; the stored key goes only to the stored server
    response = client.post("/api/settings/test_llm", json={"provider": "lmstudio",
                                                           "base_url": llm_server.base_url, "model": "nope"})
    assert response.get_json()["model_listed"] is False
    other = ScriptedLLMServer().start()
    try:
        response = client.post("/api/settings/test_llm", json={"base_url": other.base_url})
        assert response.status_code == 200
    finally:
        other.stop()


def test_the_stored_key_is_not_sent_to_another_server(env_app, llm_server, monkeypatch):
    sent = []
    monkeypatch.setattr("gaze.views.settings.list_models", lambda config: sent.append(config) or ["m"])
    client = env_app.test_client()
    client.post("/api/settings/test_llm", json={"base_url": "http://127.0.0.1:9/v1"})
    client.post("/api/settings/test_llm", json={})
    client.post("/api/settings/test_llm", json={"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-typed-now"})
    assert [c.api_key for c in sent] == ["", SECRET, "sk-typed-now"]


def test_test_connection_errors_are_readable(client, llm_server):
    response = client.post("/api/settings/test_llm", json={})
    assert response.status_code == 400 and "no LLM is configured" in response.get_json()["error"]
    response = client.post("/api/settings/test_llm", json={"provider": "openai_compatible",
                                                           "base_url": "http://127.0.0.1:9/v1"})
    assert response.status_code == 502 and "could not reach" in response.get_json()["error"]
    response = client.post("/api/settings/test_llm", json={"provider": "openrouter"})
    assert response.status_code == 400 and "API key" in response.get_json()["error"]


def test_tag_server_test_button_calls_validate_tags(client):
    response = client.post("/api/settings/test_tags", json={"tag_mode": "gaze", "tag_csv": str(SAMPLE_CSV)})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["result"] == {"valid": ["1girl", "long_hair"], "invalid": ["gaze_no_such_tag"]}
    response = client.post("/api/settings/test_tags", json={"tag_mode": "url", "tag_server": "http://127.0.0.1:9/mcp"})
    assert response.status_code == 502 and "127.0.0.1:9" in response.get_json()["error"]
    response = client.post("/api/settings/test_tags", json={"tag_mode": "none"})
    assert response.status_code == 400


def test_env_tag_settings_choose_the_tag_server(config):
    config.TAG_CSV = SAMPLE_CSV
    settings = llm_settings.build({}, config.to_flask())
    assert settings["tag_mode"] == "gaze" and settings.values["tag_mode"].env == "GAZE_TAG_CSV"
    assert settings.tag_spec() == f"python -m gaze.tags --csv {SAMPLE_CSV}"
    config.TAG_SERVER = "http://tags:8000/mcp"
    settings = llm_settings.build({}, config.to_flask())
    assert settings["tag_mode"] == "url" and settings.tag_spec() == "http://tags:8000/mcp"
    config.TAG_SERVER = "danbooru-mcp --stdio"
    assert llm_settings.build({}, config.to_flask())["tag_mode"] == "command"
    config.TAG_SERVER = config.TAG_CSV = None
    settings = llm_settings.build({}, config.to_flask())
    assert settings.tag_spec() is None and settings.tag_status()[0] is False


def test_a_command_cannot_be_set_from_the_browser_on_an_open_server(config, tmp_path):
    config.HOST = "0.0.0.0"
    app = create_app(config)
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/settings").get_data(as_text=True)).group(1)
    response = save(client, token, tag_mode="command", tag_server=f"touch {tmp_path}/pwned")
    assert response.status_code == 400 and "a command can be set here only" in response.get_data(as_text=True)
    response = client.post("/api/settings/test_tags", json={"tag_mode": "command", "tag_server": f"touch {tmp_path}/pwned"})
    assert response.status_code == 400
    assert not (tmp_path / "pwned").exists()
    response = save(client, token, tag_mode="gaze", tag_csv=str(SAMPLE_CSV))
    assert response.status_code == 400 and "set GAZE_TAG_CSV instead" in response.get_data(as_text=True)
    assert save(client, token, tag_mode="url", tag_server="http://tags:8000/mcp").status_code == 302


def test_a_partial_post_changes_only_what_it_sends(client, token):
    assert save(client, token, model="first", tag_mode="gaze", tag_csv=str(SAMPLE_CSV), tag_legacy="1").status_code == 302
    assert save(client, token, provider="ollama").status_code == 302
    with client.application.app_context():
        assert llm_settings.saved_values() == {"model": "first", "tag_mode": "gaze", "tag_csv": str(SAMPLE_CSV),
                                               "tag_legacy": "1", "provider": "ollama"}
    assert save(client, token, tag_mode="gaze").status_code == 302      # the tag section without the box
    with client.application.app_context():
        assert "tag_legacy" not in llm_settings.saved_values()


def test_settings_need_the_csrf_token(client):
    assert client.post("/settings", data={"model": "x"}).status_code == 400
    with client.application.app_context():
        assert llm_settings.saved_values() == {}


def test_drafting_uses_the_saved_settings(client, token, llm_server):
    assert save(client, token, provider="openai_compatible", base_url=llm_server.base_url,
                model="other-model", api_key=OTHER_KEY).status_code == 302
    llm_server.script([completion('{"scene_name": "Beach"}')])
    response = client.post("/api/draft/scenes", json={"description": "a beach"})
    assert response.status_code == 200 and response.get_json()["draft"]["scene_id"] == "beach"
    assert llm_server.requests[0]["model"] == "other-model"
    assert llm_server.headers[0]["authorization"] == f"Bearer {OTHER_KEY}"


def test_mask_key():
    assert llm_settings.mask_key("") == ""
    assert llm_settings.mask_key("short") == "•••• (set)"
    assert llm_settings.mask_key(SECRET) == "•••• " + SECRET[-4:]
