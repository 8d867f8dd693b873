"""The two value types of the checks: a detected constraint and a verdict on one reply."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

# Bump whenever detection or checking could give a different result for a stored reply:
# stored rows carry it, and `checks run` re-checks replies whose rows have another version.
CHECKER_VERSION = "1"

# A pure revocation ("you no longer need to answer in French") is a Constraint of this kind;
# it carries `revokes` and is never checked against a reply.
REVOKE = "revoke"


@dataclass(frozen=True)
class Constraint:
    """One verifiable instruction stated in a user turn.

    source_turn: 0-based index of the round that stated it. persistent: it holds for every
    later round too, until revoked or replaced. revokes: kinds this statement cancels
    ("*" = every earlier persistent constraint)."""

    kind: str
    params: dict = field(default_factory=dict)
    persistent: bool = False
    source_turn: int = 0
    revokes: tuple[str, ...] = ()

    @cached_property  # frozen dataclasses allow it (it writes the instance __dict__ directly)
    def params_json(self) -> str:
        """Canonical JSON of the params: the form stored and compared."""
        return json.dumps(self.params, sort_keys=True, ensure_ascii=False)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "params": self.params, "source_turn": self.source_turn,
                "persistent": self.persistent}


@dataclass(frozen=True)
class Verdict:
    """A reply against one constraint: strict and loose (IFEval) results and why."""

    constraint: Constraint
    passed: bool
    passed_loose: bool
    detail: str
