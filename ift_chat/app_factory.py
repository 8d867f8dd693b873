"""Wire config → store → backends → UI, and run it. The CLI's `serve` calls this."""

from __future__ import annotations

import asyncio
import logging

from .config import Config
from .store import Store

log = logging.getLogger("ift_chat")


def build(config: Config):
    """Return (blocks, store, backends), ready to launch; tests use this too."""
    from .backends.factory import build_backends
    from .ui.app import build_app

    store = Store(config)
    interrupted = store.conversations.fail_pending()
    if interrupted:
        log.warning("%d replies were interrupted by the last shutdown; marked as errors", interrupted)
    backends = build_backends(config, store)
    blocks = build_app(config, store, backends)
    return blocks, store, backends


def run_app(config: Config) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    blocks, store, backends = build(config)
    try:
        blocks.launch(server_name=config.host, server_port=config.port, show_error=True,
                      auth=_auth(config, store), allowed_paths=[], ssr_mode=False)
    finally:
        asyncio.run(backends.aclose())
        store.close()


def _auth(config: Config, store: Store):
    """Gradio auth callable when an auth file is configured; None = name entry only."""
    if config.auth_file is None:
        return None
    from .auth import load_users_file, make_auth_check

    load_users_file(config.auth_file, store)
    return make_auth_check(store)
