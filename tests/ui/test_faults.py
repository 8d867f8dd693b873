"""Faults through the running app, against a real HTTP model server with scripted failures:
a server that dies mid-reply, one that never answers, one that goes away and comes back, one
that never stops; a database locked by another process; text SQLite cannot store. The vLLM
kill/restart test is in tests/backends/test_vllm_integration.py."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest
from gradio_client import Client

from ift_chat.backends import Backends
from ift_chat.backends.openai_client import OpenAIBackend
from tests.backends.openai_stub import WORDS, StubServer
from tests.scripted_backend import ScriptedBackend
from tests.security.gradio_http import PageSession
from tests.ui.conftest import running_app, scripted_backends
from tests.ui.test_chat_api import send


@pytest.fixture(scope="module")
def stub():
    server = StubServer().start()
    yield server
    server.stop()


def app_on(config, store, stub, model: str, timeout_s: float = 30):
    store.checkpoints.register("remote-ckpt", source=stub.url, backend="openai")
    backend = OpenAIBackend("remote-ckpt", stub.url, config.limits, model=model, timeout_s=timeout_s)
    return running_app(config, store, Backends([backend]))


def chat(client, text, max_tokens=32):
    out = client.predict({"text": text, "files": []}, "ann", "", 0.0, 1.0, max_tokens, 1, "remote-ckpt",
                         api_name="/chat_send")
    return json.dumps(out, default=str, ensure_ascii=False)


def test_server_dying_mid_reply_keeps_the_partial_text_and_the_next_turn_works(config, store, stub):
    stub.dropped = False
    with app_on(config, store, stub, "drop-once") as url:
        client = Client(url, verbose=False)
        shown = chat(client, "first question")
        partial = "".join(WORDS[:3])
        assert partial in shown and "error" in shown and "broke mid-reply" in shown
        shown = chat(client, "second question")
        assert "".join(WORDS) in shown
    rows = store.query("select status, text, error from responses order by id")
    assert [r["status"] for r in rows] == ["error", "ok"]
    assert rows[0]["text"] == partial and "broke mid-reply" in rows[0]["error"]
    assert [t["idx"] for t in store.query("select idx from turns order by id")] == [1, 2]


def test_a_server_that_never_answers_times_out_with_a_message(config, store, stub):
    with app_on(config, store, stub, "hang", timeout_s=1.0) as url:
        shown = chat(Client(url, verbose=False), "hello?")
    assert "timeout" in shown.lower()
    (row,) = store.query("select status, error from responses")
    assert row["status"] == "error" and "timeout" in row["error"].lower()


# -- faults that heal --------------------------------------------------------------------------

PROBE_S = 1.0  # the health probe interval of these tests
HOLD_LOCK = """import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def wait_for(predicate, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def empty_conversations(store) -> int:
    return store.query("select count(*) n from conversations c where not exists "
                       "(select 1 from turns t where t.conversation_id = c.id)")[0]["n"]


def test_a_url_server_that_comes_back_is_ready_again_within_one_probe_interval(config, store):
    server = StubServer().start()
    store.checkpoints.register("remote-ckpt", source=server.url, backend="openai")
    backend = OpenAIBackend("remote-ckpt", server.url, config.limits, model="ok", timeout_s=10
                            ).start_health_probe(PROBE_S)
    try:
        with running_app(config, store, Backends([backend])) as url:
            assert wait_for(lambda: backend.status().state == "ready", 5)
            assert "".join(WORDS) in chat(Client(url, verbose=False), "first")
            server.stop()
            # The probe notices without a request; each refused first turn (a new page each) writes nothing.
            assert wait_for(lambda: backend.status().state == "down", 2 * PROBE_S + 5)
            for text in ("anyone there?", "still down?"):
                with pytest.raises(Exception, match="is down; try again"):
                    chat(Client(url, verbose=False), text)
            time.sleep(4 * PROBE_S)  # down long enough for the backoff to reach its cap
            server = StubServer(port=server.port).start()
            back = time.monotonic()
            assert wait_for(lambda: backend.status().state == "ready", 10 * PROBE_S)
            healed_s = time.monotonic() - back
            assert "".join(WORDS) in chat(Client(url, verbose=False), "back again?")
    finally:
        server.stop()
        backend._probe.stop()
    print(f"ready again {healed_s:.2f} s after the server came back (probe interval {PROBE_S:g} s)")
    assert healed_s <= PROBE_S + 1.0  # one interval, plus a probe's own latency on a loaded machine
    assert store.query("select count(*) n from conversations")[0]["n"] == 2
    assert empty_conversations(store) == 0


def test_a_write_lock_held_by_another_process_does_not_stall_the_app(config, store):
    """Another process (a CLI export, sqlite3 in a shell) holds the write lock for 10 s while a
    turn waits for it: pages still answer at once, and the turn lands once the lock is gone."""
    backends = scripted_backends(store, ScriptedBackend("ckpt-a", reply="Saved after the lock."))
    with running_app(config, store, backends) as url, httpx.Client(timeout=60) as http:
        def get_s(path: str) -> float:
            started = time.perf_counter()
            assert http.get(url + path).status_code == 200
            return time.perf_counter() - started

        idle = [get_s("/config") for _ in range(3)]
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(config.db_path), "10"],
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "locked"
        locked_at, shown = time.monotonic(), {}
        turn = threading.Thread(target=lambda: shown.update(
            text=send(Client(url, verbose=False), "hello under a lock", checkpoint="ckpt-a")))
        turn.start()
        time.sleep(1.5)  # the turn's first write is now waiting for the lock
        during = []
        while time.monotonic() - locked_at < 8.5:
            during += [get_s("/config"), get_s("/")]
            assert store.query("select count(*) n from conversations")[0]["n"] == 0  # reads go on
            time.sleep(0.3)
        holder.wait(30)
        turn.join(60)
    print(f"GET while another process held the write lock: max {max(during) * 1000:.0f} ms, "
          f"median {sorted(during)[len(during) // 2] * 1000:.0f} ms over {len(during)} "
          f"(idle: {max(idle) * 1000:.0f} ms)")
    # Stalled, a GET waits out the rest of the lock (8.9 s seen on main). Bounds measured against
    # the same GETs without the lock, in this run: a loaded 2-core machine makes both slow.
    median = lambda xs: sorted(xs)[len(xs) // 2]
    assert max(during) < 3.0 and median(during) < 2 * median(idle) + 0.2, (during, idle)
    assert "Saved after the lock." in json.dumps(shown["text"], default=str)
    (row,) = store.query("select status, text from responses")
    assert row == {"status": "ok", "text": "Saved after the lock."}


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def start_and_close_tab(url: str, text: str, max_tokens: int) -> None:
    """Send a turn like a browser, read its first streamed update, then close the tab."""
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url)
        fn = page.fn_index("chat_send")
        dep = next(d for d in page.dependencies() if d["id"] == fn)
        data = page.defaults(dep)
        data[1], data[3], data[4], data[7], data[-1] = ({"text": text, "files": []}, "ann", "", max_tokens,
                                                        "remote-ckpt")
        assert page.join(fn, *data).status_code == 200
        with http.stream("GET", url + "/gradio_api/queue/data", params={"session_hash": page.hash}) as sse:
            for line in sse.iter_lines():
                if '"process_generating"' in line:
                    break


