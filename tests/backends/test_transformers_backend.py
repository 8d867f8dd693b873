"""The in-process transformers backend on a real (tiny, random-weight) demo checkpoint."""

from __future__ import annotations

import asyncio

from ift_chat.backends import SamplingParams
from ift_chat.backends.transformers_backend import TransformersBackend
from ift_chat.config import Limits

from .conftest import collect, run

GREEDY = SamplingParams(temperature=0, max_tokens=24)


def user(text, *images):
    return {"role": "user", "content": [*({"type": "image", "path": str(p)} for p in images),
                                        {"type": "text", "text": text}]}


def test_streams_deltas_then_one_completion(demo_backend):
    deltas, done = run(collect(demo_backend, [user("Describe the image in one sentence.")], GREEDY))
    assert deltas and all(isinstance(d, str) and d for d in deltas)
    assert done.status == "ok" and done.error is None
    assert done.text == "".join(deltas)
    assert done.finish_reason in ("stop", "length")
    assert 0 < done.completion_tokens <= 24
    assert done.prompt_tokens > 5
    assert 0 < done.ttft_ms <= done.latency_ms


def test_greedy_is_reproducible_and_seed_fixes_sampling(demo_backend):
    a = run(collect(demo_backend, [user("What color is the square?")], GREEDY))[1]
    b = run(collect(demo_backend, [user("What color is the square?")], GREEDY))[1]
    assert a.text == b.text
    sampled = SamplingParams(temperature=1.0, top_p=0.9, max_tokens=24, seed=7)
    c = run(collect(demo_backend, [user("What color is the square?")], sampled))[1]
    d = run(collect(demo_backend, [user("What color is the square?")], sampled))[1]
    assert c.status == d.status == "ok" and c.text == d.text


def test_cancel_mid_stream_keeps_partial_text(demo_backend):
    async def scenario():
        cancel = asyncio.Event()
        params = SamplingParams(temperature=1.0, max_tokens=1500, seed=1)
        return await collect(demo_backend, [user("Now list the objects as bullet points.")], params,
                             cancel=cancel, cancel_after=3)

    deltas, done = run(scenario())
    assert done.status == "stopped" and done.finish_reason == "abort"
    assert done.text == "".join(deltas) and len(deltas) >= 3
    assert done.completion_tokens < 1500  # generation really stopped early


def test_cancel_before_start_generates_nothing(demo_backend):
    async def scenario():
        cancel = asyncio.Event()
        cancel.set()
        return await collect(demo_backend, [user("hi")], GREEDY, cancel=cancel)

    deltas, done = run(scenario())
    assert done.status == "stopped" and done.text == "" and deltas == []


def test_image_input_adds_image_tokens(demo_backend, tmp_path, make_png):
    big = tmp_path / "photo.png"
    big.write_bytes(make_png(size=(3000, 2000)))
    small = tmp_path / "icon.png"
    small.write_bytes(make_png(size=(20, 30), color=(0, 0, 255)))
    plain = run(collect(demo_backend, [user("What color is the square?")], GREEDY))[1]
    one = run(collect(demo_backend, [user("What color is the square?", big)], GREEDY))[1]
    two_rounds = [user("What color is the square?", big), {"role": "assistant", "content": one.text},
                  user("And this one?", small)]
    two = run(collect(demo_backend, two_rounds, GREEDY))[1]
    assert one.status == "ok" and two.status == "ok"
    assert one.prompt_tokens >= plain.prompt_tokens + 4  # image_seq_len=4 image tokens at least
    assert two.prompt_tokens > one.prompt_tokens + 4


def test_stop_string_cuts_the_reply(demo_backend):
    full = run(collect(demo_backend, [user("Yes. No. Maybe.")], GREEDY))[1]
    assert len(full.text) > 6
    stop = full.text[3:6]
    cut = run(collect(demo_backend, [user("Yes. No. Maybe.")],
                      SamplingParams(temperature=0, max_tokens=24, stop=(stop,))))[1]
    assert cut.status == "ok" and cut.finish_reason == "stop"
    assert cut.text == full.text[:full.text.index(stop)]


def test_concurrent_requests_queue_on_one_model(demo_backend):
    async def scenario():
        msgs = [user("Answer in exactly three words.")]
        return await asyncio.gather(*(collect(demo_backend, msgs, GREEDY) for _ in range(3)))

    results = run(scenario())
    texts = {done.text for _, done in results}
    assert all(done.status == "ok" for _, done in results)
    assert len(texts) == 1  # serialized generate: identical greedy replies, no state mixing


def test_bad_params_become_an_error_completion(demo_backend):
    _, done = run(collect(demo_backend, [user("hi")], SamplingParams(temperature=5)))
    assert done.status == "error" and "temperature" in done.error and done.text == ""
    _, done = run(collect(demo_backend, [user("hi")], SamplingParams(max_tokens=0)))
    assert done.status == "error" and "max tokens" in done.error


def test_unreadable_image_is_a_clear_error(demo_backend, tmp_path):
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"this is text")
    _, done = run(collect(demo_backend, [user("look", bad)], GREEDY))
    assert done.status == "error" and "not-an-image.png" in done.error


def test_context_overflow_is_a_clear_error(demo_backend):
    long_text = "le carré rouge est sur un fond blanc " * 400
    _, done = run(collect(demo_backend, [user(long_text)], GREEDY))
    assert done.status == "error"
    assert "2048" in done.error and "new conversation" in done.error


def test_broken_checkpoint_is_down_with_reason(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    backend = TransformersBackend("broken", tmp_path / "broken", Limits()).load()
    assert backend.status().state == "down" and "broken" in backend.status().detail
    _, done = run(collect(backend, [user("hi")], GREEDY))
    assert done.status == "error" and "not available" in done.error
