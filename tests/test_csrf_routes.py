"""Every state-changing route, discovered from `app.url_map` at run time,
refuses cross-site requests: outside /api/ without a valid CSRF token (400),
under /api/ without a JSON body (415)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from tests.conftest import csrf_token
from tests.routes import UNSAFE, fill, is_api, prepare, rules, url_for_rule

CSRF_MESSAGE = "came from another site"


def _is_csrf_refusal(response) -> bool:
    return response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True)


def test_every_form_route_refuses_requests_without_a_valid_token(app):
    samples = prepare(app)
    routes = [(rule, method) for rule, method in rules(app, UNSAFE) if not is_api(rule)]
    assert any(rule.endpoint == "library.rescan" for rule, _ in routes), "the walk sees the app's routes"
    other_session = app.test_client()
    foreign_token = csrf_token(other_session)
    failures = []
    for rule, method in routes:
        url = url_for_rule(rule, fill(rule, samples))
        client = app.test_client()
        attempts = {
            "no session, no token": {"data": {"name": "x"}},
            "AJAX without token": {"json": {"name": "x"}, "headers": {"X-Requested-With": "XMLHttpRequest"}},
        }
        for label, kwargs in attempts.items():
            response = client.open(url, method=method, **kwargs)
            if not _is_csrf_refusal(response):
                failures.append(f"{method} {url} ({label}): {response.status_code}")
        page_token = csrf_token(client)  # the client now has a session with its own token
        for label, token in (("garbage token", "not-a-token"), ("another session's token", foreign_token),
                             ("token in wrong field", None)):
            data = {"csrf_token": token} if token else {"token": page_token}
            response = client.open(url, method=method, data=data)
            if not _is_csrf_refusal(response):
                failures.append(f"{method} {url} ({label}): {response.status_code}")
    assert not failures, "routes that accept a request without a valid CSRF token:\n" + "\n".join(failures)


def test_every_api_route_refuses_bodies_that_are_not_json(app):
    samples = prepare(app)
    failures = []
    for rule, method in rules(app, UNSAFE):
        if not is_api(rule):
            continue
        url = url_for_rule(rule, fill(rule, samples))
        for body in ({"data": {"a": "1"}}, {"data": '{"a": 1}', "content_type": "text/plain"}):
            response = app.test_client().open(url, method=method, **body)
            if response.status_code != 415:
                failures.append(f"{method} {url} {body}: {response.status_code}")
    assert not failures, "\n".join(failures)


def _probe(app) -> None:
    """An /api/ blueprint registered like any future one (nothing exempts it by name)."""
    bp = Blueprint("probe", __name__, url_prefix="/api/probe")

    @bp.post("/echo")
    def echo():
        return jsonify(ok=True, got=request.get_json())

    app.register_blueprint(bp)


def test_api_routes_need_no_form_token_but_json(app):
    _probe(app)
    client = app.test_client()
    response = client.post("/api/probe/echo", json={"x": 1})
    assert response.status_code == 200 and response.get_json() == {"ok": True, "got": {"x": 1}}
    # a cross-site form can only send these content types: all refused
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain"):
        response = client.post("/api/probe/echo", data="x=1", content_type=content_type)
        assert response.status_code == 415, content_type
    # the walk of test_every_api_route_refuses_bodies_that_are_not_json covers it too
    test_every_api_route_refuses_bodies_that_are_not_json(app)


def test_form_csrf_still_applies_next_to_api_routes(app):
    _probe(app)
    client = app.test_client()
    assert _is_csrf_refusal(client.post("/rescan", data={}))
    response = client.post("/rescan", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
