"""Faults through the running app, against a real HTTP model server with scripted failures:
a server that dies mid-reply, one that never answers. The vLLM kill/restart test is in
tests/backends/test_vllm_integration.py."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client

from ift_chat.backends import Backends
from ift_chat.backends.openai_client import OpenAIBackend
from tests.backends.openai_stub import WORDS, StubServer
from tests.ui.conftest import running_app


@pytest.fixture(scope="module")
def stub():
    server = StubServer().start()
    yield server
    server.stop()


def app_on(config, store, stub, model: str, timeout_s: float = 30):
    store.checkpoints.register("remote-ckpt", source=stub.url, backend="openai")
    backend = OpenAIBackend("remote-ckpt", stub.url, config.limits, model=model, timeout_s=timeout_s)
    return running_app(config, store, Backends([backend]))


def chat(client, text):
    out = client.predict({"text": text, "files": []}, "ann", "", 0.0, 1.0, 32, 1, "remote-ckpt",
                         api_name="/chat_send")
    return json.dumps(out, default=str, ensure_ascii=False)


def test_server_dying_mid_reply_keeps_the_partial_text_and_the_next_turn_works(config, store, stub):
    stub.dropped = False
    with app_on(config, store, stub, "drop-once") as url:
        client = Client(url, verbose=False)
        shown = chat(client, "first question")
        partial = "".join(WORDS[:3])
        assert partial in shown and "error" in shown and "broke mid-reply" in shown
        shown = chat(client, "second question")
        assert "".join(WORDS) in shown
    rows = store.query("select status, text, error from responses order by id")
    assert [r["status"] for r in rows] == ["error", "ok"]
    assert rows[0]["text"] == partial and "broke mid-reply" in rows[0]["error"]
    assert [t["idx"] for t in store.query("select idx from turns order by id")] == [1, 2]


def test_a_server_that_never_answers_times_out_with_a_message(config, store, stub):
    with app_on(config, store, stub, "hang", timeout_s=1.0) as url:
        shown = chat(Client(url, verbose=False), "hello?")
    assert "timeout" in shown.lower()
    (row,) = store.query("select status, error from responses")
    assert row["status"] == "error" and "timeout" in row["error"].lower()
