"""The whole app as `make run` serves it: real demo checkpoints, every tab mounted."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import uvicorn
from gradio_client import Client, handle_file

from ift_chat.app_factory import build
from tests.ui.conftest import free_port

DEMO = ("demo-smolvlm-a", "demo-smolvlm-b")


@pytest.fixture
def demo_app(config, demo_checkpoints):
    """app_factory.build on the demo checkpoints (transformers backend, CPU), on loopback."""
    config = config.replace(checkpoints_dir=demo_checkpoints[0].parent)
    app, store, backends = build(config)
    deadline = time.monotonic() + 120
    while any(s.state != "ready" for s in backends.statuses().values()):
        assert time.monotonic() < deadline, backends.statuses()
        time.sleep(0.2)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                          timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store, backends
    server.should_exit = True
    thread.join(10)
    store.close()


def test_every_tab_is_served_with_named_endpoints(demo_app):
    url, _, backends = demo_app
    assert set(backends.names()) == set(DEMO)
    api = httpx.get(url + "/gradio_api/info", timeout=30).json()["named_endpoints"]
    for name in ("/chat_send", "/chat_rate", "/arena_send", "/arena_vote", "/leaderboard_refresh",
                 "/crowd_next", "/crowd_submit", "/data_export", "/crowd_admin_refresh"):
        assert name in api, f"{name} missing from the main app"
    battle = httpx.get(url + "/battle/gradio_api/info", timeout=30).json()["named_endpoints"]
    assert "/battle_send" in battle and "/data_export" not in battle
    labels = {c.get("props", {}).get("label") for c in httpx.get(url + "/config", timeout=30).json()["components"]}
    assert {"Chat", "Arena (named)", "Leaderboard", "Rating tasks", "Data", "Crowd admin"} <= labels


def test_anonymous_battle_on_the_demo_checkpoints(demo_app, tmp_path, make_png):
    """Three turns between the two real (random-weight) demo models, a vote each, names after."""
    url, store, _ = demo_app
    image = tmp_path / "red.png"
    image.write_bytes(make_png())
    client = Client(url + "/battle/", verbose=False)
    for n, winner in enumerate(["A", "both_bad", "B"], start=1):
        message = {"text": f"Describe the image in {n} words.",
                   "files": [handle_file(str(image))] if n == 1 else []}
        out = client.predict(message, "ann", "", 0.0, 1.0, 12, 1, "own", api_name="/battle_send")
        assert not any(name in json.dumps(out, default=str) for name in DEMO)
        revealed = json.dumps(client.predict("ann", winner, "", api_name="/battle_vote"), default=str)
        assert all(name in revealed for name in DEMO)
    rows = store.query("select r.checkpoint, r.status, r.tokens_out, r.ttft_ms, t.idx from responses r "
                       "join turns t on t.id = r.turn_id order by t.idx, r.side")
    assert [r["idx"] for r in rows] == [1, 1, 2, 2, 3, 3]
    assert {r["checkpoint"] for r in rows} == set(DEMO)
    assert all(r["status"] == "ok" and r["tokens_out"] and r["ttft_ms"] is not None for r in rows), rows
    votes = store.query("select winner from votes v join turns t on t.id = v.turn_id order by t.idx")
    assert [v["winner"] for v in votes] == ["A", "both_bad", "B"]


def test_prompt_longer_than_the_context_is_a_clear_error(demo_app):
    """The real demo model has a 2048-token context; the reply says so and the next turn works."""
    url, store, _ = demo_app
    client = Client(url, verbose=False)
    long_text = "le carré rouge est sur un fond blanc " * 450  # < 20,000 chars, > 2048 tokens
    out = client.predict({"text": long_text, "files": []}, "ann", "", 0.0, 1.0, 8, 1, DEMO[0],
                         api_name="/chat_send")
    shown = json.dumps(out, default=str)
    assert "error" in shown and "2048" in shown, "the chat must say the context limit"
    client.predict(api_name="/chat_new")
    client.predict({"text": "short question", "files": []}, "ann", "", 0.0, 1.0, 8, 1, DEMO[0],
                   api_name="/chat_send")
    rows = store.query("select status, error from responses order by id")
    assert rows[0]["status"] == "error" and "2048" in rows[0]["error"]
    assert rows[1]["status"] == "ok"
