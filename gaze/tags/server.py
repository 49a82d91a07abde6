"""GAZE's Danbooru tag MCP server, built on the SDK's :class:`MCPServer`.

Tools (names and arguments as in the original danbooru-mcp):

* ``search_tags(query, limit=20, category=None)`` -> list of ``{name, category, post_count}``
* ``validate_tags(tags)`` -> ``{"valid": [canonical...], "invalid": [...]}``
* ``suggest_tags(partial, limit=10, category=None)`` -> list of ``{name, category, post_count}``

Run with ``python -m gaze.tags`` (stdio) or ``python -m gaze.tags --http HOST:PORT``
(streamable HTTP at ``http://HOST:PORT/mcp``).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from gaze.tags.index import TagHit, TagIndex, ValidationResult, load_tag_index

logger = logging.getLogger(__name__)

SERVER_NAME = "gaze-tags"
INSTRUCTIONS = (
    "Danbooru tag lookup. Use search_tags to find tags by prefix, suggest_tags to autocomplete "
    "the tag being typed, and validate_tags to check a list of tags (aliases resolve to their "
    "canonical tag). Categories: general, artist, copyright, character, meta."
)
_READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def build_server(index: TagIndex, *, log_level: str = "WARNING") -> MCPServer:
    """An :class:`MCPServer` exposing ``index`` as the three tag tools.

    Note: constructing an ``MCPServer`` calls ``logging.basicConfig`` (SDK
    behaviour), so build it in the server process, not inside the web app.
    """
    server: MCPServer = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level=log_level.upper())

    @server.tool(annotations=_READ_ONLY)
    def search_tags(query: str, limit: int = 20, category: str | None = None) -> list[TagHit]:
        """Search Danbooru tags whose name or alias starts with `query` (spaces or underscores),
        most-used first. `category` optionally filters: general, artist, copyright, character, meta."""
        try:
            return index.search_tags(query, limit=limit, category=category)
        except ValueError as exc:  # a readable isError result instead of the SDK's generic one
            raise ToolError(str(exc)) from exc

    @server.tool(annotations=_READ_ONLY)
    def validate_tags(tags: list[str]) -> ValidationResult:
        """Check Danbooru tags. Returns `valid` (canonical names; aliases and weighted prompt tags
        such as `(long hair:1.2)` resolve to their tag) and `invalid` (inputs that are not tags)."""
        return index.validate_tags(tags)

    @server.tool(annotations=_READ_ONLY)
    def suggest_tags(partial: str, limit: int = 10, category: str | None = None) -> list[TagHit]:
        """Autocomplete the tag being typed at the end of `partial` (the text after the last comma),
        most-used first. `category` optionally filters: general, artist, copyright, character, meta."""
        try:
            return index.suggest_tags(partial, limit=limit, category=category)
        except ValueError as exc:
            raise ToolError(str(exc)) from exc

    return server


def parse_host_port(value: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """Parse ``HOST:PORT``, ``[::1]:PORT``, ``:PORT`` or ``PORT``.

    Raises:
        ValueError: when the port is missing or not a number in 1..65535.
    """
    text = value.strip()
    host, port_text = default_host, text
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
        host = host or default_host
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host, int(port_text)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point of ``python -m gaze.tags``."""
    parser = argparse.ArgumentParser(prog="python -m gaze.tags", description="GAZE Danbooru tag MCP server")
    parser.add_argument("--http", metavar="HOST:PORT",
                        help="serve streamable HTTP at http://HOST:PORT/mcp (default: stdio)")
    parser.add_argument("--sse", metavar="HOST:PORT",
                        help="serve the older HTTP+SSE transport at http://HOST:PORT/sse instead (legacy clients)")
    parser.add_argument("--csv", metavar="PATH", help="tag CSV (default: env GAZE_TAG_CSV, else the bundled sample)")
    parser.add_argument("--log-level", default=os.environ.get("GAZE_TAG_LOG_LEVEL", "WARNING"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], type=str.upper)
    args = parser.parse_args(argv)
    if args.http and args.sse:
        parser.error("use either --http or --sse")
    try:
        address = parse_host_port(args.http or args.sse) if (args.http or args.sse) else None
    except ValueError as exc:
        parser.error(str(exc))
    try:
        index = load_tag_index(args.csv)
    except OSError as exc:
        parser.error(f"cannot read the tag CSV: {exc}")
    server = build_server(index, log_level=args.log_level)
    if address is None:
        server.run("stdio")
    elif args.sse:
        host, port = address
        logger.info("Serving tags (HTTP+SSE) at http://%s:%d/sse", host, port)
        server.run("sse", host=host, port=port)
    else:
        host, port = address
        logger.info("Serving tags at http://%s:%d/mcp", host, port)
        server.run("streamable-http", host=host, port=port)
