"""Fast (no browser): a pane lists every reply of a turn, superseded ones marked and in order,
and each message maps back to the reply it shows (what the verdict buttons rate)."""

from __future__ import annotations

import json

from ift_chat.crowd.auth import stamp, utc_now
from ift_chat.crowd.progress import rater_progress
from ift_chat.crowd.tasks import Tasks
from ift_chat.ui.rating import feedback_values
from ift_chat.ui.render import pane_messages
from tests.crowd.conftest import add_dialog
from tests.security.test_sanitiser import assert_inert
from tests.security.xss_vectors import VECTORS


def _reply(store, turn_id: int, text: str, side: str = "single") -> int:
    rid = store.conversations.start_response(turn_id, side, "m")
    store.conversations.finish_response(rid, text=text, status="ok")
    return rid


def test_regenerated_and_edited_replies_stay_in_the_pane(store):
    store.checkpoints.register("m", backend="scripted")
    conv = store.conversations.create("chat", sides={"single": "m"})
    first = store.conversations.add_turn(conv.id, "turn one", [])
    r1 = _reply(store, first.id, "one")
    old = store.conversations.add_turn(conv.id, "turn two, first text", [])
    r2 = _reply(store, old.id, "two (1st)")
    store.conversations.supersede_responses(old.id)  # Regenerate
    r3 = _reply(store, old.id, "two (2nd)")
    store.conversations.supersede_turn(old.id)  # Edit
    new = store.conversations.add_turn(conv.id, "turn two, edited", [])
    r4 = _reply(store, new.id, "two (3rd)")
    pairs = pane_messages(store, conv.id, "single")
    shown = [(m["role"], m.get("metadata", {}).get("title", ""), r.id if r else None) for m, r in pairs]
    assert [(role, rid) for role, _, rid in shown] == [
        ("user", None), ("assistant", r1), ("user", None),
        ("assistant", r2), ("assistant", r3), ("assistant", r4)]
    assert "Earlier reply 1 of 3 · superseded (its message was edited)" in shown[3][1]
    assert "Earlier reply 2 of 3" in shown[4][1] and shown[5][1] == ""  # the latest is not collapsed
    text = json.dumps([m for m, _ in pairs])
    assert "turn two, first text" in text  # the edited reply says what it answered
    assert "turn two, edited" in text and "reply 3 of 3 (latest)" in text
    assert "rated:" not in shown[3][1]
    rater = store.raters.create("ann")
    store.feedback.rate(r2, rater.id, "no")
    store.feedback.rate(r4, rater.id, "partial")
    pairs = pane_messages(store, conv.id, "single", rater.id)
    assert "rated: ❌ not followed" in pairs[3][0]["metadata"]["title"]
    assert feedback_values(store, pairs, rater.id) == [None, "Not followed", None, "Partially"]


def test_a_streaming_turn_keeps_its_earlier_reply_before_the_live_one(store):
    store.checkpoints.register("m", backend="scripted")
    conv = store.conversations.create("chat", sides={"single": "m"})
    turn = store.conversations.add_turn(conv.id, "q", [])
    old = _reply(store, turn.id, "old reply")
    store.conversations.supersede_responses(turn.id)
    store.conversations.start_response(turn.id, "single", "m")
    pairs = pane_messages(store, conv.id, "single", live={"single": "new so fa"}, live_turn=turn.id)
    assert [r.id if r else None for _, r in pairs] == [None, old, None]
    assert "new so fa" in json.dumps(pairs[-1][0])


def test_earlier_replies_are_sanitised(store):
    store.checkpoints.register("m", backend="scripted")
    conv = store.conversations.create("chat", sides={"single": "m"})
    for text in VECTORS.values():
        turn = store.conversations.add_turn(conv.id, text, [])
        _reply(store, turn.id, text)
        store.conversations.supersede_turn(turn.id)  # shown as "it answered the earlier message"
        new = store.conversations.add_turn(conv.id, "again", [])
        _reply(store, new.id, "fine")
    for message, _ in pane_messages(store, conv.id, "single"):
        for part in message["content"]:
            if "text" in part:
                assert_inert(part["text"])


def test_rater_progress_counts_what_is_left_for_this_rater(store):
    admin = store.raters.create("boss", role="admin")
    store.checkpoints.register("m")
    for n in range(3):
        add_dialog(store, "m", [(f"q{n}", f"a{n}")])
    tasks = Tasks(store)
    task_set = tasks.create_set(admin, "s", k=1)
    ann, bob = store.raters.create("ann"), store.raters.create("bob")
    left = lambda rater: rater_progress(store, task_set.id, 1, rater.id, stamp(utc_now())).text
    assert left(ann) == "3 of 3 left"
    view = tasks.next_item(task_set.id, ann)
    assert left(ann) == "3 of 3 left"  # the item on screen is still left
    tasks.submit(view.item_id, ann, "yes")
    assert left(ann) == "2 of 3 left"
    tasks.next_item(task_set.id, bob)  # bob holds one (k = 1): no longer left for ann
    assert left(ann) == "1 of 3 left" and left(bob) == "2 of 3 left"
    tasks.next_item(task_set.id, ann)
    assert left(ann) == "1 of 3 left" and left(bob) == "1 of 3 left"
