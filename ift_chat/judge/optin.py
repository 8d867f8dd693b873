"""Using a judge where people's ratings are the default: only on opt-in, never without its agreement.

The leaderboard's per-round curve, exports and reply badges read judges through here: a judge is
named (``judge:NAME@HASH``, or NAME when one rubric of it has verdicts), its agreement gate is
measured on the same data, and every figure derived from it carries the gate's trust label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import NotFound, ValidationError
from ..store.models import FOLLOWED
from .agreement import DEFAULT_THRESHOLD, Gate, cohen_kappa, compare, gate, trust_label

UNTRUSTED_HELP = "pass --allow-untrusted-judge to use it anyway (the export records that it is not trusted)"


def resolve(store, name: str) -> dict:
    """The judge rater for ``judge:NAME@HASH`` or a bare NAME with exactly one rubric hash."""
    name = (name or "").strip()
    raters = store.judges.raters()
    exact = [r for r in raters if r["name"] == name]
    if exact:
        return exact[0]
    by_name = [r for r in raters if r["judge_name"] == name]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        raise ValidationError(f"judge {name!r} has verdicts under {len(by_name)} rubrics: name one of "
                              + ", ".join(r["name"] for r in by_name))
    raise NotFound(f"no judge {name!r} has verdicts (known: {', '.join(r['name'] for r in raters) or 'none'}); "
                   "run `judge run` first")


def figures(g: Gate, info: dict) -> dict:
    """The judge and its agreement, as recorded beside anything computed from it."""
    o = g.overall
    return {"rater": g.rater, "judge": info["judge_name"], "rubric_hash": info["rubric_hash"],
            "model": info.get("model"), "threshold": g.threshold, "trusted": g.trusted, "label": g.label,
            "overlap_with_people": o.n, "kappa": o.kappa, "kappa_ci": list(o.kappa_ci) if o.kappa_ci else None,
            "alpha": o.alpha, "alpha_ci": list(o.alpha_ci) if o.alpha_ci else None,
            "human_ties_left_out": g.human_ties}


@dataclass(frozen=True)
class OptIn:
    """A judge a caller opted in to, with its gate."""

    info: dict
    gate: Gate

    @property
    def figures(self) -> dict:
        return figures(self.gate, self.info)

    def short_label(self) -> str:
        kappa = self.gate.overall.kappa
        trust = "trusted" if self.gate.trusted else "not trusted"
        return f"judge {self.info['judge_name']} ({trust}, kappa {'n/a' if kappa is None else f'{kappa:.2f}'})"


def opt_in(store, name: str, threshold: float = DEFAULT_THRESHOLD) -> OptIn:
    info = resolve(store, name)
    return OptIn(info, gate(store, info["name"], threshold))


def require_trusted(choice: OptIn, allow_untrusted: bool) -> str | None:
    """None for a trusted judge; the warning for an untrusted one that was allowed; else an error."""
    if choice.gate.trusted:
        return None
    message = f"{choice.gate.rater} is {choice.gate.label}"
    if not allow_untrusted:
        raise ValidationError(f"{message}: its verdicts are not used; {UNTRUSTED_HELP}")
    return f"WARNING: {message}; used anyway (--allow-untrusted-judge)"


def quick_labels(store, rater_ids: set[int], threshold: float = DEFAULT_THRESHOLD) -> dict[int, tuple[bool, str]]:
    """(trusted, label) per judge rater from its kappa alone (no bootstrap): cheap enough to
    show beside every reply."""
    out = {}
    for rater_id in rater_ids:
        kept, _ = compare(store.judges.verdicts_with_humans(rater_id))
        kappa = cohen_kappa([r["judge_followed"] for r in kept], [r["human"] for r in kept], FOLLOWED)
        out[rater_id] = (kappa is not None and kappa >= threshold, trust_label(kappa, len(kept), threshold))
    return out


def badges(store, response_ids, threshold: float = DEFAULT_THRESHOLD) -> dict[int, list[dict]]:
    """Judge verdicts to show beside replies: response id -> [{judge, status, followed, score,
    tags, reason, trusted, label}]. Plain values: the caller renders them through render.py."""
    rows = store.judges.verdicts_of_responses(response_ids)
    labels = quick_labels(store, {r["rater_id"] for r in rows}, threshold)
    out: dict[int, list[dict]] = {}
    for r in rows:
        trusted, label = labels[r["rater_id"]]
        out.setdefault(r["response_id"], []).append(
            {"judge": r["judge_name"], "status": r["status"], "followed": r["followed"], "score": r["score"],
             "tags": json.loads(r["tags"] or "[]"), "reason": r["reason"], "trusted": trusted, "label": label})
    return out


def rounds_beside(store, name: str, human, filters=None, threshold: float = DEFAULT_THRESHOLD):
    """(people's per-round table with the judge's columns beside it, the OptIn): for the
    leaderboard's opt-in "include judge NAME"."""
    from ..leaderboard.following import beside_judge
    from .agreement import judge_curve

    info = resolve(store, name)
    curve = judge_curve(store, info["name"], threshold, filters)
    choice = OptIn(info, curve.gate)
    return beside_judge(human, curve.table, f"{choice.short_label()}: {curve.gate.label}"), choice
