"""The one interface between the UI and every model backend.

A backend streams ``str`` text deltas and then exactly one ``Completion``.
Backend failures never raise out of ``stream``: they end the stream with a
``Completion(status="error")`` that keeps the partial text, so a dead server
becomes a recorded error on that response, not a crash of the app.

Messages are OpenAI-style dicts: ``{"role": "system"|"user"|"assistant",
"content": str | [parts]}`` where a part is ``{"type": "text", "text": ...}``
or ``{"type": "image", "path": "/abs/path.png"}`` (a file in the image store;
each backend turns it into what its model needs).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, dataclass, field
from typing import AsyncIterator, Protocol, Union

from ..config import Limits
from ..errors import ValidationError

STATES = ("starting", "ready", "down")


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def validate(self, limits: Limits) -> "SamplingParams":
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and 0 <= self.temperature <= 2):
            raise ValidationError(f"temperature must be between 0 and 2, not {self.temperature!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ValidationError(f"top_p must be in (0, 1], not {self.top_p!r}")
        if not isinstance(self.max_tokens, int) or not 1 <= self.max_tokens <= limits.max_tokens_cap:
            raise ValidationError(
                f"max tokens must be a whole number from 1 to {limits.max_tokens_cap}, not {self.max_tokens!r}")
        if self.seed is not None and (not isinstance(self.seed, int) or not 0 <= self.seed < 2**31):
            raise ValidationError(f"seed must be a whole number from 0 to 2^31-1, not {self.seed!r}")
        if len(self.stop) > 4 or any(not isinstance(s, str) or not s for s in self.stop):
            raise ValidationError("at most 4 non-empty stop strings")
        return self

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "SamplingParams":
        d = dict(d or {})
        if d.get("max_tokens") is not None and isinstance(d["max_tokens"], float) and d["max_tokens"].is_integer():
            d["max_tokens"] = int(d["max_tokens"])
        if d.get("seed") is not None and isinstance(d["seed"], float) and d["seed"].is_integer():
            d["seed"] = int(d["seed"])
        d["stop"] = tuple(d.get("stop") or ())
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and v is not None}
        return cls(**known)


@dataclass(frozen=True)
class Completion:
    """The final record of one streamed reply."""

    text: str
    status: str  # ok | stopped | error
    finish_reason: str | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None


@dataclass(frozen=True)
class BackendStatus:
    state: str  # starting | ready | down
    detail: str = ""
    log_tail: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return {"starting": "⏳ starting", "ready": "🟢 ready", "down": "🔴 down"}[self.state]


StreamItem = Union[str, Completion]


class Backend(Protocol):
    """What the UI needs of a model. ``name`` is the checkpoint name."""

    name: str
    max_model_len: int | None

    def status(self) -> BackendStatus: ...

    def stream(self, messages: list[dict], params: SamplingParams,
               cancel: asyncio.Event | None = None) -> AsyncIterator[StreamItem]: ...

    async def aclose(self) -> None: ...
