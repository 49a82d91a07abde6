"""The optional login (GAZE_PASSWORD): `GET/POST /login`, `POST /logout`."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ..security import check_password, client_key, limiter, log_in, log_out, logged_in, public, safe_next

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    password = current_app.config.get("PASSWORD")
    target = safe_next(request.values.get("next"))
    if not password or (request.method == "GET" and logged_in()):
        return redirect(target or url_for("library.index"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None)
    key = client_key()
    wait = limiter().retry_after(key)
    if wait:
        log.warning("login refused for %s: too many failed attempts", key)
        message = f"Too many failed attempts. Try again in {wait} seconds."
        return render_template("login.html", next=target, error=message), 429, {"Retry-After": str(wait)}
    if check_password(request.form.get("password", ""), password):
        limiter().reset(key)
        log_in()
        log.info("login from %s", key)
        return redirect(target or url_for("library.index"))
    limiter().fail(key)
    log.warning("failed login from %s", key)
    return render_template("login.html", next=target, error="Wrong password."), 401


@bp.route("/logout", methods=["POST"])
@public
def logout():
    log_out()
    return redirect(url_for("auth.login"))
