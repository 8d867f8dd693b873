"""Security fixtures: a served app (main + /battle) and backends that misbehave on purpose."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from ift_chat.backends import Backends, BackendStatus, Completion
from ift_chat.server import make_asgi_app
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import serve  # noqa: F401  (the security tests import it from here)

SECRETS = ("secret-ckpt-alpha", "secret-ckpt-beta")


@dataclass
class CrashingBackend:
    """Streams a little, then fails with an error that names itself and its path, like real ones do."""

    name: str
    crash: bool = True
    state: str = "ready"
    detail: str = ""
    max_model_len: int | None = 2048
    calls: int = 0
    source: str = field(init=False)

    def __post_init__(self):
        self.source = f"/models/{self.name}"

    def status(self) -> BackendStatus:
        return BackendStatus(self.state, self.detail)

    async def stream(self, messages, params, cancel: asyncio.Event | None = None):
        self.calls += 1
        text = f"Partial answer number {self.calls} before"
        for word in text.split(" "):
            await asyncio.sleep(0.01)
            yield word + " "
        if self.crash:
            yield Completion(text, "error", error=(
                f"{self.name} at {self.source} crashed: CUDA error in {self.source}/model.safetensors "
                f"(see http://gpu-box:8000/v1 for {self.name.upper().replace('-', '_')})"))
        else:
            yield Completion(text + " ok.", "ok", finish_reason="stop")

    async def aclose(self) -> None:
        pass


def register(store, *backends) -> Backends:
    for b in backends:
        store.checkpoints.register(b.name, backend="scripted", source=getattr(b, "source", None),
                                   architecture="SecretArchForConditionalGeneration")
    return Backends(backends)


@pytest.fixture
def crashing_app(config, store):
    """Two checkpoints that both fail mid-reply with their name and path in the error."""
    backends = register(store, *(CrashingBackend(name) for name in SECRETS))
    with serve(make_asgi_app(config, store, backends)) as url:
        yield url, backends


@pytest.fixture
def secret_app(config, store):
    """Two well-behaved scripted checkpoints with secret names."""
    backends = register(store, ScriptedBackend(SECRETS[0], reply="Reply one from the first model."),
                        ScriptedBackend(SECRETS[1], reply="Reply two from the second model."))
    with serve(make_asgi_app(config, store, backends)) as url:
        yield url, backends
