"""The Settings page (LLM provider and tag server) and its two "test" buttons.

`GET/POST /settings` is a form (CSRF token). The test buttons post the form's
current values as JSON to `/api/settings/test_llm` and `/api/settings/test_tags`
so a value can be tried before it is saved. The API key is never sent back: the
page shows it masked, and an empty key field keeps the stored one.
"""
from __future__ import annotations

import logging

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from .. import llm_settings
from ..llm import LLMError, list_models
from ..tags.client import TagClient, TagServerError, describe_spec
from . import json_object

log = logging.getLogger(__name__)
bp = Blueprint("settings", __name__)
api = Blueprint("settings_api", __name__, url_prefix="/api/settings")
LLM_FIELDS = ("provider", "base_url", "model", "api_key")
TAG_FIELDS = ("tag_mode", "tag_csv", "tag_server")
TEST_TAGS = ["1girl", "long hair", "gaze_no_such_tag"]


def _page(settings: llm_settings.Settings, errors: dict | None = None, form=None, status: int = 200):
    def shown(name: str) -> str:
        if form is not None and name in form and name != "api_key":
            return str(form.get(name) or "")
        value = settings.values[name]
        return value.value if value.source == "saved" else ""

    checked, tag_sentence = settings.tag_status()
    return render_template(
        "settings/index.html", settings=settings, errors=errors or {}, shown=shown,
        providers=llm_settings.PROVIDER_CHOICES, tag_modes=llm_settings.TAG_MODES,
        masked_key=llm_settings.mask_key(settings["api_key"]), llm_problem=settings.llm_problem(),
        tags_checked=checked, tag_sentence=tag_sentence, allow_commands=settings.allow_commands,
        nav_active="settings"), status


@bp.route("/settings", methods=["GET", "POST"])
def page():
    current = llm_settings.load()
    if request.method == "GET":
        return _page(current)
    changes, errors = llm_settings.parse_form(request.form)
    if errors:
        flash("Nothing was saved: please correct the fields marked below.", "danger")
        return _page(current, errors, request.form, 400)
    old_spec, old_legacy = current.tag_spec(), current.tag_legacy
    llm_settings.save(changes)
    updated = llm_settings.load()
    if (old_spec, old_legacy) != (updated.tag_spec(), updated.tag_legacy):
        llm_settings.forget_tag_client(current)
    flash("Settings saved.", "success")
    return redirect(url_for("settings.page"))


def _trial(body: dict, fields: tuple[str, ...]):
    """The settings as the form would save them, or (None, errors) for the fields that matter."""
    changes, errors = llm_settings.parse_form(body)
    errors = {k: v for k, v in errors.items() if k in fields}
    if errors:
        return None, errors
    return llm_settings.apply(changes), {}


@api.post("/test_llm")
def test_llm():
    """List the provider's models with the form's values (the stored key only for the stored server)."""
    body = json_object()
    trial, errors = _trial(body, LLM_FIELDS)
    if trial is None:
        return jsonify(error="; ".join(errors.values()), problems=errors), 400
    current = llm_settings.load()
    typed_key = isinstance(body.get("api_key"), str) and body["api_key"].strip()
    same_server = (trial["provider"], trial["base_url"]) == (current["provider"], current["base_url"])
    if not typed_key and not same_server:
        trial.values["api_key"] = llm_settings.Value()   # a stored key is only sent to the stored server
    config = trial.connection_config()
    if config is None:
        return jsonify(error=trial.connection_problem()), 400
    try:
        models = list_models(config)
    except LLMError as exc:
        return jsonify(error=str(exc)), 502
    log.info("LLM connection test: %s answered with %d models", config.label, len(models))
    return jsonify(ok=True, provider=config.label, base_url=config.resolved_base_url(), models=models,
                   model_listed=(not config.model) or config.model in models)


@api.post("/test_tags")
def test_tags():
    """Call validate_tags on the tag server the form describes."""
    body = json_object()
    trial, errors = _trial(body, TAG_FIELDS)
    if trial is None:
        return jsonify(error="; ".join(errors.values()), problems=errors), 400
    if trial["tag_mode"] == "none":
        return jsonify(error="no tag server is chosen: tags will not be checked"), 400
    spec = trial.tag_spec()
    if spec is None:
        return jsonify(error=trial.tag_problem() or "no tag server"), 400
    client = TagClient(spec, legacy=trial.tag_legacy, timeout=15, connect_timeout=15)
    try:
        result = client.call("validate_tags", {"tags": TEST_TAGS})
    except TagServerError as exc:
        return jsonify(error=str(exc)), 502
    finally:
        client.close()
    return jsonify(ok=True, server=describe_spec(spec), tags=TEST_TAGS, result=result)
