"""A backend with a scripted reply and timing, for UI/runner tests that need control
over what a model says and when (XSS payloads, a slow first token). It implements
the same protocol as the real backends; tests of real models use the demo checkpoints."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from ift_chat.backends import BackendStatus, Completion, SamplingParams


@dataclass
class ScriptedBackend:
    name: str
    reply: str = "Hello from a scripted model."
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    state: str = "ready"
    max_model_len: int | None = 2048
    calls: list = field(default_factory=list)

    def status(self) -> BackendStatus:
        return BackendStatus(self.state)

    async def stream(self, messages, params: SamplingParams, cancel: asyncio.Event | None = None):
        self.calls.append(messages)
        start = time.perf_counter()
        await asyncio.sleep(self.first_token_delay)
        text, ttft = "", None
        for token in self.reply.split(" "):
            if cancel is not None and cancel.is_set():
                yield Completion(text, "stopped", finish_reason="abort")
                return
            piece = token if not text else " " + token
            text += piece
            ttft = ttft or (time.perf_counter() - start) * 1000
            yield piece
            await asyncio.sleep(self.token_delay)
        yield Completion(text, "ok", finish_reason="stop", prompt_tokens=10,
                         completion_tokens=len(text.split()), ttft_ms=ttft,
                         latency_ms=(time.perf_counter() - start) * 1000)

    async def aclose(self) -> None:
        pass


def scripted_runner(store, limits, **replies: str):
    """A DialogRunner over scripted checkpoints registered in the store: name=reply each."""
    from ift_chat.backends import Backends
    from ift_chat.runner import DialogRunner

    backends = [ScriptedBackend(name.replace("_", "-"), reply=reply) for name, reply in replies.items()]
    for b in backends:
        store.checkpoints.register(b.name, backend="scripted")
    return DialogRunner(store, Backends(backends), limits)
