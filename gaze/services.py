"""Background services started once per process (the job queue's workers)."""
from __future__ import annotations

import logging

from flask import Flask

log = logging.getLogger(__name__)


def start(app: Flask) -> None:
    """Start the background workers unless the config turns them off."""
    if not app.config.get("START_WORKER"):
        return
    starters = app.extensions.setdefault("gaze_starters", [])
    for starter in starters:
        starter(app)
