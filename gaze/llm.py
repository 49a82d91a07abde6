"""Chat-completion calls to an OpenAI-compatible LLM, with the Danbooru tag tools.

``call_llm`` runs a tool loop (at most :data:`MAX_TURNS` requests) in which the
model may call ``search_tags``, ``validate_tags`` and ``suggest_tags``; calls
are forwarded to a :class:`~gaze.tags.client.TagClient`.  Providers that
refuse tools (Ollama's 400 "does not support tools", OpenRouter's 404 "No
endpoints found that support tool use") are retried once without tools.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import openai

from gaze.tags.normalize import split_prompt_tags

if TYPE_CHECKING:
    from gaze.tags.client import TagClient

logger = logging.getLogger(__name__)

MAX_TURNS = 10
Provider = Literal["openrouter", "ollama", "lmstudio", "openai_compatible"]
DEFAULT_BASE_URLS: dict[str, str] = {
    "openrouter": "https://openrouter.ai/api/v1",
    "ollama": "http://localhost:11434/v1",
    "lmstudio": "http://localhost:1234/v1",
}
PROVIDER_LABELS = {"openrouter": "OpenRouter", "ollama": "Ollama", "lmstudio": "LM Studio",
                   "openai_compatible": "The LLM server"}
_NO_KEY = "not-needed"  # local servers ignore the key, but the openai client wants one
_TOOL_REFUSAL = re.compile(
    r"does not support tools|support tool use|tools? (?:are|is) not supported|tool (?:use|calling) is not supported",
    re.IGNORECASE,
)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


class LLMError(RuntimeError):
    """The LLM call failed; the message is readable and never contains the API key."""

    def __init__(self, message: str, *, raw: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.raw = raw
        self.status = status


@dataclass
class LLMConfig:
    """Where and how to reach the model. ``repr`` masks the API key."""

    provider: Provider
    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)
    timeout: float = 60

    def __post_init__(self) -> None:
        if self.provider not in PROVIDER_LABELS:
            raise ValueError(f"unknown LLM provider {self.provider!r} (use one of: {', '.join(PROVIDER_LABELS)})")

    def __repr__(self) -> str:
        key = "'***'" if self.api_key else "''"
        return (f"LLMConfig(provider={self.provider!r}, base_url={self.base_url!r}, model={self.model!r}, "
                f"api_key={key}, timeout={self.timeout!r})")

    @property
    def label(self) -> str:
        """Human name of the provider for messages."""
        return PROVIDER_LABELS[self.provider]

    def resolved_base_url(self) -> str:
        """``base_url``, or the provider default; ``/v1`` is added for Ollama/LM Studio roots."""
        url = (self.base_url or DEFAULT_BASE_URLS.get(self.provider, "")).strip().rstrip("/")
        if not url:
            raise LLMError(f"{self.label}: no base URL configured")
        if self.provider in ("ollama", "lmstudio") and re.fullmatch(r"https?://[^/]+", url):
            url += "/v1"
        return url


def _search_schema(text_name: str, text_help: str, limit: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            text_name: {"type": "string", "description": text_help},
            "limit": {"type": "integer", "default": limit, "description": "maximum number of results"},
            "category": {
                "type": "string",
                "enum": ["general", "artist", "copyright", "character", "meta"],
                "description": "only tags of this category (omit for all)",
            },
        },
        "required": [text_name],
    }


TOOL_SCHEMAS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "search_tags",
        "description": "Search Danbooru tags whose name or alias starts with the query, most-used first.",
        "parameters": _search_schema("query", "tag prefix, spaces or underscores", 20)}},
    {"type": "function", "function": {
        "name": "validate_tags",
        "description": "Check Danbooru tags: returns `valid` (canonical names; aliases resolve to their tag) "
                       "and `invalid` (not tags).",
        "parameters": {"type": "object", "required": ["tags"], "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "description": "tags to check"}}}}},
    {"type": "function", "function": {
        "name": "suggest_tags",
        "description": "Autocomplete the tag being typed at the end of `partial`, most-used first.",
        "parameters": _search_schema("partial", "partial tag (text after the last comma is completed)", 10)}},
]
TOOL_NAMES = tuple(schema["function"]["name"] for schema in TOOL_SCHEMAS)


def _client(config: LLMConfig) -> openai.OpenAI:
    if config.provider == "openrouter" and not config.api_key:
        raise LLMError("OpenRouter needs an API key")
    headers = {"X-Title": "GAZE"} if config.provider == "openrouter" else None
    return openai.OpenAI(
        api_key=config.api_key or _NO_KEY,
        base_url=config.resolved_base_url(),
        timeout=config.timeout,
        max_retries=1,
        default_headers=headers,
    )


def _scrub(text: str, config: LLMConfig) -> str:
    if config.api_key and len(config.api_key) >= 4:
        text = text.replace(config.api_key, "***")
    return text


def _status_error(exc: openai.APIStatusError, config: LLMConfig) -> LLMError:
    body = exc.body
    detail = ""
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body.get("detail")
        detail = message if isinstance(message, str) else json.dumps(body)[:300]
    elif isinstance(body, str):
        detail = body.strip()
    if not detail:
        detail = exc.response.reason_phrase or "no details"
    detail = _scrub(detail[:500], config)
    return LLMError(f"{config.label} answered HTTP {exc.status_code}: {detail}", status=exc.status_code)


def _transport_error(exc: openai.APIError, config: LLMConfig) -> LLMError:
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(f"{config.label} did not answer within {config.timeout:g}s")
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, config)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(f"could not reach {config.label} at {config.resolved_base_url()}")
    return LLMError(f"{config.label} call failed: {_scrub(str(exc), config)}")


def _refuses_tools(exc: openai.APIStatusError) -> bool:
    if exc.status_code not in (400, 404, 422, 501):
        return False
    body = exc.body
    text = json.dumps(body) if isinstance(body, (dict, list)) else str(body or "")
    return bool(_TOOL_REFUSAL.search(text) or _TOOL_REFUSAL.search(exc.message))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _run_tool(tools: TagClient, name: str, raw_arguments: str | None) -> str:
    """Run one tool call for the model; every failure becomes ``{"error": …}`` content."""
    if name not in TOOL_NAMES:
        return _json({"error": f"unknown tool {name!r}; available tools: {', '.join(TOOL_NAMES)}"})
    try:
        arguments = json.loads(raw_arguments) if raw_arguments and raw_arguments.strip() else {}
    except ValueError as exc:
        return _json({"error": f"the arguments of {name} are not valid JSON ({exc}); send one JSON object"})
    if not isinstance(arguments, dict):
        return _json({"error": f"the arguments of {name} must be a JSON object"})
    if name == "validate_tags" and isinstance(arguments.get("tags"), str):
        arguments["tags"] = split_prompt_tags(arguments["tags"])
    if isinstance(arguments.get("limit"), str) and arguments["limit"].strip().isdigit():
        arguments["limit"] = int(arguments["limit"])
    from gaze.tags.client import TagServerError  # local: keeps the MCP SDK out of plain LLM use

    logger.debug("Tool call %s(%s)", name, _json(arguments)[:300])
    try:
        return _json(tools.call(name, arguments))
    except TagServerError as exc:
        logger.info("Tool %s failed: %s", name, exc)
        return _json({"error": str(exc)})


def _assistant_message(message: Any, turn: int) -> tuple[dict[str, Any], list[tuple[str, str, str | None]]]:
    """The assistant turn to send back, and its (id, name, arguments) function calls."""
    calls: list[tuple[str, str, str | None]] = []
    wire_calls: list[dict[str, Any]] = []
    for position, call in enumerate(message.tool_calls or []):
        function = getattr(call, "function", None)
        if function is None:  # a custom (non-function) tool call: not ours
            continue
        call_id = call.id or f"call_{turn}_{position}"
        calls.append((call_id, function.name, function.arguments))
        wire_calls.append({"id": call_id, "type": "function",
                           "function": {"name": function.name, "arguments": function.arguments or "{}"}})
    return {"role": "assistant", "content": message.content or None, "tool_calls": wire_calls}, calls


def call_llm(prompt: str, system_prompt: str, *, config: LLMConfig, tools: TagClient | None = None) -> str:
    """Ask the model and return its final text answer.

    With ``tools``, the model may call the tag tools for up to :data:`MAX_TURNS`
    requests; without, no ``tools`` parameter is sent at all.

    Raises:
        LLMError: HTTP errors (other than a tool refusal, retried once without
            tools), timeouts, unreachable server, an empty answer, or no final
            answer within :data:`MAX_TURNS` turns.
    """
    base_messages: list[dict[str, Any]] = []
    if system_prompt:
        base_messages.append({"role": "system", "content": system_prompt})
    base_messages.append({"role": "user", "content": prompt})
    messages = list(base_messages)
    use_tools = tools is not None
    with _client(config) as client:
        turn = 0
        while turn < MAX_TURNS:
            turn += 1
            request: dict[str, Any] = {"model": config.model, "messages": messages}
            if use_tools:
                request["tools"] = TOOL_SCHEMAS
            try:
                completion = client.chat.completions.create(**request)
            except openai.APIStatusError as exc:
                if use_tools and _refuses_tools(exc):
                    logger.info("%s model %s refuses tools (HTTP %d); retrying without tools",
                                config.label, config.model, exc.status_code)
                    use_tools = False
                    messages = list(base_messages)
                    turn -= 1
                    continue
                raise _status_error(exc, config) from None
            except openai.APIError as exc:
                raise _transport_error(exc, config) from None
            if not completion.choices:
                raise LLMError(f"{config.label} returned no choices", raw=completion.model_dump_json()[:2000])
            message = completion.choices[0].message
            if use_tools and tools is not None and message.tool_calls:
                assistant, calls = _assistant_message(message, turn)
                if calls:
                    messages.append(assistant)
                    for call_id, name, arguments in calls:
                        content = _run_tool(tools, name, arguments)
                        messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
                    continue
            text = (message.content or "").strip()
            if not text:
                raise LLMError(f"{config.label} model {config.model} returned an empty answer")
            return text
    raise LLMError(f"{config.label} model {config.model} gave no final answer after {MAX_TURNS} turns")


def list_models(config: LLMConfig) -> list[str]:
    """Model ids the server offers (for a "test connection" button), sorted.

    Raises:
        LLMError: on any failure, with a readable message.
    """
    try:
        with _client(config) as client:
            return sorted({model.id for model in client.models.list()})
    except openai.APIError as exc:
        raise _transport_error(exc, config) from None


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object in a model reply, tolerating ```json fences, ``<think>`` blocks and prose.

    Raises:
        LLMError: when no JSON object parses (``raw`` holds the reply).
    """
    cleaned = _THINK_BLOCK.sub("", text or "").strip()
    candidates = [block.strip() for block in _FENCE.findall(cleaned)] + [cleaned]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            pass
        else:
            if isinstance(value, dict):
                return value
        for start in [match.start() for match in re.finditer(r"\{", candidate)][:200]:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    raise LLMError("the model's reply contains no JSON object", raw=text)
