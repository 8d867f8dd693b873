"""The agreement gate: does this judge agree with people on this data?

On replies rated by people and parsed from this judge: the confusion table of the judge's
"followed" against the human majority (ties between people are left out), Cohen's kappa
(unweighted) and Krippendorff's alpha (ordinal no < partial < yes, the ``krippendorff``
library) with percentile bootstrap intervals over replies, the same per round and per error
tag (tag given or not, human majority), and a self-preference check. A judge whose kappa is
below the threshold (default 0.6), or that has no overlap with people yet, is "not trusted".
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..crowd.agreement import FOLLOWED_RANK, majority, ordinal_alpha
from ..store.models import ERROR_TAGS, FOLLOWED

DEFAULT_THRESHOLD = 0.6
FOLLOWED_SCORE = {"yes": 1.0, "partial": 0.5, "no": 0.0}
BOOTSTRAP = 1000


def cohen_kappa(a: list, b: list, labels) -> float | None:
    """Unweighted Cohen's kappa; None when undefined (no items, or chance agreement is 1)."""
    if not a:
        return None
    labels = list(labels)
    index = {label: n for n, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b):
        table[index[x], index[y]] += 1
    n = table.sum()
    observed = np.trace(table) / n
    expected = float((table.sum(axis=1) * table.sum(axis=0)).sum() / (n * n))
    if expected >= 1.0:
        return None
    return float((observed - expected) / (1.0 - expected))


def alpha_pair(a: list[str], b: list[str]) -> float | None:
    matrix = np.array([[FOLLOWED_RANK[x] for x in a], [FOLLOWED_RANK[y] for y in b]], float)
    with np.errstate(invalid="ignore", divide="ignore"):  # a resample with one value: undefined
        return ordinal_alpha(matrix, range(len(FOLLOWED))) if a else None


