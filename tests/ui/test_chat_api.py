"""Chat tab through gradio_client: multi-round with images, rating, regenerate, edit, resume."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client, handle_file
from starlette.routing import Mount

from ift_chat.server import forget_dropped_sessions, make_asgi_app

from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import running_app, scripted_backends, serve


def send(client, text, files=(), name="ann", checkpoint="secret-ckpt-alpha"):
    message = {"text": text, "files": [handle_file(str(f)) for f in files]}
    return client.predict(message, name, "be brief", 0.0, 1.0, 32, 7, checkpoint, api_name="/chat_send")


def test_multi_round_chat_is_recorded(scripted_app, store, tmp_path, make_png):
    url, _ = scripted_app
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(make_png(color=(1, 2, 3)))
    b.write_bytes(make_png(color=(4, 5, 6)))
    client = Client(url, verbose=False)
    send(client, "describe both", [a, b])
    out = send(client, "now in one word")
    text = json.dumps(out, default=str)
    assert "Reply one from the first model" in text
    conv = store.query("select * from conversations")[0]
    assert conv["mode"] == "chat" and conv["system_prompt"] == "be brief"
    assert json.loads(conv["sampling_params"])["seed"] == 7
    turns = store.query("select * from turns order by idx")
    assert [t["user_text"] for t in turns] == ["describe both", "now in one word"]
    assert store.query("select count(*) n from turn_images")[0]["n"] == 2
    assert store.query("select count(*) n from images")[0]["n"] == 2
    r = store.query("select * from responses order by id")
    assert [x["status"] for x in r] == ["ok", "ok"]
    assert json.loads(r[0]["sampling_params"])["temperature"] == 0.0
    assert r[0]["ttft_ms"] is not None and r[0]["latency_ms"] >= r[0]["ttft_ms"]


def test_rating_is_saved_and_editable(scripted_app, store):
    url, _ = scripted_app
    client = Client(url, verbose=False)
    send(client, "hello")
    response_id = store.query("select id from responses")[0]["id"]
    client.predict(response_id, "ann", "partial", 4, ["repetition"], "meh", "A better answer.",
                   api_name="/chat_rate")
    out = client.predict(response_id, "ann", "no", None, [], "", "", api_name="/chat_rate")
    assert "rated: ❌ not followed" in json.dumps(out, ensure_ascii=False)
    rows = store.query("select r.*, x.name from ratings r join raters x on x.id = r.rater_id")
    assert len(rows) == 1 and rows[0]["followed"] == "no" and rows[0]["name"] == "ann"
    assert rows[0]["corrected_text"] is None


def test_rating_needs_a_name(scripted_app, store):
    url, _ = scripted_app
    client = Client(url, verbose=False)
    send(client, "hello", name="")
    response_id = store.query("select id from responses")[0]["id"]
    with pytest.raises(Exception, match="rater name"):
        client.predict(response_id, "", "yes", None, [], "", "", api_name="/chat_rate")
    assert store.query("select count(*) n from ratings")[0]["n"] == 0


def test_regenerate_and_edit_keep_history(scripted_app, store):
    url, _ = scripted_app
    client = Client(url, verbose=False)
    send(client, "first try")
    client.predict("ann", 0.7, 1.0, 32, None, api_name="/chat_regenerate")
    rows = store.query("select superseded from responses order by id")
    assert [r["superseded"] for r in rows] == [1, 0]
    edit = client.predict(api_name="/chat_edit")
    assert "first try" in json.dumps(edit), edit
    send(client, "second try")  # submitted while editing: replaces the last turn
    turns = store.query("select user_text, superseded from turns order by id")
    assert turns == [{"user_text": "first try", "superseded": 1},
                     {"user_text": "second try", "superseded": 0}]


def test_bad_upload_is_refused_and_nothing_written(scripted_app, store, tmp_path):
    url, _ = scripted_app
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is not a picture at all")
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match="not an image|image"):
        send(client, "look", [fake])
    assert store.query("select count(*) n from turns")[0]["n"] == 0


def test_resume_after_restart(config, store, tmp_path):
    backends = scripted_backends(store, ScriptedBackend("m1", reply="kept across restarts"))
    with running_app(config, store, backends) as url:
        client = Client(url, verbose=False)
        send(client, "remember me", checkpoint="m1")
    conv_id = store.query("select id from conversations")[0]["id"]
    with running_app(config, store, backends) as url:  # a new server on the same DB
        client = Client(url, verbose=False)
        out = client.predict(conv_id, "ann", api_name="/chat_resume")
    assert "kept across restarts" in json.dumps(out) and "remember me" in json.dumps(out)


def test_xss_in_model_output_is_escaped(config, store):
    evil = "<script>alert(1)</script> <img src=x onerror=alert(2)> ![t](http://evil.example/x.png)"
    backends = scripted_backends(store, ScriptedBackend("evil", reply=evil))
    with running_app(config, store, backends) as url:
        out = send(Client(url, verbose=False), "hi", checkpoint="evil")
    text = json.dumps(out)
    assert "<script>" not in text and "<img" not in text
    # HTML shows as text; markdown image syntax is not an image (the renderer has no image rule)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "![t](http://evil.example/x.png)" in text
    stored = store.query("select text from responses")[0]["text"]
    assert stored == evil  # the DB keeps what the model said, verbatim


def test_session_state_is_bounded_least_recently_used_first(config, store):
    """Gradio keeps each browser session's state until it drops the least recently used one past
    `max_sessions`: that page's next message starts a new conversation; none is lost. The
    dropped session's message box in Gradio's queue is freed too."""
    backends = scripted_backends(store, ScriptedBackend("secret-ckpt-alpha", reply="Hi."))
    app = make_asgi_app(config.replace(max_sessions=2), store, backends)
    main = next(r.app.get_blocks() for r in app.routes if isinstance(r, Mount) and r.path == "")
    with serve(app) as url:
        first, second, third = (Client(url, verbose=False) for _ in range(3))
        send(first, "one")
        send(first, "one, continued")  # same session: same conversation
        assert store.query("select count(*) n from conversations")[0]["n"] == 1
        send(second, "two")
        send(third, "three")  # a third session: the first, least recently used, is dropped
        # Gradio's queue still holds a message box for each of the three sessions; the dropped
        # one's is freed, the two kept sessions' stay.
        assert len(main._queue.pending_messages_per_session) == 3
        assert forget_dropped_sessions(main) == 1
        assert set(main._queue.pending_messages_per_session) == set(main.state_holder.session_data)
        assert forget_dropped_sessions(main) == 0
        send(first, "one again")
        send(third, "three, continued")  # kept: same conversation
    per_conversation = store.query("select conversation_id, count(*) n from turns group by conversation_id "
                                   "order by min(id)")
    assert [r["n"] for r in per_conversation] == [2, 1, 2, 1]
    assert store.query("select count(*) n from responses where status = 'ok'")[0]["n"] == 6


def test_max_sessions_must_be_positive(config):
    with pytest.raises(Exception, match="max sessions"):
        config.replace(max_sessions=0).validate()
