"""A rater's own progress in a task set (a named read model): how many items are left for them."""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Store

# Left for this rater: items they have not completed nor rated elsewhere, that still need a
# rating (fewer than k done or running leases) or that they hold right now.
_LEFT = """
select count(*) as items,
       coalesce(sum(not exists (select 1 from task_leases m where m.task_item_id = i.id
                                and m.rater_id = :rater and m.completed_at is not null)
                and not exists (select 1 from ratings g where g.response_id = i.response_id
                                and g.rater_id = :rater)
                and ((select count(*) from task_leases l where l.task_item_id = i.id
                        and (l.completed_at is not null or l.expires_at > :now)) < :k
                     or exists (select 1 from task_leases h where h.task_item_id = i.id
                                and h.rater_id = :rater and h.completed_at is null
                                and h.expires_at > :now))), 0) as left_
from task_items i where i.task_set_id = :set
"""


@dataclass(frozen=True)
class RaterProgress:
    left: int  # the item on screen included
    items: int

    @property
    def text(self) -> str:
        return f"{self.left} of {self.items} left"


def rater_progress(store: Store, task_set_id: int, k: int, rater_id: int, now: str) -> RaterProgress:
    row = store.query(_LEFT, {"rater": rater_id, "set": task_set_id, "k": k, "now": now})[0]
    return RaterProgress(left=row["left_"], items=row["items"])
