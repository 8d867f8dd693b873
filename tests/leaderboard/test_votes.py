"""Which stored votes the leaderboard counts, and recovery of known strengths from stored votes."""

from __future__ import annotations

import numpy as np
import pytest

from ift_chat.errors import ValidationError
from ift_chat.leaderboard import VoteFilters, bradley_terry, load_pairs
from ift_chat.leaderboard.bradley_terry import SCALE


def scores(store, filters=VoteFilters()) -> dict[tuple[str, str], float]:
    """{(m, n): m's total score against n} over counted votes."""
    pairs = load_pairs(store, filters)
    w = pairs.score_matrix()
    return {(m, n): float(w[i, j]) for i, m in enumerate(pairs.models)
            for j, n in enumerate(pairs.models) if w[i, j] or w[j, i]}


@pytest.fixture
def two(arena):
    arena.checkpoint("ck-a")
    arena.checkpoint("ck-b")
    return arena


def test_winner_sides_map_to_checkpoints_and_ties_count_half(two):
    two.battle("ck-a", "ck-b", ["A", "A", "B", "tie"])
    two.battle("ck-b", "ck-a", ["A"])  # ck-b sat on side A here
    assert scores(two.store) == {("ck-a", "ck-b"): 2.5, ("ck-b", "ck-a"): 2.5}


def test_both_bad_is_a_tie_by_default_or_dropped(two):
    two.battle("ck-a", "ck-b", ["A", "both_bad"])
    assert scores(two.store) == {("ck-a", "ck-b"): 1.5, ("ck-b", "ck-a"): 0.5}
    assert scores(two.store, VoteFilters(both_bad="drop")) == {("ck-a", "ck-b"): 1.0, ("ck-b", "ck-a"): 0.0}


def test_identity_leaks_superseded_turns_and_named_votes_are_left_out(two):
    two.battle("ck-a", "ck-b", ["A"])
    two.battle("ck-a", "ck-b", ["A", "A"], leak=True)  # a reply named its checkpoint
    [stale] = two.battle("ck-a", "ck-b", ["A"])
    two.store.conversations.supersede_turn(stale)  # the rater edited that message
    two.battle("ck-a", "ck-b", ["B"], mode="arena-named", anonymous=False)
    assert scores(two.store) == {("ck-a", "ck-b"): 1.0, ("ck-b", "ck-a"): 0.0}
    named = scores(two.store, VoteFilters(anonymous_only=False))
    assert named == {("ck-a", "ck-b"): 1.0, ("ck-b", "ck-a"): 1.0}


def test_a_leak_regenerated_away_still_taints_earlier_votes_but_not_a_new_one(two):
    [tainted] = two.battle("ck-a", "ck-b", ["A"], leak=True, reveal=False)
    [revoted] = two.battle("ck-a", "ck-b", ["A"], leak=True, reveal=False)
    for turn_id in (tainted, revoted):
        two.store.conversations.supersede_responses(turn_id, ["A"])
        two._reply(turn_id, "A", "ck-a", text="a clean reply")
    two.store.feedback.vote(revoted, two.rater("r1"), "B", anonymous=True)  # voting again
    for turn_id in (tainted, revoted):
        two.store.conversations.reveal(two.store.conversations.turn(turn_id).conversation_id, two.rater("r1"))
    # The tainted vote was cast while the leak was on screen; the new vote on the clean reply counts.
    assert scores(two.store) == {("ck-a", "ck-b"): 0.0, ("ck-b", "ck-a"): 1.0}


def test_replay_votes_count_and_can_be_restricted_to_an_eval_set(two):
    evals = two.store.eval_sets
    suite = evals.create("suite")
    evals.add_items(suite.id, [("sky", [{"text": "What colour is the sky?"}])])
    item = evals.items(suite.id)[0]
    two.battle("ck-a", "ck-b", ["B", "B"], mode="replay", anonymous=False, eval_item_id=item.id)
    two.battle("ck-a", "ck-b", ["A"])
    assert scores(two.store) == {("ck-a", "ck-b"): 1.0, ("ck-b", "ck-a"): 2.0}
    assert scores(two.store, VoteFilters(eval_set="suite")) == {("ck-a", "ck-b"): 0.0, ("ck-b", "ck-a"): 2.0}
    assert scores(two.store, VoteFilters(include_replays=False)) == {("ck-a", "ck-b"): 1.0, ("ck-b", "ck-a"): 0.0}


