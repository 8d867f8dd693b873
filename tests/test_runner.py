"""DialogRunner: turns stored, sides streamed at once, stop/regenerate/edit, history modes."""

from __future__ import annotations

import asyncio
import random

import pytest

from ift_chat.backends import Backends
from ift_chat.errors import BackendUnavailable, ImageError, ValidationError
from ift_chat.runner import DialogRunner, leaks_identity
from tests.scripted_backend import ScriptedBackend, scripted_runner



@pytest.fixture
def runner(store, config):
    return scripted_runner(store, config.limits, model_a="alpha one two three", model_b="beta four five six")


async def drain(stream):
    last = None
    async for snap in stream:
        last = snap
    return last


def test_chat_turns_are_stored_with_history(runner, store, make_png):
    conv = runner.start("chat", {"single": "model-a"}, rater_id=None)
    last = asyncio.run(drain(runner.send(conv.id, "describe", [make_png()])))
    assert last.done and last.texts["single"] == "alpha one two three"
    asyncio.run(drain(runner.send(conv.id, "now shorter")))
    turns = store.conversations.turns(conv.id)
    assert [t.user_text for t in turns] == ["describe", "now shorter"]
    assert len(turns[0].images) == 1
    r = store.conversations.responses(turns[1].id)[0]
    assert (r.status, r.checkpoint, r.tokens_in) == ("ok", "model-a", 10)
    # the second call carried round 1 with its reply as history
    calls = runner.backends.get("model-a").calls
    roles = [m["role"] for m in calls[1]]
    assert roles == ["user", "assistant", "user"]
    assert calls[1][1]["content"][0]["text"] == "alpha one two three"
    assert calls[1][0]["content"][0]["type"] == "image"


def test_bad_image_writes_nothing(runner, store):
    conv = runner.start("chat", {"single": "model-a"}, rater_id=None)
    with pytest.raises(ImageError):
        asyncio.run(drain(runner.send(conv.id, "hi", [b"not an image"])))
    assert store.query("select count(*) n from turns")[0]["n"] == 0
    assert store.query("select count(*) n from responses")[0]["n"] == 0


def test_backend_not_ready_is_refused_before_writing(runner, store):
    conv = runner.start("arena-named", {"A": "model-a", "B": "model-b"}, rater_id=None)
    runner.backends.get("model-b").state = "starting"
    with pytest.raises(BackendUnavailable) as err:
        asyncio.run(drain(runner.send(conv.id, "hi")))
    assert "model-b" not in str(err.value)  # no name: it may be an anonymous battle
    assert store.query("select count(*) n from turns")[0]["n"] == 0
    with pytest.raises(BackendUnavailable) as err:  # nor is a new conversation started for it
        runner.start("arena-named", {"A": "model-a", "B": "model-b"}, rater_id=None)
    assert "model-b" not in str(err.value)
    assert store.query("select count(*) n from conversations")[0]["n"] == 1


def test_stop_keeps_partial_text(store, config):
    slow = ScriptedBackend("slow", reply=" ".join(f"w{i}" for i in range(200)), token_delay=0.01)
    store.checkpoints.register("slow")
    runner = DialogRunner(store, Backends([slow]), config.limits)
    conv = runner.start("chat", {"single": "slow"}, rater_id=None)

    async def go():
        n = 0
        async for snap in runner.send(conv.id, "talk"):
            n += 1
            if n == 5:
                assert runner.stop(conv.id)
        return snap
    last = asyncio.run(go())
    r = store.conversations.responses(store.conversations.turns(conv.id)[0].id)[0]
    assert r.status == "stopped"
    assert 0 < len(r.text.split()) < 200
    assert r.text == last.texts["single"]
    assert not runner.is_running(conv.id)


def test_regenerate_and_edit_keep_old_rows(runner, store):
    conv = runner.start("chat", {"single": "model-a"}, rater_id=None)
    asyncio.run(drain(runner.send(conv.id, "first")))
    asyncio.run(drain(runner.regenerate(conv.id)))
    turn = store.conversations.turns(conv.id)[0]
    all_responses = store.conversations.responses(turn.id, include_superseded=True)
    assert [r.superseded for r in all_responses] == [1, 0]
    asyncio.run(drain(runner.edit_last(conv.id, "first, edited")))
    turns = store.conversations.turns(conv.id, include_superseded=True)
    assert [(t.user_text, t.superseded) for t in turns] == [("first", 1), ("first, edited", 0)]
    assert store.conversations.turns(conv.id)[0].idx == 1


def test_arena_streams_both_sides_concurrently(store, config):
    a = ScriptedBackend("a", reply="slow reply", first_token_delay=0.5)
    b = ScriptedBackend("b", reply="fast reply")
    for x in (a, b):
        store.checkpoints.register(x.name)
    runner = DialogRunner(store, Backends([a, b]), config.limits)
    conv = runner.start("arena-named", {"A": "a", "B": "b"}, rater_id=None)

    async def go():
        snaps = []
        async for snap in runner.send(conv.id, "hi"):
            snaps.append(snap)
        return snaps
    snaps = asyncio.run(go())
    first_b = next(i for i, s in enumerate(snaps) if s.texts["B"])
    first_a = next(i for i, s in enumerate(snaps) if s.texts["A"])
    assert first_b < first_a
    assert snaps[first_b].texts["A"] == ""  # B's first token did not wait for A
    ttft = {r.side: r.ttft_ms for r in store.conversations.responses(snaps[-1].turn_id)}
    assert ttft["B"] < ttft["A"]


