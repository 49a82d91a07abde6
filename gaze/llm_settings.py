"""The LLM provider and tag server GAZE drafts with: saved on /settings, else from the environment.

Every value has a source: ``saved`` (the Settings page, kept in the ``settings``
table of the instance database), ``env`` (``GAZE_LLM_*`` / ``GAZE_TAG_*``, read
once by :mod:`gaze.config`) or ``default``. A value saved on the page wins; an
empty field on the page means "use the environment or the default".

The API key is stored like any other setting but never rendered back in full
(:func:`mask_key`) and never logged.

Tag server choice (``tag_mode``): ``gaze`` starts GAZE's own tag server over
stdio on a tag CSV (``python -m gaze.tags --csv <path>``), ``command`` runs any
MCP server command over stdio, ``url`` talks to an MCP server over HTTP, and
``none`` drafts without tag tools (tags are then unchecked). Without a saved
choice: ``GAZE_TAG_SERVER`` (a command or URL) wins, else ``GAZE_TAG_CSV``
selects GAZE's own server, else there is none.
"""
from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app

from models import Setting, db

from .config import ROOT
from .llm import PROVIDER_LABELS, LLMConfig

if TYPE_CHECKING:
    from .tags.client import TagClient

log = logging.getLogger(__name__)

PROVIDERS = tuple(PROVIDER_LABELS)
PROVIDER_CHOICES = {"openrouter": "OpenRouter", "ollama": "Ollama", "lmstudio": "LM Studio",
                    "openai_compatible": "Any OpenAI-compatible server (base URL)"}
_PROVIDER_ALIASES = {"lm_studio": "lmstudio", "lm-studio": "lmstudio", "openai": "openai_compatible",
                     "openai-compatible": "openai_compatible", "compatible": "openai_compatible"}
TAG_MODES = {"none": "No tag server (tags are not checked)",
             "gaze": "GAZE's own tag server on a tag CSV",
             "command": "An MCP tag server command (stdio)",
             "url": "An MCP tag server URL (HTTP)"}
#: field → (Flask config key, environment variable)
ENV = {
    "provider": ("LLM_PROVIDER", "GAZE_LLM_PROVIDER"),
    "base_url": ("LLM_BASE_URL", "GAZE_LLM_BASE_URL"),
    "model": ("LLM_MODEL", "GAZE_LLM_MODEL"),
    "api_key": ("LLM_API_KEY", "GAZE_LLM_API_KEY"),
    "tag_csv": ("TAG_CSV", "GAZE_TAG_CSV"),
    "tag_server": ("TAG_SERVER", "GAZE_TAG_SERVER"),
}
FIELDS = ("provider", "base_url", "model", "api_key", "tag_mode", "tag_csv", "tag_server", "tag_legacy")
_PREFIX = "llm."
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_LENGTH = 1000


@dataclass
class Value:
    """One effective setting and where it came from."""

    value: str = ""
    source: str = "default"   # saved | env | default
    env: str | None = None    # the environment variable that set it

    @property
    def origin(self) -> str:
        if self.source == "saved":
            return "saved on this page"
        if self.source == "env":
            return f"environment ({self.env})"
        return "default" if self.value else "not set"


