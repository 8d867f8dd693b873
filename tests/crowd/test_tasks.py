"""Task sets: overlap k from distinct raters, leases that expire, atomic submits."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from ift_chat.crowd.tasks import TaskFilters
from ift_chat.errors import PermissionDenied, ValidationError

from .conftest import CHECKPOINTS, add_dialog


def rate_until_done(tasks, set_id, raters):
    """Round-robin raters asking for and rating items until nobody gets one; returns handouts."""
    handed = []
    active = list(raters)
    while active:
        for rater in list(active):
            view = tasks.next_item(set_id, rater)
            if view is None:
                active.remove(rater)
                continue
            handed.append((view.item_id, rater.id))
            tasks.submit(view.item_id, rater, "yes", score=4)
    return handed


def test_three_raters_twenty_items_k2_each_item_gets_two_distinct_raters(store, tasks, admin, raters, responses):
    task_set = tasks.create_set(admin, "batch 1", k=2)
    handed = rate_until_done(tasks, task_set.id, raters)

    assert len(handed) == 40 and len(set(handed)) == 40  # no rater got an item twice
    per_item = Counter(item for item, _ in handed)
    assert len(per_item) == 20 and set(per_item.values()) == {2}
    rows = store.query("""select i.id, count(distinct g.rater_id) as n, count(*) as total
        from task_items i join ratings g on g.response_id = i.response_id
        where i.task_set_id = ? group by i.id""", [task_set.id])
    assert len(rows) == 20 and all(r["n"] == 2 and r["total"] == 2 for r in rows)
    progress = tasks.progress(admin, task_set.id)
    assert (progress.items, progress.ratings_done, progress.items_complete, progress.fraction) == (20, 40, 20, 1.0)
    # Least-covered first: with 3 raters the load is spread, nobody rated everything.
    loads = Counter(r for _, r in handed).values()
    assert len(loads) == 3 and max(loads) - min(loads) <= 2


def test_lease_expires_and_item_is_reissued(tasks, admin, raters, responses, clock, store):
    task_set = tasks.create_set(admin, "two items", k=1, lease_seconds=60,
                                filters=TaskFilters(limit=2))
    a, b, c = raters
    first, second = tasks.next_item(task_set.id, a), tasks.next_item(task_set.id, b)
    assert first.item_id != second.item_id
    assert tasks.next_item(task_set.id, c) is None  # both items leased, k=1
    assert tasks.next_item(task_set.id, a).item_id == first.item_id  # same lease back, not a new one
    clock.advance(59)
    assert tasks.next_item(task_set.id, c) is None
    clock.advance(2)  # both leases are now expired
    reissued = tasks.next_item(task_set.id, c)
    assert reissued.item_id in {first.item_id, second.item_id}
    # The late rater's work still counts: their lease row remains theirs.
    tasks.submit(first.item_id, a, "no", score=1)
    assert store.query("select count(*) as n from ratings where rater_id = ?", [a.id])[0]["n"] == 1


def test_submit_is_idempotent_and_requires_a_lease(tasks, admin, raters, responses, store, clock):
    task_set = tasks.create_set(admin, "s", k=2)
    view = tasks.next_item(task_set.id, raters[0])
    clock.advance(12.5)
    tasks.submit(view.item_id, raters[0], "partial", score=3, tags=["repetition"], comment="ok")
    clock.advance(30)
    rating = tasks.submit(view.item_id, raters[0], "no", score=2)
    assert (rating.followed, rating.score, rating.seconds_spent) == ("no", 2, 12.5)
    assert store.query("select count(*) as n from ratings")[0]["n"] == 1
    assert tasks.progress(admin, task_set.id).ratings_done == 1
    with pytest.raises(PermissionDenied):
        tasks.submit(view.item_id, raters[1], "yes")  # never leased to rater1
    with pytest.raises(ValidationError):
        tasks.submit(view.item_id, raters[0], "maybe")
    assert tasks.submit(view.item_id, raters[0], "no", score=2).followed == "no"


def test_bad_input_writes_nothing(tasks, admin, raters, responses, store):
    task_set = tasks.create_set(admin, "s", k=1)
    view = tasks.next_item(task_set.id, raters[0])
    with pytest.raises(ValidationError):
        tasks.submit(view.item_id, raters[0], "yes", score=9)
    assert store.query("select count(*) as n from ratings")[0]["n"] == 0
    assert store.query("select count(*) as n from task_leases where completed_at is not null")[0]["n"] == 0
    with pytest.raises(ValidationError, match="no finished responses"):
        tasks.create_set(admin, "empty", filters=TaskFilters(checkpoints=("nope",)))
    with pytest.raises(ValidationError, match="already exists"):
        tasks.create_set(admin, "s")
    with pytest.raises(ValidationError, match="k"):
        tasks.create_set(admin, "k0", k=0)
    assert [s.name for s in tasks.sets()] == ["s"]


def test_filters_pick_checkpoint_date_and_unrated(tasks, admin, raters, responses, store):
    store.feedback.rate(responses[0], raters[0].id, "yes")  # responses[0] is ckpt-alpha
    only_alpha = tasks.create_set(admin, "alpha", filters=TaskFilters(checkpoints=(CHECKPOINTS[0],)))
    assert {i["checkpoint"] for i in tasks.items(admin, only_alpha.id)} == {CHECKPOINTS[0]}
    unrated = tasks.create_set(admin, "unrated", filters=TaskFilters(only_unrated=True))
    assert len(tasks.items(admin, unrated.id)) == 19
    today = store.query("select substr(created, 1, 10) as d from responses limit 1")[0]["d"]
    dated = tasks.create_set(admin, "today", filters=TaskFilters(date_from=today, date_to=today))
    assert len(tasks.items(admin, dated.id)) == 20
    with pytest.raises(ValidationError, match="no finished"):
        tasks.create_set(admin, "past", filters=TaskFilters(date_to="2000-01-01"))
    with pytest.raises(ValidationError, match="not a date"):
        tasks.create_set(admin, "bad", filters=TaskFilters(date_from="yesterday"))


def test_rater_who_rated_elsewhere_is_not_given_that_item(tasks, admin, raters, responses, store):
    task_set = tasks.create_set(admin, "s", k=3, filters=TaskFilters(limit=1))
    store.feedback.rate(responses[0], raters[0].id, "yes")
    assert tasks.next_item(task_set.id, raters[0]) is None
    assert tasks.next_item(task_set.id, raters[1]) is not None


def test_concurrent_next_item_never_exceeds_k(store, tasks, admin, responses):
    from ift_chat.crowd.auth import set_account
    crowd = [set_account(store, f"crowd{i}", "rater", "password-x") for i in range(12)]
    task_set = tasks.create_set(admin, "race", k=2, filters=TaskFilters(limit=3))
    got, barrier = [], threading.Barrier(len(crowd))

    def grab(rater):
        barrier.wait()
        view = tasks.next_item(task_set.id, rater)
        if view is not None:
            got.append(view.item_id)

    threads = [threading.Thread(target=grab, args=(r,)) for r in crowd]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 6 and set(Counter(got).values()) == {2}


def test_concurrent_submits_lose_nothing(store, tasks, admin, responses):
    from ift_chat.crowd.auth import set_account
    crowd = [set_account(store, f"crowd{i}", "rater", "password-x") for i in range(8)]
    task_set = tasks.create_set(admin, "burst", k=8, filters=TaskFilters(limit=5))
    first = [tasks.next_item(task_set.id, r) for r in crowd]  # everyone holds an item already
    errors, barrier = [], threading.Barrier(len(crowd))

    def work(rater):
        barrier.wait()
        try:
            while (view := tasks.next_item(task_set.id, rater)) is not None:
                tasks.submit(view.item_id, rater, "partial", score=3, comment=f"by {rater.name}")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in crowd]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(view is not None for view in first)
    rows = store.query("select response_id, rater_id, comment from ratings")
    assert len(rows) == 40 and len({(r["response_id"], r["rater_id"]) for r in rows}) == 40
    assert all(r["comment"] == f"by {store.raters.get(r['rater_id']).name}" for r in rows)


def test_closed_set_hands_out_and_accepts_nothing(tasks, admin, raters, responses):
    task_set = tasks.create_set(admin, "s", k=1)
    view = tasks.next_item(task_set.id, raters[0])
    tasks.close_set(admin, task_set.id)
    with pytest.raises(ValidationError, match="closed"):
        tasks.next_item(task_set.id, raters[1])
    with pytest.raises(ValidationError, match="closed"):
        tasks.submit(view.item_id, raters[0], "yes")


def test_anonymous_view_never_names_the_checkpoint(store, tasks, admin, raters, make_png):
    store.checkpoints.register("secret-ckpt-7b")
    add_dialog(store, "secret-ckpt-7b", [("Describe the image.", "A red square. I am SECRET-CKPT-7B."),
                                          ("Shorter please, secret-ckpt-7b", "Red.")], image=make_png())
    task_set = tasks.create_set(admin, "anon", k=1)
    views = []
    while (view := tasks.next_item(task_set.id, raters[0])) is not None:
        views.append(view)
        tasks.submit(view.item_id, raters[0], "yes")
    assert len(views) == 2
    last = max(views, key=lambda v: len(v.rounds))
    assert [r.user_text for r in last.rounds] == ["Describe the image.", "Shorter please, [model]"]
    assert last.rounds[0].reply == "A red square. I am [model]." and last.reply == "Red."
    assert len(last.rounds[0].image_paths) == 1
    assert "secret" not in repr(views).lower()
    # No ratings travel with the view either (nobody sees others' ratings first).
    assert "followed" not in repr(views)


def test_named_set_shows_the_checkpoint(tasks, admin, raters, responses):
    task_set = tasks.create_set(admin, "named", k=1, anonymous=False, filters=TaskFilters(limit=1))
    view = tasks.next_item(task_set.id, raters[0])
    assert view.checkpoint == CHECKPOINTS[0]
    anonymous = tasks.create_set(admin, "blind", k=1, filters=TaskFilters(limit=1))
    assert tasks.next_item(anonymous.id, raters[1]).checkpoint is None
