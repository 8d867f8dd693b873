"""One ASGI app: the main Gradio app at `/`, the anonymous battle page at `/battle`."""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI

from .backends import Backends
from .config import Config
from .store import Store
from .ui.app import CSS, build_app, build_battle_app


def make_asgi_app(config: Config, store: Store, backends: Backends, auth=None) -> FastAPI:
    app = FastAPI(title="ift-chat")
    common = dict(auth=auth, allowed_paths=[str(config.images_dir)], show_error=True,
                  max_file_size=config.limits.max_upload_bytes, ssr_mode=False, css=CSS)
    # The more specific mount first: "/" would swallow "/battle".
    gr.mount_gradio_app(app, build_battle_app(config, store, backends), path="/battle", **common)
    gr.mount_gradio_app(app, build_app(config, store, backends), path="", **common)
    return app