def test_a_runaway_server_is_capped_with_the_reason_shown_and_memory_flat(config, store, stub):
    """A server that ignores max_tokens and never stops: the app cuts the reply (pieces past
    twice max_tokens, or its character cap), says why, and stops reading, also with the tab closed."""
    limits = dataclasses.replace(config.limits, max_reply_chars=300_000, max_turn_seconds=60)
    config = config.replace(limits=limits)
    with app_on(config, store, stub, "runaway") as url:
        client = Client(url, verbose=False)
        shown = chat(client, "count forever", max_tokens=32)
        assert "kept sending past the 32 tokens asked for" in shown
        shown = chat(client, "and again", max_tokens=8192)
        assert "limit of 300,000 characters per reply" in shown
        rss_before = rss_mb()
        for n in range(3):
            start_and_close_tab(url, f"runaway {n}", 8192)
        assert wait_for(lambda: store.query("select count(*) n from responses where status != 'pending'"
                                            )[0]["n"] == 5, 60)
        sent = stub.sent_chars
        time.sleep(1.0)
        assert stub.sent_chars - sent < 50_000  # the server was disconnected: it stopped generating
        rss_after = rss_mb()
    rows = store.query("select status, length(text) n, error, finish_reason from responses order by id")
    print(f"runaway: {stub.sent_chars / 1e6:.1f} MB sent by the server, replies stored "
          f"{[r['n'] for r in rows]} chars, RSS {rss_before:.0f} -> {rss_after:.0f} MB")
    assert [r["status"] for r in rows] == ["stopped"] * 5
    assert rows[0]["n"] == 80 * 1000 and all(r["n"] == 300_000 for r in rows[1:])
    assert all(r["error"].startswith("cut by the app") and r["finish_reason"] == "length" for r in rows)
    assert rss_after - rss_before < 40  # three more capped runaways, tab closed: no growth with them


