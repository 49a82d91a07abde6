"""Request-level protections, installed by `init_app` in create_app.

In the order they run on every request:

1. Host check: IP-literal hosts (v4/v6, any port) and `localhost` are always
   accepted, other names only when listed in GAZE_TRUSTED_HOSTS. A page on a
   DNS-rebinding domain therefore cannot drive a GAZE on the user's machine,
   while LAN and Docker use by IP keeps working.
2. Optional login: with GAZE_PASSWORD set, every page and API call needs a
   logged-in session (or, for /api/, the GAZE_API_TOKEN bearer token).
3. CSRF: every state-changing request outside /api/ needs the form or header
   token. /api/ is exempt from form CSRF because it only accepts JSON bodies
   (a 415 otherwise, see gaze.views): a cross-site page cannot send
   `Content-Type: application/json` without a CORS preflight GAZE never grants.
4. API token: with GAZE_API_TOKEN set, state-changing /api/ requests need
   `Authorization: Bearer <token>` unless they come from GAZE's own pages (a
   logged-in session, or without a password the page's CSRF token).

Every response also gets the security headers below (CSP: 'self' only).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import threading
import time
from collections import deque
from typing import Callable

from flask import Flask, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, ValidationError, validate_csrf
from werkzeug.security import check_password_hash

from .extensions import csrf

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Reachable without a login whichever view serves them: the container's health check.
PUBLIC_PATHS = frozenset({"/api/health"})
AUTH_KEY = "gaze_auth"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CSP,
    "Cross-Origin-Opener-Policy": "same-origin",
}
_HASHED_PASSWORD_PREFIXES = ("pbkdf2:", "scrypt:")


# ---------------------------------------------------------------- helpers

def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def public(view: Callable) -> Callable:
    """Mark a view as reachable without logging in (login page, health check)."""
    view.gaze_public = True  # type: ignore[attr-defined]
    return view


def host_name(host: str) -> str | None:
    """The name part of a Host header, lower-case and without port; None when malformed."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        rest = host[end + 1:]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        name = host[1:end]
        return name if _is_ip(name) and ":" in name else None
    if host.count(":") > 1:
        return None  # a bare IPv6 address must be bracketed in a Host header
    name, _, port = host.partition(":")
    if (port and not port.isdigit()) or not name:
        return None
    return name.rstrip(".") or None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str, extra: list[str]) -> bool:
    """IP literals and localhost always; other names only when listed
    (`name`, `.suffix` for a domain and its sub-domains, or `*` for any)."""
    name = host_name(host)
    if name is None:
        return False
    if name == "localhost" or _is_ip(name):
        return True
    for entry in extra:
        entry = entry.strip().lower()
        if entry == "*":
            return True
        entry = host_name(entry) if not entry.startswith(".") else entry.rstrip(".")
        if entry is None:
            continue
        if entry.startswith("."):
            if name == entry[1:] or name.endswith(entry):
                return True
        elif name == entry:
            return True
    return False


def listens_beyond_loopback(bind_host: str) -> bool:
    host = (bind_host or "").strip().strip("[]").lower()
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name or a wildcard: assume other machines can reach it


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def equal_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that does not reveal the expected length either."""
    return hmac.compare_digest(_digest(given), _digest(expected))


def check_password(given: str, configured: str) -> bool:
    """GAZE_PASSWORD is either the password itself or a werkzeug password hash."""
    if configured.startswith(_HASHED_PASSWORD_PREFIXES):
        try:
            return check_password_hash(configured, given)
        except (ValueError, TypeError):
            return False
    return equal_secret(given, configured)


def _auth_marker() -> str:
    """What a logged-in session holds: changes when the password or secret key does,
    which logs every session out."""
    cfg = current_app.config
    return hmac.new(str(cfg["SECRET_KEY"]).encode(), _digest(cfg["PASSWORD"]), "sha256").hexdigest()


def logged_in() -> bool:
    if not current_app.config.get("PASSWORD"):
        return False
    marker = session.get(AUTH_KEY)
    return isinstance(marker, str) and hmac.compare_digest(marker, _auth_marker())


def log_in() -> None:
    session[AUTH_KEY] = _auth_marker()
    session.permanent = True
    regenerate = getattr(current_app.session_interface, "regenerate", None)
    if regenerate is not None:  # a fresh session id: no session fixation
        regenerate(session)


def log_out() -> None:
    session.clear()


def bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def bearer_ok() -> bool:
    expected = current_app.config.get("API_TOKEN")
    given = bearer_token()
    return bool(expected and given is not None and equal_secret(given, expected))


def _page_token_ok() -> bool:
    """The request carries this session's CSRF token in a header: it comes from
    a page GAZE served (cross-site pages cannot read it)."""
    for name in current_app.config.get("WTF_CSRF_HEADERS", ["X-CSRFToken"]):
        token = request.headers.get(name)
        if token:
            try:
                validate_csrf(token)
                return True
            except ValidationError:
                return False
    return False


def safe_next(target: str | None) -> str | None:
    """A local path to return to after login; anything else (other sites) is dropped."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ch in target for ch in "\r\n\\\x00"):
        return None
    return target