def test_fast_streams_are_batched_but_first_text_is_not_delayed(store, config):
    """200 tokens/s per side: snapshots at most ~10/s, yet each side's first text shows at once."""
    from ift_chat.runner import SNAPSHOT_INTERVAL_SECONDS

    words = " ".join(f"w{i}" for i in range(120))
    a = ScriptedBackend("a", reply=words, token_delay=0.005, first_token_delay=0.25)
    b = ScriptedBackend("b", reply=words, token_delay=0.005)
    for x in (a, b):
        store.checkpoints.register(x.name)
    runner = DialogRunner(store, Backends([a, b]), config.limits)
    conv = runner.start("arena-named", {"A": "a", "B": "b"}, rater_id=None)

    async def go():
        loop, seen = asyncio.get_running_loop(), []
        start = loop.time()
        async for snap in runner.send(conv.id, "hi"):
            seen.append((loop.time() - start, snap))
        return seen
    seen = asyncio.run(go())
    elapsed = seen[-1][0]
    assert seen[-1][1].texts == {"A": words, "B": words} and seen[-1][1].done
    assert len(seen) <= elapsed / SNAPSHOT_INTERVAL_SECONDS + 4, f"{len(seen)} snapshots in {elapsed:.2f} s"
    first_a = next(t for t, s in seen if s.texts["A"])
    # A's first token comes ~0.25 s in, while B is mid-stream: shown at once, not an interval later.
    ttft_a = next(r.ttft_ms for r in store.conversations.responses(seen[-1][1].turn_id) if r.side == "A")
    assert first_a * 1000 - ttft_a < SNAPSHOT_INTERVAL_SECONDS * 1000 / 2, (first_a, ttft_a)


def test_winner_history_mode(store, config):
    a = ScriptedBackend("a", reply="answer from a")
    b = ScriptedBackend("b", reply="answer from b")
    for x in (a, b):
        store.checkpoints.register(x.name)
    rater = store.raters.create("ann")
    runner = DialogRunner(store, Backends([a, b]), config.limits)
    conv = runner.start("arena-named", {"A": "a", "B": "b"}, rater_id=rater.id, history_mode="winner")
    asyncio.run(drain(runner.send(conv.id, "one")))
    store.feedback.vote(store.conversations.turns(conv.id)[0].id, rater.id, "B", anonymous=False)
    asyncio.run(drain(runner.send(conv.id, "two")))
    assert a.calls[1][1]["content"][0]["text"] == "answer from b"  # A continued from B's win
    assert b.calls[1][1]["content"][0]["text"] == "answer from b"


def test_anonymous_pair_prefers_fewer_votes(store, config):
    names = ["m1", "m2", "m3"]
    backends = [ScriptedBackend(n) for n in names]
    for n in names:
        store.checkpoints.register(n)
    runner = DialogRunner(store, Backends(backends), config.limits)
    rater = store.raters.create("ann")
    for _ in range(30):  # many votes on m1 vs m2
        conv = runner.start("arena-anonymous", {"A": "m1", "B": "m2"}, rater_id=rater.id)
        turn = store.conversations.add_turn(conv.id, "x")
        store.feedback.vote(turn.id, rater.id, "A", anonymous=True)
    rng = random.Random(0)
    picks = [tuple(sorted(runner.pick_anonymous_pair(rng).values())) for _ in range(600)]
    assert picks.count(("m1", "m2")) < picks.count(("m1", "m3")) / 5
    sides = [runner.pick_anonymous_pair(rng)["A"] for _ in range(200)]
    assert len(set(sides)) == 3  # sides are shuffled


def test_identity_leak_detection():
    assert leaks_identity("I am Demo_SmolVLM-A, a model", "demo-smolvlm-a")
    assert not leaks_identity("I am a helpful model", "demo-smolvlm-a")


def test_invalid_params_rejected(runner):
    from ift_chat.backends import SamplingParams
    with pytest.raises(ValidationError):
        runner.start("chat", {"single": "model-a"}, rater_id=None, params=SamplingParams(temperature=5))


def test_a_send_right_after_the_last_snapshot_is_accepted(runner, store):
    """The turn is idle once its last snapshot is out: an immediate next send in the same
    loop is not refused as 'still streaming'."""
    conv = runner.start("arena-named", {"A": "model-a", "B": "model-b"}, rater_id=None)

    async def two_turns():
        async for snap in runner.send(conv.id, "one"):
            if snap.done:
                assert not runner.is_running(conv.id)
        return await drain(runner.send(conv.id, "two"))

    assert asyncio.run(two_turns()).done
    assert [t.user_text for t in store.conversations.turns(conv.id)] == ["one", "two"]
