"""Per-round instruction following and error tags from stored ratings."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from ift_chat.errors import ValidationError
from ift_chat.leaderboard.following import (RatingFilters, by_round, by_tag, curve, load_ratings,
                                            wilson_interval)


def test_follows_rounds_one_and_two_then_fails_round_three(arena):
    arena.checkpoint("ck-x")
    arena.dialog("ck-x", [["yes"], ["yes"], ["no"]])
    arena.dialog("ck-x", [["yes"], ["yes"], ["no"]], raters=["r2"])
    table = by_round(load_ratings(arena.store))
    assert curve(table, "ck-x") == [1.0, 1.0, 0.0]
    assert table["round"].tolist() == [1, 2, 3]
    assert table["responses"].tolist() == [2, 2, 2]


def test_partial_is_half_and_raters_are_averaged_or_majority(arena):
    arena.checkpoint("ck-y")
    # round 1: yes/yes/no; round 2: partial/partial/yes.
    arena.dialog("ck-y", [["yes", "yes", "no"], ["partial", "partial", "yes"]], raters=["r1", "r2", "r3"])
    ratings = load_ratings(arena.store)
    assert curve(by_round(ratings, "mean"), "ck-y") == pytest.approx([2 / 3, 2 / 3])
    assert curve(by_round(ratings, "majority"), "ck-y") == [1.0, 0.5]


def test_curves_are_per_checkpoint_and_skip_superseded_replies(arena):
    arena.checkpoint("ck-x")
    arena.checkpoint("ck-z")
    arena.dialog("ck-x", [["yes"], ["no"]])
    [first, _] = arena.dialog("ck-z", [["no"], ["yes"]])
    turn_id = arena.store.conversations.response(first).turn_id
    arena.store.conversations.supersede_responses(turn_id)  # regenerated; its rating no longer counts
    table = by_round(load_ratings(arena.store))
    assert curve(table, "ck-x") == [1.0, 0.0]
    assert curve(table, "ck-z") == [1.0]
    assert table[table["checkpoint"] == "ck-z"]["round"].tolist() == [2]


def test_excluded_raters_and_checkpoint_filter(arena):
    arena.checkpoint("ck-x")
    arena.checkpoint("ck-z")
    arena.dialog("ck-x", [["yes", "no"]], raters=["good", "careless"])
    arena.dialog("ck-z", [["no"]], raters=["good"])
    careless = arena.rater("careless")
    table = by_round(load_ratings(arena.store, RatingFilters(exclude_raters=frozenset({careless}),
                                                             checkpoints=("ck-x",))))
    assert table["checkpoint"].tolist() == ["ck-x"]
    assert curve(table, "ck-x") == [1.0]


def test_error_tag_rates_per_checkpoint(arena):
    arena.checkpoint("ck-x")
    arena.dialog("ck-x", [["no", "no"], ["yes", "yes"]], raters=["r1", "r2"],
                 tags=[["answered_earlier_turn"], []])
    table = by_tag(load_ratings(arena.store))
    rate = dict(zip(table["tag"], table["rate"]))
    assert rate["answered_earlier_turn"] == pytest.approx(0.5)  # one of two responses
    assert rate["repetition"] == 0.0
    assert set(table["responses"]) == {2}
    per_round = by_tag(load_ratings(arena.store), per_round=True).set_index(["round", "tag"])["rate"]
    assert per_round[(1, "answered_earlier_turn")] == 1.0 and per_round[(2, "answered_earlier_turn")] == 0.0


def test_wilson_interval_matches_scipy_for_whole_successes():
    for k, n in [(0, 5), (3, 10), (10, 10), (47, 120)]:
        lower, upper = wilson_interval(np.array([k / n]), np.array([n]), 0.95)
        ref = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert (lower[0], upper[0]) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_no_ratings_gives_empty_tables_and_bad_options_are_refused(store):
    ratings = load_ratings(store)
    assert by_round(ratings).empty and by_tag(ratings).empty
    with pytest.raises(ValidationError, match="aggregate"):
        RatingFilters(aggregate="mode")
