"""Do raters agree? Krippendorff's alpha, per-item majority, per-rater stats.

Alpha comes from the ``krippendorff`` library (ordinal: no < partial < yes,
and the 1-5 score). Only ratings made through a task set count here, one per
completed lease, so chat-time ratings by the person who wrote the prompt do not.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

import krippendorff
import numpy as np

from ..store.db import Transactor
from ..store.models import FOLLOWED
from .quality import DEFAULT_MIN_GOLD, DEFAULT_THRESHOLD, gold_accuracy

FOLLOWED_RANK = {"no": 0, "partial": 1, "yes": 2}
SCORES = (1, 2, 3, 4, 5)

_TASK_RATINGS = """
select i.id as item_id, i.task_set_id, g.rater_id, g.followed, g.score,
       coalesce(g.seconds_spent,
                (julianday(l.completed_at) - julianday(l.leased_at)) * 86400.0) as seconds
from task_items i
join task_leases l on l.task_item_id = i.id and l.completed_at is not null
join ratings g on g.response_id = i.response_id and g.rater_id = l.rater_id
{where}
order by i.id, g.rater_id
"""


def task_ratings(store: Transactor, task_set_id: int | None = None) -> list[dict]:
    if task_set_id is None:
        return store.query(_TASK_RATINGS.format(where=""))
    return store.query(_TASK_RATINGS.format(where="where i.task_set_id = ?"), [task_set_id])


def reliability_data(rows: list[dict], field: str) -> np.ndarray:
    """raters × items matrix of ranks (followed) or scores, NaN where a rater did not rate."""
    raters = sorted({r["rater_id"] for r in rows})
    items = sorted({r["item_id"] for r in rows})
    matrix = np.full((len(raters), len(items)), np.nan)
    row_of = {rid: n for n, rid in enumerate(raters)}
    col_of = {iid: n for n, iid in enumerate(items)}
    for r in rows:
        value = FOLLOWED_RANK[r["followed"]] if field == "followed" else r["score"]
        if value is not None:
            matrix[row_of[r["rater_id"]], col_of[r["item_id"]]] = value
    return matrix


def ordinal_alpha(matrix: np.ndarray, value_domain) -> float | None:
    """Ordinal alpha, or None when it is undefined (no item rated twice, or no variation at all)."""
    pairable = (np.sum(~np.isnan(matrix), axis=0) >= 2).sum() if matrix.size else 0
    if pairable == 0:
        return None
    try:
        value = krippendorff.alpha(reliability_data=matrix, value_domain=list(value_domain),
                                   level_of_measurement="ordinal")
    except (ValueError, ZeroDivisionError):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def majority(values: list[str]) -> str | None:
    """The strict plurality answer; None on a tie or no values."""
    counts = Counter(values).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


@dataclass(frozen=True)
class Agreement:
    items_rated: int  # items with at least one rating
    items_with_majority: int
    alpha_followed: float | None
    alpha_score: float | None
    majorities: dict[int, str | None]  # item id -> majority 'followed'


def agreement(store: Transactor, task_set_id: int) -> Agreement:
    rows = task_ratings(store, task_set_id)
    by_item: dict[int, list[str]] = defaultdict(list)
    for r in rows:
        by_item[r["item_id"]].append(r["followed"])
    majorities = {item: majority(values) for item, values in by_item.items()}
    return Agreement(
        items_rated=len(by_item),
        items_with_majority=sum(m is not None for m in majorities.values()),
        alpha_followed=ordinal_alpha(reliability_data(rows, "followed"), range(len(FOLLOWED))),
        alpha_score=ordinal_alpha(reliability_data(rows, "score"), SCORES),
        majorities=majorities,
    )


@dataclass(frozen=True)
class RaterStats:
    rater_id: int
    name: str
    count: int
    median_seconds: float | None
    agreement: float | None  # share of items where they match the other raters' majority
    compared: int  # items that had such a majority
    gold_correct: int
    gold_total: int
    excluded: bool  # gold accuracy below the threshold

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_total if self.gold_total else None


def rater_stats(store: Transactor, task_set_id: int | None = None,
                threshold: float = DEFAULT_THRESHOLD, min_gold: int = DEFAULT_MIN_GOLD) -> list[RaterStats]:
    """One row per rater with task ratings (or gold answers), sorted by name."""
    rows = task_ratings(store, task_set_id)
    by_item: dict[int, dict[int, str]] = defaultdict(dict)
    times: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        by_item[r["item_id"]][r["rater_id"]] = r["followed"]
        if r["seconds"] is not None:
            times[r["rater_id"]].append(float(r["seconds"]))
    matches: dict[int, list[bool]] = defaultdict(list)
    for answers in by_item.values():
        for rater_id, followed in answers.items():
            others = majority([f for rid, f in answers.items() if rid != rater_id])
            if others is not None:
                matches[rater_id].append(followed == others)
    counts = Counter(r["rater_id"] for r in rows)
    gold = gold_accuracy(store)
    names = {r["id"]: r["name"] for r in store.query("select id, name from raters")}
    stats = []
    for rater_id in set(counts) | set(gold):
        correct, total = gold.get(rater_id, (0, 0))
        agree = matches.get(rater_id, [])
        stats.append(RaterStats(
            rater_id=rater_id, name=names.get(rater_id, "?"), count=counts.get(rater_id, 0),
            median_seconds=statistics.median(times[rater_id]) if times.get(rater_id) else None,
            agreement=sum(agree) / len(agree) if agree else None, compared=len(agree),
            gold_correct=correct, gold_total=total,
            excluded=total >= min_gold and correct / total < threshold))
    return sorted(stats, key=lambda s: s.name)