@dataclass
class Settings:
    """The effective settings; build with :func:`load`."""

    values: dict[str, Value] = field(default_factory=dict)
    allow_commands: bool = True
    timeout: float = 120.0

    def __getitem__(self, name: str) -> str:
        return self.values[name].value

    # -- the LLM --

    def connection_problem(self) -> str | None:
        """Why GAZE cannot reach the provider at all (a model is not needed for that), or None."""
        provider = self["provider"]
        if not provider:
            return "no LLM is configured: choose a provider on the Settings page (or set GAZE_LLM_PROVIDER)"
        if provider not in PROVIDERS:
            return f"{provider!r} is not an LLM provider GAZE knows ({', '.join(PROVIDERS)})"
        if provider == "openai_compatible" and not self["base_url"]:
            return "an OpenAI-compatible provider needs a base URL"
        if provider == "openrouter" and not self["api_key"]:
            return "OpenRouter needs an API key"
        return None

    def llm_problem(self) -> str | None:
        """Why no LLM can be called, or None."""
        problem = self.connection_problem()
        if problem is None and not self["model"]:
            problem = "no LLM model is chosen: pick one on the Settings page (or set GAZE_LLM_MODEL)"
        return problem

    def connection_config(self) -> LLMConfig | None:
        """The provider to list models from (the model may be empty), or None."""
        if self.connection_problem():
            return None
        return LLMConfig(provider=self["provider"], base_url=self["base_url"], model=self["model"],  # type: ignore[arg-type]
                         api_key=self["api_key"], timeout=self.timeout)

    def llm_config(self) -> LLMConfig | None:
        """The LLM to call, or None when the settings are incomplete."""
        return None if self.llm_problem() else self.connection_config()

    # -- the tag server --

    def tag_problem(self) -> str | None:
        mode = self["tag_mode"]
        if mode == "gaze":
            csv = self["tag_csv"]
            if not csv:
                return "GAZE's own tag server needs a tag CSV (GAZE_TAG_CSV or the Settings page)"
            if not _is_file(csv):
                return f"the tag CSV {csv} does not exist"
            if not self.allow_commands and self.values["tag_csv"].source == "saved":
                return ("a tag CSV saved on the Settings page is not used while GAZE is reachable from other "
                        "machines without a password; set GAZE_TAG_CSV instead")
        elif mode in ("command", "url"):
            server = self["tag_server"]
            if not server:
                return f"no tag server {'command' if mode == 'command' else 'URL'} is set"
            if mode == "url" and not _URL.match(server):
                return "a tag server URL starts with http:// or https://"
            if mode == "command":
                if _URL.match(server):
                    return "that is a URL: choose 'An MCP tag server URL'"
                if not self.allow_commands and self.values["tag_server"].source == "saved":
                    return ("a tag server command saved on the Settings page is not used while GAZE is reachable "
                            "from other machines without a password; set GAZE_TAG_SERVER instead")
        return None

    def tag_spec(self) -> str | None:
        """The TagClient spec (a stdio command or a URL), or None for no tag server."""
        mode = self["tag_mode"]
        if mode == "none" or self.tag_problem():
            return None
        if mode == "gaze":
            return f"python -m gaze.tags --csv {shlex.quote(self['tag_csv'])}"
        return self["tag_server"]

    @property
    def tag_legacy(self) -> bool:
        return self["tag_legacy"] == "1"

    def tag_status(self) -> tuple[bool, str]:
        """(tags are checked, a sentence for the UI)."""
        spec = self.tag_spec()
        if spec is None:
            problem = self.tag_problem() if self["tag_mode"] != "none" else None
            return False, ("Tags are not checked: " + (problem or "no tag server is configured") + ".")
        from .tags.client import describe_spec
        if self["tag_mode"] == "gaze":
            return True, f"Tags are checked by GAZE's tag server on {Path(self['tag_csv']).name}."
        return True, f"Tags are checked by the tag server {describe_spec(spec)}."


def _is_file(path: str) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def resolve_path(raw: str) -> str:
    """A CSV path as typed: relative paths are from the repository root (like GAZE_TAG_CSV)."""
    path = Path(raw).expanduser()
    return str(path if path.is_absolute() else ROOT / path)


def normalize_provider(raw: str) -> str:
    text = (raw or "").strip().lower()
    return _PROVIDER_ALIASES.get(text, text)


def saved_values() -> dict[str, str]:
    """The values saved on the Settings page (field → text)."""
    rows = Setting.query.filter(Setting.key.like(_PREFIX + "%")).all()
    return {row.key[len(_PREFIX):]: str(row.value) for row in rows
            if row.key[len(_PREFIX):] in FIELDS and isinstance(row.value, (str, bool, int))}


def commands_allowed(config: Any) -> bool:
    """A stdio command may be set from the browser only when GAZE is password-protected or local-only:
    otherwise anyone who can reach GAZE could make it run a program."""
    from .security import security_warning
    return security_warning(config) is None


def load(config: Any = None) -> Settings:
    """The effective settings (needs an app context for the database)."""
    return build(saved_values(), config if config is not None else current_app.config)


def build(saved: dict[str, str], config: Any) -> Settings:
    """The effective settings from saved values over the app's (environment) config."""
    values: dict[str, Value] = {}
    for name in FIELDS:
        if saved.get(name):
            values[name] = Value(saved[name], "saved")
            continue
        config_key, env_name = ENV.get(name, (None, None))
        raw = config.get(config_key) if config_key else None
        values[name] = Value(str(raw), "env", env_name) if raw not in (None, "") else Value()
    values["provider"].value = normalize_provider(values["provider"].value)
    if not values["provider"].value and values["base_url"].value:
        values["provider"] = Value("openai_compatible", "default")
    if not values["tag_mode"].value:
        if values["tag_server"].value and values["tag_server"].source == "env":
            mode = "url" if _URL.match(values["tag_server"].value) else "command"
            values["tag_mode"] = Value(mode, "env", "GAZE_TAG_SERVER")
        elif values["tag_csv"].value and values["tag_csv"].source == "env":
            values["tag_mode"] = Value("gaze", "env", "GAZE_TAG_CSV")
        else:
            values["tag_mode"] = Value("none", "default")
    return Settings(values=values, allow_commands=commands_allowed(config),
                    timeout=float(config.get("LLM_TIMEOUT_S") or 120.0))


def mask_key(key: str) -> str:
    """What the page shows of an API key: never the key, at most its last four characters."""
    if not key:
        return ""
    return f"•••• {key[-4:]}" if len(key) >= 16 else "•••• (set)"


