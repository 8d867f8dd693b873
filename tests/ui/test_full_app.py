"""The whole app as `make run` serves it: real demo checkpoints, every tab mounted."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from gradio_client import Client, handle_file

from ift_chat.app_factory import build
from tests.ui.conftest import serve

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
    with serve(app) as url:
        yield url, store, backends
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
    # Chat and arena on the main page; the other tabs on /manage, so the chat page stays light.
    config = httpx.get(url + "/config", timeout=30).json()
    label = {c["id"]: c.get("props", {}).get("label") for c in config["components"]}
    on_page = {page: {label[i] for i in info["components"]} for page, info in config["page"].items()}
    assert {"Chat", "Arena (named)"} <= on_page[""] and not {"Leaderboard", "Data"} & on_page[""]
    assert {"Leaderboard", "Rating tasks", "Data", "Crowd admin"} <= on_page["manage"]
    assert httpx.get(url + "/manage", timeout=30).status_code == 200


def test_anonymous_battle_on_the_demo_checkpoints(demo_app, tmp_path, make_png):
    """Three turns between the two real (random-weight) demo models, a blind vote each, names at
    the reveal."""
    url, store, _ = demo_app
    image = tmp_path / "red.png"
    image.write_bytes(make_png())
    client = Client(url + "/battle/", verbose=False)
    for n, winner in enumerate(["A", "both_bad", "B"], start=1):
        message = {"text": f"Describe the image in {n} words.",
                   "files": [handle_file(str(image))] if n == 1 else []}
        out = client.predict(message, "ann", "", 0.7, 1.0, 12, None, "own", api_name="/battle_send")
        assert not any(name in json.dumps(out, default=str) for name in DEMO)
        voted = json.dumps(client.predict("ann", winner, "", api_name="/battle_vote"), default=str)
        assert "you voted" in voted and not any(name in voted for name in DEMO)
    revealed = json.dumps(client.predict("ann", api_name="/battle_reveal"), default=str)
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


def chat_send(client, text, files=(), max_tokens=12, temperature=0.0):
    message = {"text": text, "files": [handle_file(str(f)) for f in files]}
    return client.predict(message, "ann", "Answer briefly.", temperature, 1.0, max_tokens, 1, DEMO[0],
                          api_name="/chat_send")


def test_three_rounds_on_a_demo_model_with_ratings_stop_and_regenerate(demo_app, tmp_path, make_png):
    """Issue #4's session on a real model: 2 images in round 1, Stop mid-stream in round 2,
    Regenerate round 3, a rating on every kept reply; then the exact rows."""
    url, store, _ = demo_app
    images = [tmp_path / "red.png", tmp_path / "blue.png"]
    images[0].write_bytes(make_png(color=(220, 10, 10)))
    images[1].write_bytes(make_png(size=(40, 40), color=(10, 10, 220)))
    client = Client(url, verbose=False)
    chat_send(client, "What colours are these two images?", images)

    job = client.submit({"text": "Now write a long story about them.", "files": []}, "ann", "Answer briefly.",
                        0.9, 1.0, 4000, 1, DEMO[0], api_name="/chat_send")
    deadline = time.monotonic() + 60
    while not store.query("select 1 from responses where status = 'pending' and length(text) > 0"):
        assert time.monotonic() < deadline and not job.done(), "round 2 never streamed"
        time.sleep(0.05)
    assert "Stopping" in client.predict(api_name="/chat_stop")
    job.result(timeout=60)

    chat_send(client, "Answer in exactly three words.")
    client.predict("ann", 0.0, 1.0, 12, 2, api_name="/chat_regenerate")
    kept = store.query("select id from responses where superseded = 0 order by id")
    for response, followed in zip(kept, ["yes", "partial", "no"]):
        client.predict(response["id"], "ann", followed, 3, [], "", "", api_name="/chat_rate")

    turns = store.query("select idx, user_text, superseded from turns order by id")
    assert [(t["idx"], t["superseded"]) for t in turns] == [(1, 0), (2, 0), (3, 0)]
    assert store.query("select count(*) n from turn_images")[0]["n"] == 2
    assert store.query("select count(*) n from images")[0]["n"] == 2
    rows = store.query("select t.idx, r.status, r.superseded, r.checkpoint, r.text, r.tokens_out, "
                       "r.sampling_params from responses r join turns t on t.id = r.turn_id order by r.id")
    assert [(r["idx"], r["status"], r["superseded"]) for r in rows] == [
        (1, "ok", 0), (2, "stopped", 0), (3, "ok", 1), (3, "ok", 0)]
    assert {r["checkpoint"] for r in rows} == {DEMO[0]}
    assert rows[1]["text"] and json.loads(rows[1]["sampling_params"])["max_tokens"] == 4000
    assert json.loads(rows[3]["sampling_params"])["seed"] == 2
    ratings = store.query("select t.idx, g.followed, g.score from ratings g join responses r "
                          "on r.id = g.response_id join turns t on t.id = r.turn_id order by t.idx")
    assert [(g["idx"], g["followed"], g["score"]) for g in ratings] == [(1, "yes", 3), (2, "partial", 3),
                                                                        (3, "no", 3)]
