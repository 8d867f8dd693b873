"""Behind a reverse proxy: the page's API root (where the browser sends its calls) must stay on
the right app, /battle included, or the battle page would talk to the main app's endpoints."""

from __future__ import annotations

import httpx
import pytest

from ift_chat.server import make_asgi_app
from tests.scripted_backend import ScriptedBackend

from .conftest import register, serve
from .gradio_http import PageSession

PROXIED = {"host": "ift.example.org", "x-forwarded-proto": "https"}


def roots(url: str, headers: dict, prefix: str = "") -> dict[str, str]:
    with httpx.Client(timeout=30, headers=headers) as http:
        return {mount: http.get(f"{url}{prefix}{mount}/config").json()["root"] for mount in ("", "/battle")}


@pytest.fixture
def make_app(config, store):
    def make():
        return make_asgi_app(config, store, register(store, ScriptedBackend("m1"), ScriptedBackend("m2")))
    return make


def test_roots_direct_and_behind_a_proxy(make_app):
    with serve(make_app()) as url:
        assert roots(url, {}) == {"": url, "/battle": url + "/battle"}
        assert roots(url, PROXIED) == {"": "https://ift.example.org",
                                       "/battle": "https://ift.example.org/battle"}
        # Gradio builds the root from X-Forwarded-Host without the mount path; /battle must keep it.
        forwarded = {**PROXIED, "x-forwarded-host": "ift.example.org"}
        assert roots(url, forwarded)["/battle"] == "https://ift.example.org/battle"


def test_sub_path_via_gradio_root_path(make_app, monkeypatch):
    """GRADIO_ROOT_PATH=/ift: both apps live under /ift (the proxy forwards the path unchanged)."""
    monkeypatch.setenv("GRADIO_ROOT_PATH", "/ift")
    with serve(make_app()) as url:
        for headers in (PROXIED, {**PROXIED, "x-forwarded-host": "ift.example.org"}):
            assert roots(url, headers, "/ift") == {"": "https://ift.example.org/ift",
                                                   "/battle": "https://ift.example.org/ift/battle"}
        assert roots(url, {}, "/ift") == {"": url + "/ift", "/battle": url + "/ift/battle"}
        with httpx.Client(timeout=30) as http:
            assert http.get(url + "/battle/config").status_code == 404  # nothing outside /ift
            page = PageSession(http, url + "/ift/battle")
            out, error, _ = page.call("battle_send", None, {"text": "hi", "files": []}, False, "ann", "",
                                      0.7, 1.0, 16, None, "own")
            assert not error and "Hello from a scripted model" in str(out)
