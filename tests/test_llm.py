"""call_llm's tool loop, provider quirks and errors against a scripted chat-completions server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from gaze.llm import MAX_TURNS, TOOL_SCHEMAS, LLMConfig, LLMError, call_llm, extract_json, list_models
from gaze.tags.client import TagClient
from gaze.tags.index import SAMPLE_CSV
from tests.llm_server import (
    MODEL_NOT_FOUND,
    OLLAMA_NO_TOOLS,
    OPENAI_BAD_KEY,
    OPENROUTER_NO_TOOLS,
    ScriptedLLMServer,
    completion,
    tool_call,
)

SECRET = "sk-test-SECRET-0123456789"


@pytest.fixture(scope="module")
def tags() -> Iterator[TagClient]:
    client = TagClient(f"python -m gaze.tags --csv {SAMPLE_CSV}", timeout=20)
    yield client
    client.close()


def config_for(server: ScriptedLLMServer, provider: str = "openai_compatible", **overrides: Any) -> LLMConfig:
    values: dict[str, Any] = {"provider": provider, "base_url": server.base_url, "model": "test-model",
                              "api_key": SECRET, "timeout": 10}
    values.update(overrides)
    return LLMConfig(**values)


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [message for message in request["messages"] if message["role"] == "tool"]


def test_three_turn_loop_calls_each_tool(llm_server: ScriptedLLMServer, tags: TagClient) -> None:
    llm_server.script([
        completion(tool_calls=[tool_call("search_tags", {"query": "long hair", "limit": 2}, "call_a")]),
        completion(tool_calls=[
            tool_call("validate_tags", {"tags": ["miku", "(smile:1.2)", "made_up_tag"]}, "call_b"),
            tool_call("suggest_tags", {"partial": "1girl, school u"}, "call_c"),
        ]),
        completion('{"tags": ["long_hair", "hatsune_miku", "smile", "school_uniform"]}'),
    ])
    answer = call_llm("Draft a character.", "You are GAZE.", config=config_for(llm_server), tools=tags)
    assert extract_json(answer) == {"tags": ["long_hair", "hatsune_miku", "smile", "school_uniform"]}

    first, second, third = llm_server.requests
    assert first["model"] == "test-model"
    assert first["messages"] == [{"role": "system", "content": "You are GAZE."},
                                 {"role": "user", "content": "Draft a character."}]
    assert [tool["function"]["name"] for tool in first["tools"]] == ["search_tags", "validate_tags", "suggest_tags"]

    assert second["messages"][2]["role"] == "assistant"
    assert second["messages"][2]["tool_calls"][0]["id"] == "call_a"
    [search_reply] = tool_messages(second)
    assert search_reply["tool_call_id"] == "call_a"
    assert json.loads(search_reply["content"]) == [
        {"name": "long_hair", "category": "general", "post_count": 4400000}]

    validate_reply, suggest_reply = tool_messages(third)[1:]
    assert validate_reply["tool_call_id"] == "call_b"
    assert json.loads(validate_reply["content"]) == {"valid": ["hatsune_miku", "smile"], "invalid": ["made_up_tag"]}
    assert suggest_reply["tool_call_id"] == "call_c"
    assert [hit["name"] for hit in json.loads(suggest_reply["content"])] == ["school_uniform"]
    assert all("tools" in request for request in llm_server.requests)


def test_tool_schemas_match_the_server(tags: TagClient) -> None:
    served = {tool["name"]: tool["inputSchema"] for tool in tags.list_tools()}
    for schema in TOOL_SCHEMAS:
        function = schema["function"]
        parameters = function["parameters"]
        assert set(parameters["properties"]) == set(served[function["name"]]["properties"])
        assert parameters["required"] == served[function["name"]]["required"]
        for name, prop in parameters["properties"].items():
            if "default" in prop:
                assert prop["default"] == served[function["name"]]["properties"][name]["default"]


def test_ten_turn_cap(llm_server: ScriptedLLMServer, tags: TagClient) -> None:
    llm_server.script([completion(tool_calls=[tool_call("validate_tags", {"tags": ["solo"]}, f"c{turn}")])
                       for turn in range(MAX_TURNS + 2)])
    with pytest.raises(LLMError, match="gave no final answer after 10 turns"):
        call_llm("loop forever", "sys", config=config_for(llm_server), tools=tags)
    assert len(llm_server.requests) == MAX_TURNS


@pytest.mark.parametrize(("provider", "refusal"), [("ollama", OLLAMA_NO_TOOLS), ("openrouter", OPENROUTER_NO_TOOLS)])
def test_tool_refusal_retries_once_without_tools(
    llm_server: ScriptedLLMServer, tags: TagClient, provider: str, refusal: tuple[int, Any],
) -> None:
    llm_server.script([refusal, completion("no tools needed")])
    answer = call_llm("hi", "sys", config=config_for(llm_server, provider), tools=tags)
    assert answer == "no tools needed"
    assert len(llm_server.requests) == 2
    assert "tools" in llm_server.requests[0]
    assert "tools" not in llm_server.requests[1]
    assert llm_server.requests[1]["messages"] == llm_server.requests[0]["messages"]


def test_tool_refusal_is_retried_only_once(llm_server: ScriptedLLMServer, tags: TagClient) -> None:
    llm_server.script([OLLAMA_NO_TOOLS, OLLAMA_NO_TOOLS])
    with pytest.raises(LLMError, match="HTTP 400: registry.ollama.ai/library/gemma:2b does not support tools"):
        call_llm("hi", "sys", config=config_for(llm_server, "ollama"), tools=tags)
    assert len(llm_server.requests) == 2


def test_lm_studio_plain_text_is_the_answer(llm_server: ScriptedLLMServer, tags: TagClient) -> None:
    llm_server.script([completion("Here are tags: 1girl, solo")])
    answer = call_llm("hi", "sys", config=config_for(llm_server, "lmstudio"), tools=tags)
    assert answer == "Here are tags: 1girl, solo"
    assert len(llm_server.requests) == 1


def test_bad_tool_argument_json_is_answered_with_an_error(llm_server: ScriptedLLMServer, tags: TagClient) -> None:
    llm_server.script([
        completion(tool_calls=[tool_call("validate_tags", '{"tags": ["solo"', "bad")]),
        completion(tool_calls=[tool_call("validate_tags", '["solo"]', "list")]),
        completion("recovered"),
    ])
    assert call_llm("hi", "sys", config=config_for(llm_server), tools=tags) == "recovered"
    bad = tool_messages(llm_server.requests[1])[0]
    assert bad["tool_call_id"] == "bad"
    assert "not valid JSON" in json.loads(bad["content"])["error"]
    not_object = tool_messages(llm_server.requests[2])[1]
    assert "must be a JSON object" in json.loads(not_object["content"])["error"]


def test_unknown_tool_is_answered_with_an_error(llm_server: ScriptedLLMServer, tags: TagClient) -> None:
    llm_server.script([completion(tool_calls=[tool_call("generate_image", {"prompt": "x"}, "u1")]),
                       completion("ok")])
    assert call_llm("hi", "sys", config=config_for(llm_server), tools=tags) == "ok"
    error = json.loads(tool_messages(llm_server.requests[1])[0]["content"])["error"]
    assert "unknown tool 'generate_image'" in error and "search_tags" in error


def test_tool_error_goes_back_to_the_model(llm_server: ScriptedLLMServer, tags: TagClient) -> None:
    llm_server.script([
        completion(tool_calls=[tool_call("search_tags", {"query": "a", "category": "weapons"}, "e1")]),
        completion("fine"),
    ])
    assert call_llm("hi", "sys", config=config_for(llm_server), tools=tags) == "fine"
    content = json.loads(tool_messages(llm_server.requests[1])[0]["content"])
    assert set(content) == {"error"}
    assert "unknown tag category 'weapons'" in content["error"]


def test_validate_tags_given_as_a_string_is_split(llm_server: ScriptedLLMServer, tags: TagClient) -> None:
    llm_server.script([completion(tool_calls=[tool_call("validate_tags", {"tags": "solo, nope"}, "s")]),
                       completion("ok")])
    call_llm("hi", "sys", config=config_for(llm_server), tools=tags)
    assert json.loads(tool_messages(llm_server.requests[1])[0]["content"]) == {"valid": ["solo"], "invalid": ["nope"]}


def test_without_tools_no_tools_parameter_is_sent(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([completion("plain")])
    assert call_llm("hi", "", config=config_for(llm_server)) == "plain"
    request = llm_server.requests[0]
    assert "tools" not in request and "tool_choice" not in request
    assert request["messages"] == [{"role": "user", "content": "hi"}]
    assert llm_server.headers[0]["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(("reply", "pattern"), [
    (OPENAI_BAD_KEY, r"HTTP 401: Incorrect API key provided"),
    (MODEL_NOT_FOUND, r"HTTP 404: The model `nope` does not exist"),
    ((400, {"error": {"message": f"bad key {SECRET}", "type": "invalid_request_error"}}), r"HTTP 400: bad key \*\*\*"),
    ((500, "upstream exploded"), r"HTTP 500: upstream exploded"),
])
def test_other_http_errors_are_llm_errors_without_the_key(
    llm_server: ScriptedLLMServer, tags: TagClient, reply: tuple[int, Any], pattern: str,
) -> None:
    llm_server.script([reply])
    with pytest.raises(LLMError, match=pattern) as caught:
        call_llm("hi", "sys", config=config_for(llm_server), tools=tags)
    assert SECRET not in str(caught.value)
    assert caught.value.status == reply[0]
    assert len(llm_server.requests) == 1


def test_server_errors_are_retried_once(llm_server: ScriptedLLMServer) -> None:
    llm_server.should_retry = None  # behave like a real provider: the openai client decides
    llm_server.script([(503, {"error": {"message": "overloaded"}}), completion("second time lucky")])
    assert call_llm("hi", "sys", config=config_for(llm_server)) == "second time lucky"
    assert len(llm_server.requests) == 2


def test_timeout_is_an_llm_error(llm_server: ScriptedLLMServer) -> None:
    llm_server.delay = 1.5
    llm_server.script([completion("late"), completion("late")])
    with pytest.raises(LLMError, match="did not answer within 0.3s"):
        call_llm("hi", "sys", config=config_for(llm_server, timeout=0.3))


def test_unreachable_server_is_an_llm_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = LLMConfig(provider="ollama", base_url=f"http://127.0.0.1:{port}", model="m", timeout=2)
    with pytest.raises(LLMError, match=rf"could not reach Ollama at http://127.0.0.1:{port}/v1"):
        call_llm("hi", "sys", config=config)


def test_empty_answer_is_an_llm_error(llm_server: ScriptedLLMServer) -> None:
    llm_server.script([completion("   ")])
    with pytest.raises(LLMError, match="empty answer"):
        call_llm("hi", "sys", config=config_for(llm_server))


def test_list_models(llm_server: ScriptedLLMServer) -> None:
    assert list_models(config_for(llm_server)) == ["other-model", "test-model"]


def test_list_models_error(llm_server: ScriptedLLMServer) -> None:
    config = config_for(llm_server, base_url=llm_server.base_url + "/missing")
    with pytest.raises(LLMError, match="HTTP 404"):
        list_models(config)


def test_config_repr_masks_the_key() -> None:
    config = LLMConfig(provider="openrouter", model="m", api_key=SECRET)
    assert SECRET not in repr(config) and "***" in repr(config)
    assert SECRET not in str(config)
    assert config.resolved_base_url() == "https://openrouter.ai/api/v1"
    assert LLMConfig(provider="ollama").resolved_base_url() == "http://localhost:11434/v1"
    assert LLMConfig(provider="lmstudio", base_url="http://127.0.0.1:1234/").resolved_base_url() == (
        "http://127.0.0.1:1234/v1")
    with pytest.raises(ValueError, match="unknown LLM provider"):
        LLMConfig(provider="skynet")  # type: ignore[arg-type]
    with pytest.raises(LLMError, match="no base URL"):
        LLMConfig(provider="openai_compatible").resolved_base_url()
    with pytest.raises(LLMError, match="OpenRouter needs an API key"):
        call_llm("hi", "sys", config=LLMConfig(provider="openrouter", model="m"))


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1}', {"a": 1}),
    ('```json\n{"name": "Ann", "tags": ["1girl"]}\n```', {"name": "Ann", "tags": ["1girl"]}),
    ('Sure! Here it is:\n```\n{"a": {"b": [1, 2]}}\n```\nAnything else?', {"a": {"b": [1, 2]}}),
    ('Here you go: {"a": "x}y", "b": {"c": 2}} Hope that helps {not json}', {"a": "x}y", "b": {"c": 2}}),
    ('<think>maybe {"draft": 1}</think>\n{"final": true}', {"final": True}),
    ('```json\n{"broken": \n```\nfallback {"ok": 1}', {"ok": 1}),
])
def test_extract_json(text: str, expected: dict[str, Any]) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2, 3]", '{"unterminated": ', "```json\n```"])
def test_extract_json_invalid(text: str) -> None:
    with pytest.raises(LLMError, match="no JSON object") as caught:
        extract_json(text)
    assert caught.value.raw == text
