"""Replay runs and their results, read from the store: which replay conversations belong to
one run of an evaluation set, and per item and round what each checkpoint replied (next to
the item's reference), how people rated it, how they voted and what the automatic checks said.

A run is not stored as such: `replay_eval_set` makes one conversation per (item, sample,
side plan), all with the same eval set, sampling params, history mode and rater. Those
conversations are grouped in creation order, and a new run starts when an (item, sample,
checkpoints) combination comes round again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import NotFound
from ..store import Store


@dataclass(frozen=True)
class ReplayRun:
    id: str  # its first conversation's id
    eval_set: str
    eval_set_id: int
    checkpoints: tuple[str, ...]
    history_mode: str | None
    started: str
    conversations: tuple[str, ...]
    items: int
    paired: bool  # A/B conversations (two checkpoints): votes possible

    @property
    def label(self) -> str:
        against = " vs ".join(self.checkpoints)
        return (f"{self.eval_set} · {against} · {self.items} item{'s' * (self.items != 1)} · "
                f"history {self.history_mode or 'own'} · {self.started[:16].replace('T', ' ')} UTC")


@dataclass
class _Open:
    key: tuple
    rows: list = field(default_factory=list)
    seen: set = field(default_factory=set)


def _key(row: dict) -> tuple:
    sides = row["sides"]
    paired = len(sides) == 2
    return (row["eval_set_id"], row["history_mode"], row["sampling_params"], row["rater_id"], paired,
            tuple(sorted(sides.values())) if paired else ())


def replay_runs(store: Store) -> list[ReplayRun]:
    """Every replay run, newest first."""
    open_runs: dict[tuple, _Open] = {}
    done: list[list[dict]] = []
    for row in store.browse.replay_conversations():
        key = _key(row)
        mark = (row["eval_item_id"], row["title"], tuple(sorted(row["sides"].values())))
        run = open_runs.get(key)
        if run is None or mark in run.seen:
            if run is not None:
                done.append(run.rows)
            run = open_runs[key] = _Open(key)
        run.rows.append(row)
        run.seen.add(mark)
    done.extend(r.rows for r in open_runs.values())
    runs = [_run(rows) for rows in done]
    return sorted(runs, key=lambda r: (r.started, r.id), reverse=True)


def _run(rows: list[dict]) -> ReplayRun:
    first = rows[0]
    checkpoints = tuple(dict.fromkeys(c for r in rows for c in sorted(r["sides"].values())))
    return ReplayRun(id=first["id"], eval_set=first["eval_set"], eval_set_id=first["eval_set_id"],
                     checkpoints=checkpoints, history_mode=first["history_mode"], started=first["created"],
                     conversations=tuple(r["id"] for r in rows),
                     items=len({r["eval_item_id"] for r in rows}), paired=len(first["sides"]) == 2)


def find_run(store: Store, run_id: str) -> ReplayRun:
    for run in replay_runs(store):
        if run.id == run_id:
            return run
    raise NotFound(f"no replay run {run_id!r}: pick one from the list (refresh it after a new replay)")


def _rating_text(ratings: list[dict]) -> str:
    bits = []
    for g in ratings:
        text = f"{g['rater']}: {g['followed']}" + (f" {g['score']}/5" if g["score"] else "")
        if g["tags"]:
            text += f" [{', '.join(g['tags'])}]"
        if g["comment"]:
            text += f" “{g['comment']}”"
        bits.append(text)
    return "; ".join(bits)


def _checks_text(checks: list[dict]) -> str:
    if not checks:
        return ""
    passed = sum(1 for c in checks if c["passed"])
    failed = [f"✗ {c['kind'].replace('_', ' ')}" + (f": {c['detail']}" if c["detail"] else "")
              for c in checks if not c["passed"]]
    return f"{passed}/{len(checks)} passed" + ("; " + "; ".join(failed) if failed else "")


def _all_passed(checks: list[dict]) -> bool | None:
    return all(c["passed"] for c in checks) if checks else None


def _vote_text(votes: list[dict], sides: dict[str, str]) -> str:
    names = {**sides, "tie": "tie", "both_bad": "both bad"}
    return "; ".join(f"{v['rater']}: {names.get(v['winner'], v['winner'])}" for v in votes)


def _reply(r: dict, ratings: list[dict], checks: list[dict]) -> dict:
    text = r["text"] if r["status"] != "error" else f"⚠️ error: {r['error'] or 'unknown'}"
    return {"text": text, "side": r["side"], "ratings": _rating_text(ratings), "checks": _checks_text(checks),
            "verdicts": [g["followed"] for g in ratings], "passed": _all_passed(checks)}


def run_results(store: Store, run: ReplayRun) -> list[dict]:
    """One row per (item, sample, round): the item's index, round, user text and reference,
    then per checkpoint its reply, human ratings and automatic checks, the votes (A/B runs,
    winners by checkpoint name) and the conversations to open ({id: their checkpoints})."""
    meta = {r["id"]: r for r in store.browse.replay_conversations() if r["id"] in set(run.conversations)}
    rounds = store.browse.replay_rounds(run.conversations)
    ratings = store.browse.ratings_of([r["response_id"] for r in rounds])
    checks = store.checks.for_responses([r["response_id"] for r in rounds if r["response_id"] is not None])
    votes = store.browse.votes_of([r["turn_id"] for r in rounds])
    references = {}
    rows: dict[tuple, dict] = {}
    for r in rounds:
        conv = meta[r["conversation_id"]]
        item = conv["eval_item_id"]
        if item not in references:
            references[item] = [x.get("reference") for x in store.eval_sets.item(item).rounds]
        key = (conv["item_idx"], conv["title"] or "", r["idx"])
        row = rows.setdefault(key, {
            "item": conv["item_idx"], "title": conv["title"] or "", "round": r["idx"],
            "user_text": r["user_text"],
            "reference": (references[item][r["idx"] - 1] if r["idx"] <= len(references[item]) else None) or "",
            "replies": {}, "votes": "", "conversations": {}})
        row["conversations"][r["conversation_id"]] = " vs ".join(conv["sides"].values())
        if r["response_id"] is not None:
            row["replies"][r["checkpoint"]] = _reply(r, ratings.get(r["response_id"], []),
                                                     checks.get(r["response_id"], []))
        if run.paired and votes.get(r["turn_id"]):
            row["votes"] = _vote_text(votes[r["turn_id"]], conv["sides"])
    return [rows[k] for k in sorted(rows)]


def run_summary(run: ReplayRun, rows: list[dict]) -> list[dict]:
    """Per checkpoint: replies, replies rated by people and how many of those ratings say
    "followed", replies with automatic checks and how many passed all of them."""
    out = {c: {"checkpoint": c, "replies": 0, "rated": 0, "followed": 0, "checked": 0, "all_checks_passed": 0}
           for c in run.checkpoints}
    for row in rows:
        for name, reply in row["replies"].items():
            s = out.setdefault(name, {"checkpoint": name, "replies": 0, "rated": 0, "followed": 0,
                                      "checked": 0, "all_checks_passed": 0})
            s["replies"] += 1
            s["rated"] += bool(reply["verdicts"])
            s["followed"] += reply["verdicts"].count("yes")
            if reply["passed"] is not None:
                s["checked"] += 1
                s["all_checks_passed"] += reply["passed"]
    return list(out.values())