# ---------------------------------------------------------------- saving


def _clean(text: Any) -> str:
    return text.strip() if isinstance(text, str) else ""


def parse_form(form: Any) -> tuple[dict[str, str | None], dict[str, str]]:
    """The Settings form → (changes, errors).

    A field the form does not send is left as it is; an empty field removes the
    saved value (the environment or the default applies again); an empty API key
    keeps the stored one (``clear_api_key`` forgets it). ``tag_legacy`` is a
    checkbox of the tag section, read whenever ``tag_mode`` is sent.
    """
    changes: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for name in ("provider", "base_url", "model", "tag_mode", "tag_csv", "tag_server"):
        if name not in form:
            continue
        value = _clean(form.get(name))
        if len(value) > MAX_LENGTH or _CONTROL.search(value):
            errors[name] = "too long, or contains control characters"
            continue
        changes[name] = value or None
    provider = normalize_provider(changes.get("provider") or "")
    if provider and provider not in PROVIDERS:
        errors["provider"] = "choose a provider from the list"
    elif provider:
        changes["provider"] = provider
    base_url = changes.get("base_url")
    if base_url and not _URL.match(base_url):
        errors["base_url"] = "a base URL starts with http:// or https://, e.g. http://localhost:11434/v1"
    mode = changes.get("tag_mode")
    if mode and mode not in TAG_MODES:
        errors["tag_mode"] = "choose a tag server option from the list"
    trusted = commands_allowed(current_app.config)
    if changes.get("tag_csv"):
        changes["tag_csv"] = resolve_path(changes["tag_csv"] or "")
        if not trusted:
            errors["tag_csv"] = ("a tag CSV can be chosen here only when GAZE has a password or listens on this "
                                 "machine only; set GAZE_TAG_CSV instead")
        elif not (changes["tag_csv"] or "").lower().endswith(".csv") or not _is_file(changes["tag_csv"] or ""):
            errors["tag_csv"] = "no .csv file at that path (give the full path of a tag CSV)"
    server = changes.get("tag_server")
    if server and not _URL.match(server):
        if not trusted:
            errors["tag_server"] = ("a command can be set here only when GAZE has a password or listens on this "
                                    "machine only; use a URL, or set GAZE_TAG_SERVER")
        else:
            try:
                if not shlex.split(server):
                    errors["tag_server"] = "the command is empty"
            except ValueError as exc:
                errors["tag_server"] = f"the command does not parse: {exc}"
    key = form.get("api_key")
    key = key.strip() if isinstance(key, str) else ""
    if form.get("clear_api_key"):
        changes["api_key"] = None
    elif key:
        if len(key) > MAX_LENGTH or any(ch.isspace() for ch in key) or _CONTROL.search(key):
            errors["api_key"] = "an API key has no spaces or control characters"
        else:
            changes["api_key"] = key
    if "tag_mode" in form:
        changes["tag_legacy"] = "1" if form.get("tag_legacy") else None
    if not errors:
        trial = apply(changes)
        if trial["tag_mode"] != "none":
            problem = trial.tag_problem()
            if problem:
                errors["tag_mode"] = problem
    return changes, errors


def apply(changes: dict[str, str | None]) -> Settings:
    """The settings as they would be after saving ``changes`` (nothing written)."""
    saved = saved_values()
    for name, value in changes.items():
        if value is None:
            saved.pop(name, None)
        else:
            saved[name] = value
    return build(saved, current_app.config)


def save(changes: dict[str, str | None]) -> None:
    """Write the changes (None deletes a saved value). Logs names, never values."""
    for name, value in changes.items():
        row = db.session.get(Setting, _PREFIX + name)
        if value is None:
            if row is not None:
                db.session.delete(row)
        elif row is None:
            db.session.add(Setting(key=_PREFIX + name, value=value))
        else:
            row.value = value
    db.session.commit()
    log.info("LLM settings saved (%s)", ", ".join(sorted(n for n, v in changes.items() if v is not None)) or "cleared")


# ---------------------------------------------------------------- the tag client


def tag_client(settings: Settings) -> TagClient | None:
    """The shared tag client of the configured server, or None when there is none."""
    spec = settings.tag_spec()
    if spec is None:
        return None
    from .tags.client import get_tag_client
    return get_tag_client(spec, legacy=settings.tag_legacy)


def forget_tag_client(settings: Settings) -> None:
    """Stop the client of a tag server that is no longer configured (a stdio server exits)."""
    spec = settings.tag_spec()
    if spec is None:
        return
    from .tags.client import get_tag_client
    try:
        get_tag_client(spec, legacy=settings.tag_legacy).close()
    except Exception:  # noqa: BLE001 - best effort; the server may already be gone
        log.debug("could not close the previous tag client", exc_info=True)
