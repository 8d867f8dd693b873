"""The conversation browser's and replay results' read models on a real SQLite store: each
filter keeps what matches and drops what doesn't, and unrevealed battles stay blind."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from ift_chat.backends import Backends, SamplingParams
from ift_chat.dataloop.replay import replay_eval_set
from ift_chat.dataloop.replay_results import find_run, replay_runs, run_results, run_summary
from ift_chat.errors import ValidationError
from ift_chat.store.browse import BrowseFilters
from tests.scripted_backend import ScriptedBackend


def dialog(store, mode, sides, texts, replies, rater=None, title=None, eval_item_id=None):
    """A conversation with one turn per text and one finished reply per side per turn."""
    conv = store.conversations.create(mode, sides=sides, rater_id=rater, title=title, eval_item_id=eval_item_id)
    turns = []
    for text in texts:
        turn = store.conversations.add_turn(conv.id, text)
        for side, ckpt in sides.items():
            rid = store.conversations.start_response(turn.id, side, ckpt)
            store.conversations.finish_response(rid, text=replies.get(side, "ok"), status="ok")
        turns.append(turn)
    return conv, turns


@pytest.fixture
def world(store):
    for name in ("ckpt-alpha", "ckpt-beta", "ckpt-gamma"):
        store.checkpoints.register(name)
    ann = store.raters.get_or_create("ann")
    bob = store.raters.get_or_create("bob")
    chat, chat_turns = dialog(store, "chat", {"single": "ckpt-alpha"},
                              ["Describe the kitten", "Now in one word"], {"single": "A fluffy kitten."}, ann.id)
    arena, arena_turns = dialog(store, "arena-named", {"A": "ckpt-alpha", "B": "ckpt-beta"},
                                ["List three colours"], {"A": "red blue green", "B": "red"}, bob.id)
    blind, blind_turns = dialog(store, "arena-anonymous", {"A": "ckpt-gamma", "B": "ckpt-beta"},
                                ["Say hello", "Again", "Once more"],
                                {"A": "I am ckpt-gamma, hello", "B": "hello"}, bob.id)
    shown, _ = dialog(store, "arena-anonymous", {"A": "ckpt-gamma", "B": "ckpt-alpha"},
                      ["Revealed battle"], {"A": "x", "B": "y"}, ann.id)
    store.conversations.reveal(shown.id, ann.id)
    r_chat = store.conversations.responses(chat_turns[1].id)[0]
    store.feedback.rate(r_chat.id, ann.id, "no", tags=["ignored_instruction"])
    r_arena = store.conversations.responses(arena_turns[0].id)[0]
    store.feedback.rate(r_arena.id, bob.id, "yes", score=5)
    store.feedback.vote(arena_turns[0].id, bob.id, "A", anonymous=False)
    store.feedback.vote(blind_turns[0].id, bob.id, "B", anonymous=True)
    return {"store": store, "chat": chat.id, "arena": arena.id, "blind": blind.id, "shown": shown.id}


def ids(store, **filters) -> set[str]:
    return {r["id"] for r in store.browse.conversations(BrowseFilters(**filters))}


def test_no_filter_lists_every_mode_newest_first(world):
    rows = world["store"].browse.conversations(BrowseFilters())
    assert [r["id"] for r in rows] == [world["shown"], world["blind"], world["arena"], world["chat"]]
    chat = rows[-1]
    assert chat["rounds"] == 2 and chat["owner"] == "ann" and chat["first_message"] == "Describe the kitten"
    assert chat["checkpoints"] == ["ckpt-alpha"] and chat["verdicts"] == {"yes": 0, "partial": 0, "no": 1}


def test_unrevealed_battle_lists_no_checkpoint(world):
    rows = {r["id"]: r for r in world["store"].browse.conversations(BrowseFilters())}
    assert rows[world["blind"]]["blind"] and rows[world["blind"]]["checkpoints"] == []
    assert not rows[world["shown"]]["blind"] and rows[world["shown"]]["checkpoints"] == ["ckpt-gamma", "ckpt-alpha"]


def test_checkpoint_filter_never_matches_an_unrevealed_battle(world):
    s = world["store"]
    assert ids(s, checkpoint="ckpt-gamma") == {world["shown"]}  # the blind one has gamma too
    assert ids(s, checkpoint="ckpt-beta") == {world["arena"]}
    assert ids(s, checkpoint="ckpt-alpha") == {world["chat"], world["arena"], world["shown"]}


def test_text_search_reads_no_reply_of_an_unrevealed_battle(world):
    s = world["store"]
    assert ids(s, text="ckpt-gamma") == set()  # its reply names it: no match, no unblinding
    assert ids(s, text="once MORE") == {world["blind"]}  # its user messages are searchable
    assert ids(s, text="fluffy") == {world["chat"]}  # replies of other modes are
    assert ids(s, text="100%") == set() and ids(s, text="_") == set()  # LIKE wildcards are literal


def test_mode_rounds_verdict_tag_rater_filters(world):
    s = world["store"]
    assert ids(s, modes=("chat", "arena-named")) == {world["chat"], world["arena"]}
    assert ids(s, min_rounds=2) == {world["chat"], world["blind"]}
    assert ids(s, max_rounds=1) == {world["arena"], world["shown"]}
    assert ids(s, min_rounds=3, max_rounds=3) == {world["blind"]}
    assert ids(s, verdict="no") == {world["chat"]}
    assert ids(s, verdict="yes") == {world["arena"]}
    assert ids(s, verdict="partial") == set()
    assert ids(s, verdict="unrated") == {world["blind"], world["shown"]}
    assert ids(s, tag="ignored_instruction") == {world["chat"]}
    assert ids(s, tag="repetition") == set()
    assert ids(s, rater="ann") == {world["chat"], world["shown"]}  # owns
    assert ids(s, rater="bob") == {world["arena"], world["blind"]}
    assert ids(s, rater="nobody") == set()


def test_rater_filter_counts_ratings_and_votes_of_others(world):
    s = world["store"]
    carl = s.raters.get_or_create("carl")
    turn = s.conversations.turns(world["chat"])[0]
    s.feedback.rate(s.conversations.responses(turn.id)[0].id, carl.id, "partial")
    arena_turn = s.conversations.turns(world["arena"])[0]
    s.feedback.vote(arena_turn.id, carl.id, "tie", anonymous=False)
    assert ids(s, rater="carl") == {world["chat"], world["arena"]}


def test_date_range_is_half_open_in_utc(world):
    s = world["store"]
    created = {r["id"]: r["created"] for r in s.browse.conversations(BrowseFilters())}
    arena = created[world["arena"]]
    assert ids(s, since=arena) == {world["arena"], world["blind"], world["shown"]}
    assert ids(s, until=arena) == {world["chat"]}
    later = (datetime.datetime.fromisoformat(arena) + datetime.timedelta(days=1)).isoformat()
    assert ids(s, since=later) == set()


def test_eval_set_filter_and_bad_filters(world):
    s = world["store"]
    es = s.eval_sets.create("mini")
    s.eval_sets.add_items(es.id, [("x", [{"text": "hi", "images": [], "reference": "hello"}])])
    item = s.eval_sets.items(es.id)[0]
    rep, _ = dialog(s, "replay", {"single": "ckpt-alpha"}, ["hi"], {"single": "hey"}, eval_item_id=item.id)
    assert ids(s, eval_set="mini") == {rep.id}
    assert ids(s, eval_set="other") == set()
    for bad in ({"verdict": "maybe"}, {"tag": "nope"}, {"min_rounds": 3, "max_rounds": 2},
                {"since": "2026-02-01", "until": "2026-01-01"}, {"limit": 0}):
        with pytest.raises(ValidationError):
            s.browse.conversations(BrowseFilters(**bad))


def replay(store, eval_set, names, replies):
    backends = Backends([ScriptedBackend(n, reply=r) for n, r in zip(names, replies)])
    return asyncio.run(replay_eval_set(store, backends, eval_set, names, SamplingParams(temperature=0.0)))


@pytest.fixture
def replayed(store):
    for name in ("ckpt-a", "ckpt-b"):
        store.checkpoints.register(name)
    es = store.eval_sets.create("two-round")
    store.eval_sets.add_items(es.id, [
        ("i1", [{"text": "Answer in one word: sky colour?", "images": [], "reference": "Blue"},
                {"text": "And grass?", "images": [], "reference": "Green"}]),
        ("i2", [{"text": "Say yes", "images": [], "reference": "yes"}])])
    first = replay(store, "two-round", ["ckpt-a", "ckpt-b"], ["Blue", "The grass is very green indeed"])
    return store, first


def test_replay_runs_group_a_run_and_split_a_rerun(replayed):
    store, first = replayed
    runs = replay_runs(store)
    assert len(runs) == 1 and set(runs[0].conversations) == set(first.conversations)
    assert runs[0].checkpoints == ("ckpt-a", "ckpt-b") and runs[0].items == 2 and runs[0].paired
    second = replay(store, "two-round", ["ckpt-a", "ckpt-b"], ["Blue", "Blue"])
    runs = replay_runs(store)
    assert [set(r.conversations) for r in runs] == [set(second.conversations), set(first.conversations)]
    single = replay(store, "two-round", ["ckpt-a"], ["Blue"])
    assert set(replay_runs(store)[0].conversations) == set(single.conversations)


def test_run_results_per_item_and_round(replayed):
    store, _ = replayed
    run = find_run(store, replay_runs(store)[0].id)
    ann = store.raters.get_or_create("ann")
    rows = run_results(store, run)
    assert [(r["item"], r["round"]) for r in rows] == [(1, 1), (1, 2), (2, 1)]
    assert rows[1]["user_text"] == "And grass?" and rows[1]["reference"] == "Green"
    assert rows[0]["replies"]["ckpt-a"]["text"] == "Blue"
    assert rows[0]["replies"]["ckpt-b"]["text"] == "The grass is very green indeed"
    conv = next(iter(rows[0]["conversations"]))
    turn = store.conversations.turns(conv)[0]
    responses = {r.checkpoint: r for r in store.conversations.responses(turn.id)}
    store.feedback.rate(responses["ckpt-b"].id, ann.id, "no", tags=["ignored_instruction"], comment="long")
    store.feedback.vote(turn.id, ann.id, responses["ckpt-a"].side, anonymous=False)
    rows = run_results(store, run)
    assert rows[0]["replies"]["ckpt-b"]["ratings"] == "ann: no [ignored_instruction] “long”"
    assert rows[0]["replies"]["ckpt-a"]["ratings"] == ""
    assert rows[0]["votes"] == "ann: ckpt-a"  # the winner by name, whichever side it sat on
    assert rows[1]["votes"] == ""
    # the automatic checks ran at replay time: "one word" holds for ckpt-a, fails for ckpt-b
    assert rows[0]["replies"]["ckpt-a"]["checks"].startswith("1/1 passed")
    assert rows[0]["replies"]["ckpt-b"]["checks"].startswith("0/1 passed; ✗ ")
    summary = {s["checkpoint"]: s for s in run_summary(run, rows)}
    assert summary["ckpt-b"]["replies"] == 3 and summary["ckpt-b"]["rated"] == 1
    assert summary["ckpt-b"]["followed"] == 0 and summary["ckpt-a"]["all_checks_passed"] >= 1
