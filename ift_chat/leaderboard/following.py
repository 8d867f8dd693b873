"""Per-round instruction following: where in a dialog each checkpoint stops following.

Each rating maps followed yes/partial/no to 1/0.5/0. A response's score is the
mean (default) or the median ("majority": for three ordered labels the median is
the middle rater's label) over its raters; a checkpoint's share at round r is the
mean score over its current responses to turns with idx r. Intervals are Wilson
score intervals on that share with n = responses (a partial counts as half).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..errors import ValidationError
from ..store.dates import DateRange
from ..store.db import Transactor
from ..store.models import ERROR_TAGS

FOLLOWED_SCORE = {"yes": 1.0, "partial": 0.5, "no": 0.0}
AGGREGATES = ("mean", "majority")


@dataclass(frozen=True)
class RatingFilters:
    aggregate: str = "mean"
    since: str | None = None
    until: str | None = None
    eval_set: str | None = None
    checkpoints: tuple[str, ...] = ()
    exclude_raters: frozenset[int] = field(default_factory=frozenset)
    ci: float = 0.95

    def __post_init__(self):
        if self.aggregate not in AGGREGATES:
            raise ValidationError(f"aggregate must be one of {', '.join(AGGREGATES)}, not {self.aggregate!r}")
        if not 0 < self.ci < 1:
            raise ValidationError(f"the interval level must be between 0 and 1, not {self.ci}")
        DateRange.parse(self.since, self.until)  # a bad or empty range: a clear error now

    @property
    def dates(self) -> DateRange:
        """``since``/``until`` as typed (UTC), as instants (store/dates.py)."""
        return DateRange.parse(self.since, self.until)


# A reply's turn, conversation and eval set: what the filters below read.
_CONTEXT_JOINS = """join turns t on t.id = r.turn_id and t.superseded = 0
join conversations c on c.id = t.conversation_id
left join eval_items ei on ei.id = c.eval_item_id
left join eval_sets es on es.id = ei.eval_set_id"""

_RATINGS_SQL = f"""
select r.id as response_id, r.checkpoint as checkpoint, t.idx as round,
       g.rater_id as rater_id, g.followed as followed, g.tags as tags
from ratings g
join responses r on r.id = g.response_id and r.superseded = 0
{_CONTEXT_JOINS}
where g.rater_id not in (select value from json_each(:exclude_raters))
  -- a battle's ratings count once it is revealed: before, a changed row would name its model
  and (c.mode != 'arena-anonymous' or c.revealed is not null)
  and (:since is null or g.created >= :since)
  and (:until is null or g.created < :until)
  and (:eval_set is null or es.name = :eval_set)
  and (:all_checkpoints = 1 or r.checkpoint in (select value from json_each(:checkpoints)))
"""

RATING_COLUMNS = ["response_id", "checkpoint", "round", "rater_id", "followed", "tags"]


def load_ratings(store: Transactor, filters: RatingFilters = RatingFilters()) -> pd.DataFrame:
    """One row per (response, rater) rating that passes the filters."""
    rows = store.query(_RATINGS_SQL, {
        "exclude_raters": json.dumps(sorted(int(r) for r in filters.exclude_raters)),
        "since": filters.dates.since, "until": filters.dates.until,
        "eval_set": filters.eval_set or None, "all_checkpoints": int(not filters.checkpoints),
        "checkpoints": json.dumps(list(filters.checkpoints))})
    return pd.DataFrame(rows, columns=RATING_COLUMNS)


def wilson_interval(share: np.ndarray, n: np.ndarray, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a share observed over n items (works for fractional successes)."""
    share, n = np.asarray(share, float), np.asarray(n, float)
    z = norm.ppf(0.5 + ci / 2.0)
    denom = 1.0 + z * z / n
    centre = (share + z * z / (2 * n)) / denom
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def response_scores(ratings: pd.DataFrame, aggregate: str = "mean") -> pd.DataFrame:
    """One row per response: checkpoint, round, score (0-1) and how many raters rated it."""
    frame = ratings.assign(score=ratings["followed"].map(FOLLOWED_SCORE))
    grouped = frame.groupby(["response_id", "checkpoint", "round"], as_index=False)
    how = "median" if aggregate == "majority" else "mean"
    return grouped.agg(score=("score", how), raters=("rater_id", "nunique"))


def _with_interval(table: pd.DataFrame, share: str, n: str, ci: float) -> pd.DataFrame:
    lower, upper = wilson_interval(table[share].to_numpy(), table[n].to_numpy(), ci)
    return table.assign(lower=lower, upper=upper)


