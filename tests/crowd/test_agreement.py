"""Agreement and rater quality, computed from ratings submitted through task sets."""

from __future__ import annotations

import math

import pytest

from ift_chat.crowd.agreement import agreement, majority, rater_stats
from ift_chat.crowd.auth import set_account
from ift_chat.crowd.quality import excluded_raters, gold_accuracy
from ift_chat.crowd.tasks import TaskFilters
from ift_chat.errors import PermissionDenied

nan = math.nan
# From the krippendorff library's docstring (after Krippendorff's own paper, p. 8):
# 4 coders x 12 units, ordinal alpha documented as 0.815.
DOC_EXAMPLE = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
               [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
               [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
               [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
FOLLOWED_OF_SCORE = {1: "no", 2: "no", 3: "partial", 4: "yes", 5: "yes"}


def lease(store, item_id, rater, clock):
    """Fixture set-up: give a specific item to a specific rater (next_item picks at random)."""
    with store.write() as db:
        db["task_leases"].insert({"task_item_id": item_id, "rater_id": rater.id,
                                  "leased_at": clock().isoformat(), "expires_at": "9999",
                                  "completed_at": None})


def rate_matrix(store, tasks, admin, clock, matrix, name="doc"):
    coders = [set_account(store, f"coder{n}", "rater", "password-c") for n in range(len(matrix))]
    task_set = tasks.create_set(admin, name, k=len(matrix), filters=TaskFilters(limit=len(matrix[0])))
    items = [i["id"] for i in tasks.items(admin, task_set.id)]
    for coder, row in zip(coders, matrix):
        for item_id, value in zip(items, row):
            if not math.isnan(value):
                lease(store, item_id, coder, clock)
                clock.advance(10 + value)
                tasks.submit(item_id, coder, FOLLOWED_OF_SCORE[int(value)], score=int(value))
    return task_set, coders, items


def test_score_alpha_matches_the_librarys_documented_example(store, tasks, admin, clock, responses):
    task_set, _, _ = rate_matrix(store, tasks, admin, clock, DOC_EXAMPLE)
    result = agreement(store, task_set.id)
    assert round(result.alpha_score, 3) == 0.815
    assert result.items_rated == 12


def test_followed_alpha_perfect_and_systematic_disagreement(store, tasks, admin, clock, responses):
    same = [[1, 3, 5, 1, 3, 5], [1, 3, 5, 1, 3, 5]]
    task_set, _, _ = rate_matrix(store, tasks, admin, clock, same, "same")
    assert agreement(store, task_set.id).alpha_followed == pytest.approx(1.0)
    opposite = [[1, 5, 1, 5], [5, 1, 5, 1]]
    task_set2, _, _ = _second(store, tasks, admin, clock, opposite)
    assert agreement(store, task_set2.id).alpha_followed < 0


def _second(store, tasks, admin, clock, matrix):
    coders = [set_account(store, f"other{n}", "rater", "password-o") for n in range(len(matrix))]
    task_set = tasks.create_set(admin, "opposite", k=2, filters=TaskFilters(limit=len(matrix[0])))
    items = [i["id"] for i in tasks.items(admin, task_set.id)]
    for coder, row in zip(coders, matrix):
        for item_id, value in zip(items, row):
            lease(store, item_id, coder, clock)
            tasks.submit(item_id, coder, FOLLOWED_OF_SCORE[value], score=value)
    return task_set, coders, items


def test_alpha_is_none_when_nothing_is_pairable(store, tasks, admin, clock, responses):
    task_set, _, _ = rate_matrix(store, tasks, admin, clock, [[1, nan], [nan, 3]], "lonely")
    result = agreement(store, task_set.id)
    assert result.alpha_followed is None and result.alpha_score is None


def test_majority_ties_have_none():
    assert majority(["yes", "yes", "no"]) == "yes"
    assert majority(["yes", "no"]) is None
    assert majority([]) is None


def test_rater_stats_count_time_agreement_and_gold(store, tasks, admin, clock, responses):
    # coder0, coder1 and coder3 agree everywhere; coder2 always says the opposite.
    matrix = [[5, 5, 1, 1, 5], [5, 5, 1, 1, 5], [1, 1, 5, 5, 1], [5, 5, 1, 1, 5]]
    task_set, coders, items = rate_matrix(store, tasks, admin, clock, matrix, "stats")
    tasks.mark_gold(admin, items, "yes")  # gold answer "yes" for all five items
    stats = {s.name: s for s in rater_stats(store, task_set.id, threshold=0.5, min_gold=5)}
    assert stats["coder0"].count == 5 and stats["coder0"].agreement == 1.0
    assert stats["coder2"].agreement == 0.0 and stats["coder2"].compared == 5
    assert stats["coder0"].median_seconds == 15.0  # 10 + value, median of 15,15,11,11,15
    assert (stats["coder0"].gold_correct, stats["coder0"].gold_total) == (3, 5)
    assert (stats["coder2"].gold_correct, stats["coder2"].gold_total) == (2, 5)
    assert stats["coder2"].excluded and not stats["coder0"].excluded
    assert gold_accuracy(store) == {coders[0].id: (3, 5), coders[1].id: (3, 5), coders[2].id: (2, 5),
                                    coders[3].id: (3, 5)}
    assert excluded_raters(store, threshold=0.5, min_gold=5) == {coders[2].id}
    assert excluded_raters(store, threshold=0.5, min_gold=6) == set()
    majorities = agreement(store, task_set.id).majorities
    assert [majorities[i] for i in items] == ["yes", "yes", "no", "no", "yes"]


def test_only_admins_mark_gold(tasks, admin, raters, responses):
    task_set = tasks.create_set(admin, "g", k=1)
    item = tasks.items(admin, task_set.id)[0]["id"]
    with pytest.raises(PermissionDenied):
        tasks.mark_gold(raters[0], [item], "yes")
    with pytest.raises(PermissionDenied):
        tasks.items(raters[0], task_set.id)
