"""The API surface is what the pages need, pinned: a new named endpoint fails here until it is
added on purpose (and checked for admin rights / anonymity). What Gradio does not let us close
is asserted too, so a Gradio upgrade that changes it is noticed (see SECURITY.md)."""

from __future__ import annotations

import httpx
import pytest

from ift_chat.crowd.auth import make_auth_check, set_account
from ift_chat.server import make_asgi_app
from tests.conftest import png_bytes
from tests.scripted_backend import ScriptedBackend

from .conftest import SECRETS, register, serve
from .gradio_http import PageSession

PANES = ("send", "regenerate", "stop", "edit", "new", "rate")
MAIN = {*(f"/chat_{e}" for e in PANES), "/chat_resume", *(f"/arena_{e}" for e in PANES), "/arena_vote",
        "/leaderboard_refresh", "/crowd_task_sets", "/crowd_next", "/crowd_submit",
        *(f"/crowd_admin_{e}" for e in ("refresh", "create", "agreement", "close", "gold", "invite",
                                        "disable", "enable")),
        "/data_export", "/data_exports", "/data_import", "/data_replay",
        "/judge_run", "/judge_refresh", "/judge_detail", "/browse_conversations", "/replay_results"}
BATTLE = {*(f"/battle_{e}" for e in PANES), "/battle_vote", "/battle_reveal"}


@pytest.fixture
def app_url(config, store):
    with serve(make_asgi_app(config, store, register(store, ScriptedBackend("m1"), ScriptedBackend("m2")))
               ) as url:
        yield url


def test_named_endpoints_are_exactly_the_expected_ones(app_url):
    with httpx.Client(timeout=30) as http:
        for mount, expected in (("", MAIN), ("/battle", BATTLE)):
            for query in ("", "?all_endpoints=true"):
                info = http.get(f"{app_url}{mount}/gradio_api/info{query}").json()
                assert set(info["named_endpoints"]) == expected, mount
                assert not info.get("unnamed_endpoints")


def test_the_queue_is_the_only_way_in(app_url):
    """No direct REST call skips the queue (its concurrency limits) or the session state."""
    with httpx.Client(timeout=30) as http:
        for mount, names in (("", MAIN), ("/battle", BATTLE)):
            for name in sorted(names):
                for route in ("api", "run"):
                    r = http.post(f"{app_url}{mount}/gradio_api/{route}{name}", json={"data": []})
                    assert r.status_code == 404 and "join the queue" in r.text, (route, name)
        for path in ("/docs", "/redoc"):
            assert http.get(app_url + path).status_code == 404


def test_unnamed_events_are_reachable_so_each_checks_its_caller(app_url):
    """Gradio cannot close them: the page itself calls its events by fn_index. So every handler,
    named or not, does its own checks (tests: test_admin, test_anonymity call them all)."""
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, app_url + "/battle")
        private = [d for d in page.dependencies() if d["api_visibility"] == "private" and d["backend_fn"]]
        assert private
        out, error, _ = page.call(private[0]["id"], *page.defaults(private[0]))
        assert not error


def test_with_login_on_nothing_is_served_before_login(config, store):
    """--auth-file: every route of both apps (page config, API info, upload, files, queue) wants a login."""
    set_account(store, "rita", "rater", "rita-password")
    config = config.replace(auth_file=config.home / "users.txt")
    backends = register(store, *(ScriptedBackend(name) for name in SECRETS))
    with serve(make_asgi_app(config, store, backends, auth=make_auth_check(store))) as url:
        with httpx.Client(timeout=30) as http:
            for mount in ("", "/battle"):
                base = url + mount
                for method, path, kwargs in (
                        ("GET", "/config", {}), ("GET", "/gradio_api/info", {}),
                        ("GET", "/gradio_api/file=" + str(config.db_path), {}),
                        ("POST", "/gradio_api/upload",
                         {"files": {"files": ("x.png", png_bytes(), "image/png")}}),
                        ("POST", "/gradio_api/queue/join", {"json": {"data": [], "fn_index": 0,
                                                                     "session_hash": "x"}})):
                    r = http.request(method, base + path, **kwargs)
                    assert r.status_code in (401, 403), (mount, path, r.status_code)
                login_page = http.get(base + "/")  # the login page: nothing of the app in it
                assert login_page.status_code == 200 and not any(s in login_page.text for s in SECRETS)
                assert http.post(base + "/login", data={"username": "rita", "password": "rita-password"}
                                 ).status_code == 200
                assert http.get(base + "/gradio_api/info").status_code == 200
                http.cookies.clear()


GRADIO_OPEN_ROUTES = ("/openapi.json", "/gradio_api/openapi.json", "/gradio_api/token", "/gradio_api/user",
                      "/gradio_api/app_id", "/theme.css", "/gradio_api/theme.css", "/gradio_api/startup-events",
                      "/manifest.json", "/robots.txt", "/gradio_api/queue/status", "/gradio_api/deep_link",
                      "/gradio_api/heartbeat/x", "/gradio_api/vibe-code")


def test_with_login_on_gradio_s_own_open_routes_are_closed_before_login(config, store):
    """Gradio serves these to anyone, logins or not (its OpenAPI names every route, app_id and
    token/user answer, the theme is served): with --auth-file they wait for a login too."""
    set_account(store, "rita", "rater", "rita-password")
    config = config.replace(auth_file=config.home / "users.txt")
    backends = register(store, *(ScriptedBackend(name) for name in SECRETS))
    with serve(make_asgi_app(config, store, backends, auth=make_auth_check(store))) as url:
        with httpx.Client(timeout=30) as http:
            for mount in ("", "/battle"):
                base = url + mount
                for path in GRADIO_OPEN_ROUTES:
                    r = http.get(base + path)
                    assert r.status_code == 401 and "Not authenticated" in r.text, (mount, path, r.status_code)
                for page in (["/", "/manage"] if not mount else ["/"]):  # the login page, nothing more
                    r = http.get(base + page)
                    assert r.status_code == 200 and '"auth_required":true' in r.text.replace(" ", "")
                    assert not any(s in r.text for s in SECRETS)
                assert http.get(base + "/favicon.ico").status_code == 200  # the page's own files
                assert http.post(base + "/login", data={"username": "rita", "password": "rita-password"}
                                 ).status_code == 200
                for path in ("/gradio_api/app_id", "/theme.css", "/openapi.json"):
                    assert http.get(base + path).status_code == 200, (mount, path)
                http.cookies.clear()
