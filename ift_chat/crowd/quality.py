"""Rater quality from gold items: items whose right answer the admin knows.

``gold_accuracy`` is the one number other modules (export filters, the
leaderboard) use to leave out raters who rate carelessly.
"""

from __future__ import annotations

from ..store.db import Transactor

# Raters need a few gold answers before a low score means anything.
DEFAULT_MIN_GOLD = 5
DEFAULT_THRESHOLD = 0.7

_GOLD_SQL = """
select r.rater_id as rater_id,
       sum(case when r.followed = g.gold_followed then 1 else 0 end) as correct,
       count(*) as total
from (select distinct response_id, gold_followed from task_items
      where gold_followed is not null) g
join ratings r on r.response_id = g.response_id
group by r.rater_id
"""


def gold_accuracy(store: Transactor) -> dict[int, tuple[int, int]]:
    """{rater_id: (correct, total)} over every gold item each rater has rated."""
    return {row["rater_id"]: (int(row["correct"]), int(row["total"]))
            for row in store.query(_GOLD_SQL)}


def excluded_raters(store: Transactor, threshold: float = DEFAULT_THRESHOLD,
                    min_gold: int = DEFAULT_MIN_GOLD) -> set[int]:
    """Raters whose gold accuracy is below ``threshold`` after at least ``min_gold`` gold items."""
    return {rater_id for rater_id, (correct, total) in gold_accuracy(store).items()
            if total >= min_gold and correct / total < threshold}
