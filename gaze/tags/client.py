"""Synchronous MCP client for tag servers, usable from any (Flask) thread.

A :class:`TagClient` keeps one connection open inside a background event loop
(one process-wide thread started with :func:`anyio.from_thread.start_blocking_portal`)
and exposes blocking :meth:`TagClient.call` / :meth:`TagClient.list_tools`.

``spec`` is either a stdio command (``"python -m gaze.tags --csv tags.csv"``;
a leading ``python``/``python3`` runs the current interpreter) or an
``http(s)://…/mcp`` streamable-HTTP URL.  ``legacy=True`` is for older servers
(e.g. the original danbooru-mcp image): it skips the 2026 ``server/discover``
probe and does the classic ``initialize`` handshake (SDK ``mode="legacy"``),
and a URL whose path ends in ``/sse`` uses the old HTTP+SSE transport.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import shlex
import sys
import threading
import weakref
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult, TextContent

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 30.0
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
# How an HTTP server that restarted answers a session id it never issued (SDK client / server spellings).
_SESSION_GONE = {"session terminated", "session not found"}
_PYTHON_NAMES = {"python", "python3", f"python3.{sys.version_info.minor}"}


class TagServerError(RuntimeError):
    """A tag server could not be reached, timed out, or answered with an error."""


class _ConnectionLost(Exception):
    """Internal: the connection is gone; the caller may reconnect once."""


# ---------------------------------------------------------------- event loop


class _PortalHolder:
    """The process-wide background event loop, started lazily (again after fork or stop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._context: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._pid: int | None = None

    def get(self) -> BlockingPortal:
        with self._lock:
            if self._portal is None or self._pid != os.getpid():
                context = start_blocking_portal(name="gaze-tag-client")
                self._portal = context.__enter__()
                self._context = context
                self._pid = os.getpid()
            return self._portal

    def stop(self) -> None:
        with self._lock:
            context, self._context, self._portal = self._context, None, None
            if context is not None and self._pid == os.getpid():
                try:
                    context.__exit__(None, None, None)
                except Exception:  # noqa: BLE001 - shutting down; nothing useful to do
                    logger.debug("Error stopping the tag client event loop", exc_info=True)


_PORTAL = _PortalHolder()


# ---------------------------------------------------------------- spec parsing


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _stdio_parameters(spec: str, env: dict[str, str] | None) -> StdioServerParameters:
    argv = shlex.split(spec)
    if not argv:
        raise TagServerError("empty tag server command")
    if argv[0] in _PYTHON_NAMES:
        argv[0] = sys.executable
    child_env = {key: value for key, value in os.environ.items() if key.startswith("GAZE_")}
    # `python -m gaze.tags` must import this package even when it is not installed.
    python_path = [str(_PROJECT_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    child_env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(python_path))
    child_env.update(env or {})
    return StdioServerParameters(command=argv[0], args=argv[1:], env=child_env)


def describe_spec(spec: str) -> str:
    """``spec`` for logs and messages: URLs without credentials or query, commands as given."""
    if _is_url(spec):
        parts = urlsplit(spec)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
    return spec


# ---------------------------------------------------------------- results


def result_value(result: CallToolResult) -> Any:
    """The useful value of a tool result: structured content first, then JSON text, then text.

    Structured content that only wraps a non-object (``{"result": [...]}``, as
    the SDK does for list return types) is unwrapped.
    """
    structured = result.structured_content
    if structured is not None:
        if isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]
        return structured
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    values = [_parse_text(text) for text in texts]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _parse_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _error_text(result: CallToolResult) -> str:
    texts = [block.text for block in result.content if isinstance(block, TextContent) and block.text]
    return "; ".join(texts) or "the tool reported an error"


# ---------------------------------------------------------------- client


class TagClient:
    """One MCP connection to a tag server, used synchronously from any thread."""

    def __init__(
        self,
        spec: str,
        *,
        legacy: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        env: dict[str, str] | None = None,
    ) -> None:
        """Describe a connection; nothing is started until the first call.

        Args:
            spec: a stdio command line or an ``http(s)://`` URL.
            legacy: use the initialize handshake (and SSE for ``…/sse`` URLs) for older servers.
            timeout: seconds allowed for each tool call or listing.
            connect_timeout: seconds allowed to start the server and finish the handshake.
            env: extra environment for a stdio server (``GAZE_*`` variables are passed on anyway).
        """
        spec = spec.strip()
        if not spec:
            raise TagServerError("no tag server configured")
        self.spec = spec
        self.legacy = legacy
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self._env = env
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._stop: anyio.Event | None = None
        self._holder: Future[None] | None = None
        self._portal: BlockingPortal | None = None
        self._generation = 0
        self._closed = False
        self._pid = os.getpid()
        _LIVE_CLIENTS.add(self)

    def __repr__(self) -> str:
        return f"TagClient({describe_spec(self.spec)!r}, legacy={self.legacy})"

    # -- connection management (runs partly inside the event loop) --

    def _make_client(self) -> Client:
        mode = "legacy" if self.legacy else "auto"
        if _is_url(self.spec):
            if self.legacy and urlsplit(self.spec).path.rstrip("/").endswith("/sse"):
                transport = sse_client(self.spec, timeout=self.timeout, sse_read_timeout=max(300.0, self.timeout))
                return Client(transport, mode=mode, read_timeout_seconds=self.timeout)
            return Client(self.spec, mode=mode, read_timeout_seconds=self.timeout)
        return Client(_stdio_parameters(self.spec, self._env), mode=mode, read_timeout_seconds=self.timeout)

    async def _hold(self, *, task_status: anyio.abc.TaskStatus[tuple[Client, anyio.Event]]) -> None:
        """Open the connection, report it, and keep it open until told to stop."""
        stop = anyio.Event()
        started = False
        with anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout) as scope:
            async with self._make_client() as client:
                scope.deadline = math.inf
                started = True
                task_status.started((client, stop))
                await stop.wait()
        if not started:
            raise TimeoutError(f"no handshake within {self.connect_timeout:g}s")

    def _connect(self) -> tuple[Client, int, BlockingPortal]:
        """The live connection, its generation and event loop, connecting first if needed."""
        with self._lock:
            if self._closed:
                raise TagServerError(f"tag client for {describe_spec(self.spec)} is closed")
            if self._pid != os.getpid():  # forked: the parent's loop thread does not exist here
                self._client = self._holder = self._stop = self._portal = None
                self._pid = os.getpid()
            live = self._client is not None and self._holder is not None and not self._holder.done()
            if live and self._portal is not None:
                return self._client, self._generation, self._portal
            self._drop_locked()
            portal = _PORTAL.get()
            logger.info("Connecting to tag server %s", describe_spec(self.spec))
            try:
                holder, (client, stop) = portal.start_task(self._hold, name=f"tag-connection {self!r}")
            except Exception as exc:
                raise TagServerError(
                    f"could not connect to tag server {describe_spec(self.spec)}: {_describe(exc)}"
                ) from exc
            self._portal, self._holder, self._client, self._stop = portal, holder, client, stop
            self._generation += 1
            return client, self._generation, portal

    def _drop_locked(self) -> None:
        """Close the current connection (if any); caller holds ``self._lock``."""
        holder, stop, portal = self._holder, self._stop, self._portal
        self._client = self._holder = self._stop = self._portal = None
        if holder is None or portal is None:
            return
        if stop is not None and not holder.done():
            try:
                portal.call(stop.set)
            except RuntimeError:
                pass  # the event loop is already gone
        try:
            holder.result(timeout=15)
        except FutureTimeout:
            logger.warning("Tag server %s did not shut down in time", describe_spec(self.spec))
            holder.cancel()
        except BaseException as exc:  # noqa: BLE001 - a dead connection may fail on the way out
            logger.debug("Tag connection to %s ended with %r", describe_spec(self.spec), exc)

    def _reset(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._drop_locked()

    def close(self) -> None:
        """Close the connection (stops a stdio server); the client cannot be used afterwards."""
        with self._lock:
            self._closed = True
            self._drop_locked()

    # -- calls --

    def _run(self, what: str, function: Any, *args: Any) -> Any:
        """Run ``function(client, *args)`` in the loop, reconnecting once if the connection died."""
        for attempt in (1, 2):
            client, generation, portal = self._connect()
            try:
                return portal.call(self._guarded, function, client, *args)
            except TagServerError:
                raise
            except RuntimeError as exc:  # the event loop was stopped under us (close_all)
                self._reset(generation)
                raise TagServerError(f"{what} failed: tag client event loop stopped ({exc})") from exc
            except _ConnectionLost as exc:
                self._reset(generation)
                if attempt == 2:
                    raise TagServerError(
                        f"{what} failed: connection to tag server {describe_spec(self.spec)} lost ({exc})"
                    ) from exc
                logger.warning("Tag server %s connection lost (%s); reconnecting", describe_spec(self.spec), exc)
        raise AssertionError("unreachable")

    async def _guarded(self, function: Any, client: Client, *args: Any) -> Any:
        try:
            with anyio.fail_after(self.timeout + 5):
                return await function(client, *args)
        except MCPError as exc:
            message = exc.error.message if exc.error else str(exc)
            if exc.code == CONNECTION_CLOSED or message.lower() in _SESSION_GONE:
                raise _ConnectionLost(message) from exc
            if exc.code == REQUEST_TIMEOUT:
                raise TagServerError(f"tag server timed out after {self.timeout:g}s") from exc
            raise TagServerError(f"tag server error: {message}") from exc
        except TimeoutError as exc:
            raise TagServerError(f"tag server timed out after {self.timeout:g}s") from exc
        except TagServerError:
            raise
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream) as exc:
            raise _ConnectionLost(_describe(exc)) from exc
        except Exception as exc:
            if type(exc).__module__.startswith(("httpx", "httpcore")):
                raise _ConnectionLost(_describe(exc)) from exc
            raise TagServerError(f"tag server call failed: {_describe(exc)}") from exc

    async def _call_tool(self, client: Client, name: str, arguments: dict[str, Any]) -> Any:
        result = await client.call_tool(name, arguments, read_timeout_seconds=self.timeout)
        if result.is_error:
            raise TagServerError(f"{name}: {_error_text(result)}")
        return result_value(result)

    async def _list_tools(self, client: Client) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(100):
            page = await client.list_tools(cursor=cursor)
            tools.extend(tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    def call(self, tool_name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Call a tool and return its value (structured content, else JSON text, else text).

        Raises:
            TagServerError: connection failure, timeout, protocol error or an error result.
        """
        return self._run(f"{tool_name}()", self._call_tool, tool_name, dict(arguments or {}))

    def list_tools(self) -> list[dict[str, Any]]:
        """The server's tools as dicts (``name``, ``description``, ``inputSchema``, …).

        Raises:
            TagServerError: connection failure, timeout or protocol error.
        """
        result: list[dict[str, Any]] = self._run("list_tools()", self._list_tools)
        return result


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------- process-wide cache

_LIVE_CLIENTS: weakref.WeakSet[TagClient] = weakref.WeakSet()
_CACHE: dict[tuple[str, bool], TagClient] = {}
_CACHE_LOCK = threading.Lock()


def get_tag_client(spec: str, *, legacy: bool = False) -> TagClient:
    """The shared :class:`TagClient` for ``spec`` (created on first use, reused afterwards)."""
    key = (spec.strip(), legacy)
    with _CACHE_LOCK:
        client = _CACHE.get(key)
        if client is None or client._closed:
            client = _CACHE[key] = TagClient(key[0], legacy=legacy)
        return client


def close_all() -> None:
    """Close every tag client and stop the background event loop (also run at exit)."""
    with _CACHE_LOCK:
        _CACHE.clear()
    for client in list(_LIVE_CLIENTS):
        try:
            client.close()
        except Exception:  # noqa: BLE001 - best effort at shutdown
            logger.debug("Error closing %r", client, exc_info=True)
    _PORTAL.stop()


atexit.register(close_all)
