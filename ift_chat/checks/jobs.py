"""Checking stored replies: the live recording hook and `checks run` over many replies."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Callable

from .checkers import check_reply
from .detection import detect
from .model import CHECKER_VERSION, Verdict
from .scope import active_constraints, active_from_detected, detect_earlier

log = logging.getLogger(__name__)

FINAL_STATUSES = ("ok", "stopped")
BATCH = 2000  # replies per transaction in `checks run`


def check_stored_response(store, response_id: int) -> list[Verdict] | None:
    """Verdicts of one stored final reply against what its conversation asked (not stored);
    None when there is no such reply or it is not final."""
    ctx = store.checks.reply_context(response_id)
    if ctx is None or ctx["status"] not in FINAL_STATUSES:
        return None
    return check_reply(ctx["text"], active_constraints(ctx["user_texts"]))


def record_for_response(store, response_id: int) -> list[Verdict]:
    """Check a reply just stored final and store its verdicts. Never raises: a checking bug
    must not fail the turn it checks (it is logged; `checks run` can redo it)."""
    try:
        verdicts = check_stored_response(store, response_id)
        if verdicts is None:
            return []
        # A fresh reply without constraints has no rows to replace: skip the write (an fsync).
        if verdicts or store.checks.for_response(response_id):
            store.checks.record(response_id, verdicts, CHECKER_VERSION)
        return verdicts
    except Exception:
        log.exception("checking response %s failed", response_id)
        return []


@dataclass(frozen=True)
class RunResult:
    conversations: int
    checked: int  # replies checked now
    skipped: int  # replies already checked at this CHECKER_VERSION
    rows: int  # verdict rows written


def run_checks(store, *, conversation_id: str | None = None, eval_set: str | None = None,
               force: bool = False, on_progress: Callable[[int, int], None] | None = None) -> RunResult:
    """(Re)check the final replies of one conversation, one eval set's replays, or all.

    Idempotent: replies already checked at CHECKER_VERSION are skipped unless `force`.
    A reply without any active constraint gets no rows, so it is re-examined each run."""
    ids = store.checks.conversations_to_check(conversation_id=conversation_id, eval_set=eval_set)
    rows = store.checks.final_replies(ids, CHECKER_VERSION)
    total = sum(r["response_id"] is not None for r in rows)
    checked = skipped = written = done = 0
    batch: list[tuple[int, list[Verdict]]] = []
    full: dict[str, list] = {}  # detections of this run, by text: replays repeat their prompts
    earlier: dict[str, list] = {}
    for _, conv_rows in groupby(rows, key=lambda r: r["conversation_id"]):
        conv_rows = list(conv_rows)
        turns = list({r["turn_id"]: r for r in conv_rows}.values())
        active: dict[int, list] = {}
        for r in conv_rows:
            if r["response_id"] is None:
                continue
            done += 1
            if r["checked"] and not force:
                skipped += 1
                continue
            if r["turn_id"] not in active:
                active[r["turn_id"]] = _active_for(r, turns, full, earlier)
            verdicts = check_reply(r["text"] or "", active[r["turn_id"]])
            if verdicts or r["has_rows"]:
                batch.append((r["response_id"], verdicts))
            checked += 1
            if len(batch) >= BATCH:
                written += store.checks.record_many(batch, CHECKER_VERSION)
                batch = []
            if on_progress and done % 500 == 0:
                on_progress(done, total)
    if batch:
        written += store.checks.record_many(batch, CHECKER_VERSION)
    if on_progress:
        on_progress(done, total)
    return RunResult(len(ids), checked, skipped, written)


def _active_for(me: dict, turns: list[dict], full: dict, earlier: dict) -> list:
    """Active constraints of a reply's turn: the live turns before it, then its own."""
    before = [t["user_text"] for t in turns if not t["turn_superseded"] and t["idx"] < me["idx"]]
    per_turn = []
    for n, text in enumerate(before):
        if text not in earlier:
            earlier[text] = detect_earlier(text, 0)
        per_turn.append(_renumber(earlier[text], n))
    if me["user_text"] not in full:
        full[me["user_text"]] = detect(me["user_text"])
    per_turn.append(_renumber(full[me["user_text"]], len(before)))
    return active_from_detected(per_turn)


def _renumber(constraints, source_turn: int):
    return [c if c.source_turn == source_turn else replace(c, source_turn=source_turn) for c in constraints]
