"""Counted votes one row each, with what the category, per-round and style views need:
the turn's round, eval set, whether it had an image, whether it carried a verifiable
constraint (a ``response_checks`` row for one of its replies), the error tags raters gave
its replies, and the style counts of the A and B replies.

Which votes count is decided in one place, ``votes.vote_counts``: this module runs that
very query (its joins, filters and parameters, captured as it builds them) with a
vote-level select list instead of the grouped one, so a rule added there applies here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import StorageError
from ..store.db import Transactor
from .bradley_terry import PairTable
from .style import STYLE_FEATURES, style_counts
from .votes import OUTCOME_FOR_A, PAIR_WINNER, VoteFilters, vote_counts

_VOTE_LEVEL_SELECT = f"""
select v.id as vote_id, {PAIR_WINNER} as winner, sa.checkpoint as a, sb.checkpoint as b,
       t.id as turn_id, t.idx as round, es.name as eval_set, c.id as conversation_id,
       exists (select 1 from turn_images ti where ti.turn_id = t.id) as has_image,
       exists (select 1 from responses rr join response_checks rc on rc.response_id = rr.id
               where rr.turn_id = t.id) as constrained
"""

# Per turn, not per vote: several raters vote on one turn. The newest current reply per side.
_REPLY_TEXTS_SQL = """
select r.turn_id as turn_id, r.side as side, r.text as text from responses r
where r.turn_id in (select value from json_each(:turn_ids)) and r.superseded = 0 and r.side in ('A', 'B')
order by r.turn_id, r.side, r.id
"""

_TURN_TAGS_SQL = """
select distinct r.turn_id as turn_id, j.value as tag
from responses r join ratings g on g.response_id = r.id, json_each(g.tags) j
where r.turn_id in (select value from json_each(:turn_ids)) and r.superseded = 0 and g.tags != '[]'
"""

BATTLE_COLUMNS = ["vote_id", "winner", "a", "b", "turn_id", "round", "eval_set", "conversation_id", "has_image",
                  "constrained"]


class _Capture:
    """Stands in for the store to read the SQL and parameters vote_counts would run."""

    def __init__(self):
        self.sql, self.params = "", {}

    def query(self, sql, params=None):
        self.sql, self.params = sql, params
        return []


def counted_votes_sql(filters: VoteFilters) -> tuple[str, dict]:
    """votes.vote_counts' query re-selected at vote level: (sql, params)."""
    capture = _Capture()
    vote_counts(capture, filters)
    sql = capture.sql
    start, end = sql.find("\nfrom votes v"), sql.rfind("\ngroup by")
    if start < 0 or end < start:  # votes.py changed shape: fail loudly, never count differently
        raise StorageError("the counted-votes query has an unexpected shape; update leaderboard/battles.py")
    return _VOTE_LEVEL_SELECT + sql[start:end] + "\norder by v.id", capture.params


@dataclass(frozen=True)
class Battles:
    """Counted votes (one row each) and the style counts of their replies."""

    frame: pd.DataFrame  # BATTLE_COLUMNS + outcome (A's score) + tags (set of str)
    style_a: np.ndarray  # (votes, len(STYLE_FEATURES)) counts of the A reply
    style_b: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    def subset(self, mask) -> "Battles":
        mask = np.asarray(mask, bool)
        return Battles(self.frame[mask].reset_index(drop=True), self.style_a[mask], self.style_b[mask])

    def pairs(self) -> PairTable:
        """As the plain fit's PairTable (only checkpoints with votes here)."""
        f = self.frame
        return PairTable.from_records(zip(f["a"], f["b"], f["outcome"], np.ones(len(f), np.int64)))

    def indexed(self) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """(models, a index, b index) for vote-level fits."""
        models = tuple(sorted(set(self.frame["a"]) | set(self.frame["b"])))
        index = {m: i for i, m in enumerate(models)}
        return (models, self.frame["a"].map(index).to_numpy(np.int64),
                self.frame["b"].map(index).to_numpy(np.int64))


def load_battles(store: Transactor, filters: VoteFilters = VoteFilters()) -> Battles:
    """Every counted vote with its turn's details; "both bad" is a tie or dropped as in load_pairs."""
    sql, params = counted_votes_sql(filters)
    frame = pd.DataFrame.from_records(_tuples(store, sql, params), columns=BATTLE_COLUMNS)
    outcomes = dict(OUTCOME_FOR_A, **({"both_bad": 0.5} if filters.both_bad == "tie" else {}))
    frame = frame[frame["winner"].isin(list(outcomes))].reset_index(drop=True)
    frame["outcome"] = frame["winner"].map(outcomes).astype(float)
    for column in ("has_image", "constrained"):
        frame[column] = frame[column].astype(bool)
    codes, turns = pd.factorize(frame["turn_id"])
    texts, tags = _turn_details(store, [int(t) for t in turns])
    no_tags = frozenset()
    per_turn_tags = [tags.get(t, no_tags) for t in turns]
    frame["tags"] = [per_turn_tags[c] for c in codes]
    width = len(STYLE_FEATURES)
    style = np.zeros((2, len(turns), width))
    for n, t in enumerate(turns):
        style[0, n] = style_counts(texts.get((t, "A"), ""))
        style[1, n] = style_counts(texts.get((t, "B"), ""))
    return Battles(frame, style[0][codes].reshape(-1, width), style[1][codes].reshape(-1, width))


def _turn_details(store: Transactor, turn_ids: list[int]) -> tuple[dict, dict]:
    """({(turn, side): newest current reply text}, {turn: frozenset of error tags raters gave})."""
    texts, tags = {}, {}
    for start in range(0, len(turn_ids), 100_000):
        chunk = {"turn_ids": json.dumps(turn_ids[start:start + 100_000])}
        for turn_id, side, text in _tuples(store, _REPLY_TEXTS_SQL, chunk):
            texts[(turn_id, side)] = text or ""  # ordered by id: the newest wins
        for turn_id, tag in _tuples(store, _TURN_TAGS_SQL, chunk):
            if tag:
                tags.setdefault(turn_id, set()).add(tag)
    return texts, {t: frozenset(v) for t, v in tags.items()}


def _tuples(store: Transactor, sql: str, params: dict) -> list[tuple]:
    """Rows as tuples in select order: a vote-level read of a big store builds no dict per row."""
    with store.read() as db:
        return db.execute(sql, params).fetchall()
