"""DateRange: one meaning for every date filter (instants, half-open, UTC in the store), on a real
SQLite store through the filters that use it; and where it differs from the old text prefixes."""

from __future__ import annotations

import pytest

from ift_chat.crowd.tasks import TaskFilters
from ift_chat.dataloop.select import Filters, Selection
from ift_chat.errors import ValidationError
from ift_chat.leaderboard import RatingFilters, VoteFilters
from ift_chat.store.browse import BrowseFilters
from ift_chat.store.dates import DateRange

# Around Tokyo's midnights of 2026-12-01 (UTC+9): the last instant of 11-30, the first of 12-01,
# the last of 12-01 and the first of 12-02 there.
NEAR_MIDNIGHT = {
    "tokyo-11-30-end": "2026-11-30T14:59:59.999999+00:00",
    "tokyo-12-01-start": "2026-11-30T15:00:00.000000+00:00",
    "tokyo-12-01-end": "2026-12-01T14:59:59.999999+00:00",
    "tokyo-12-02-start": "2026-12-01T15:00:00.000000+00:00",
}


@pytest.fixture
def dated(store):
    """One conversation per NEAR_MIDNIGHT stamp, its `created` set to that stamp."""
    store.checkpoints.register("ckpt")
    ids = {}
    for label, created in NEAR_MIDNIGHT.items():
        conv = store.conversations.create("chat", sides={"single": "ckpt"})
        with store.write() as db:
            db["conversations"].update(conv.id, {"created": created})
        ids[conv.id] = label
    return store, ids


def browsed(store, ids, **filters) -> set[str]:
    return {ids[r["id"]] for r in store.browse.conversations(BrowseFilters(**filters))}


def selected(store, ids, **filters) -> set[str]:
    return {ids[c] for c in Selection(store, Filters(split="all", **filters)).conversation_ids()}


def test_a_date_is_the_whole_day_in_the_viewers_zone(dated):
    store, ids = dated
    assert browsed(store, ids, since="2026-12-01", until="2026-12-01", tz="Asia/Tokyo") == {
        "tokyo-12-01-start", "tokyo-12-01-end"}
    # The same typed day in UTC (the CLI's and the exports' zone) is another span of instants.
    assert selected(store, ids, since="2026-12-01", until="2026-12-01") == {
        "tokyo-12-01-end", "tokyo-12-02-start"}
    assert DateRange.parse("2026-12-01", "2026-12-01", "America/New_York") == DateRange(
        "2026-12-01T05:00:00.000000+00:00", "2026-12-02T05:00:00.000000+00:00")


def test_until_a_date_includes_its_last_instant_until_a_time_stops_at_it(dated):
    store, ids = dated
    assert selected(store, ids, until="2026-11-30") == {"tokyo-11-30-end", "tokyo-12-01-start"}
    assert selected(store, ids, until="2026-11-30T15:00:00+00:00") == {"tokyo-11-30-end"}
    assert selected(store, ids, since="2026-11-30T15:00:00+00:00") == {
        "tokyo-12-01-start", "tokyo-12-01-end", "tokyo-12-02-start"}
    assert DateRange.parse("", "") == DateRange() and DateRange().where("created") == ([], [])


@pytest.mark.parametrize("since, until", [("2026-12-02", "2026-12-01"),
                                          ("2026-12-01 10:00", "2026-12-01 10:00"),
                                          ("2026-12-01T12:00+02:00", "2026-12-01T10:00+00:00")])
def test_an_empty_range_is_refused_by_every_filter(store, since, until):
    for make in (lambda: DateRange.parse(since, until),
                 lambda: VoteFilters(since=since, until=until),
                 lambda: RatingFilters(since=since, until=until),
                 lambda: Filters(since=since, until=until).validate(),
                 lambda: TaskFilters(date_from=since, date_to=until).where(store),
                 lambda: store.browse.conversations(BrowseFilters(since=since, until=until))):
        with pytest.raises(ValidationError, match="date range is empty"):
            make()
    with pytest.raises(ValidationError, match="not a date"):
        DateRange.parse("yesterday", None)
    with pytest.raises(ValidationError, match="unknown time zone"):
        DateRange.parse("2026-12-01", None, "Mars/Olympus")


def old_prefix_until(store, created: str, until: str) -> bool:
    """What the leaderboard and exports used to count: `substr(created, 1, length(until)) <= until`."""
    return bool(store.query("select substr(?, 1, length(?)) <= ? as kept", [created, until, until])[0]["kept"])


def test_where_the_old_text_prefixes_were_wrong(dated):
    store, ids = dated
    # An offset was compared as text: 15:00 UTC is after 23:30+09:00 (14:30 UTC), yet it was kept.
    until = "2026-11-30T23:30+09:00"
    assert old_prefix_until(store, NEAR_MIDNIGHT["tokyo-12-01-start"], until)
    assert selected(store, ids, until=until) == set()
    # A time kept the rest of its minute: 14:59:59.999999 passed "until 14:59".
    until = "2026-11-30T14:59"
    assert old_prefix_until(store, NEAR_MIDNIGHT["tokyo-11-30-end"], until)
    assert selected(store, ids, until=until) == set()
    # A since with an offset, compared as text (`created >= :since`), dropped an instant inside.
    since = "2026-12-01T20:00+09:00"  # = 2026-12-01T11:00 UTC
    assert NEAR_MIDNIGHT["tokyo-12-01-end"] < since
    assert selected(store, ids, since=since) == {"tokyo-12-01-end", "tokyo-12-02-start"}
    # A date with no time, the common case, means the same as before: the whole UTC day.
    assert not old_prefix_until(store, NEAR_MIDNIGHT["tokyo-12-02-start"], "2026-11-30")
    assert selected(store, ids, until="2026-11-30") == {"tokyo-11-30-end", "tokyo-12-01-start"}
