"""Pairwise grading of arena turns in both orders: only position-consistent verdicts count."""

from __future__ import annotations

import asyncio

from ift_chat.judge import judge_backend, pair_summary, run_job
from tests.judge.conftest import add_battle, spec_for


def run_pairs(store, spec):
    backend = judge_backend(spec, None, store.config.limits)
    return asyncio.run(run_job(store, backend, spec, scope="all", pairwise=True))


def pairs_of(store, spec):
    return {p["turn_id"]: p for p in store.judges.pairs(store.judges.rater(spec.rater_name)["rater_id"])}


def test_consistent_judge_keeps_every_winner(jstore, judge_server):
    judge_server.good = ("GOOD",)
    _, turns = add_battle(jstore, "ckpt-a", "ckpt-b", [("q1", "GOOD a", "bad b"), ("q2", "bad a", "GOOD b"),
                                                       ("q3", "meh", "meh too")])
    spec = spec_for(judge_server)
    result = run_pairs(jstore, spec)
    assert (result.judged, result.consistent, result.inconsistent, result.inconsistency_rate) == (3, 3, 0, 0.0)
    pairs = pairs_of(jstore, spec)
    assert [pairs[t]["winner"] for t in turns] == ["A", "B", "tie"]
    assert all(p["consistent"] == 1 and p["winner_ab"] == p["winner_ba"] for p in pairs.values())
    # both orders were really asked: one request of turn 1 shows side B's reply first
    texts = [b["messages"][1]["content"][0]["text"] for b in judge_server.requests]
    assert len(texts) == 6
    assert any("BEGIN REPLY A\nGOOD a" in t for t in texts) and any("BEGIN REPLY A\nbad b" in t for t in texts)


def test_a_judge_that_always_prefers_position_a_keeps_nothing(jstore, judge_server):
    judge_server.mode = "prefers-a"
    _, turns = add_battle(jstore, "ckpt-a", "ckpt-b", [("q1", "x", "y"), ("q2", "x2", "y2")])
    spec = spec_for(judge_server)
    result = run_pairs(jstore, spec)
    assert (result.consistent, result.inconsistent, result.inconsistency_rate) == (0, 2, 1.0)
    pairs = pairs_of(jstore, spec)
    assert all((p["winner_ab"], p["winner_ba"], p["winner"], p["consistent"]) == ("A", "B", None, 0)
               for p in pairs.values())
    summary = pair_summary(list(pairs.values()))
    assert summary == {"pairs": 2, "both_orders_parsed": 2, "inconsistent": 2, "inconsistency_rate": 1.0,
                       "kept": 0, "winners": {}}


def test_unrevealed_blind_battles_are_not_judged(jstore, judge_server):
    conv = jstore.conversations.create("arena-anonymous", sides={"A": "ckpt-a", "B": "ckpt-b"})
    turn = jstore.conversations.add_turn(conv.id, "q")
    for side, ckpt in (("A", "ckpt-a"), ("B", "ckpt-b")):
        rid = jstore.conversations.start_response(turn.id, side, ckpt)
        jstore.conversations.finish_response(rid, text="t", status="ok")
    spec = spec_for(judge_server)
    assert run_pairs(jstore, spec).total == 0
    backend = judge_backend(spec, None, jstore.config.limits)
    assert asyncio.run(run_job(jstore, backend, spec, scope="all")).total == 0
    assert judge_server.requests == []
