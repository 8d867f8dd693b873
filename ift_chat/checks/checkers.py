"""Checking a reply against constraints: strict, and loose as IFEval defines it (the reply
also passes if a variant passes: markdown '*' removed, first / last line removed)."""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from . import check_content, check_counts, check_format
from .model import REVOKE, Constraint, Verdict

# kind -> check(reply, params, loose) -> (passed, detail)
Checker = Callable[[str, dict, bool], tuple[bool, str]]
CHECKERS: dict[str, Checker] = {**check_counts.CHECKERS, **check_format.CHECKERS, **check_content.CHECKERS}


def loose_variants(reply: str, markdown: bool = True) -> list[str]:
    """IFEval's loose variants of a reply (the reply itself excluded); markdown=False leaves
    out the '*'-removed ones (they cannot change a reply's language)."""
    lines = reply.split("\n")
    cut = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    variants = ([reply.replace("*", "")] + cut + [v.replace("*", "") for v in cut]) if markdown else cut
    return [v for v in dict.fromkeys(variants) if v and v != reply]


# Kinds a variant cannot pass when the reply fails: every variant is the reply with
# characters removed, and these need something to be present.
_MONOTONE = {"include_keywords", "include_number", "title", "placeholders"}
_AT_LEAST = {"keyword_frequency", "letter_frequency", "highlighted_sections"}


def _variants_can_help(constraint: Constraint) -> bool:
    if constraint.kind in _MONOTONE:
        return False
    return not (constraint.kind in _AT_LEAST and constraint.params.get("relation") in ("at_least", "more_than"))


# Kinds whose checker is more lenient when asked for the loose verdict (the others only
# get the loose variants of the reply).
_LENIENT = {"choice", "language", "bullet_count", "starts_with", "ends_with"}


def check_one(reply: str, constraint: Constraint) -> Verdict:
    check = CHECKERS.get(constraint.kind)
    if check is None:  # detected but not checkable (never happens for shipped kinds)
        return Verdict(constraint, False, False, f"no checker for {constraint.kind!r}")
    passed, detail = check(reply, constraint.params, False)
    loose = passed or (constraint.kind in _LENIENT and check(reply, constraint.params, True)[0]) or (
        _variants_can_help(constraint) and any(
        check(v, constraint.params, True)[0] for v in loose_variants(reply, constraint.kind != "language")))
    return Verdict(constraint, passed, loose, detail)


def check_reply(reply: str, constraints: Iterable[Constraint]) -> list[Verdict]:
    """One verdict per active constraint, in order (revocations are not checked)."""
    reply = reply or ""
    return [check_one(reply, c) for c in constraints if c.kind != REVOKE]


def summary(verdicts: Sequence[Verdict]) -> str:
    """"2/3 — ✗ one word: 5 words" (the badge text; empty when nothing was checked)."""
    if not verdicts:
        return ""
    failed = [v for v in verdicts if not v.passed]
    text = f"{len(verdicts) - len(failed)}/{len(verdicts)}"
    return text + "".join(f" — ✗ {v.constraint.kind.replace('_', ' ')}: {v.detail}" for v in failed[:2])
