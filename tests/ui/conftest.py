"""A running app (uvicorn in a thread, loopback, free port) for gradio_client and browser tests."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import pytest
import uvicorn

from ift_chat.backends import Backends
from ift_chat.server import make_asgi_app
from tests.scripted_backend import ScriptedBackend


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app):
    """uvicorn on loopback in a thread; a short graceful shutdown so open SSE clients don't stall teardown."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                          timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def running_app(config, store, backends: Backends, auth=None):
    with serve(make_asgi_app(config, store, backends, auth=auth)) as url:
        yield url


def log_in(page, url: str, name: str, password: str, path: str = "/manage") -> None:
    """Open a page of an app served with a login and send the login form."""
    page.goto(url + path)
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()


def open_rating_tasks(page, url: str, name: str) -> None:
    """/manage as a rater typing `name`, on Rating tasks, with the first task asked for."""
    from tests.ui.test_browser import open_page

    open_page(page, url + "/manage")
    page.locator("#rater-name textarea, #rater-name input").first.fill(name)
    page.get_by_role("tab", name="Rating tasks").click()
    page.get_by_role("button", name="Next task").click()


def scripted_backends(store, *specs: ScriptedBackend) -> Backends:
    for b in specs:
        store.checkpoints.register(b.name, backend="scripted")
    return Backends(specs)


@pytest.fixture
def scripted_app(config, store):
    """App serving two scripted models named like secret checkpoints."""
    backends = scripted_backends(
        store, ScriptedBackend("secret-ckpt-alpha", reply="Reply one from the first model."),
        ScriptedBackend("secret-ckpt-beta", reply="Reply two from the second model."))
    with running_app(config, store, backends) as url:
        yield url, backends