def bootstrap(a: list, b: list, stat, n: int = BOOTSTRAP, seed: int = 0, ci: float = 0.95):
    """Percentile interval of stat(a, b) over replies resampled with replacement (None if < 2)."""
    if len(a) < 2:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        pick = rng.integers(0, len(a), len(a))
        value = stat([a[i] for i in pick], [b[i] for i in pick])
        if value is not None:
            values.append(value)
    if not values:
        return None
    lo, hi = np.quantile(values, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Stat:
    n: int
    kappa: float | None
    kappa_ci: tuple[float, float] | None = None
    alpha: float | None = None
    alpha_ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class Gate:
    rater: str
    threshold: float
    overall: Stat
    confusion: dict  # judge label -> human label -> count
    per_round: dict = field(default_factory=dict)  # round (turn idx, from 1) -> Stat
    per_tag: dict = field(default_factory=dict)  # tag -> Stat (binary: tagged or not)
    human_ties: int = 0  # replies left out: people split evenly
    self_preference: dict = field(default_factory=dict)

    @property
    def trusted(self) -> bool:
        return self.overall.kappa is not None and self.overall.kappa >= self.threshold

    @property
    def label(self) -> str:
        return trust_label(self.overall.kappa, self.overall.n, self.threshold)


def trust_label(kappa: float | None, n: int, threshold: float = DEFAULT_THRESHOLD) -> str:
    if kappa is None:
        return f"not trusted (no agreement measured yet: {n} replies rated by both people and this judge)"
    if kappa < threshold:
        return f"not trusted (kappa {kappa:.2f} < {threshold:g} vs people, n={n})"
    return f"trusted (kappa {kappa:.2f} >= {threshold:g} vs people, n={n})"


def _stat(a: list, b: list, labels, with_alpha: bool, seed: int) -> Stat:
    kappa = lambda x, y: cohen_kappa(x, y, labels)  # noqa: E731
    return Stat(len(a), kappa(a, b), bootstrap(a, b, kappa, seed=seed),
                alpha_pair(a, b) if with_alpha else None,
                bootstrap(a, b, alpha_pair, seed=seed) if with_alpha else None)


def compare(rows: list[dict]) -> tuple[list[dict], int]:
    """Rows with the human majority label and majority tags; and how many were human ties."""
    out, ties = [], 0
    for row in rows:
        humans = json.loads(row["human_followed"])
        human = majority(humans)
        if human is None:
            ties += 1
            continue
        tag_lists = [set(t or []) for t in json.loads(row["human_tags"])]
        human_tags = {t for t in ERROR_TAGS if sum(t in s for s in tag_lists) * 2 > len(tag_lists)}
        judge_tags = set(json.loads(row["judge_tags"] or "[]"))
        out.append({**row, "human": human, "human_tag_set": human_tags, "judge_tag_set": judge_tags})
    return out, ties


def gate_from_rows(rater: str, rows: list[dict], threshold: float = DEFAULT_THRESHOLD,
                   own_checkpoint: str | None = None) -> Gate:
    kept, ties = compare(rows)
    judge, human = [r["judge_followed"] for r in kept], [r["human"] for r in kept]
    confusion = {j: {h: 0 for h in FOLLOWED} for j in FOLLOWED}
    for j, h in zip(judge, human):
        confusion[j][h] += 1
    by_round: dict[int, list[dict]] = defaultdict(list)
    for r in kept:
        by_round[r["round"]].append(r)
    per_round = {n: _stat([r["judge_followed"] for r in rs], [r["human"] for r in rs], FOLLOWED, True, n)
                 for n, rs in sorted(by_round.items())}
    per_tag = {}
    for n, tag in enumerate(ERROR_TAGS):
        a = [tag in r["judge_tag_set"] for r in kept]
        b = [tag in r["human_tag_set"] for r in kept]
        if any(a) or any(b):
            per_tag[tag] = _stat(a, b, (False, True), False, 100 + n)
    return Gate(rater, threshold, _stat(judge, human, FOLLOWED, True, 0), confusion, per_round, per_tag,
                ties, self_preference(kept, own_checkpoint))


def self_preference(kept: list[dict], own: str | None) -> dict:
    """Judge minus human-majority score (yes 1, partial 0.5, no 0) on the judge's own
    checkpoint's replies and on the others'; a judge that favours itself has own > others."""
    if not own:
        return {}
    out = {}
    for key, rows in (("own", [r for r in kept if r["checkpoint"] == own]),
                      ("others", [r for r in kept if r["checkpoint"] != own])):
        gaps = [FOLLOWED_SCORE[r["judge_followed"]] - FOLLOWED_SCORE[r["human"]] for r in rows]
        out[key] = {"n": len(gaps), "judge_minus_human": float(np.mean(gaps)) if gaps else None}
    gaps = [out[k]["judge_minus_human"] for k in ("own", "others")]
    out["bias"] = gaps[0] - gaps[1] if None not in gaps else None
    return out


def gate(store, rater_name: str, threshold: float = DEFAULT_THRESHOLD, policy: str = "own") -> Gate:
    info = store.judges.rater(rater_name)
    rows = store.judges.verdicts_with_humans(info["rater_id"], policy)
    return gate_from_rows(rater_name, rows, threshold, info["checkpoint"])


@dataclass(frozen=True)
class JudgedCurve:
    """A judge's per-round following curve, never without its agreement beside it."""

    gate: Gate
    table: object  # pandas DataFrame: checkpoint, round, responses, followed, lower, upper


def judge_curve(store, rater_name: str, threshold: float = DEFAULT_THRESHOLD, filters=None) -> JudgedCurve:
    """Opt-in: the leaderboard's per-round table (``following.by_round``) from one judge's
    verdicts instead of people's (under the same rating filters), together with its gate."""
    from ..leaderboard.following import RatingFilters, by_round, load_judge_ratings

    filters = filters or RatingFilters()
    info = store.judges.rater(rater_name)
    frame = load_judge_ratings(store, info["rater_id"], filters)
    return JudgedCurve(gate(store, rater_name, threshold), by_round(frame, filters.aggregate, filters.ci))


def conversation_scores(verdicts: list[dict]) -> list[dict]:
    """Per conversation side: mean and MT-Bench-101's minimum over turns of the judge's score
    (its 1-5 score when given, else followed yes 5 / partial 3 / no 1) and the first round
    (turn idx, from 1) that was not fully followed. Unparsable and failed verdicts are left out."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for v in verdicts:
        if v["status"] == "ok":
            groups[(v["conversation_id"], v["side"], v["checkpoint"])].append(v)
    out = []
    for (conversation, side, checkpoint), rows in groups.items():
        rows.sort(key=lambda r: r["round"])
        scores = [r["score"] if r["score"] is not None else {"yes": 5, "partial": 3, "no": 1}[r["followed"]]
                  for r in rows]
        broke = next((r["round"] for r in rows if r["followed"] != "yes"), None)
        out.append({"conversation_id": conversation, "side": side, "checkpoint": checkpoint,
                    "turns": len(rows), "mean": float(np.mean(scores)), "min": min(scores),
                    "first_break_round": broke})
    return out


def pair_summary(pairs: list[dict]) -> dict:
    """Pairwise: how often the two orders disagreed (position bias) and the kept winners."""
    judged = [p for p in pairs if p["consistent"] is not None]
    inconsistent = sum(not p["consistent"] for p in judged)
    winners = defaultdict(int)
    for p in judged:
        if p["consistent"]:
            winners[p["winner"]] += 1
    return {"pairs": len(pairs), "both_orders_parsed": len(judged), "inconsistent": inconsistent,
            "inconsistency_rate": inconsistent / len(judged) if judged else None,
            "kept": sum(winners.values()), "winners": dict(winners)}


PAIR_LABELS = ("A", "B", "tie")


def vote_majority(winners: list[str]) -> str | None:
    """People's winner of one turn: A, B or tie (a "both bad" vote counts as a tie: neither is
    preferred), when more than half the votes say it; None when they split."""
    labels = ["tie" if w == "both_bad" else w for w in winners]
    top = max(PAIR_LABELS, key=labels.count)
    return top if labels.count(top) * 2 > len(labels) else None


def pair_vote_agreement(rows: list[dict]) -> dict:
    """A judge's position-consistent pairwise winners vs the human majority vote on the same
    arena turns: confusion table (judge rows, people columns), Cohen's kappa with a bootstrap
    interval, and the share of turns where the judge's winner is the people's."""
    judge, human, splits = [], [], 0
    for row in rows:
        majority_vote = vote_majority(json.loads(row["human_winners"]))
        if majority_vote is None:
            splits += 1
            continue
        judge.append(row["judge_winner"])
        human.append(majority_vote)
    confusion = {j: {h: 0 for h in PAIR_LABELS} for j in PAIR_LABELS}
    for j, h in zip(judge, human):
        confusion[j][h] += 1
    kappa = lambda x, y: cohen_kappa(x, y, PAIR_LABELS)  # noqa: E731
    return {"n": len(judge), "human_splits": splits, "confusion": confusion, "kappa": kappa(judge, human),
            "kappa_ci": bootstrap(judge, human, kappa),
            "matches_majority": sum(j == h for j, h in zip(judge, human)) / len(judge) if judge else None}


def pair_agreement(store, rater_name: str, policy: str = "own") -> dict:
    info = store.judges.rater(rater_name)
    return pair_vote_agreement(store.judges.pairs_with_votes(info["rater_id"], policy))
