"""GAZE: a self-hosted asset library and generation front end for ComfyUI.

`create_app(overrides=None)` builds a fresh application; read it top to bottom.
"""
from __future__ import annotations

import logging
from pathlib import Path

from cachelib.file import FileSystemCache
from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from .config import ROOT, Config, load_secret_key
from .extensions import csrf, db, sess

log = logging.getLogger(__name__)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_conn, _record) -> None:
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def create_app(overrides: dict | Config | None = None) -> Flask:
    app = Flask(__name__, root_path=str(ROOT), template_folder="templates", static_folder="static",
                instance_path=str(ROOT / "instance"), instance_relative_config=False)

    # 1. configuration: environment defaults, then the caller's overrides
    config = overrides if isinstance(overrides, Config) else Config()
    app.config.from_mapping(config.to_flask())
    if isinstance(overrides, dict):
        app.config.update(overrides)
    for key in ("DATA_DIR", "INSTANCE_DIR", "UPLOADS_DIR"):
        app.config[key] = Path(app.config[key])
        app.config[key].mkdir(parents=True, exist_ok=True)
    instance = app.config["INSTANCE_DIR"]
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or load_secret_key(instance)
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{instance / 'gaze.db'}")
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          {"connect_args": {"check_same_thread": False, "timeout": 30}})
    app.config.update(
        SESSION_TYPE="cachelib",
        SESSION_CACHELIB=FileSystemCache(str(instance / "sessions"), threshold=2000, mode=0o600),
        SESSION_PERMANENT=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )

    # 2. extensions
    db.init_app(app)
    sess.init_app(app)
    csrf.init_app(app)
    from . import cli, security
    security.init_app(app)  # hosts, login, CSRF outside /api/, API token, headers
    cli.init_app(app)

    # 3. blueprints, template helpers, error pages, security rules
    from .views import register_views
    register_views(app)

    # 4. the database and the library sync
    with app.app_context():
        db.create_all()
        for index in db.metadata.tables["assets"].indexes:   # indexes added after a DB was made
            index.create(db.engine, checkfirst=True)
        if app.config.get("SYNC_ON_START", True):
            from .sync import sync_all
            sync_all(app.config["DATA_DIR"], app.config.get("CHECKPOINT_ROOT"))
        # Table statistics let SQLite pick good plans for gallery filters and sorts.
        db.session.execute(text("ANALYZE"))
        db.session.commit()

    # 5. background work (the job queue), once per process
    from . import services
    services.start(app)
    return app