def _json_or_page(message: str, code: int, headers: dict | None = None):
    from .views import wants_json
    if wants_json():
        response = jsonify(error=message)
    else:
        response = current_app.make_response(render_template("error.html", code=code, message=message))
    response.status_code = code
    response.headers.update(headers or {})
    return response


# ---------------------------------------------------------------- rate limit

class FailureLimiter:
    """At most `max_failures` failures per `window_s` seconds per key (client IP)."""

    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000):
        self.max_failures = max(1, max_failures)
        self.window_s = max(1.0, float(window_s))
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if times is not None and not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again; 0 when it may try now."""
        with self._lock:
            now = self.clock()
            times = self._prune(key, now)
            if times is None or len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[-self.max_failures] + self.window_s - now))

    def fail(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._failures) >= self.max_keys:
                for stale in list(self._failures):
                    self._prune(stale, now)
            self._failures.setdefault(key, deque(maxlen=self.max_failures)).append(now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def limiter() -> FailureLimiter:
    return current_app.extensions["gaze_login_limiter"]


def client_key() -> str:
    return request.remote_addr or "unknown"


def too_many_attempts(wait: int):
    return _json_or_page(f"Too many failed attempts. Try again in {wait} seconds.", 429,
                         {"Retry-After": str(wait)})


# ---------------------------------------------------------------- request hooks

def _check_host():
    raw = request.headers.get("Host")
    if raw and not host_allowed(raw, current_app.config.get("ALLOWED_HOSTS") or []):
        log.warning("refused request for host %r (add it to GAZE_TRUSTED_HOSTS to allow it)", raw[:100])
        return jsonify(error="unknown host name; add it to GAZE_TRUSTED_HOSTS to use GAZE under it"), 400
    return None


def _require_login():
    if not current_app.config.get("PASSWORD"):
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if (request.endpoint == "static" or request.path in PUBLIC_PATHS or getattr(view, "gaze_public", False)
            or logged_in()):
        return None
    if is_api_path(request.path) and bearer_token() is not None:
        wait = limiter().retry_after(client_key())
        if wait:
            return too_many_attempts(wait)
        if bearer_ok():
            return None
        limiter().fail(client_key())
    from .views import wants_json
    if wants_json():
        return _json_or_page("log in first (or send the API token)", 401, {"WWW-Authenticate": "Bearer"})
    return redirect(url_for("auth.login", next=safe_next(request.full_path.rstrip("?"))))


def _check_csrf():
    if not current_app.config.get("WTF_CSRF_ENABLED", True) or is_api_path(request.path):
        return None
    try:
        csrf.protect(apply_exemptions=True)
    except CSRFError:
        if request.endpoint == "auth.login":  # the login page never shows the library's layout
            message = "This form has expired or came from another site. Reload the page and try again."
            return render_template("login.html", error=message, next=None), 400
        raise
    return None


def _require_api_token():
    if (not current_app.config.get("API_TOKEN") or request.method not in UNSAFE_METHODS
            or not is_api_path(request.path)):
        return None
    if current_app.config.get("PASSWORD"):
        if logged_in() or bearer_ok():
            return None
    elif bearer_ok() or _page_token_ok():
        return None
    if bearer_token() is not None:
        limiter().fail(client_key())
    return _json_or_page("this API needs the header Authorization: Bearer <GAZE_API_TOKEN>", 401,
                         {"WWW-Authenticate": "Bearer"})


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def security_warning(config) -> str | None:
    if config.get("PASSWORD") or not listens_beyond_loopback(str(config.get("HOST", ""))):
        return None
    return (f"GAZE listens on {config.get('HOST')} without a password: anyone who can reach this "
            "machine can change or delete your library. Set GAZE_PASSWORD, or GAZE_HOST=127.0.0.1.")


def _too_large(exc):
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    size = f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{max(1, round(limit / 1024))} KB"
    return _json_or_page(f"That request is too large: GAZE accepts at most {size} "
                         "(set GAZE_MAX_UPLOAD_MB to change it).", 413)


def init_app(app: Flask) -> None:
    """Install the hooks. Call after csrf.init_app and before the views register
    their own hooks (the order above is the order they run)."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # _check_csrf decides, skipping /api/
    app.extensions["gaze_login_limiter"] = FailureLimiter(app.config.get("LOGIN_MAX_FAILURES", 5),
                                                          app.config.get("LOGIN_WINDOW_S", 300))
    app.before_request_funcs.setdefault(None, []).insert(0, _check_host)
    app.before_request(_require_login)
    app.before_request(_check_csrf)
    app.before_request(_require_api_token)
    app.after_request(_security_headers)
    app.register_error_handler(413, _too_large)

    warning = security_warning(app.config)
    if warning:
        log.warning(warning)
    app.context_processor(lambda: {"security_warning": warning,
                                   "show_logout": bool(app.config.get("PASSWORD")) and logged_in()})

    from .views import auth
    app.register_blueprint(auth.bp)
