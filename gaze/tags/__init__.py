"""Danbooru tags: the in-memory index, GAZE's tag MCP server and the MCP client."""