def by_round(ratings: pd.DataFrame, aggregate: str = "mean", ci: float = 0.95) -> pd.DataFrame:
    """Columns checkpoint, round, responses, followed (share 0-1), lower, upper."""
    if ratings.empty:
        return pd.DataFrame(columns=["checkpoint", "round", "responses", "followed", "lower", "upper"])
    scores = response_scores(ratings, aggregate)
    table = (scores.groupby(["checkpoint", "round"], as_index=False)
             .agg(responses=("score", "size"), followed=("score", "mean"))
             .sort_values(["checkpoint", "round"], ignore_index=True))
    return _with_interval(table, "followed", "responses", ci)


def curve(table: pd.DataFrame, checkpoint: str) -> list[float]:
    """The by_round shares of one checkpoint, round 1 first."""
    rows = table[table["checkpoint"] == checkpoint].sort_values("round")
    return [float(x) for x in rows["followed"]]


def by_tag(ratings: pd.DataFrame, ci: float = 0.95, per_round: bool = False) -> pd.DataFrame:
    """Share of each checkpoint's rated responses carrying each error tag (per round if asked).

    A response's tag value is the share of its raters who gave the tag, so one
    rater of three tagging it counts 1/3.
    """
    keys = ["checkpoint", "round"] if per_round else ["checkpoint"]
    columns = [*keys, "tag", "responses", "rate", "lower", "upper"]
    if ratings.empty:
        return pd.DataFrame(columns=columns)
    tags = ratings["tags"].map(lambda t: set(json.loads(t) if isinstance(t, str) else (t or [])))
    flags = pd.DataFrame({tag: tags.map(lambda s, tag=tag: float(tag in s)) for tag in ERROR_TAGS})
    ids = ["response_id", *keys]
    per_response = pd.concat([ratings[ids], flags], axis=1).groupby(ids, as_index=False).mean()
    long = per_response.melt(id_vars=ids, var_name="tag", value_name="value")
    table = (long.groupby([*keys, "tag"], as_index=False)
             .agg(responses=("value", "size"), rate=("value", "mean")))
    table["tag"] = pd.Categorical(table["tag"], categories=list(ERROR_TAGS), ordered=True)
    table = table.sort_values([*keys, "tag"], ignore_index=True)
    table["tag"] = table["tag"].astype(str)
    return _with_interval(table, "rate", "responses", ci)[columns]


# A judge's verdicts under the same filters as people's ratings (opt-in only: see judge/optin.py).
_JUDGE_SQL = f"""
select r.id as response_id, r.checkpoint as checkpoint, t.idx as round,
       v.rater_id as rater_id, v.followed as followed, v.tags as tags
from judge_verdicts v
join responses r on r.id = v.response_id and r.superseded = 0 and r.status in ('ok', 'stopped')
{_CONTEXT_JOINS}
where v.rater_id = :rater and v.history_policy = 'own' and v.status = 'ok'
  and (c.mode != 'arena-anonymous' or c.revealed is not null)
  and (:since is null or v.created >= :since)
  and (:until is null or substr(v.created, 1, length(:until)) <= :until)
  and (:eval_set is null or es.name = :eval_set)
  and (:all_checkpoints = 1 or r.checkpoint in (select value from json_each(:checkpoints)))
"""
JUDGE_COLUMNS = ["judge_responses", "judge_followed", "judge_lower", "judge_upper", "judge"]


def load_judge_ratings(store: Transactor, rater_id: int, filters: RatingFilters = RatingFilters()) -> pd.DataFrame:
    """One judge's parsed verdicts as rating rows (RATING_COLUMNS), filtered like people's."""
    rows = store.query(_JUDGE_SQL, {
        "rater": rater_id, "since": filters.since or None, "until": filters.until or None,
        "eval_set": filters.eval_set or None, "all_checkpoints": int(not filters.checkpoints),
        "checkpoints": json.dumps(list(filters.checkpoints))})
    return pd.DataFrame(rows, columns=RATING_COLUMNS)


def beside_judge(human: pd.DataFrame, judged: pd.DataFrame, label: str) -> pd.DataFrame:
    """The per-round table of people (``by_round``) with a judge's columns beside it, every row
    carrying the judge's trust label; rounds only one of them covers have blanks on the other side."""
    keys = ["checkpoint", "round"]
    renamed = judged.rename(columns={"responses": "judge_responses", "followed": "judge_followed",
                                     "lower": "judge_lower", "upper": "judge_upper"})
    ints = {"round": "int64"}
    table = human.astype(ints).merge(renamed.astype(ints), on=keys, how="outer").sort_values(keys, ignore_index=True)
    return table.assign(judge=label)[[*human.columns, *JUDGE_COLUMNS]] if len(table) else \
        pd.DataFrame(columns=[*human.columns, *JUDGE_COLUMNS])
