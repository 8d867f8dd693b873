"""Arena and replay votes → pairwise outcome counts, aggregated in SQL.

A vote is on a turn of a conversation with sides A and B (or A..D: an N-way arena,
whose best pick reads as a win over each other side, see _VOTES_SQL). It counts when the
turn is current (not superseded by an edit) and no reply the rater could have
seen named its checkpoint: neither a current reply nor a regenerated-away one
that existed when the vote was cast (the rater may have voted on the name). A battle's
votes count only once it is revealed (before that, a changed row would name the pair).
Replays with two checkpoints are A/B conversations on one eval item, so a vote
on one is the same kind of verdict and counts too (``include_replays``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import ValidationError
from ..store.dates import DateRange
from ..store.db import Transactor
from .bradley_terry import PairTable

BOTH_BAD_MODES = ("tie", "drop")
ARENA_MODES = ("arena-named", "arena-anonymous")


@dataclass(frozen=True)
class VoteFilters:
    """Which votes the leaderboard uses. ``since``/``until``: typed dates in UTC (store/dates.py)."""

    both_bad: str = "tie"  # "tie": half a win each; "drop": not counted
    anonymous_only: bool = True  # arena votes cast without seeing names; replays are exempt
    include_replays: bool = True
    since: str | None = None
    until: str | None = None
    eval_set: str | None = None  # only conversations replaying this eval set
    checkpoints: tuple[str, ...] = ()  # only battles between these (empty: all)
    exclude_raters: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self):
        if self.both_bad not in BOTH_BAD_MODES:
            raise ValidationError(f"both_bad must be one of {', '.join(BOTH_BAD_MODES)}, not {self.both_bad!r}")
        DateRange.parse(self.since, self.until)  # a bad or empty range: a clear error now

    @property
    def dates(self) -> DateRange:
        return DateRange.parse(self.since, self.until)

    def to_dict(self) -> dict:
        return {"both_bad": self.both_bad, "anonymous_only": self.anonymous_only,
                "include_replays": self.include_replays, "since": self.since, "until": self.until,
                "eval_set": self.eval_set, "checkpoints": list(self.checkpoints),
                "exclude_raters": sorted(self.exclude_raters)}


# Every pair of sides of a conversation (A-B; with three sides A-B, A-C, B-C, ...) and the vote
# as seen from that pair: a side picked as best of N beat each other side (N-1 pairwise wins, the
# usual reading of a best pick); a pair without the picked side learns nothing and is left out;
# a tie or "all bad" holds for every pair. With two sides this is the vote as cast.
PAIR_WINNER = """case when v.winner = sa.side then 'A' when v.winner = sb.side then 'B'
            else v.winner end"""
_VOTES_SQL = f"""
select sa.checkpoint as a, sb.checkpoint as b, {PAIR_WINNER} as winner, count(*) as n
from votes v
join turns t on t.id = v.turn_id and t.superseded = 0
join conversations c on c.id = t.conversation_id
join conversation_sides sa on sa.conversation_id = c.id and sa.side in ('A', 'B', 'C', 'D')
join conversation_sides sb on sb.conversation_id = c.id and sb.side in ('A', 'B', 'C', 'D')
                          and sb.side > sa.side
left join eval_items ei on ei.id = c.eval_item_id
left join eval_sets es on es.id = ei.eval_set_id
where c.mode in (select value from json_each(:modes))
  and v.winner in (sa.side, sb.side, 'tie', 'both_bad')
  and (:anonymous_only = 0 or v.anonymous = 1 or c.mode = 'replay')
  -- a battle counts once its owner revealed it, and only votes cast before that
  and (c.mode != 'arena-anonymous' or coalesce(v.updated, v.created) <= c.revealed)
  -- leaks are rare: the uncorrelated list rules most turns in before the per-vote check
  and (t.id not in (select turn_id from responses where identity_leak = 1)
       or not exists (select 1 from responses r
                      where r.turn_id = t.id and r.identity_leak = 1
                        and (r.superseded = 0 or (
                             -- regenerated away, but still the newest reply on its side when voted
                             r.created <= coalesce(v.updated, v.created)
                             and not exists (select 1 from responses r2
                                             where r2.turn_id = r.turn_id and r2.side = r.side
                                               and r2.id > r.id
                                               and r2.created <= coalesce(v.updated, v.created))))))
  and v.rater_id not in (select value from json_each(:exclude_raters))
  and (:since is null or v.created >= :since)
  and (:until is null or v.created < :until)
  and (:eval_set is null or es.name = :eval_set)
  and (:all_checkpoints = 1 or (sa.checkpoint in (select value from json_each(:checkpoints))
                                and sb.checkpoint in (select value from json_each(:checkpoints))))
  and sa.checkpoint != sb.checkpoint
group by 1, 2, 3
"""

OUTCOME_FOR_A = {"A": 1.0, "B": 0.0, "tie": 0.5}


def vote_counts(store: Transactor, filters: VoteFilters = VoteFilters()) -> list[dict]:
    """Rows {a, b, winner, n}: how many counted votes per (A checkpoint, B checkpoint, winner)."""
    modes = list(ARENA_MODES) + (["replay"] if filters.include_replays else [])
    return store.query(_VOTES_SQL, {
        "modes": json.dumps(modes), "anonymous_only": int(filters.anonymous_only),
        "exclude_raters": json.dumps(sorted(int(r) for r in filters.exclude_raters)),
        "since": filters.dates.since, "until": filters.dates.until,
        "eval_set": filters.eval_set or None, "all_checkpoints": int(not filters.checkpoints),
        "checkpoints": json.dumps(list(filters.checkpoints))})


def load_pairs(store: Transactor, filters: VoteFilters = VoteFilters()) -> PairTable:
    """Counted votes as a PairTable: A won = 1, tie = 0.5, both bad = tie or dropped."""
    outcomes = dict(OUTCOME_FOR_A)
    if filters.both_bad == "tie":
        outcomes["both_bad"] = 0.5
    records = [(r["a"], r["b"], outcomes[r["winner"]], int(r["n"]))
               for r in vote_counts(store, filters) if r["winner"] in outcomes]
    return PairTable.from_records(records)
