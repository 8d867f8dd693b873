"""One meaning for a date filter: a half-open span of instants, ``since <= created < until``.

What people type: a date (``2026-12-01``: that whole day in the given time zone), a date and
time (``2026-12-01 09:30``, in that zone) or an ISO date-time with its own offset
(``2026-12-01T09:30+01:00``); empty means open on that side. ``since`` is the first instant
counted; ``until`` a date counts through that whole day, a date-time up to (not including)
that instant. The store keeps ``created`` as UTC ISO text with microseconds (``stamp``), which
sorts as time; the bounds are made in the same form, so SQL compares them as text."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from ..errors import ValidationError

UTC = datetime.timezone.utc


def stamp(moment: datetime.datetime) -> str:
    """The store's timestamp format (ISO, UTC, microseconds): sorts as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def time_zone(name: str | None) -> zoneinfo.ZoneInfo:
    """A time zone by its IANA name (empty: UTC), or a ValidationError."""
    name = (name or "").strip() or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {name!r}: use a name like Europe/Berlin or UTC") from None


@dataclass(frozen=True)
class DateRange:
    """UTC stamps: ``since`` inclusive, ``until`` exclusive; None = open."""

    since: str | None = None
    until: str | None = None

    @classmethod
    def parse(cls, since: str | None, until: str | None, tz: str | datetime.tzinfo | None = None) -> DateRange:
        """From typed text, naive values in ``tz`` (a zone, its name, or None for UTC)."""
        zone = tz if isinstance(tz, datetime.tzinfo) else time_zone(tz)
        span = cls(_bound(since, zone, end=False), _bound(until, zone, end=True))
        if span.since and span.until and span.since >= span.until:
            raise ValidationError(f"the date range is empty: from {since.strip()} is not before "
                                  f"to {until.strip()}")
        return span

    def where(self, column: str) -> tuple[list[str], list[str]]:
        """SQL conditions on ``column`` and their parameters (none for an open range)."""
        clauses, params = [], []
        if self.since:
            clauses.append(f"{column} >= ?")
            params.append(self.since)
        if self.until:
            clauses.append(f"{column} < ?")
            params.append(self.until)
        return clauses, params


def _bound(text: str | None, zone: datetime.tzinfo, end: bool) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:  # a date: the day starts (and, as an end, the next day starts) in `zone`
            day = datetime.date.fromisoformat(text) + datetime.timedelta(days=int(end))
            return stamp(datetime.datetime.combine(day, datetime.time(), zone))
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"not a date: {text!r} (write 2026-12-01, 2026-12-01 14:30 "
                              "or an ISO date-time with its offset)") from None
    return stamp(moment if moment.tzinfo else moment.replace(tzinfo=zone))
