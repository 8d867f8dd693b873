"""Instruction following from the automatic checks (issue 21 §3), per checkpoint and per round.

Read from ``response_checks`` (one row per reply x active constraint, strict and loose
verdicts) for current final replies:

- PIF (MMMT-IF): the fraction of active constraints followed, pooled over replies. Its
  interval is a Wilson interval with the effective number of replies (Kish): constraints of
  one reply are not independent, so the variance is the cluster-robust (per-reply) one of a
  ratio estimator, and n_eff = PIF (1 - PIF) / variance (n_eff = replies when it is 0).
- Prompt-level strict / loose accuracy (IFEval): the share of replies that followed every
  active constraint, Wilson intervals over replies.
- PIF-N-K (MMMT-IF): where a replay sampled N replies of one checkpoint for one eval item
  round, the share of those (item, round)s where at least K of the N replies followed
  every constraint; K = N is the strict "always follows".
- Programmatic vs human following per round, and agreement (confusion table, Cohen's kappa)
  between the automatic verdict and the human "followed" rating on replies that have both,
  overall and per constraint kind.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..store.db import Transactor
from .battles import counted_votes_sql
from .following import RatingFilters, response_scores, wilson_interval
from .votes import VoteFilters

# A blind battle's replies count once the battle's votes count on the leaderboard (after its
# reveal): before, a changed PIF row would name the checkpoint in the battle. The rule for
# that is the counted-votes query itself (battles.counted_votes_sql), used as a CTE.
_CHECKS_SQL = """
with counted as ({counted})
select rc.response_id as response_id, rc.kind as kind, rc.passed as passed,
       rc.passed_loose as passed_loose, r.checkpoint as checkpoint, t.idx as round,
       c.mode as mode, c.eval_item_id as eval_item_id
from response_checks rc
join responses r on r.id = rc.response_id and r.superseded = 0 and r.status in ('ok', 'stopped')
join turns t on t.id = r.turn_id and t.superseded = 0
join conversations c on c.id = t.conversation_id
left join eval_items ei on ei.id = c.eval_item_id
left join eval_sets es on es.id = ei.eval_set_id
where (c.mode != 'arena-anonymous' or c.id in (select conversation_id from counted))
  and (:check_since is null or r.created >= :check_since)
  and (:check_until is null or r.created < :check_until)
  and (:check_eval_set is null or es.name = :check_eval_set)
  and (:check_all_checkpoints = 1 or r.checkpoint in (select value from json_each(:check_checkpoints)))
