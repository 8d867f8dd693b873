"""The JSON `python -m ift_chat checks explain` prints: what was detected and why it passed."""

from __future__ import annotations

from typing import Sequence

from ..errors import ValidationError
from .checkers import check_reply
from .scope import active_constraints


def history_user_texts(history: object) -> list[str]:
    """The user texts of --history: a JSON list of {"user": ..., "assistant": ...}."""
    if not isinstance(history, (list, tuple)):
        raise ValidationError("the history must be a JSON list of {\"user\": ..., \"assistant\": ...}")
    texts = []
    for n, item in enumerate(history, 1):
        if not isinstance(item, dict) or not isinstance(item.get("user"), str) \
                or not isinstance(item.get("assistant", ""), str):
            raise ValidationError(f"history round {n} must be an object with a 'user' string "
                                  "(and an 'assistant' string)")
        texts.append(item["user"])
    return texts


def explain(instruction: str, reply: str, history: Sequence[dict] = ()) -> dict:
    """{"followed": true|false|null, "constraints": [...]}: followed is null when no
    constraint is active, else whether every active one passed (strict)."""
    texts = history_user_texts(history) + [instruction]
    verdicts = check_reply(reply, active_constraints(texts))
    return {
        "followed": None if not verdicts else all(v.passed for v in verdicts),
        "followed_loose": None if not verdicts else all(v.passed_loose for v in verdicts),
        "constraints": [{**v.constraint.to_dict(), "passed": v.passed, "passed_loose": v.passed_loose,
                         "detail": v.detail} for v in verdicts],
    }
