"""Bad input everywhere: every route of `app.url_map` (found at run time) gets
malformed, huge, wrongly typed and hostile values as URL parameters, query
strings, form fields and JSON bodies. No answer may be a 500, and no file
outside the temporary data/uploads/instance folders may appear or change."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, csrf_token
from tests.routes import fill, is_api, prepare, rules, url_for_rule

HOSTILE = [
    "", " ", "../../../etc/passwd", "..\\..\\boot.ini", "%2e%2e%2f%2e%2e%2f", "/etc/passwd", "C:\\x", "\x00",
    "a\x00b", "<script>window.__pwned=1</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}", "{% raw %}",
    "' OR 1=1 --", "; rm -rf /", "$(id)", "${jndi:ldap://x}", "-1", "0", "1e308", "NaN", "Infinity",
    "99999999999999999999999", "true", "null", "[]", "{}", '{"a":', "\u202e\u0644", "\uffff", "🙂" * 50,
    "é" * 300, "x" * 5000, "__random__", "characters", "checkpoints", "Illustrious/x.safetensors",
    "../" * 30 + "x", "mira_vance", "a" * 300 + ".json",
]
FIELDS = ["category", "full", "name", "slug", "data", "json", "raw_json", "fields", "hard", "outfit",
          "outfit_name", "action", "prompt", "positive", "negative", "seed", "width", "height", "checkpoint",
          "checkpoint_path", "character", "character_slug", "description", "next", "q", "page", "limit",
          "selected_fields", "default_fields", "lora_name", "lora_weight", "tags", "file", "path", "password"]

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
value = st.one_of(st.sampled_from(HOSTILE), text, st.integers().map(str), st.floats().map(str))
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | value,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | text, inner, max_size=4),
    max_leaves=12)
fields = st.dictionaries(st.sampled_from(FIELDS) | text, value | st.lists(value, max_size=3), max_size=6)
SKIP_DIRS = {".git", "__pycache__", ".hypothesis", ".pytest_cache", "artifacts", "node_modules"}


def snapshot(roots: list[Path], exclude: list[Path]) -> dict[str, tuple[int, int]]:
    """path → (size, mtime) of every file under `roots`, leaving out `exclude`."""
    excluded = {str(p.resolve()) for p in exclude}
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS
                           and str(Path(dirpath, d).resolve()) not in excluded]
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    st_ = os.lstat(path)
                except FileNotFoundError:
                    continue
                out[path] = (st_.st_size, st_.st_mtime_ns)
    return out


class Fuzzer:
    """Sends requests as one browser session (valid CSRF token) and records answers."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = csrf_token(self.client)
        self.samples = prepare(app)
        self.routes = rules(app)
        self.server_errors: list[str] = []
        self.csrf_refusals: list[str] = []
        self.hits = 0

    def url(self, rule, overrides: dict[str, str], pick: int) -> str:
        values = fill(rule, self.samples, pick)
        values.update({k: v for k, v in overrides.items() if k in values})
        try:
            return url_for_rule(rule, values)
        except (ValueError, TypeError, AssertionError):  # a converter refused the value
            return url_for_rule(rule, fill(rule, self.samples, pick))

    def send(self, rule, method: str, url: str, query: dict, form: dict, body, ajax: bool) -> None:
        if self.client.get_cookie("session") is None:  # a /logout or similar ended the session
            self.token = csrf_token(self.client)
        headers = {"X-Requested-With": "XMLHttpRequest"} if ajax else {}
        kwargs: dict = {"query_string": query, "headers": headers}
        if method != "GET":
            headers["X-CSRFToken"] = self.token
            if is_api(rule) or body is not None:
                kwargs["json"] = body
            else:
                kwargs["data"] = {**form, "csrf_token": self.token}
        response = self.client.open(url, method=method, **kwargs)
        self.hits += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{method} {url} query={query!r:.200} form={form!r:.200} json={body!r:.200}"
                                      f" → {response.status_code}")
        if response.status_code == 400 and b"came from another site" in response.get_data():
            self.csrf_refusals.append(f"{method} {url}")
        response.close()


@pytest.mark.slow
def test_no_route_fails_or_escapes_on_hostile_input(app, tmp_path):
    roots = [app.config[k] for k in ("DATA_DIR", "UPLOADS_DIR", "INSTANCE_DIR")]
    watched = [REPO, tmp_path]  # the code, and this test's folder around the three roots
    before = snapshot(watched, roots)
    beside = set(os.listdir(tmp_path.parent))  # one level up: other tests' folders, finished
    fuzz = Fuzzer(app)
    assert len(fuzz.routes) >= 5, "the walk sees the app's routes"

    # 1. a sweep: every route, every method, each with a set of fixed hostile inputs
    for rule, method in fuzz.routes:
        for i, bad in enumerate(["../../../etc/passwd", "<script>window.__pwned=1</script>", "\x00", "x" * 5000,
                                 "-1", "é🙂\u202e"]):
            overrides = {arg: bad for arg in rule.arguments} if i % 2 else {}
            form = {name: bad for name in FIELDS}
            body = [bad] if i == 3 else {name: bad for name in FIELDS}
            fuzz.send(rule, method, fuzz.url(rule, overrides, i), {"q": bad, "category": bad}, form,
                      body if method != "GET" and i % 3 == 0 else None, ajax=i % 2 == 0)

    # 2. random combinations, bounded
    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def random_requests(data):
        rule, method = data.draw(st.sampled_from(fuzz.routes), label="route")
        overrides = data.draw(st.dictionaries(st.sampled_from(sorted(rule.arguments) or ["_"]), value, max_size=2))
        url = fuzz.url(rule, overrides, data.draw(st.integers(0, 5)))
        body = data.draw(st.none() | json_value) if method != "GET" else None
        fuzz.send(rule, method, url, data.draw(fields), data.draw(fields), body, data.draw(st.booleans()))

    random_requests()

    # 3. huge bodies: refused readably (413) or handled, never a 500
    for rule, method in fuzz.routes:
        if method != "GET":
            fuzz.send(rule, method, fuzz.url(rule, {}, 0), {}, {"data": "x" * 600_000}, None, ajax=True)

    assert not fuzz.csrf_refusals, f"the fuzzer's requests must reach the views: {fuzz.csrf_refusals[:5]}"
    assert not fuzz.server_errors, f"{len(fuzz.server_errors)} server errors:\n" + "\n".join(fuzz.server_errors[:30])
    after = snapshot(watched, roots)
    created = sorted(set(after) - set(before)) + sorted(set(os.listdir(tmp_path.parent)) - beside)
    changed = sorted(p for p in set(after) & set(before) if after[p] != before[p])
    assert not created and not changed, f"files outside the data/uploads/instance folders: {created + changed}"
    assert fuzz.hits > 150
