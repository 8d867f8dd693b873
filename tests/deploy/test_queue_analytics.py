"""Gradio's per-event queue analytics (a pandas summary after every event) are off unless the
config asks for Gradio's monitoring dashboard; the dashboard routes are closed with them."""

from __future__ import annotations

import httpx
from gradio_client import Client
from starlette.routing import Mount

from ift_chat.server import make_asgi_app
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import scripted_backends, serve


def _queues(app):
    return [route.app.get_blocks()._queue for route in app.routes if isinstance(route, Mount)]


def _chat(url: str, turns: int = 3) -> None:
    client = Client(url, verbose=False)
    for n in range(turns):
        client.predict({"text": f"hello {n}", "files": []}, "ann", "", 0.0, 1.0, 16, 7, "ckpt-a",
                       api_name="/chat_send")


def test_off_by_default_no_summary_one_record(config, store):
    app = make_asgi_app(config, store, scripted_backends(store, ScriptedBackend("ckpt-a")))
    with serve(app) as url:
        _chat(url)
        main = _queues(app)[-1]  # "/" is mounted last
        assert main.events_recorded >= 3, "the chat events went through this queue"
        assert main.event_count_at_last_cache == 0 and main.cached_event_analytics_summary == {"functions": {}}
        assert len(main.event_analytics) <= 1
        for path in ("/monitoring/summary", "/gradio_api/monitoring/summary", "/battle/monitoring/summary"):
            assert httpx.get(url + path).status_code in (403, 404), path


def test_monitoring_on_recomputes_every_n_events(config, store):
    config = config.replace(gradio_monitoring_every=2)
    app = make_asgi_app(config, store, scripted_backends(store, ScriptedBackend("ckpt-a")))
    with serve(app) as url:
        _chat(url)
        main = _queues(app)[-1]
        assert main.event_count_at_last_cache > 0
        assert "chat_send" in main.cached_event_analytics_summary["functions"]
        summary = httpx.get(url + "/monitoring/summary")
        assert summary.status_code == 200 and "chat_send" in summary.json()["functions"]
