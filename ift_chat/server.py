"""One ASGI app: the main Gradio app at `/`, the anonymous battle page at `/battle`.

Hardening of Gradio's defaults (see SECURITY.md; tests/security pins each one):
- input files must be files the client uploaded (Gradio checks that only after
  ``launch()``, which a mounted app never calls), never a server path or a URL;
- ``/gradio_api/file=`` serves the image store and Gradio's upload cache only:
  no remote URLs (Gradio would fetch them), nothing from the DB, logs, exports,
  checkpoints or the users file, even if someone points the cache there;
- the queue is the only way in (no direct REST calls that skip it), and the outer
  app has no docs pages of its own;
- the login page does not describe the app's API (Gradio embeds it, dropdown choices
  such as checkpoint names included, for visitors who have not logged in);
- with logins on, nothing but the login page, the login/logout routes and the page's static
  assets answers before login: Gradio itself serves ``/openapi.json``, ``/theme.css`` and
  ``/gradio_api/token|user|app_id`` (and more) to anyone.

CPU: Gradio's queue recomputes a latency summary for its monitoring dashboard (a pandas
DataFrame over up to 10,000 past events) after every event; ``quiet_queue_analytics`` turns
that off unless ``Config.gradio_monitoring_every`` asks for the dashboard.

Memory: Gradio keeps each browser session's state until ``--max-sessions`` is exceeded, and
its queue's per-session message box forever; ``forget_dropped_sessions`` frees the latter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import warnings
from urllib.parse import urlparse

import gradio as gr
from fastapi import FastAPI
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount

from . import checks
from .backends import Backends
from .config import Config
from .store import Store
from .ui.app import CSS, build_app, build_battle_app
from .ui.live import LIVE_CSS, LIVE_JS, LiveReplies
from .ui.live import ROUTE as LIVE_ROUTE

# A FileData input whose path is a URL: Gradio would download it on the server. (Its "url"
# field is fine: browsers send one with every upload, and Gradio ignores it for inputs.)
_REMOTE_FILE = re.compile(rb'"path"\s*:\s*"[a-zA-Z][a-zA-Z0-9+.-]*:(?://|\\/\\/)')
_LOGIN_CONFIG = re.compile(rb'window\.gradio_config = \{[^<]*?"auth_required":\s*true')
_API_INFO = re.compile(rb"<script>window\.gradio_api_info = .*?;</script>", re.S)
_MAX_JSON_BODY = 4 * 1024 * 1024  # a queue join carries text and upload paths, never file bytes
_FORGET_EVERY_S = 60.0
# What a visitor who has not logged in may fetch (paths inside a mounted app): the login page
# (each page route shows it), logging in and out, and the page's static files.
_BEFORE_LOGIN = frozenset({"/login", "/login/", "/logout", "/logout/", "/favicon.ico"})
_BEFORE_LOGIN_PREFIXES = ("/assets/", "/static/", "/svelte/")


def make_asgi_app(config: Config, store: Store, backends: Backends, auth=None) -> FastAPI:
    sse = config.live_replies == "sse"
    battle_live, main_live = (LiveReplies(), LiveReplies()) if sse else (None, None)
    battle = build_battle_app(config, store, backends, battle_live)
    main = build_app(config, store, backends, main_live)
    app = FastAPI(title="ift-chat", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=_housekeeping([battle, main]))
    common = dict(auth=auth, allowed_paths=[str(config.images_dir)], blocked_paths=_blocked(config),
                  show_error=True, max_file_size=config.limits.max_upload_bytes, ssr_mode=False,
                  css=CSS + LIVE_CSS, js=LIVE_JS if sse else None,
                  enable_monitoring=config.gradio_monitoring_every > 0)
    for blocks in (battle, main):
        quiet_queue_analytics(blocks, config.gradio_monitoring_every)
        blocks.api_open = False  # no direct POST /gradio_api/api/<name> that skips the queue
        # Gradio keeps every session's state until 10,000 sessions (GBs): bound it.
        blocks.state_session_capacity = config.max_sessions
        blocks.has_launched = True  # turns on Gradio's "inputs were uploaded by this client" check
    # Under a sub-path (GRADIO_ROOT_PATH=/ift, which Gradio reads into root_path) both apps
    # live under it: the proxy forwards /ift/... unchanged. Each mount gets its root path
    # explicitly, else X-Forwarded-Host makes Gradio drop "/battle" from the page's links.
    prefix = urlparse(main.root_path or "").path.rstrip("/")
    if sse:  # each app's reply streams under its own mount (its login cookie), before the mounts
        app.add_route(f"{prefix}/battle{LIVE_ROUTE}", battle_live.endpoint, methods=["GET"])
        app.add_route(f"{prefix}{LIVE_ROUTE}", main_live.endpoint, methods=["GET"])
    # The more specific mount first: "/" would swallow "/battle".
    gr.mount_gradio_app(app, battle, path=f"{prefix}/battle", root_path=f"{prefix}/battle", **common)
    with warnings.catch_warnings():  # "SSR ... not supported with multi-page apps": it is off
        warnings.filterwarnings("ignore", "SSR mode is not supported", UserWarning)
        gr.mount_gradio_app(app, main, path=prefix, root_path=prefix, **common)
    app.add_middleware(Guard, logins=_login_gates(app, (battle, main)) if auth is not None else ())
    return app


def quiet_queue_analytics(blocks: gr.Blocks, every: int) -> None:
    """Gradio 6.31 reads GRADIO_ANALYTICS_CACHE_FREQUENCY (default 1: after every event) and
    GRADIO_ANALYTICS_MAX_EVENTS (10,000) into each Blocks' queue when the Blocks is built; set
    the same two knobs on this app's queues from the config instead of the process environment.
    0 = the summary is never computed and the queue keeps one event record, not 10,000."""
    queue = blocks._queue
    for knob in ("ANAYLTICS_CACHE_FREQUENCY", "ANALYTICS_MAX_EVENTS"):  # (sic) Gradio's spelling
        if not hasattr(queue, knob):  # a Gradio upgrade renamed it: fail at start, not slowly
            raise RuntimeError(f"gradio.queueing.Queue has no {knob}: see quiet_queue_analytics")
    if every > 0:
        queue.ANAYLTICS_CACHE_FREQUENCY = every
    else:
        queue.ANAYLTICS_CACHE_FREQUENCY, queue.ANALYTICS_MAX_EVENTS = 2**62, 1


def _login_gates(app: FastAPI, apps) -> list["_LoginGate"]:
    """One gate per mounted Gradio app (the most specific mount first): its login cookie."""
    pages = {blocks: {f"/{route}".rstrip("/") or "/" for route, *_ in blocks.pages} for blocks in apps}
    gates = [_LoginGate(route.path, route.app, pages[route.app.get_blocks()])
             for route in app.routes if isinstance(route, Mount)]
    return sorted(gates, key=lambda g: len(g.prefix), reverse=True)


class _LoginGate:
    def __init__(self, prefix: str, gradio_app, pages: set[str]):
        self.prefix, self.gradio_app = prefix.rstrip("/"), gradio_app
        self.open_paths = _BEFORE_LOGIN | pages | {p + "/" for p in pages}

    def owns(self, path: str) -> bool:
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")

    def refuses(self, scope) -> bool:
        """True when this request needs a login it does not have."""
        inner = scope["path"][len(self.prefix):] or "/"
        if inner in self.open_paths or inner.startswith(_BEFORE_LOGIN_PREFIXES):
            return False
        cookies, gradio_app = HTTPConnection(scope).cookies, self.gradio_app
        token = (cookies.get(f"access-token-{gradio_app.cookie_id}")
                 or cookies.get(f"access-token-unsecure-{gradio_app.cookie_id}"))
        return gradio_app.tokens.get(token) is None


def _housekeeping(apps: list[gr.Blocks]):
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async def every_minute():
            while True:
                await asyncio.sleep(_FORGET_EVERY_S)
                for blocks in apps:
                    forget_dropped_sessions(blocks)
        task = asyncio.create_task(every_minute())
        # The language model of the automatic checks loads in seconds: now, in a thread, not in
        # the first checked turn on the event loop.
        warming = asyncio.create_task(asyncio.to_thread(checks.warm_up))
        try:
            yield
        finally:
            task.cancel()
            warming.cancel()
    return lifespan


def forget_dropped_sessions(blocks: gr.Blocks) -> int:
    """Gradio's queue keeps a message box for every browser session it has seen (one per page
    load), also after the session's state was dropped, and never frees it (seen growing in
    bench/bench_arena_load.py --census). Free those of sessions whose state is gone and that
    have nothing queued or running; such a session starts afresh anyway. Returns how many."""
    queue, kept = blocks._queue, blocks.state_holder.session_data
    gone = [h for h in list(queue.pending_messages_per_session)
            if h not in kept and not queue.pending_event_ids_session.get(h)]
    for session_hash in gone:
        queue.pending_messages_per_session.pop(session_hash, None)
        queue.pending_event_ids_session.pop(session_hash, None)
    return len(gone)


def _blocked(config: Config) -> list[str]:
    """Everything of ours that is not an image; Gradio checks these before anything else."""
    db = config.db_path.absolute()
    paths = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), config.servers_dir,
             config.home / "exports", config.demo_dir, config.checkpoints_dir, config.auth_file]
    return [str(p.absolute()) for p in paths if p is not None]


class Guard:
    """ASGI middleware: 403 for ``file=<url>`` and for API calls naming a remote file as input;
    login pages without the app's API description (Gradio embeds it, names and all)."""

    def __init__(self, app, logins=()):
        self.app, self.logins = app, list(logins)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        gate = next((g for g in self.logins if g.owns(path)), None)
        if gate is not None and gate.refuses(scope):
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await JSONResponse({"detail": {"error": "Not authenticated", "auth_message": None}},
                                      status_code=401)(scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if "/gradio_api/file=" in path and re.search(r"/file=[a-zA-Z][a-zA-Z0-9+.-]*:", path):
            return await _refuse(scope, receive, send, "remote files are not served")
        if scope["method"] == "GET":
            return await self.app(scope, receive, _LoginPageFilter(send))
        headers = dict(scope.get("headers") or [])
        # FastAPI reads JSON bodies whatever their content type; only uploads are multipart.
        if (scope["method"] != "POST" or "/gradio_api/" not in path
                or headers.get(b"content-type", b"").startswith(b"multipart/")):
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > _MAX_JSON_BODY:
                return await _refuse(scope, receive, send, "request too large", 413)
        if _REMOTE_FILE.search(body) or _REMOTE_FILE.search(_unescaped(body)):
            return await _refuse(scope, receive, send, "input files must be uploaded, not linked")
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


class _LoginPageFilter:
    """Wraps ``send``: an HTML page whose config says "log in first" loses ``gradio_api_info``."""

    def __init__(self, send):
        self.send, self.start, self.body = send, None, b""

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            if dict(message.get("headers") or []).get(b"content-type", b"").startswith(b"text/html"):
                self.start = message  # hold it until the body is known (its length may change)
                return
            return await self.send(message)
        if self.start is None or message["type"] != "http.response.body":
            return await self.send(message)
        self.body += message.get("body", b"")
        if message.get("more_body"):
            return
        if _LOGIN_CONFIG.search(self.body):
            self.body = _API_INFO.sub(b"<script>window.gradio_api_info = null;</script>", self.body)
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": self.body})


def _unescaped(body: bytes) -> bytes:
    """The body as JSON text without \\u escapes, so `"\\u0070ath"` cannot hide a key."""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False).encode()
    except ValueError:
        return body


async def _refuse(scope, receive, send, message: str, status: int = 403) -> None:
    await PlainTextResponse(message, status_code=status)(scope, receive, send)
