"""Read models for the conversation browser and the replay results view (no writes).

Blind battles stay blind here too: an anonymous battle that its owner has not revealed yet
lists no checkpoint, a checkpoint filter never matches it (a match would name its side), and a
text search looks only at its user messages (a reply may say who wrote it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from ..errors import ValidationError
from .dates import DateRange
from .db import Transactor
from .models import ERROR_TAGS, FOLLOWED

BATTLE = "arena-anonymous"
VERDICTS = (*FOLLOWED, "unrated")
MAX_ROWS = 1000
# A battle whose names may be shown: any other mode, or a battle its owner revealed.
_NAMED = f"(c.mode != '{BATTLE}' or c.revealed is not null)"


@dataclass(frozen=True)
class BrowseFilters:
    """What the browser filters on; ``since``/``until`` as typed, naive ones in ``tz`` (store/dates.py)."""

    modes: tuple[str, ...] = ()
    checkpoint: str | None = None
    eval_set: str | None = None
    min_rounds: int | None = None
    max_rounds: int | None = None
    verdict: str | None = None  # one of VERDICTS: a reply rated so, or no rating at all
    tag: str | None = None
    rater: str | None = None  # owns it, rated in it or voted in it
    since: str | None = None
    until: str | None = None
    text: str | None = None
    tz: str = "UTC"
    limit: int = 200

    @property
    def dates(self) -> DateRange:
        return DateRange.parse(self.since, self.until, self.tz)

    def check(self) -> None:
        if self.verdict and self.verdict not in VERDICTS:
            raise ValidationError(f"the rating verdict must be one of {', '.join(VERDICTS)}")
        if self.tag and self.tag not in ERROR_TAGS:
            raise ValidationError(f"unknown error tag {self.tag!r}")
        for value in (self.min_rounds, self.max_rounds):
            if value is not None and not 0 <= value <= 10_000:
                raise ValidationError("round counts go from 0 to 10,000")
        if self.min_rounds is not None and self.max_rounds is not None and self.min_rounds > self.max_rounds:
            raise ValidationError(f"no conversation has at least {self.min_rounds} and at most "
                                  f"{self.max_rounds} rounds")
        DateRange.parse(self.since, self.until, self.tz)  # a bad or empty range: a clear error
        if not 1 <= self.limit <= MAX_ROWS:
            raise ValidationError(f"show between 1 and {MAX_ROWS:,} conversations")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_ROUNDS = "(select count(*) from turns t where t.conversation_id = c.id and t.superseded = 0)"
_RATED = """exists(select 1 from ratings g join responses r on r.id = g.response_id
                   join turns t on t.id = r.turn_id where t.conversation_id = c.id{extra})"""


def _where(f: BrowseFilters) -> tuple[list[str], list]:
    where, params = ["1=1"], []

    def add(sql: str, *values) -> None:
        where.append(sql)
        params.extend(values)

    if f.modes:
        add(f"c.mode in ({', '.join('?' * len(f.modes))})", *f.modes)
    if f.checkpoint:
        add(f"{_NAMED} and exists(select 1 from conversation_sides s where s.conversation_id = c.id "
            "and s.checkpoint = ?)", f.checkpoint)
    if f.eval_set:
        add("exists(select 1 from eval_items i join eval_sets e on e.id = i.eval_set_id "
            "where i.id = c.eval_item_id and e.name = ?)", f.eval_set)
    if f.min_rounds is not None:
        add(f"{_ROUNDS} >= ?", f.min_rounds)
    if f.max_rounds is not None:
        add(f"{_ROUNDS} <= ?", f.max_rounds)
    if f.verdict == "unrated":
        add("not " + _RATED.format(extra=""))
    elif f.verdict:
        add(_RATED.format(extra=" and g.followed = ?"), f.verdict)
    if f.tag:
        add(_RATED.format(extra=" and exists(select 1 from json_each(g.tags) j where j.value = ?)"), f.tag)
    if f.rater:
        add("""(exists(select 1 from raters w where w.id = c.rater_id and w.name = ?)
                or """ + _RATED.format(extra=" and g.rater_id = (select id from raters where name = ?)") + """
                or exists(select 1 from votes v join turns t on t.id = v.turn_id where t.conversation_id = c.id
                          and v.rater_id = (select id from raters where name = ?)))""", f.rater, f.rater, f.rater)
    for clause, bound in zip(*f.dates.where("c.created")):
        add(clause, bound)
    if f.text:
        pattern = _like(f.text)
        add(f"""(c.title like ? escape '\\'
                 or exists(select 1 from turns t where t.conversation_id = c.id and t.user_text like ? escape '\\')
                 or ({_NAMED} and exists(select 1 from responses r join turns t on t.id = r.turn_id
                     where t.conversation_id = c.id and r.text like ? escape '\\')))""",
            pattern, pattern, pattern)
    return where, params


class Browse:
    def __init__(self, tx: Transactor):
        self.tx = tx

    def conversations(self, filters: BrowseFilters) -> list[dict]:
        """The conversations matching ``filters``, newest first, as rows of {id, mode, created,
        title, revealed, blind, checkpoints (empty while blind), rounds, first_message, owner,
        ratings, verdicts {yes, partial, no}, votes, eval_set}."""
        filters.check()
        where, params = _where(filters)
        rows = self.tx.query(f"""
            select c.id, c.mode, c.created, c.title, c.revealed, {_ROUNDS} rounds,
                   not {_NAMED} blind,
                   (select w.name from raters w where w.id = c.rater_id) owner,
                   (select e.name from eval_items i join eval_sets e on e.id = i.eval_set_id
                    where i.id = c.eval_item_id) eval_set,
                   (select t.user_text from turns t where t.conversation_id = c.id and t.superseded = 0
                    order by t.idx, t.id limit 1) first_message,
                   (select count(*) from votes v join turns t on t.id = v.turn_id
                    where t.conversation_id = c.id) votes,
                   (select json_group_array(g.followed) from ratings g join responses r on r.id = g.response_id
                    join turns t on t.id = r.turn_id where t.conversation_id = c.id) verdicts
            from conversations c where {' and '.join(where)}
            order by c.created desc, c.id limit ?""", [*params, filters.limit])
        sides = self._sides([r["id"] for r in rows if not r["blind"]])
        for row in rows:
            verdicts = json.loads(row.pop("verdicts") or "[]")
            row["blind"] = bool(row["blind"])
            row["ratings"] = len(verdicts)
            row["verdicts"] = {v: verdicts.count(v) for v in FOLLOWED}
            row["checkpoints"] = [] if row["blind"] else sides.get(row["id"], [])
        return rows

    def _sides(self, ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            for r in self.tx.query(
                    f"""select conversation_id, checkpoint from conversation_sides
                        where conversation_id in ({', '.join('?' * len(chunk))}) order by conversation_id, side""",
                    chunk):
                found.setdefault(r["conversation_id"], []).append(r["checkpoint"])
        return found

    def modes(self) -> list[str]:
        return [r["mode"] for r in self.tx.query("select distinct mode from conversations order by mode")]

    def rater_names(self) -> list[str]:
        return [r["name"] for r in self.tx.query("select name from raters order by name")]

    # -- replays ---------------------------------------------------------------------
    def replay_conversations(self) -> list[dict]:
        """Every replay conversation with its eval set, item, sides, sampling and history mode,
        oldest first (what `replay_runs` groups)."""
        rows = self.tx.query("""
            select c.id, c.created, c.title, c.rater_id, c.sampling_params, c.history_mode,
                   c.eval_item_id, i.idx item_idx, e.id eval_set_id, e.name eval_set,
                   (select json_group_object(s.side, s.checkpoint) from conversation_sides s
                    where s.conversation_id = c.id) sides
            from conversations c join eval_items i on i.id = c.eval_item_id
            join eval_sets e on e.id = i.eval_set_id
            where c.mode = 'replay' order by c.created, c.id""")
        for row in rows:
            row["sides"] = json.loads(row["sides"] or "{}")
        return rows

    def replay_rounds(self, conversation_ids: Sequence[str]) -> list[dict]:
        """The current (not superseded) turns of these conversations with their replies:
        rows of {conversation_id, turn_id, idx, user_text, response_id, side, checkpoint,
        text, status, error}."""
        out: list[dict] = []
        for start in range(0, len(conversation_ids), 500):
            chunk = list(conversation_ids[start:start + 500])
            out.extend(self.tx.query(f"""
                select t.conversation_id, t.id turn_id, t.idx, t.user_text, r.id response_id, r.side,
                       r.checkpoint, r.text, r.status, r.error
                from turns t left join responses r on r.turn_id = t.id and r.superseded = 0
                where t.superseded = 0 and t.conversation_id in ({', '.join('?' * len(chunk))})
                order by t.conversation_id, t.idx, t.id, r.side, r.id""", chunk))
        return out

    def ratings_of(self, response_ids: Sequence[int]) -> dict[int, list[dict]]:
        """Human ratings per reply: {response_id: [{rater, followed, score, tags, comment}]}."""
        found: dict[int, list[dict]] = {}
        ids = list(dict.fromkeys(i for i in response_ids if i is not None))
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for r in self.tx.query(f"""
                    select g.response_id, w.name rater, g.followed, g.score, g.tags, g.comment
                    from ratings g join raters w on w.id = g.rater_id
                    where g.response_id in ({', '.join('?' * len(chunk))}) order by g.response_id, w.name""",
                    chunk):
                found.setdefault(r["response_id"], []).append({**r, "tags": json.loads(r["tags"] or "[]")})
        return found

    def votes_of(self, turn_ids: Sequence[int]) -> dict[int, list[dict]]:
        """Votes per turn: {turn_id: [{rater, winner, reason}]}."""
        found: dict[int, list[dict]] = {}
        ids = list(dict.fromkeys(turn_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for r in self.tx.query(f"""
                    select v.turn_id, w.name rater, v.winner, v.reason
                    from votes v join raters w on w.id = v.rater_id
                    where v.turn_id in ({', '.join('?' * len(chunk))}) order by v.turn_id, w.name""", chunk):
                found.setdefault(r["turn_id"], []).append(r)
        return found
