"""Model backends behind one interface (see ``base``), collected in ``Backends``."""

from __future__ import annotations

from typing import Iterable

from ..errors import NotFound
from .base import Backend, BackendStatus, Completion, SamplingParams, StreamItem

__all__ = ["Backend", "Backends", "BackendStatus", "Completion", "SamplingParams", "StreamItem"]


class Backends:
    """The checkpoints the app can talk to, by name; owns their lifecycles."""

    def __init__(self, backends: Iterable[Backend] = (), notes: dict[str, str] | None = None,
                 demo: bool = False):
        self._backends = {b.name: b for b in backends}
        self.notes = dict(notes or {})  # name -> what is wrong with a checkpoint we skipped
        self.demo = demo  # True when serving the demo checkpoints (ift_chat.demo)

    def names(self) -> list[str]:
        return sorted(self._backends)

    def get(self, name: str) -> Backend:
        try:
            return self._backends[name]
        except KeyError:
            raise NotFound(f"no checkpoint named {name!r} is being served") from None

    def statuses(self) -> dict[str, BackendStatus]:
        return {name: b.status() for name, b in sorted(self._backends.items())}

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
