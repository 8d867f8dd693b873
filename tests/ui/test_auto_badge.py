"""The automatic badge: beside the human rating, distinct from it, never counted as one."""

from __future__ import annotations

import json

from gradio_client import Client

from ift_chat.ui.render import auto_badge, reply_html

from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import running_app, scripted_backends
from tests.ui.test_chat_api import send


def _shown(out) -> str:
    return json.dumps(out, ensure_ascii=False)


def test_reply_shows_the_automatic_badge_then_the_human_one_beside_it(config, store):
    backends = scripted_backends(store, ScriptedBackend("secret-ckpt-alpha", reply="The sky is blue today."))
    with running_app(config, store, backends) as url:
        client = Client(url, verbose=False)
        out = _shown(send(client, "From now on, answer in all lowercase letters. Answer in one word: sky colour?"))
        assert "auto: 0/2 — ✗ lowercase:" in out and "✗ one word: 5 words" in out
        assert "rated:" not in out
        response_id = store.query("select id from responses")[0]["id"]
        assert store.query("select count(*) n from ratings")[0]["n"] == 0  # a check is not a rating
        rated = _shown(client.predict(response_id, "ann", "yes", None, [], "", "", api_name="/chat_rate"))
        assert "rated: ✅ followed" in rated and "auto: 0/2" in rated  # both, side by side
        out = _shown(send(client, "Tell me more."))  # the persistent lowercase rule is still checked
        assert "auto: 0/1 — ✗ lowercase:" in out
    assert [r["followed"] for r in store.query("select followed from ratings")] == ["yes"]


def test_no_badge_without_an_active_constraint_and_details_are_escaped():
    assert auto_badge([]) == ""
    rows = [{"kind": "starts_with", "detail": 'starts with "<img src=x onerror=alert(1)>"', "passed": 0},
            {"kind": "no_commas", "detail": "no commas", "passed": 1}]
    shown = reply_html("hi", "ok", None, auto=auto_badge(rows))
    assert "auto: 1/2 — ✗ starts with:" in shown
    assert "<img" not in shown and "&lt;img" in shown