order by rc.response_id, rc.id
"""

CHECK_COLUMNS = ["response_id", "kind", "passed", "passed_loose", "checkpoint", "round", "mode", "eval_item_id"]


def load_checks(store: Transactor, filters: RatingFilters = RatingFilters()) -> pd.DataFrame:
    """One row per (current final reply, active constraint) verdict under the filters' dates,
    eval set and checkpoints (rater filters do not apply: nobody rated these); blind battles'
    replies only once their votes count."""
    counted, counted_params = counted_votes_sql(VoteFilters(include_replays=False))
    rows = store.query(_CHECKS_SQL.format(counted=counted), {
        **counted_params, "check_since": filters.dates.since, "check_until": filters.dates.until,
        "check_eval_set": filters.eval_set or None, "check_all_checkpoints": int(not filters.checkpoints),
        "check_checkpoints": json.dumps(list(filters.checkpoints))})
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


def per_reply(checks: pd.DataFrame) -> pd.DataFrame:
    """One row per reply: checkpoint, round, constraints, passed, passed_loose, strict, loose
    (strict / loose: every constraint followed), mode, eval_item_id."""
    columns = ["response_id", "checkpoint", "round", "mode", "eval_item_id", "constraints", "passed",
               "passed_loose", "strict", "loose"]
    if checks.empty:
        return pd.DataFrame(columns=columns)
    keys = ["response_id", "checkpoint", "round", "mode"]
    grouped = (checks.assign(eval_item_id=checks["eval_item_id"].fillna(-1))
               .groupby([*keys, "eval_item_id"], as_index=False)
               .agg(constraints=("passed", "size"), passed=("passed", "sum"), passed_loose=("passed_loose", "sum")))
    grouped["strict"] = grouped["passed"] == grouped["constraints"]
    grouped["loose"] = grouped["passed_loose"] == grouped["constraints"]
    return grouped[columns]


def ratio_interval(passed: np.ndarray, n: np.ndarray, ci: float = 0.95) -> tuple[float, float, float]:
    """(share, lower, upper) of sum(passed) / sum(n) over clusters (replies)."""
    passed, n = np.asarray(passed, float), np.asarray(n, float)
    share = passed.sum() / n.sum()
    m = len(n)
    var = ((passed - share * n) ** 2).sum() / (n.mean() ** 2 * m * max(m - 1, 1)) if m > 1 else 0.0
    n_eff = share * (1 - share) / var if var > 0 else float(m)
    lower, upper = wilson_interval(np.array([share]), np.array([max(n_eff, 1.0)]), ci)
    return float(share), float(lower[0]), float(upper[0])


def _summary(group: pd.DataFrame, ci: float) -> dict:
    pif, lo, hi = ratio_interval(group["passed"], group["constraints"], ci)
    loose = group["passed_loose"].sum() / group["constraints"].sum()
    m = len(group)
    strict_share, loose_share = group["strict"].mean(), group["loose"].mean()
    (s_lo,), (s_hi,) = wilson_interval(np.array([strict_share]), np.array([m]), ci)
    (l_lo,), (l_hi,) = wilson_interval(np.array([loose_share]), np.array([m]), ci)
    return {"replies": m, "constraints": int(group["constraints"].sum()), "pif": pif, "pif_lower": lo,
            "pif_upper": hi, "pif_loose": float(loose), "prompt_strict": float(strict_share),
            "prompt_strict_lower": float(s_lo), "prompt_strict_upper": float(s_hi),
            "prompt_loose": float(loose_share), "prompt_loose_lower": float(l_lo), "prompt_loose_upper": float(l_hi)}


PIF_COLUMNS = ["replies", "constraints", "pif", "pif_lower", "pif_upper", "pif_loose", "prompt_strict",
               "prompt_strict_lower", "prompt_strict_upper", "prompt_loose", "prompt_loose_lower",
               "prompt_loose_upper"]


def pif_table(replies: pd.DataFrame, per_round: bool = True, ci: float = 0.95) -> pd.DataFrame:
    """PIF and prompt-level accuracies per checkpoint (and round), with intervals."""
    keys = ["checkpoint", "round"] if per_round else ["checkpoint"]
    if replies.empty:
        return pd.DataFrame(columns=[*keys, *PIF_COLUMNS])
    rows = [{**dict(zip(keys, key if isinstance(key, tuple) else (key,))), **_summary(group, ci)}
            for key, group in replies.groupby(keys, sort=True)]
    return pd.DataFrame(rows, columns=[*keys, *PIF_COLUMNS])


def pif_n_k(replies: pd.DataFrame, per_round: bool = False) -> pd.DataFrame:
    """PIF-N-K over replayed eval items sampled N >= 2 times: checkpoint, [round,] N, K,
    items ((item, round)s with N samples), share with >= K of N replies following every constraint."""
    keys = ["checkpoint", "round"] if per_round else ["checkpoint"]
    columns = [*keys, "N", "K", "items", "share"]
    sampled = replies[(replies["mode"] == "replay") & (replies["eval_item_id"] != -1)] if len(replies) else replies
    if sampled.empty:
        return pd.DataFrame(columns=columns)
    groups = (sampled.groupby(["checkpoint", "round", "eval_item_id"], as_index=False)
              .agg(N=("strict", "size"), followed=("strict", "sum")))
    groups = groups[groups["N"] >= 2]
    rows = []
    for key, group in groups.groupby([*keys, "N"], sort=True):
        *head, n = key
        for k in range(1, int(n) + 1):
            rows.append([*head, int(n), k, len(group), float((group["followed"] >= k).mean())])
    return pd.DataFrame(rows, columns=columns)


def human_labels(ratings: pd.DataFrame, aggregate: str = "mean") -> pd.DataFrame:
    """response_id -> human score (0-1) and label: yes (>= 3/4), no (<= 1/4), else partial."""
    if ratings.empty:
        return pd.DataFrame(columns=["response_id", "score", "label"])
    scores = response_scores(ratings, aggregate)[["response_id", "score"]]
    scores["label"] = np.where(scores["score"] >= 0.75, "yes", np.where(scores["score"] <= 0.25, "no", "partial"))
    return scores


def auto_vs_human(replies: pd.DataFrame, ratings: pd.DataFrame, aggregate: str = "mean",
                  ci: float = 0.95) -> pd.DataFrame:
    """Per checkpoint and round: programmatic following (share of checked replies that followed
    every constraint) beside human following (mean rating score of rated replies)."""
    columns = ["checkpoint", "round", "source", "replies", "followed", "lower", "upper"]
    parts = []
    if len(replies):
        auto = (replies.groupby(["checkpoint", "round"], as_index=False)
                .agg(replies=("strict", "size"), followed=("strict", "mean")))
        parts.append(auto.assign(source="automatic"))
    if len(ratings):
        human = (response_scores(ratings, aggregate).groupby(["checkpoint", "round"], as_index=False)
                 .agg(replies=("score", "size"), followed=("score", "mean")))
        parts.append(human.assign(source="human"))
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)
    lower, upper = wilson_interval(table["followed"].to_numpy(), table["replies"].to_numpy(), ci)
    return table.assign(lower=lower, upper=upper)[columns].sort_values(
        ["checkpoint", "source", "round"], ignore_index=True)


def cohen_kappa(auto: np.ndarray, human: np.ndarray) -> float:
    """Cohen's kappa of two binary label vectors; NaN when chance agreement is 1 (one label only)."""
    auto, human = np.asarray(auto, bool), np.asarray(human, bool)
    n = len(auto)
    if n == 0:
        return float("nan")
    observed = np.mean(auto == human)
    chance = auto.mean() * human.mean() + (1 - auto.mean()) * (1 - human.mean())
    return float("nan") if chance >= 1 else float((observed - chance) / (1 - chance))


