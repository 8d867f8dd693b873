"""Wire config → store → backends → web app, and run it. The CLI's `serve` calls this."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from .config import Config
from .store import Store

log = logging.getLogger("ift_chat")


def build(config: Config, auth=None, recover: bool = True):
    """Return (asgi app, store, backends), ready to serve; tests use this too. ``recover``: mark the
    replies an earlier shutdown interrupted (not in a worker of ``serve --workers``: the others'
    replies are running). With no ``auth`` given and ``config.auth_file`` set, the users file is
    applied to this store and logins are checked against it."""
    from .backends.factory import build_backends
    from .server import make_asgi_app

    store = Store(config)
    if auth is None and config.auth_file is not None:
        try:
            auth = _auth(config, store)
        except BaseException:
            store.close()
            raise
    interrupted = store.conversations.fail_pending() if recover else 0
    if interrupted:
        log.warning("%d replies were interrupted by the last shutdown; marked as errors", interrupted)
    backends = build_backends(config, store)
    app = make_asgi_app(config, store, backends, auth=auth)
    return app, store, backends


def run_app(config: Config, recover: bool = True) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app, store, backends = build(config, recover=recover)
    log.info("ift-chat on http://%s:%d/ (anonymous battles on /battle/, leaderboard and data on /manage)",
             config.host, config.port)
    try:
        uvicorn.run(app, host=config.host, port=config.port, log_level="warning")
    finally:
        asyncio.run(backends.aclose())
        store.close()


def _auth(config: Config, store: Store):
    """Gradio auth callable when an auth file is configured; None = name entry only."""
    from .crowd.auth import load_users_file, make_auth_check

    load_users_file(config.auth_file, store)
    return make_auth_check(store)
