"""Anonymous battles under regenerate, backend errors and downed backends: no checkpoint
identity reaches the browser before the battle's reveal, votes included (complements
tests/ui/test_arena_api.py, which covers a normal turn: page, config, upload, SSE and file
URLs, and test_battle_blind.py: served ids, the leaderboard, owners, sampling)."""

from __future__ import annotations

import json
import re

import httpx

from .conftest import SECRETS
from .gradio_http import PageSession

# What would identify a checkpoint: its name (any case / separator), its path, its server, its architecture.
IDENTITY = re.compile("|".join([*(s.replace("-", "[-_ ./]?") for s in SECRETS), r"/models/", "gpu-box",
                                "SecretArch"]), re.I)


def send(page: PageSession, text: str, name: str = "ann"):
    message = {"text": text, "files": []}
    return page.call("battle_send", None, message, False, name, "", 0.7, 1.0, 64, None, "own")


def regenerate(page: PageSession, name: str = "ann"):
    return page.call("battle_regenerate", None, name, 0.7, 1.0, 64, None)


def vote(page: PageSession, winner: str = "A", name: str = "ann"):
    return page.call("battle_vote", None, name, winner, "")


def reveal(page: PageSession, name: str = "ann"):
    return page.call("battle_reveal", None, name)


def leaks(text: str) -> list[str]:
    return sorted(set(m.group(0) for m in IDENTITY.finditer(text)))


def test_regenerate_and_vote_before_the_reveal_name_nobody(secret_app, store):
    url, backends = secret_app
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + "/battle")
        out, error, _ = send(page, "first question")
        assert not error and "Reply one" in json.dumps(out) and "Reply two" in json.dumps(out)
        for _ in range(2):
            out, error, _ = regenerate(page)
            assert not error and "Reply one" in json.dumps(out)
        voted, error, _ = vote(page)
        assert not error and "you voted" in json.dumps(voted)
        assert leaks(page.everything()) == []
        revealed, error, _ = reveal(page)
        assert not error and all(s in json.dumps(revealed) for s in SECRETS)  # the check can see names
    # Each regenerate asked both models again; the old replies are kept, superseded.
    assert [len(b.calls) for b in backends._backends.values()] == [3, 3]
    assert store.query("select count(*) n from responses where superseded = 1")[0]["n"] == 4


def test_backend_error_text_is_redacted_until_the_reveal(crashing_app, store):
    url, _ = crashing_app
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + "/battle")
        out, error, raw = send(page, "describe it")
        shown = json.dumps(out)
        assert not error and "Partial answer" in shown and "crashed" in shown  # the error is shown...
        assert leaks(raw) == []  # ...without naming the model, also in the streamed updates
        out, error, raw = regenerate(page)
        assert not error and "crashed" in json.dumps(out) and leaks(raw) == []
        # Rating the failed reply re-renders the panes: still redacted.
        response_id = store.query("select id from responses where superseded = 0 order by id desc")[0]["id"]
        rated, error, _ = page.call("battle_rate", response_id, "ann", "no", 1, [], "", "", None)
        assert not error and "crashed" in json.dumps(rated)
        voted, error, _ = vote(page, "both_bad")
        assert not error and "crashed" in json.dumps(voted)  # the vote re-renders the panes
        assert leaks(page.everything()) == []
        revealed, error, _ = reveal(page)
        assert not error and all(s in json.dumps(revealed) for s in SECRETS)
    conversation_id = store.query("select id from conversations")[0]["id"]
    from ift_chat.ui.render import chat_messages
    assert "/models/secret-ckpt-" in json.dumps(chat_messages(store, conversation_id, "A"))  # revealed: all
    errors = [r["error"] for r in store.query("select error from responses")]
    assert len(errors) == 4 and all("/models/secret-ckpt-" in e for e in errors)  # the DB keeps it all