AGREEMENT_COLUMNS = ["kind", "replies", "auto_pass_human_yes", "auto_pass_human_partial", "auto_pass_human_no",
                     "auto_fail_human_yes", "auto_fail_human_partial", "auto_fail_human_no", "agreement", "kappa"]


def agreement(checks: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Automatic (strict) verdict vs human label on replies with both, for all constraints
    ("all": every constraint followed) and per constraint kind (that kind's constraints
    followed). Agreement and kappa compare auto pass with human "yes"."""
    if checks.empty or labels.empty:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    per_kind = checks.groupby(["response_id", "kind"], as_index=False).agg(passed=("passed", "min"))
    overall = per_kind.groupby("response_id", as_index=False).agg(passed=("passed", "min")).assign(kind="all")
    both = pd.concat([overall, per_kind], ignore_index=True).merge(labels, on="response_id")
    rows = []
    for kind, group in both.groupby("kind", sort=False):
        auto, label = group["passed"].astype(bool).to_numpy(), group["label"].to_numpy()
        cells = {f"auto_{a}_human_{h}": int(((auto == (a == "pass")) & (label == h)).sum())
                 for a in ("pass", "fail") for h in ("yes", "partial", "no")}
        rows.append({"kind": kind, "replies": len(group), **cells,
                     "agreement": float(np.mean(auto == (label == "yes"))),
                     "kappa": cohen_kappa(auto, label == "yes")})
    table = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    order = table["kind"].ne("all")  # "all" first, then kinds by name
    return table.assign(_o=order).sort_values(["_o", "kind"]).drop(columns="_o").reset_index(drop=True)

