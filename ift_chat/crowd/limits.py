"""Per-rater submission rate limit and rating-session expiry.

Both are plain objects owned by whoever serves raters (the tasks tab makes
one of each), never module globals; both take a clock so tests need no sleep.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable

from ..errors import AuthError, ValidationError

MonotonicClock = Callable[[], float]
PRUNE_EVERY_S = 60.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per key: ``burst`` submissions at once, then ``per_second`` on average."""

    def __init__(self, per_second: float = 1.0, burst: int = 5, clock: MonotonicClock = time.monotonic):
        if per_second <= 0 or burst < 1:
            raise ValidationError("a rate limit needs per_second > 0 and burst >= 1")
        self.per_second = per_second
        self.burst = burst
        self.clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> None:
        """Spend one token or raise ValidationError saying how long to wait."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_second)
            bucket.updated = now
            if bucket.tokens < 1:
                wait = (1 - bucket.tokens) / self.per_second
                raise ValidationError(f"too many submissions; wait {wait:.1f} s and submit again")
            bucket.tokens -= 1


@dataclass
class _Session:
    rater_id: int
    started: float
    seen: float


class Sessions:
    """A browser session (Gradio's session hash) ends after ``idle_s`` idle or ``max_age_s`` total."""

    def __init__(self, idle_s: float = 3600.0, max_age_s: float = 12 * 3600.0,
                 clock: MonotonicClock = time.monotonic):
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self.clock = clock
        self._sessions: dict[str, _Session] = {}
        self._expired: dict[str, float] = {}
        self._next_prune = clock() + PRUNE_EVERY_S
        self._lock = threading.Lock()

    def touch(self, session_key: str | None, rater_id: int) -> None:
        """Record activity; AuthError once the session is over (reload the page to start anew)."""
        if not session_key:
            return  # direct API call without a browser session: nothing to expire
        with self._lock:
            now = self.clock()
            self._forget_old(now)
            if session_key in self._expired:
                raise AuthError("your rating session expired; reload the page to start a new one")
            session = self._sessions.get(session_key)
            if session is None or session.rater_id != rater_id:
                self._sessions[session_key] = _Session(rater_id, now, now)
                return
            if now - session.seen > self.idle_s or now - session.started > self.max_age_s:
                del self._sessions[session_key]
                self._expired[session_key] = now
                raise AuthError("your rating session expired; reload the page to start a new one")
            session.seen = now

    def _forget_old(self, now: float) -> None:
        """Keep memory bounded: drop sessions idle for long and old expiry marks (once a minute)."""
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_S
        for key in [k for k, s in self._sessions.items() if now - s.seen > 2 * self.idle_s]:
            self._expired[key] = now
            del self._sessions[key]
        for key in [k for k, t in self._expired.items() if now - t > self.max_age_s]:
            del self._expired[key]
