"""SQLite busy: a write waits for another process's lock, and fails loudly (never silently)
when the lock outlasts the configured timeout."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from ift_chat.errors import StorageError
from ift_chat.store import Store


@pytest.fixture
def reply(config):
    """A store with a short busy timeout and one finished reply to rate."""
    store = Store(config.replace(db_busy_timeout_s=1.0))
    store.checkpoints.register("ckpt-a")
    rater = store.raters.create("alice")
    conv = store.conversations.create("chat", sides={"single": "ckpt-a"}, rater_id=rater.id)
    turn = store.conversations.add_turn(conv.id, "hello")
    rid = store.conversations.start_response(turn.id, "single", "ckpt-a")
    store.conversations.finish_response(rid, text="hi", status="ok")
    yield store, rater, rid
    store.close()


def hold_write_lock(path, seconds: float) -> threading.Thread:
    """Another connection (as a CLI export would be) holds the write lock for a while."""
    ready = threading.Event()

    def hold():
        other = sqlite3.connect(str(path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait(5)
    return thread


def test_a_rating_waits_out_a_short_lock(reply, config):
    store, rater, rid = reply
    holder = hold_write_lock(config.db_path, 0.4)
    started = time.monotonic()
    store.feedback.rate(rid, rater.id, "yes")
    waited = time.monotonic() - started
    holder.join()
    assert waited >= 0.3, "the write should have waited for the lock"
    assert [r["followed"] for r in store.query("select followed from ratings")] == ["yes"]


def test_a_lock_longer_than_the_timeout_is_a_clear_error_then_retry_works(reply, config):
    store, rater, rid = reply
    holder = hold_write_lock(config.db_path, 2.5)
    with pytest.raises(StorageError, match="busy for 1 s; nothing was saved"):
        store.feedback.rate(rid, rater.id, "no", comment="lost?")
    holder.join()
    assert store.query("select count(*) n from ratings")[0]["n"] == 0  # not half-written
    store.feedback.rate(rid, rater.id, "no", comment="lost?")  # the UI's retry lands
    assert store.query("select comment from ratings")[0]["comment"] == "lost?"
