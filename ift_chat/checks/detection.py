"""Which verifiable constraints one user turn states (IFEval's families, MMMT-IF's sentence
rules, and the natural phrasings people use: "in one word", "under 20 words", "in French").

Detectors run in priority order; a span an earlier (more specific) one took is not read
again. Revocations ("you no longer need to answer in French") are found first.
"""

from __future__ import annotations

from . import detect_content, detect_counts, detect_format
from .markers import find_revocations, is_persistent
from .model import REVOKE, Constraint
from .patterns import Found

DETECTORS = detect_counts.DETECTORS + detect_format.DETECTORS + detect_content.DETECTORS


def _found(text: str) -> list[Found]:
    taken: list[Found] = list(find_revocations(text))
    for run in DETECTORS:
        for f in run(text):
            if not any(f.start < t.end and t.start < f.end for t in taken if t is not f):
                taken.append(f)
            elif any(t.start == f.start and t.end == f.end and t.kind == f.kind for t in taken):
                taken.append(f)  # a range ("between 5 and 9 words") gives two bounds on one span
    return sorted(taken, key=lambda f: (f.start, f.kind))


def detect(text: str, source_turn: int = 0) -> list[Constraint]:
    """The constraints one user turn states, in the order they appear; source_turn is the
    0-based round they are stated in."""
    out, seen = [], set()
    for f in _found(text or ""):
        c = Constraint(f.kind, f.params, persistent=f.kind != REVOKE and is_persistent(text, f.start, f.end),
                       source_turn=source_turn, revokes=f.revokes)
        key = (c.kind, c.params_json, c.revokes)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
