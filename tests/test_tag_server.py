"""GAZE's tag MCP server driven through TagClient: real subprocesses, stdio and HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gaze.tags.client import TagClient, TagServerError, close_all, get_tag_client, result_value
from gaze.tags.index import SAMPLE_CSV
from gaze.tags.server import parse_host_port

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_http_server(port: int, *args: str) -> subprocess.Popen[bytes]:
    """Run ``python -m gaze.tags`` with ``args`` and wait until it accepts connections."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gaze.tags", *args, "--csv", str(SAMPLE_CSV)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tag server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("tag server did not start listening")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def child_pids(marker: str) -> list[int]:
    """Our child processes whose command line contains ``marker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and marker in cmdline and stat[0] != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def stdio_client() -> Iterator[TagClient]:
    client = TagClient(f"python -m gaze.tags --csv {SAMPLE_CSV}", timeout=20)
    yield client
    client.close()


def test_stdio_search_tags(stdio_client: TagClient) -> None:
    hits = stdio_client.call("search_tags", {"query": "long", "limit": 2})
    assert hits == [
        {"name": "long_hair", "category": "general", "post_count": 4400000},
        {"name": "long_sleeves", "category": "general", "post_count": 1600000},
    ]
    characters = stdio_client.call("search_tags", {"query": "h", "category": "character"})
    assert [hit["name"] for hit in characters] == ["hatsune_miku", "hakurei_reimu"]


def test_stdio_validate_tags(stdio_client: TagClient) -> None:
    result = stdio_client.call("validate_tags", {"tags": ["Long Hair", "miku", "(smile:1.2)", "not a tag"]})
    assert result == {"valid": ["long_hair", "hatsune_miku", "smile"], "invalid": ["not a tag"]}


def test_stdio_suggest_tags(stdio_client: TagClient) -> None:
    hits = stdio_client.call("suggest_tags", {"partial": "1girl, school u"})
    assert [hit["name"] for hit in hits] == ["school_uniform"]
    assert len(stdio_client.call("suggest_tags", {"partial": "s", "limit": 3})) == 3


def test_stdio_list_tools(stdio_client: TagClient) -> None:
    tools = {tool["name"]: tool for tool in stdio_client.list_tools()}
    assert set(tools) == {"search_tags", "validate_tags", "suggest_tags"}
    search = tools["search_tags"]["inputSchema"]
    assert search["required"] == ["query"]
    assert set(search["properties"]) == {"query", "limit", "category"}
    assert search["properties"]["limit"]["default"] == 20
    assert tools["suggest_tags"]["inputSchema"]["properties"]["limit"]["default"] == 10
    assert tools["validate_tags"]["inputSchema"]["properties"]["tags"]["type"] == "array"


def test_stdio_tool_errors_raise_tag_server_error(stdio_client: TagClient) -> None:
    with pytest.raises(TagServerError, match="unknown tag category 'weapons'"):
        stdio_client.call("search_tags", {"query": "a", "category": "weapons"})
    with pytest.raises(TagServerError, match="Unknown tool"):
        stdio_client.call("no_such_tool", {})
    with pytest.raises(TagServerError, match="query"):
        stdio_client.call("search_tags", {"qeury": "a"})
    # the connection survives errors
    assert stdio_client.call("validate_tags", {"tags": ["solo"]})["valid"] == ["solo"]


def test_stdio_calls_from_many_threads(stdio_client: TagClient) -> None:
    errors: list[BaseException] = []
    results: list[list[str]] = []

    def work(tag: str) -> None:
        try:
            for _ in range(5):
                results.append(stdio_client.call("validate_tags", {"tags": [tag]})["valid"])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(tag,)) for tag in ("solo", "smile", "miku", "1girl")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(results) == 20


def test_stdio_server_death_reconnects_once(tmp_path: Path) -> None:
    csv_path = tmp_path / "death-test-tags.csv"
    shutil.copy(SAMPLE_CSV, csv_path)
    client = TagClient(f"python -m gaze.tags --csv {csv_path}", timeout=20)
    try:
        assert client.call("validate_tags", {"tags": ["solo"]})["valid"] == ["solo"]
        pids = child_pids(str(csv_path))
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGKILL)
        time.sleep(0.2)
        assert client.call("validate_tags", {"tags": ["smile"]})["valid"] == ["smile"]
        new_pids = child_pids(str(csv_path))
        assert len(new_pids) == 1 and new_pids != pids
    finally:
        client.close()
    assert child_pids(str(csv_path)) == []


def test_streamable_http_validate_tags_and_restart() -> None:
    port = free_port()
    process = start_http_server(port, "--http", f"127.0.0.1:{port}")
    client = TagClient(f"http://127.0.0.1:{port}/mcp", timeout=10)
    try:
        assert client.call("validate_tags", {"tags": ["1girls", "xyz"]}) == {"valid": ["1girl"], "invalid": ["xyz"]}
        stop(process)
        with pytest.raises(TagServerError, match="could not connect|lost"):
            client.call("validate_tags", {"tags": ["solo"]})
        process = start_http_server(port, "--http", f"127.0.0.1:{port}")
        assert client.call("validate_tags", {"tags": ["solo"]})["valid"] == ["solo"]
    finally:
        client.close()
        stop(process)


def test_legacy_streamable_http_reconnects_after_restart() -> None:
    port = free_port()
    process = start_http_server(port, "--http", f"127.0.0.1:{port}")
    client = TagClient(f"http://127.0.0.1:{port}/mcp", timeout=10, legacy=True)
    try:
        assert client.call("validate_tags", {"tags": ["miku"]})["valid"] == ["hatsune_miku"]
        stop(process)
        process = start_http_server(port, "--http", f"127.0.0.1:{port}")
        # the new server does not know the old session: "Session not found" -> one reconnect
        assert client.call("validate_tags", {"tags": ["solo"]})["valid"] == ["solo"]
    finally:
        client.close()
        stop(process)


def test_legacy_sse_transport() -> None:
    port = free_port()
    process = start_http_server(port, "--sse", f"127.0.0.1:{port}")
    client = TagClient(f"http://127.0.0.1:{port}/sse", timeout=10, legacy=True)
    try:
        hits = client.call("search_tags", {"query": "twin"})
        assert [hit["name"] for hit in hits] == ["twintails"]
    finally:
        client.close()
        stop(process)


def test_unreachable_server_is_a_readable_error() -> None:
    client = TagClient(f"http://127.0.0.1:{free_port()}/mcp", timeout=5)
    try:
        with pytest.raises(TagServerError, match=r"could not connect to tag server http://127\.0\.0\.1:\d+/mcp"):
            client.call("validate_tags", {"tags": ["solo"]})
    finally:
        client.close()


def test_server_that_exits_is_a_readable_error() -> None:
    client = TagClient("python -c 'raise SystemExit(3)'", timeout=5)
    try:
        with pytest.raises(TagServerError, match="could not connect"):
            client.call("validate_tags", {"tags": ["solo"]})
    finally:
        client.close()


def test_silent_server_hits_the_connect_timeout() -> None:
    client = TagClient("python -c 'import time; time.sleep(30)'", timeout=5, connect_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(TagServerError, match="no handshake within 0.5s"):
            client.call("validate_tags", {"tags": ["solo"]})
    finally:
        client.close()
    assert time.monotonic() - started < 10


def test_closed_client_refuses_calls() -> None:
    client = TagClient("python -m gaze.tags")
    client.close()
    with pytest.raises(TagServerError, match="closed"):
        client.call("validate_tags", {"tags": ["solo"]})


def test_get_tag_client_caches_by_spec() -> None:
    spec = f"python -m gaze.tags --csv {SAMPLE_CSV}"
    first = get_tag_client(spec)
    assert get_tag_client(spec) is first
    assert get_tag_client(spec, legacy=True) is not first
    assert first.call("validate_tags", {"tags": ["solo"]})["valid"] == ["solo"]
    close_all()
    second = get_tag_client(spec)
    assert second is not first
    with pytest.raises(TagServerError, match="closed"):
        first.call("validate_tags", {"tags": ["solo"]})
    close_all()


def test_repr_hides_url_credentials() -> None:
    client = TagClient("https://user:secret@tags.example/mcp?token=abc")
    assert "secret" not in repr(client) and "abc" not in repr(client)


def test_result_value_prefers_structured_then_json_then_text() -> None:
    from mcp.types import CallToolResult, TextContent

    def text(*values: str) -> list[TextContent]:
        return [TextContent(type="text", text=value) for value in values]

    assert result_value(CallToolResult(content=text("x"), structured_content={"result": [1]})) == [1]
    assert result_value(CallToolResult(content=text("x"), structured_content={"valid": []})) == {"valid": []}
    assert result_value(CallToolResult(content=text('{"a": 1}'))) == {"a": 1}
    assert result_value(CallToolResult(content=text('{"a": 1}', '{"b": 2}'))) == [{"a": 1}, {"b": 2}]
    assert result_value(CallToolResult(content=text("plain words"))) == "plain words"


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8000", ("127.0.0.1", 8000)),
    ("0.0.0.0:80", ("0.0.0.0", 80)),
    (":9000", ("127.0.0.1", 9000)),
    ("9000", ("127.0.0.1", 9000)),
    ("[::1]:8080", ("::1", 8080)),
])
def test_parse_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["host", "host:0", "host:70000", "host:x"])
def test_parse_host_port_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_host_port(text)


def test_missing_command_is_a_readable_error() -> None:
    client = TagClient("gaze-no-such-command --stdio", timeout=5)
    try:
        with pytest.raises(TagServerError, match="could not connect.*FileNotFoundError"):
            client.call("validate_tags", {"tags": ["solo"]})
    finally:
        client.close()
