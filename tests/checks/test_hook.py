"""The runner records checks for every reply it finalises; a failing check never fails a turn."""

from __future__ import annotations

import asyncio
import json

import pytest

from ift_chat import checks
from ift_chat.backends import Backends
from ift_chat.runner import DialogRunner
from tests.scripted_backend import ScriptedBackend, scripted_runner


@pytest.fixture
def runner(store, config):
    return scripted_runner(store, config.limits, model_a="The sky is a color.", model_b="Blue")


async def drain(stream):
    async for _ in stream:
        pass


def _rows(store, conv_id):
    out = {}
    for turn in store.conversations.turns(conv_id):
        for r in store.conversations.responses(turn.id):
            out[(turn.idx, r.side)] = [(c["kind"], c["passed"], c["source_turn_idx"], c["persistent"])
                                       for c in store.checks.for_response(r.id)]
    return out


def test_arena_turns_get_verdicts_per_side_with_persistence(runner, store):
    conv = runner.start("arena-named", {"A": "model-a", "B": "model-b"}, rater_id=None)
    asyncio.run(drain(runner.send(conv.id, "List three colors, one per line.")))
    asyncio.run(drain(runner.send(conv.id, "From now on, answer in one word. What color is the sky?")))
    asyncio.run(drain(runner.send(conv.id, "And the grass?")))
    assert _rows(store, conv.id) == {
        (1, "A"): [], (1, "B"): [],  # no constraint: no rows
        (2, "A"): [("one_word", 0, 1, 1)], (2, "B"): [("one_word", 1, 1, 1)],
        (3, "A"): [("one_word", 0, 1, 1)], (3, "B"): [("one_word", 1, 1, 1)],
    }
    row = store.checks.for_response(store.conversations.responses(store.conversations.turns(conv.id)[2].id)[0].id)[0]
    assert row["detail"] == "5 words, need one" and json.loads(row["params"]) == {}
    assert row["version"] == checks.CHECKER_VERSION


def test_regenerated_and_edited_replies_are_checked_against_their_own_turn(runner, store):
    conv = runner.start("chat", {"single": "model-b"}, rater_id=None)
    asyncio.run(drain(runner.send(conv.id, "Answer in French.")))
    asyncio.run(drain(runner.edit_last(conv.id, "Answer in one word.")))
    asyncio.run(drain(runner.regenerate(conv.id)))
    rows = store.query("""select t.user_text, t.superseded, k.kind, k.passed from responses r
                          join turns t on t.id = r.turn_id join response_checks k on k.response_id = r.id
                          order by r.id""")
    assert [(r["user_text"], r["kind"], r["passed"]) for r in rows] == [
        ("Answer in French.", "language", 0), ("Answer in one word.", "one_word", 1),
        ("Answer in one word.", "one_word", 1)]


def test_a_checker_bug_does_not_fail_the_turn(runner, store, monkeypatch, caplog):
    def broken(*_a, **_k):
        raise RuntimeError("checker bug")
    monkeypatch.setattr(checks.jobs, "check_reply", broken)
    conv = runner.start("chat", {"single": "model-a"}, rater_id=None)
    asyncio.run(drain(runner.send(conv.id, "Answer in one word.")))
    turn = store.conversations.turns(conv.id)[0]
    (reply,) = store.conversations.responses(turn.id)
    assert (reply.status, reply.text) == ("ok", "The sky is a color.")
    assert store.checks.for_response(reply.id) == []
    assert "checking response" in caplog.text
    monkeypatch.undo()
    assert checks.run_checks(store, conversation_id=conv.id).checked == 1  # `checks run` repairs it
    assert [r["kind"] for r in store.checks.for_response(reply.id)] == ["one_word"]


def test_error_replies_are_not_checked(store, config):
    store.checkpoints.register("model-x", backend="scripted")

    class Failing(ScriptedBackend):
        async def stream(self, messages, params, cancel=None):
            raise RuntimeError("boom")
            yield  # pragma: no cover

    runner = DialogRunner(store, Backends([Failing("model-x")]), config.limits)
    conv = runner.start("chat", {"single": "model-x"}, rater_id=None)
    asyncio.run(drain(runner.send(conv.id, "Answer in one word.")))
    assert store.query("select count(*) n from response_checks")[0]["n"] == 0
    assert store.query("select status from responses")[0]["status"] == "error"


def test_a_failing_check_write_rolls_back_alone_and_keeps_the_reply(runner, store, monkeypatch):
    def half_written(response_id, verdicts, version):
        with store.write() as db:
            db.execute("insert into response_checks (response_id, kind, params, source_turn_idx, persistent,"
                       " passed, passed_loose, detail, version, created)"
                       " values (?, 'one_word', '{}', 0, 0, 0, 0, 'x', ?, 'now')", [response_id, version])
            raise RuntimeError("disk trouble after the first row")
    monkeypatch.setattr(store.checks, "record", half_written)
    conv = runner.start("chat", {"single": "model-b"}, rater_id=None)
    asyncio.run(drain(runner.send(conv.id, "Answer in one word.")))
    (reply,) = store.conversations.responses(store.conversations.turns(conv.id)[0].id)
    assert (reply.status, reply.text) == ("ok", "Blue")  # committed, with no half of the checks
    assert store.query("select count(*) n from response_checks")[0]["n"] == 0