def test_a_server_that_trickles_forever_is_cut_at_the_turn_time_cap(config, store, stub):
    config = config.replace(limits=dataclasses.replace(config.limits, max_turn_seconds=2.0))
    with app_on(config, store, stub, "trickle") as url:
        started = time.monotonic()
        shown = chat(Client(url, verbose=False), "take your time", max_tokens=8192)
        took = time.monotonic() - started
    assert "limit of 2 s per turn" in shown and took < 15
    (row,) = store.query("select status, text, error from responses")
    assert row["status"] == "stopped" and row["text"].startswith("tick tick") and "2 s per turn" in row["error"]


SURROGATE = "bad \ud800 text"


def page_call(url: str, api_name: str, overrides: dict[int, object], session=None):
    """Call a chat-page event with raw JSON (a lone surrogate survives); (page, error)."""
    http = httpx.Client(timeout=60)
    page = session or PageSession(http, url)
    fn = page.fn_index(api_name)
    dep = next(d for d in page.dependencies() if d["id"] == fn)
    data = page.defaults(dep)
    for index, value in overrides.items():
        data[index] = value
    _, error, _ = page.call(fn, *data)
    return page, error


SEND = {3: "ann", 5: 0.0, 7: 16, 9: "remote-ckpt"}  # name, temperature, max tokens, checkpoint


@pytest.mark.parametrize("field,overrides", [
    ("message", {1: {"text": SURROGATE, "files": []}, 4: ""}),
    ("system prompt", {1: {"text": "hello", "files": []}, 4: SURROGATE}),
], ids=["message", "system prompt"])
def test_a_lone_surrogate_in_a_first_turn_is_refused_clearly_and_writes_nothing(config, store, stub, field,
                                                                                 overrides):
    with app_on(config, store, stub, "ok") as url:
        _, error = page_call(url, "chat_send", {**SEND, **overrides})
    assert f"the {field} contains an invalid character (a lone surrogate, U+D800, at position 5)" in error
    assert "codec" not in error
    assert store.query("select count(*) n from conversations")[0]["n"] == 0
    assert not stub.requests or stub.requests[-1]["messages"][-1]["content"] != "hello"


@pytest.mark.parametrize("field,overrides,words", [
    ("message", {1: {"text": SURROGATE, "files": []}}, "the message contains an invalid character"),
    ("rater name", {1: "ann\ud800"}, "invalid character (a lone surrogate)"),
    ("comment", {5: SURROGATE}, "the comment contains an invalid character"),
], ids=["later message", "rater name", "comment"])
def test_a_lone_surrogate_later_is_refused_clearly_and_writes_nothing(config, store, stub, field, overrides,
                                                                      words):
    with app_on(config, store, stub, "ok") as url:
        page, error = page_call(url, "chat_send", {**SEND, 1: {"text": "a good turn", "files": []}, 4: ""})
        assert not error
        (response,) = store.query("select id from responses")
        before = {t: store.query(f"select count(*) n from {t}")[0]["n"]
                  for t in ("conversations", "turns", "responses", "ratings", "raters")}
        if field == "message":
            _, error = page_call(url, "chat_send", {**SEND, **overrides, 4: ""}, session=page)
        else:  # rate the reply: reply, name, followed, score, tags, comment, corrected
            rating = {0: response["id"], 1: "ann", 2: "yes", 5: "fine"}
            _, error = page_call(url, "chat_rate", {**rating, **overrides}, session=page)
        after = {t: store.query(f"select count(*) n from {t}")[0]["n"] for t in before}
    assert words in error and "codec" not in error, error
    assert after == before


def test_no_database_write_of_a_turn_runs_on_the_event_loop(config, store, monkeypatch):
    """A write may wait for another process's lock: on the event loop it would stall every page."""
    on_loop, write = [], store.write

    def recording_write():
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return write()

    monkeypatch.setattr(store, "write", recording_write)
    backends = scripted_backends(store, ScriptedBackend("ckpt-a", reply="One. Two. Three.", token_delay=0.01))
    with running_app(config, store, backends) as url:
        client = Client(url, verbose=False)
        send(client, "first turn by a new rater", name="newcomer", checkpoint="ckpt-a")
        send(client, "second turn", name="newcomer", checkpoint="ckpt-a")
        client.predict("newcomer", 0.0, 1.0, 32, 1, api_name="/chat_regenerate")
    assert len(on_loop) >= 8  # rater, conversation, turns, responses started, saved, finished
    assert not any(on_loop), f"{sum(on_loop)} of {len(on_loop)} writes ran on the event loop"
