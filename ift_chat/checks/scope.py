"""Which constraints are in force for a turn, given what every earlier turn said.

A constraint holds for its own turn; a persistent one ("from now on ...") for every later
turn too, until a later turn revokes its kind or restates the same kind persistently
(which replaces it). A later one-off constraint of the same kind shadows a persistent one
for that turn only: "answer this one in English" does not end "always answer in French".
"""

from __future__ import annotations

from typing import Sequence

from .detection import detect, revocations
from .markers import may_persist
from .model import REVOKE, Constraint

# Kinds that contradict each other share a group: a new one replaces the old.
_GROUPS = {"one_word": "length", "word_count": "length",
           "lowercase": "case", "uppercase": "case"}
# Kinds that stack (two different keywords both apply): only the same subject replaces.
_SUBJECT = {"include_keywords": "keywords", "exclude_keywords": "keywords",
            "keyword_frequency": "keyword", "letter_frequency": "letter", "include_number": None}
_BOUNDS = {"at_most": "max", "less_than": "max", "at_least": "min", "more_than": "min"}


def group(c: Constraint) -> str:
    return _GROUPS.get(c.kind, c.kind)


def replaces(new: Constraint, old: Constraint) -> bool:
    """Whether `new` takes the place of `old` (same group, conflicting statement)."""
    if group(new) != group(old):
        return False
    if new.kind in _SUBJECT:
        field = _SUBJECT[new.kind]
        return new.params == old.params if field is None else new.params.get(field) == old.params.get(field)
    # "at most 50 words" and "at least 10 words" stand together; "exactly 3" replaces either
    bn, bo = _BOUNDS.get(new.params.get("relation")), _BOUNDS.get(old.params.get("relation"))
    return bn is None or bo is None or bn == bo


def _revoked(c: Constraint, kinds: Sequence[str]) -> bool:
    return "*" in kinds or c.kind in kinds or group(c) in kinds


def active_from_detected(per_turn: Sequence[Sequence[Constraint]]) -> list[Constraint]:
    """The constraints in force for the last turn, from each turn's detected constraints."""
    if not per_turn:
        return []
    persistent: list[Constraint] = []
    for stated in per_turn:
        revokes = [k for c in stated for k in c.revokes]
        if revokes:
            persistent = [p for p in persistent if not _revoked(p, revokes)]
        for c in stated:
            if c.persistent and c.kind != REVOKE:
                persistent = [p for p in persistent if not replaces(c, p)] + [c]
    own = [c for c in per_turn[-1] if c.kind != REVOKE]
    carried = [p for p in persistent
               if all(p is not o for o in own) and not any(replaces(o, p) for o in own)]
    return carried + own


def detect_earlier(text: str, source_turn: int) -> list[Constraint]:
    """What an earlier turn can still contribute: its persistent constraints and revocations.
    A text without any persistence phrase has no persistent constraint, so only its
    revocations are looked for (much cheaper than detecting everything)."""
    if may_persist(text):
        return detect(text, source_turn=source_turn)
    return revocations(text, source_turn)


def active_constraints(user_texts: Sequence[str]) -> list[Constraint]:
    """Constraints in force for the LAST text, given all earlier ones (0-based source_turn)."""
    if not user_texts:
        return []
    *earlier, last = user_texts
    per_turn = [detect_earlier(text, n) for n, text in enumerate(earlier)]
    return active_from_detected(per_turn + [detect(last, source_turn=len(earlier))])
