"""Rating tasks: task sets of responses, each to be rated by k distinct raters.

A rater asks for the next item and gets a *lease* on it; an abandoned lease
expires and the item goes back to the pool. Handing out an item and
submitting a rating each happen inside one ``store.write()`` transaction, so
concurrent raters can never push an item past k active-or-done leases, and a
rating is saved together with the completion of its lease or not at all.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from typing import Iterable

from ..errors import NotFound, PermissionDenied, ValidationError
from ..store import Store
from ..store.dates import DateRange
from ..store.db import check_name
from ..store.models import FOLLOWED, FromRow, Rater, Rating
from .auth import Clock, require_active, require_admin, stamp, utc_now
from .view import TaskView, build_view

MAX_K = 20
LEASE_RANGE_S = (30, 24 * 3600)


@dataclass(frozen=True)
class TaskSet(FromRow):
    id: int
    name: str
    k: int
    status: str
    created: str
    anonymous: int = 1
    filters: dict = field(default_factory=dict)
    lease_seconds: int = 900
    created_by: int | None = None
    closed: str | None = None


@dataclass(frozen=True)
class TaskFilters:
    """Which responses a task set takes; empty fields do not filter."""

    checkpoints: tuple[str, ...] = ()
    eval_set: str | None = None
    date_from: str | None = None  # a date (whole day) or date-time, UTC: store/dates.py
    date_to: str | None = None  # a date counts through that day
    only_unrated: bool = False
    limit: int | None = None

    def where(self, store: Store) -> tuple[list[str], list]:
        clauses, params = [], []
        if self.checkpoints:
            clauses.append(f"r.checkpoint in ({', '.join('?' * len(self.checkpoints))})")
            params += list(self.checkpoints)
        if self.eval_set:
            eval_set = store.eval_sets.by_name(self.eval_set)
            clauses.append("c.eval_item_id in (select id from eval_items where eval_set_id = ?)")
            params.append(eval_set.id)
        dated, bounds = DateRange.parse(self.date_from, self.date_to).where("r.created")
        clauses, params = clauses + dated, params + bounds
        if self.only_unrated:
            clauses.append("not exists (select 1 from ratings g where g.response_id = r.id)")
        return clauses, params


@dataclass(frozen=True)
class Progress:
    task_set: TaskSet
    items: int
    gold_items: int
    ratings_done: int  # completed leases
    items_complete: int  # items with k completed ratings
    active_leases: int

    @property
    def fraction(self) -> float:
        wanted = self.items * self.task_set.k
        return min(1.0, self.ratings_done / wanted) if wanted else 0.0


_SELECT_RESPONSES = """
select r.id from responses r
join turns t on t.id = r.turn_id
join conversations c on c.id = t.conversation_id
where r.status = 'ok' and r.superseded = 0 and t.superseded = 0 {extra}
order by r.id {limit}
"""

# Items this rater may take: not done by them, not rated by them elsewhere,
# and with fewer than k leases that are done or still running.
_PICK_ITEM = """
select id, taken from (
  select i.id as id,
         (select count(*) from task_leases l where l.task_item_id = i.id
            and (l.completed_at is not null or l.expires_at > :now)) as taken
  from task_items i
  where i.task_set_id = :set
    and not exists (select 1 from task_leases m where m.task_item_id = i.id
                    and m.rater_id = :rater and m.completed_at is not null)
    and not exists (select 1 from ratings g where g.response_id = i.response_id
                    and g.rater_id = :rater)
) where taken < :k
order by taken, random() limit 1
"""

_ACTIVE_LEASE = """
select l.task_item_id from task_leases l join task_items i on i.id = l.task_item_id
where i.task_set_id = ? and l.rater_id = ? and l.completed_at is null and l.expires_at > ?
order by l.leased_at limit 1
"""


class Tasks:
    """Task sets, leases and submissions; ``clock`` is injectable for tests."""

    def __init__(self, store: Store, clock: Clock = utc_now):
        self.store = store
        self.clock = clock

    # -- admin ----------------------------------------------------------------
    def create_set(self, admin: Rater, name: str, *, k: int = 2, filters: TaskFilters = TaskFilters(),
                   lease_seconds: int = 900, anonymous: bool = True) -> TaskSet:
        require_admin(admin)
        name = check_name(name, "task set name")
        if not 1 <= int(k) <= MAX_K:
            raise ValidationError(f"k (ratings per item) must be 1 to {MAX_K}, not {k}")
        if not LEASE_RANGE_S[0] <= int(lease_seconds) <= LEASE_RANGE_S[1]:
            raise ValidationError(f"a lease lasts {LEASE_RANGE_S[0]} s to {LEASE_RANGE_S[1]} s")
        clauses, params = filters.where(self.store)
        extra = "".join(f" and {c}" for c in clauses)
        limit = ""
        if filters.limit is not None:
            limit = " limit ?"
            params.append(max(0, int(filters.limit)))
        with self.store.write() as db:
            if db["task_sets"].count_where("name = ?", [name]):
                raise ValidationError(f"a task set named {name!r} already exists")
            ids = [r["id"] for r in db.query(_SELECT_RESPONSES.format(extra=extra, limit=limit), params)]
            if not ids:
                raise ValidationError("no finished responses match these filters; nothing to rate")
            set_id = db["task_sets"].insert({
                "name": name, "k": int(k), "anonymous": int(anonymous), "status": "open",
                "filters": json.dumps(asdict(filters)), "lease_seconds": int(lease_seconds),
                "created_by": admin.id, "created": stamp(self.clock())}).last_pk
            db["task_items"].insert_all({"task_set_id": set_id, "response_id": rid} for rid in ids)
        return self.get_set(set_id)

    def close_set(self, admin: Rater, task_set_id: int) -> TaskSet:
        require_admin(admin)
        self.get_set(task_set_id)
        with self.store.write() as db:
            db["task_sets"].update(task_set_id, {"status": "closed", "closed": stamp(self.clock())})
        return self.get_set(task_set_id)

    def mark_gold(self, admin: Rater, item_ids: Iterable[int], followed: str | None) -> int:
        """Set (or with None clear) the known answer of these items."""
        require_admin(admin)
        if followed is not None and followed not in FOLLOWED:
            raise ValidationError(f"a gold answer is one of {', '.join(FOLLOWED)}, not {followed!r}")
        item_ids = [int(i) for i in item_ids]
        with self.store.write() as db:
            missing = [i for i in item_ids if not db["task_items"].count_where("id = ?", [i])]
            if missing:
                raise NotFound(f"no task item(s) {', '.join(map(str, missing))}")
            for item_id in item_ids:
                db["task_items"].update(item_id, {"gold_followed": followed})
        return len(item_ids)

    def progress(self, admin: Rater, task_set_id: int) -> Progress:
        require_admin(admin)
        task_set = self.get_set(task_set_id)
        row = self.store.query("""
            select count(*) as items,
                   coalesce(sum(gold_followed is not null), 0) as gold,
                   coalesce(sum(done), 0) as done,
                   coalesce(sum(done >= :k), 0) as complete,
                   coalesce(sum(active), 0) as active
            from (select i.gold_followed,
                    (select count(*) from task_leases l where l.task_item_id = i.id
                       and l.completed_at is not null) as done,
                    (select count(*) from task_leases l where l.task_item_id = i.id
                       and l.completed_at is null and l.expires_at > :now) as active
                  from task_items i where i.task_set_id = :set)""",
            {"k": task_set.k, "now": stamp(self.clock()), "set": task_set_id})[0]
        return Progress(task_set, row["items"], row["gold"], row["done"], row["complete"], row["active"])

    def items(self, admin: Rater, task_set_id: int) -> list[dict]:
        """Items with checkpoint and gold answer: admin-only, it names checkpoints."""
        require_admin(admin)
        return self.store.query("""
            select i.id, i.response_id, r.checkpoint, i.gold_followed,
                   (select count(*) from task_leases l where l.task_item_id = i.id
                      and l.completed_at is not null) as done
            from task_items i join responses r on r.id = i.response_id
            where i.task_set_id = ? order by i.id""", [task_set_id])

    # -- both -----------------------------------------------------------------
    def get_set(self, task_set_id: int) -> TaskSet:
        rows = self.store.query("select * from task_sets where id = ?", [task_set_id])
        if not rows:
            raise NotFound(f"no task set {task_set_id}")
        return TaskSet.from_row(rows[0])

    def set_named(self, name: str, what: str = "task set") -> TaskSet:
        rows = self.store.query("select * from task_sets where name = ?", [name])
        if not rows:
            raise NotFound(f"no {what} named {name!r}")
        return TaskSet.from_row(rows[0])

    def sets(self, status: str | None = None) -> list[TaskSet]:
        sql, params = "select * from task_sets", []
        if status:
            sql, params = sql + " where status = ?", [status]
        return [TaskSet.from_row(r) for r in self.store.query(sql + " order by id", params)]

    # -- raters ---------------------------------------------------------------
    def next_item(self, task_set_id: int, rater: Rater) -> TaskView | None:
        """The rater's running lease, else a new lease on the least-covered item; None when done."""
        require_active(rater)
        moment = self.clock()
        now = stamp(moment)
        with self.store.write() as db:
            task_set = self._open_set(db, task_set_id)
            row = db.execute(_ACTIVE_LEASE, [task_set_id, rater.id, now]).fetchone()
            if row is not None:
                item_id = row[0]
            else:
                pick = list(db.query(_PICK_ITEM, {"now": now, "set": task_set_id,
                                                   "rater": rater.id, "k": task_set.k}))
                if not pick:
                    return None
                item_id = pick[0]["id"]
                expires = stamp(moment + datetime.timedelta(seconds=task_set.lease_seconds))
                db["task_leases"].insert({"task_item_id": item_id, "rater_id": rater.id,
                                          "leased_at": now, "expires_at": expires,
                                          "completed_at": None}, replace=True)
            return self.view(item_id, rater)

    def view(self, item_id: int, rater: Rater) -> TaskView:
        """What the rater sees of an item leased to them: dialog and reply, no checkpoint."""
        # One hold of the store's lock for all these reads: under load, taking it
        # once per query queues each request behind every other thread many times.
        with self.store.read():
            lease = self._lease(item_id, rater)
            item = self.store.query("select * from task_items where id = ?", [item_id])[0]
            task_set = self.get_set(item["task_set_id"])
            return build_view(self.store, item_id, task_set.id, task_set.name, item["response_id"],
                              lease["expires_at"], anonymous=bool(task_set.anonymous))

    def submit(self, item_id: int, rater: Rater, followed: str, score: int | None = None,
               tags: Iterable[str] = (), comment: str | None = None,
               corrected: str | None = None) -> Rating:
        """Save the rating and complete the lease in one transaction; resubmitting updates it.

        A late submit (lease expired) is still kept: a rater's work is never thrown
        away, so such an item may end with k+1 ratings.
        """
        require_active(rater)
        moment = self.clock()
        with self.store.write() as db:
            item = db.execute("select task_set_id, response_id from task_items where id = ?",
                              [item_id]).fetchone()
            if item is None:
                raise NotFound(f"no task item {item_id}")
            self._open_set(db, item[0])
            lease = self._lease(item_id, rater)
            done_at = lease["completed_at"] or stamp(moment)
            spent = (datetime.datetime.fromisoformat(done_at)
                     - datetime.datetime.fromisoformat(lease["leased_at"])).total_seconds()
            # Nested write: a savepoint inside this transaction (the store's lock is re-entrant).
            rating = self.store.feedback.rate(item[1], rater.id, followed, score=score, tags=tags,
                                              comment=comment, corrected_text=corrected,
                                              seconds_spent=round(spent, 3))
            db.execute("update task_leases set completed_at = ? where task_item_id = ? and rater_id = ?",
                       [done_at, item_id, rater.id])
        return rating

    def _open_set(self, db, task_set_id: int) -> TaskSet:
        rows = list(db.query("select * from task_sets where id = ?", [task_set_id]))
        if not rows:
            raise NotFound(f"no task set {task_set_id}")
        task_set = TaskSet.from_row(rows[0])
        if task_set.status != "open":
            raise ValidationError(f"the task set {task_set.name!r} is closed")
        return task_set

    def _lease(self, item_id: int, rater: Rater) -> dict:
        rows = self.store.query("select * from task_leases where task_item_id = ? and rater_id = ?",
                                [item_id, rater.id])
        if not rows:
            raise PermissionDenied("this item was not given to you; ask for the next task")
        return rows[0]