def test_another_session_cannot_render_a_battle_by_response_id(crashing_app, store):
    """Rating re-renders a response's conversation; the reply ids a session may pick are those of
    its own conversation (the server checks the picked id against the session's conversation)."""
    url, _ = crashing_app
    with httpx.Client(timeout=30) as http:
        send(PageSession(http, url + "/battle"), "describe it")
        response_id = store.query("select id from responses order by id desc")[0]["id"]
        for base, api in ((url, "chat_rate"), (url, "arena_rate"), (url + "/battle", "battle_rate")):
            other = PageSession(http, base)
            out, error, _ = other.call(api, response_id, "eve", "no", 1, [], "", "", None)
            assert out is None and "not in this conversation" in error, api
            assert leaks(other.everything()) == []
    assert store.query("select count(*) n from ratings")[0]["n"] == 0


def test_redaction_lasts_until_the_reveal_for_every_viewer(store):
    """Whoever renders an anonymous battle (any tab, any rater, its owner after voting) gets its
    errors redacted until the owner reveals it; named conversations are left alone."""
    from ift_chat.ui.render import chat_messages

    for name in SECRETS:
        store.checkpoints.register(name, source=f"/models/{name}", architecture="SecretArchForCausalLM")
    alice, bob = store.raters.create("alice"), store.raters.create("bob")
    error = (f"{SECRETS[0]} at /models/{SECRETS[0]}/w.bin failed: SECRET_CKPT_ALPHA, Secret Ckpt Alpha, "
             "SecretArchForCausalLM, http://gpu-box:8000/v1 and ~/runs/x; try a shorter conversation")
    convs = {}
    for mode in ("arena-anonymous", "arena-named"):
        conv = store.conversations.create(mode, sides={"A": SECRETS[0], "B": SECRETS[1]}, rater_id=alice.id)
        turn = store.conversations.add_turn(conv.id, "hi", [])
        for side, name in (("A", SECRETS[0]), ("B", SECRETS[1])):
            rid = store.conversations.start_response(turn.id, side, name)
            store.conversations.finish_response(rid, text="partial", status="error", error=error)
        convs[mode] = (conv.id, turn.id)
    store.feedback.vote(convs["arena-anonymous"][1], alice.id, "A", anonymous=True)

    def shown(mode, rater):
        return json.dumps(chat_messages(store, convs[mode][0], "A", rater))

    for rater in (None, bob.id, alice.id):  # alice voted: still blind
        text = shown("arena-anonymous", rater)
        assert leaks(text) == [] and "try a shorter conversation" in text and "hidden until the reveal" in text
    assert leaks(shown("arena-named", None)) != []
    store.conversations.reveal(convs["arena-anonymous"][0], alice.id)
    for rater in (None, bob.id, alice.id):
        assert leaks(shown("arena-anonymous", rater)) != []


def test_downed_backend_is_not_named(secret_app, store):
    url, backends = secret_app
    alpha = backends.get(SECRETS[0])
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + "/battle")
        out, error, _ = send(page, "first question")
        assert not error
        alpha.state = "down"  # ScriptedBackend's status has no detail; the error must not add one
        out, error, _ = send(page, "second question")
        assert "down" in error
        out, error, _ = regenerate(page)
        assert "down" in error
        fresh = PageSession(http, url + "/battle")  # a new battle needs two ready checkpoints
        out, error, _ = send(fresh, "hello")
        assert "two ready checkpoints" in error
        assert leaks(page.everything() + fresh.everything()) == []
    assert store.query("select count(*) n from turns")[0]["n"] == 1  # refused turns are not stored


def test_every_battle_event_is_name_free_before_the_reveal(crashing_app):
    """All events of the battle page, named or not, called by fn_index as the page does, with
    a live conversation in the session: none of their answers names a checkpoint."""
    url, _ = crashing_app
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + "/battle")
        send(page, "describe it")
        errors = page.call_all(skip=("battle_vote",))
        assert len(errors) >= 15 and sum(not e for e in errors.values()) >= 10  # most of them ran
        assert leaks(page.everything()) == []
