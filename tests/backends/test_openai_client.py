"""The OpenAI-compatible client backend against a real local HTTP server with scripted failures."""

from __future__ import annotations

import asyncio
import base64
import io
import time

import httpx
import pytest
from PIL import Image

from ift_chat.backends import SamplingParams
from ift_chat.backends.openai_client import OpenAIBackend
from ift_chat.config import Limits

from .conftest import collect, run
from .openai_stub import WORDS, StubServer

PARAMS = SamplingParams(temperature=0, max_tokens=64, seed=3, stop=("###",))
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def stub():
    server = StubServer().start()
    yield server
    server.stop()


def backend(stub, model="ok", **kw):
    return OpenAIBackend(f"m-{model}", stub.url, Limits(send_image_max_side=256), model=model, **kw)


def test_streams_deltas_and_usage(stub):
    deltas, done = run(collect(backend(stub), HI, PARAMS))
    assert deltas == WORDS
    assert done.status == "ok" and done.text == "".join(WORDS) and done.finish_reason == "stop"
    assert (done.prompt_tokens, done.completion_tokens) == (12, len(WORDS))
    assert 0 < done.ttft_ms <= done.latency_ms
    sent = stub.requests[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert (sent["temperature"], sent["seed"], sent["stop"], sent["max_tokens"]) == (0, 3, ["###"], 64)


def test_images_go_as_downscaled_data_urls(stub, tmp_path, make_png):
    photo = tmp_path / "photo.png"
    photo.write_bytes(make_png(size=(4000, 3000)))
    messages = [{"role": "user", "content": [{"type": "image", "path": str(photo)},
                                             {"type": "text", "text": "what is it?"}]},
                {"role": "assistant", "content": "a square"},
                {"role": "user", "content": [{"type": "text", "text": "sure?"}]}]
    _, done = run(collect(backend(stub), messages, PARAMS))
    assert done.status == "ok"
    parts = stub.requests[-1]["messages"][0]["content"]
    assert parts[1] == {"type": "text", "text": "what is it?"}
    url = parts[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.size == (256, 192)  # longer side capped, aspect kept
    assert stub.requests[-1]["messages"][1] == {"role": "assistant", "content": "a square"}


def test_malformed_image_is_an_error_and_sends_nothing(stub, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    before = len(stub.requests)
    _, done = run(collect(backend(stub), [{"role": "user", "content": [{"type": "image", "path": str(bad)}]}],
                          PARAMS))
    assert done.status == "error" and "bad.jpg" in done.error
    assert len(stub.requests) == before


def test_cancel_mid_stream_keeps_partial_text_and_closes_the_stream(stub):
    async def scenario():
        cancel = asyncio.Event()
        started = time.perf_counter()
        deltas, done = await collect(backend(stub, "slow"), HI, PARAMS, cancel=cancel, cancel_after=3)
        return deltas, done, time.perf_counter() - started

    disconnects = stub.disconnects
    deltas, done, took = run(scenario())
    assert done.status == "stopped" and done.finish_reason == "abort"
    assert done.text == "".join(deltas) == "".join(WORDS[:3])
    assert took < 1.0  # the slow stream would take ~13 s
    deadline = time.time() + 3
    while stub.disconnects == disconnects and time.time() < deadline:
        time.sleep(0.05)
    assert stub.disconnects == disconnects + 1  # the server saw the client go away


def test_server_500_is_a_clear_error(stub):
    _, done = run(collect(backend(stub, "http500"), HI, PARAMS))
    assert done.status == "error" and "HTTP 500" in done.error and "internal boom" in done.error


def test_context_overflow_message(stub):
    _, done = run(collect(backend(stub, "context"), HI, PARAMS))
    assert done.status == "error" and "context window" in done.error and "1024" in done.error


def test_server_dying_mid_stream_keeps_partial_text(stub):
    deltas, done = run(collect(backend(stub, "drop"), HI, PARAMS))
    assert done.status == "error" and "broke mid-reply" in done.error
    assert done.text == "".join(WORDS[:3]) == "".join(deltas)


def test_error_chunk_mid_stream(stub):
    _, done = run(collect(backend(stub, "error-chunk"), HI, PARAMS))
    assert done.status == "error" and "engine dead" in done.error and done.text == "".join(WORDS[:2])


def test_timeout(stub):
    started = time.perf_counter()
    _, done = run(collect(backend(stub, "hang", timeout_s=0.5), HI, PARAMS))
    assert done.status == "error" and "timeout" in done.error
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("exc, words", [
    (httpx.ConnectTimeout, "could not connect to m-ok at http://127.0.0.1:9/v1 within 2 s"),
    (httpx.PoolTimeout, "no free connection to m-ok within 7 s"),
    (httpx.ReadTimeout, "m-ok sent nothing for 7 s")])
def test_timeout_says_which_wait_ran_out(exc, words):
    """A connect timeout under load (seen at 16 users with a slowed app) must not read 'sent nothing'."""
    backend = OpenAIBackend("m-ok", "http://127.0.0.1:9/v1", Limits(), model="ok", timeout_s=7)
    backend.timeout = httpx.Timeout(7, connect=2)

    def refuse(request):
        raise exc("timed out", request=request)

    async def go():
        backend._client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
        backend._client_loop = asyncio.get_running_loop()
        return await collect(backend, HI, PARAMS)
    _, done = asyncio.run(go())
    assert done.status == "error" and words in done.error and "(timeout" in done.error


def test_unicode_line_separators_inside_a_reply(stub):
    """U+2028, U+2029 and U+0085 are legal unescaped in JSON strings (vLLM sends them raw) and are
    not line ends in server-sent events; chunks also split mid-line and between CR and LF."""
    import json

    text = "a\u2028b\u2029c\x85d é"
    events = [{"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
              {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}]
    body = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\r\n\r\n" for e in events) + "data: [DONE]\n\n"
    raw = body.encode()
    pieces = [raw[i:i + 7] for i in range(0, len(raw), 7)]  # splits inside characters and CR|LF too

    async def go():
        backend = OpenAIBackend("m-ok", "http://127.0.0.1:9/v1", Limits(), model="ok")
        backend._client = httpx.AsyncClient(transport=httpx.MockTransport(
            lambda request: httpx.Response(200, stream=_Chunks(pieces))))
        backend._client_loop = asyncio.get_running_loop()
        return await collect(backend, HI, PARAMS)
    deltas, done = asyncio.run(go())
    assert done.status == "ok", done.error
    assert deltas == [text] and done.text == text and done.completion_tokens == 5


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, pieces):
        self.pieces = pieces

    async def __aiter__(self):
        for piece in self.pieces:
            yield piece


def test_connection_refused_marks_remote_down(stub):
    dead = OpenAIBackend("gone", "http://127.0.0.1:9/v1", Limits())
    assert dead.status().state == "ready"
    _, done = run(collect(dead, HI, PARAMS))
    assert done.status == "error" and "cannot reach gone" in done.error
    assert dead.status().state == "down"


def test_bad_params_send_nothing(stub):
    before = len(stub.requests)
    _, done = run(collect(backend(stub), HI, SamplingParams(top_p=0)))
    assert done.status == "error" and "top_p" in done.error and len(stub.requests) == before


def test_one_client_serves_many_concurrent_streams(stub):
    b = backend(stub)

    async def scenario():
        results = await asyncio.gather(*(collect(b, HI, PARAMS) for _ in range(16)))
        await b.aclose()
        return results

    assert all(done.status == "ok" and done.text == "".join(WORDS) for _, done in run(scenario()))
