"""SQL statements per send stay constant as a conversation grows (the dialog read model).

A sqlite3 trace callback on both of the store's connections counts every statement a send
runs, at turn 1 and at turn 20, through the real runner and through the real page handler
(the chat tab's send, called over HTTP with gradio_client on the app `make run` builds).
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import httpx

from ift_chat.runner import DialogRunner
from tests.scripted_backend import ScriptedBackend
from tests.security.gradio_http import PageSession
from tests.ui.conftest import running_app, scripted_backends

TURNS = 20
SLACK = 3  # statements that may differ between turn 1 and 20 (none do today)


@contextlib.contextmanager
def counting(store):
    """Statements run on the store's write and read connections while inside."""
    seen: list[str] = []
    conns = (store.db.conn, store._reader.conn)
    for conn in conns:
        conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        for conn in conns:
            conn.set_trace_callback(None)


def tables_read(statements: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in statements:
        if s.lstrip().lower().startswith("select"):
            for table in re.findall(r"\b(?:from|join)\s+(\w+)", s, re.I):
                out[table] = out.get(table, 0) + 1
    return out


async def _drain(stream):
    async for _ in stream:
        pass


def _arena_runner(store, config):
    return DialogRunner(store, scripted_backends(store, ScriptedBackend("model-a", reply="alpha one two three"),
                                                 ScriptedBackend("model-b", reply="beta four five six")), config.limits)


def test_runner_send_statements_do_not_grow(store, config, make_png):
    runner = _arena_runner(store, config)
    rater = store.raters.create("ann")
    conv = runner.start("arena-named", {"A": "model-a", "B": "model-b"}, rater_id=rater.id,
                        history_mode="winner")
    counts = {}
    for n in range(1, TURNS + 1):
        with counting(store) as seen:
            image = make_png(color=(n, 2 * n, 3 * n))  # a new image each turn, as at turn 1
            asyncio.run(_drain(runner.send(conv.id, f"turn {n}", [image], rater_id=rater.id)))
        counts[n] = seen
        turn = store.conversations.last_turn(conv.id)
        store.feedback.vote(turn.id, rater.id, "B", anonymous=False)
        rating_target = store.conversations.responses(turn.id)[0]
        store.feedback.rate(rating_target.id, rater.id, "yes")
    print(f"runner send: {len(counts[1])} statements at turn 1, {len(counts[TURNS])} at turn {TURNS}; "
          f"reads by table at turn {TURNS}: {tables_read(counts[TURNS])}")
    assert abs(len(counts[TURNS]) - len(counts[1])) <= SLACK, (counts[1], counts[TURNS])
    # the history really was built from the earlier turns (winner policy, 19 rounds of it)
    calls = runner.backends.get("model-a").calls
    assert len(calls[-1]) == 2 * TURNS - 1
    assert calls[-1][1]["content"][0]["text"] == "beta four five six"


def test_page_send_statements_do_not_grow(store, config):
    """The chat tab's send as the page runs it (queue join + SSE, the session's own state),
    then its after-turn step (rating choices): both constant in the number of turns."""
    backends = scripted_backends(store, ScriptedBackend("model-a", reply="alpha one two three"))
    with running_app(config, store, backends) as url, httpx.Client(timeout=60) as http:
        page = PageSession(http, url)
        send = page.fn_index("chat_send")
        dep = next(d for d in page.dependencies() if d["id"] == send)
        after = next(d["id"] for d in page.dependencies() if d.get("trigger_after") == send)
        data = page.defaults(dep)
        counts, after_counts = {}, {}
        for n in range(1, TURNS + 1):
            data[1], data[3], data[4], data[-1] = {"text": f"turn {n}", "files": []}, "ann", "", "model-a"
            with counting(store) as seen:
                _, error, _ = page.call(send, *data)
            assert not error
            counts[n] = seen
            with counting(store) as seen:
                _, error, _ = page.call(after, None, "ann")
            assert not error
            after_counts[n] = seen
    (conversation,) = [r["id"] for r in store.query("select id from conversations")]
    assert len(store.conversations.turns(conversation)) == TURNS
    for what, c in (("page send", counts), ("after-turn", after_counts)):
        print(f"{what}: {len(c[1])} statements at turn 1, {len(c[2])} at turn 2, {len(c[TURNS])} at turn "
              f"{TURNS}; reads by table at turn {TURNS}: {tables_read(c[TURNS])}")
        # Turn 1's send also creates the conversation (its row, sides, checkpoint checks).
        assert len(c[TURNS]) <= len(c[1]) + SLACK, (what, c[1], c[TURNS])
        assert abs(len(c[TURNS]) - len(c[2])) <= SLACK, (what, c[2], c[TURNS])
