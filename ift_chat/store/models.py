"""Domain objects: small dataclasses built from plain row dicts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

FOLLOWED = ("yes", "partial", "no")
WINNERS = ("A", "B", "C", "D", "tie", "both_bad")  # a side (best of N), a tie, all bad
MODES = ("chat", "arena-named", "arena-anonymous", "replay")
STATUSES = ("pending", "ok", "stopped", "error")
ROLES = ("rater", "admin")
ERROR_TAGS = (
    "ignored_instruction",
    "answered_earlier_turn",
    "broke_format_or_length",
    "hallucinated_visual",
    "factual_error",
    "needless_refusal",
    "repetition",
    "unsafe",
)
TAG_LABELS = {
    "ignored_instruction": "ignored this turn's instruction",
    "answered_earlier_turn": "answered an earlier turn",
    "broke_format_or_length": "broke a format/length constraint",
    "hallucinated_visual": "hallucinated visual content",
    "factual_error": "factual error",
    "needless_refusal": "needless refusal",
    "repetition": "repetition",
    "unsafe": "unsafe",
}
JSON_FIELDS = {"sampling_params", "tags", "rounds", "filters"}


def _from_row(cls, row: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    values = {}
    for key, value in row.items():
        if key not in names:
            continue
        if key in JSON_FIELDS and isinstance(value, str):
            value = json.loads(value)
        values[key] = value
    return cls(**values)


class FromRow:
    @classmethod
    def from_row(cls, row: dict[str, Any]):
        return _from_row(cls, row)


@dataclass(frozen=True)
class Rater(FromRow):
    id: int
    name: str
    role: str
    created: str
    disabled: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Invite(FromRow):
    """An invite token's row: only the token's sha256 is kept."""
    id: int
    token_sha256: str
    role: str
    max_uses: int
    uses: int
    created: str
    expires_at: str
    created_by: int | None = None


@dataclass(frozen=True)
class Checkpoint(FromRow):
    name: str
    first_seen: str
    source: str | None = None
    backend: str | None = None
    architecture: str | None = None
    fingerprint: str | None = None
    base: str | None = None
    model: str | None = None  # the model id its server is asked for (remote / vLLM)
    display_name: str | None = None


@dataclass(frozen=True)
class ImageRecord(FromRow):
    sha256: str
    path: str
    mime: str
    width: int
    height: int
    bytes: int
    created: str | None = None


@dataclass(frozen=True)
class Conversation(FromRow):
    id: str
    mode: str
    created: str
    rater_id: int | None = None
    system_prompt: str | None = None
    sampling_params: dict = field(default_factory=dict)
    eval_item_id: int | None = None
    history_mode: str | None = None
    title: str | None = None
    revealed: str | None = None  # anonymous battle: when its owner ended it and saw the names


@dataclass(frozen=True)
class Turn(FromRow):
    id: int
    conversation_id: str
    idx: int
    user_text: str
    created: str
    superseded: int = 0
    images: tuple[str, ...] = ()  # sha256 in order; filled by the store


@dataclass(frozen=True)
class Response(FromRow):
    id: int
    turn_id: int
    side: str
    checkpoint: str
    status: str
    created: str
    text: str = ""
    error: str | None = None
    finish_reason: str | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    sampling_params: dict = field(default_factory=dict)
    superseded: int = 0
    identity_leak: int = 0
    completed: str | None = None


@dataclass(frozen=True)
class Vote(FromRow):
    id: int
    turn_id: int
    rater_id: int
    winner: str
    anonymous: int
    created: str
    reason: str | None = None
    updated: str | None = None


@dataclass(frozen=True)
class Rating(FromRow):
    id: int
    response_id: int
    rater_id: int
    followed: str
    created: str
    score: int | None = None
    tags: list = field(default_factory=list)
    comment: str | None = None
    corrected_text: str | None = None
    seconds_spent: float | None = None
    updated: str | None = None


@dataclass(frozen=True)
class EvalSet(FromRow):
    id: int
    name: str
    created: str
    source: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class EvalItem(FromRow):
    id: int
    eval_set_id: int
    idx: int
    rounds: list = field(default_factory=list)
    external_id: str | None = None
    created: str | None = None
    system_prompt: str | None = None


@dataclass(frozen=True)
class Export(FromRow):
    id: int
    kind: str
    format: str
    path: str
    row_count: int
    created: str
    filters: dict = field(default_factory=dict)
    sha256: str | None = None
    rater_id: int | None = None
