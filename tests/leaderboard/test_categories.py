"""Category and per-round leaderboards on a small stored season, against hand-counted votes."""

from __future__ import annotations

import numpy as np
import pytest

from ift_chat.errors import ValidationError
from ift_chat.leaderboard import ReportOptions, VoteFilters, build_report, load_pairs
from ift_chat.leaderboard.battles import load_battles
from ift_chat.leaderboard.categories import (by_round_boards, category_boards, category_counts,
                                             from_round_board, rounds_from)


@pytest.fixture
def season(arena):
    """Seven counted votes, counted by hand below:
    live battle a-b, 3 turns: A (with image), B (A's reply tagged repetition), A (B's reply checked);
    replay of eval set "suite" a-c, 2 turns, two raters: both say both_bad, then A and B;
    plus two votes that never count (named arena, rater saw the names)."""
    for name in ("ck-a", "ck-b", "ck-c"):
        arena.checkpoint(name)
    live = arena.battle("ck-a", "ck-b", ["A", "B", "A"], image_turns=[0], reveal=False)
    tagged = arena.reply_ids(live[1])["A"]
    # A battle is rated by its owner, before its end: its ratings count from the reveal on.
    arena.store.feedback.rate(tagged, arena.rater("r1"), "no", tags=["repetition"])
    arena.store.conversations.reveal(arena.store.conversations.turn(live[0]).conversation_id,
                                     arena.rater("r1"))
    arena.checks(arena.reply_ids(live[2])["B"], [("one_word", False, False)])
    evals = arena.store.eval_sets
    suite = evals.create("suite")
    evals.add_items(suite.id, [("x", [{"text": "Name a colour."}, {"text": "Now in one word."}])])
    item = evals.items(suite.id)[0]
    arena.battle("ck-a", "ck-c", ["both_bad", ("A", "B")], raters=["r1", "r2"], mode="replay",
                 anonymous=False, eval_item_id=item.id)
    arena.battle("ck-b", "ck-c", ["A", "A"], mode="arena-named", anonymous=False)
    return arena


def counts(battles) -> dict:
    return {(r["category"], r["value"]): r["votes"] for r in category_counts(battles).to_dict("records")}


def test_category_counts_match_the_hand_count(season):
    battles = load_battles(season.store)
    assert len(battles) == 7 == load_pairs(season.store).n_votes  # one rule for which votes count
    assert counts(battles) == {
        ("all", "all votes"): 7, ("eval set", "(live battles)"): 3, ("eval set", "suite"): 4,
        ("error tag", "repetition"): 1, ("image", "with image"): 1, ("image", "text only"): 6,
        ("instruction", "verifiable constraint"): 1, ("instruction", "open-ended"): 6}
    dropped = load_battles(season.store, VoteFilters(both_bad="drop"))
    assert counts(dropped)[("all", "all votes")] == 5 and counts(dropped)[("eval set", "suite")] == 2
    named = load_battles(season.store, VoteFilters(anonymous_only=False))
    assert counts(named)[("eval set", "(live battles)")] == 5


def test_category_boards_fit_only_their_votes(season):
    boards = category_boards(load_battles(season.store))
    suite = boards[(boards["category"] == "eval set") & (boards["value"] == "suite")]
    assert dict(zip(suite["checkpoint"], suite["votes"])) == {"ck-a": 4, "ck-c": 4}
    # two ties and one win each: dead even
    assert suite["rating"].tolist() == pytest.approx([1000.0, 1000.0], abs=0.01)
    image = boards[boards["value"] == "with image"]
    assert image["checkpoint"].tolist() == ["ck-a", "ck-b"] and image["votes"].tolist() == [1, 1]
    assert image["rating"].iloc[0] > image["rating"].iloc[1]
    tagged = boards[boards["category"] == "error tag"]
    assert tagged["checkpoint"].tolist() == ["ck-b", "ck-a"]  # B won the tagged turn
    constrained = boards[boards["value"] == "verifiable constraint"]
    assert constrained["checkpoint"].tolist() == ["ck-a", "ck-b"]
    assert (boards["lower"] <= boards["rating"]).all() and (boards["rating"] <= boards["upper"]).all()


def test_per_round_filter_keeps_rounds_k_and_later(season):
    battles = load_battles(season.store)
    assert [len(rounds_from(battles, k)) for k in (1, 2, 3, 4)] == [7, 4, 1, 0]
    later = rounds_from(battles, 2).pairs()
    scores = later.score_matrix()
    index = {m: i for i, m in enumerate(later.models)}
    # round 2+: b beat a once, a beat b once (round 3), a and c one win each
    assert scores[index["ck-b"], index["ck-a"]] == 1 and scores[index["ck-a"], index["ck-b"]] == 1
    assert scores[index["ck-a"], index["ck-c"]] == 1 and scores[index["ck-c"], index["ck-a"]] == 1
    board = from_round_board(battles, 2, rounds=50)
    assert dict(zip(board.models, board.games.tolist())) == {"ck-a": 4, "ck-b": 2, "ck-c": 2}
    assert from_round_board(battles, 4) is None
    with pytest.raises(ValidationError, match="count from 1"):
        rounds_from(battles, 0)


def test_rating_by_round_fits_each_round(season):
    table = by_round_boards(load_battles(season.store))
    votes = table.groupby("round")["votes"].sum().to_dict()
    assert votes == {1: 6, 2: 6, 3: 2}  # each vote counts for both of its checkpoints
    round3 = table[table["round"] == 3]
    assert round3["checkpoint"].tolist() == ["ck-a", "ck-b"]


def test_report_puts_the_later_rounds_board_beside_the_all_rounds_one(season):
    report = build_report(season.store, ReportOptions(rounds=100, from_round=2))
    side = report.views.rounds_side_by_side
    assert side["checkpoint"].tolist() == report.ratings["checkpoint"].tolist()
    assert dict(zip(side["checkpoint"], side["votes_from_2"])) == {"ck-a": 4, "ck-b": 2, "ck-c": 2}
    assert side["votes_all"].sum() == 14 and report.summary()["votes_from_round"] == 4
    assert np.all(report.ratings["sandwich_lower"] <= report.ratings["rating"])
