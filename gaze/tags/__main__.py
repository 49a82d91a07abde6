"""``python -m gaze.tags``: run GAZE's tag MCP server (see :mod:`gaze.tags.server`)."""

from gaze.tags.server import main

if __name__ == "__main__":
    main()