def test_excluded_raters_and_date_range(two):
    two.battle("ck-a", "ck-b", ["A"], raters=["good", "careless"])
    careless = two.rater("careless")
    assert scores(two.store, VoteFilters(exclude_raters=frozenset({careless}))) == {
        ("ck-a", "ck-b"): 1.0, ("ck-b", "ck-a"): 0.0}
    assert scores(two.store, VoteFilters(until="2000-01-01")) == {}
    assert scores(two.store, VoteFilters(since="2000-01-01"))[("ck-a", "ck-b")] == 2.0
    with pytest.raises(ValidationError, match="date range is empty"):
        VoteFilters(since="2030-01-02", until="2030-01-01")


def test_known_strengths_are_recovered_from_stored_votes(arena):
    """Votes drawn from known strengths, written as real battles, fitted back."""
    rng = np.random.default_rng(3)
    names = [f"ck-{i}" for i in range(10)]
    strength = np.linspace(-1.2, 1.2, 10)
    for name in names:
        arena.checkpoint(name)
    for i in range(10):
        for j in range(i + 1, 10):
            p = 1 / (1 + np.exp(strength[j] - strength[i]))
            # 20 turns, each voted independently by 3 raters: 60 votes per pair.
            winners = np.where(rng.random((20, 3)) < p, "A", "B")
            arena.battle(names[i], names[j], [tuple(row) for row in winners], raters=["r1", "r2", "r3"])
    board = bradley_terry(load_pairs(arena.store), rounds=1000, seed=1)
    assert board.n_votes == 45 * 60
    order = [board.models.index(n) for n in names]
    rating, lower, upper = board.rating[order], board.lower[order], board.upper[order]
    truth = 1000 + SCALE * strength
    assert np.corrcoef(rating, truth)[0, 1] > 0.99
    assert ((lower <= truth) & (truth <= upper)).mean() >= 0.9


def test_a_best_pick_of_three_is_a_win_over_each_other_side(store):
    """A 3-way named arena stores one vote per turn (the best side); the leaderboard reads it
    as N-1 pairwise wins, learns nothing about the two others, and a tie holds for every pair."""
    from ift_chat.leaderboard.votes import vote_counts

    for name in ("m-a", "m-b", "m-c"):
        store.checkpoints.register(name)
    rater = store.raters.get_or_create("ann").id
    conv = store.conversations.create("arena-named", sides={"A": "m-a", "B": "m-b", "C": "m-c"})
    for n, winner in enumerate(["C", "tie"]):
        turn = store.conversations.add_turn(conv.id, f"q{n}", [])
        for side, name in (("A", "m-a"), ("B", "m-b"), ("C", "m-c")):
            rid = store.conversations.start_response(turn.id, side, name)
            store.conversations.finish_response(rid, text="r", status="ok")
        store.feedback.vote(turn.id, rater, winner, anonymous=False)
    counted = {(r["a"], r["b"], r["winner"]): r["n"] for r in vote_counts(store, VoteFilters(anonymous_only=False))}
    assert counted == {("m-a", "m-c", "B"): 1, ("m-b", "m-c", "B"): 1,  # C beat A and B
                       ("m-a", "m-b", "tie"): 1, ("m-a", "m-c", "tie"): 1, ("m-b", "m-c", "tie"): 1}
    won = scores(store, VoteFilters(anonymous_only=False))  # what the Bradley-Terry fit reads
    assert won[("m-c", "m-a")] == won[("m-c", "m-b")] == 1.5 and won[("m-a", "m-c")] == 0.5
    assert won[("m-a", "m-b")] == won[("m-b", "m-a")] == 0.5


def test_a_vote_names_a_side_of_its_conversation(store):
    for name in ("m-a", "m-b"):
        store.checkpoints.register(name)
    rater = store.raters.get_or_create("ann").id
    conv = store.conversations.create("arena-named", sides={"A": "m-a", "B": "m-b"})
    turn = store.conversations.add_turn(conv.id, "q", [])
    with pytest.raises(ValidationError, match="no side 'C'"):
        store.feedback.vote(turn.id, rater, "C", anonymous=False)
    assert store.query("select count(*) n from votes")[0]["n"] == 0
