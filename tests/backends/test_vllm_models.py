"""The tiny checkpoints on real vLLM-CPU servers (one per architecture, started lazily for the run):
2 rounds with an image through the app's runner, a LoRA adapter next to its base in one arena, and
the list of architectures vLLM-CPU leaves to transformers checked against the vLLM build itself."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ift_chat.backends import SamplingParams
from ift_chat.backends.discovery import KNOWN_ARCHITECTURES
from ift_chat.backends.transformers_backend import TransformersBackend
from ift_chat.backends.vllm_plan import VLLM_CPU_CANNOT_SERVE, build_command
from ift_chat.config import Limits

from .conftest import assert_two_good_rounds, two_rounds

pytestmark = pytest.mark.slow

GREEDY = SamplingParams(temperature=0, max_tokens=12, seed=0)


def test_blip2_two_rounds_on_vllm(vllm_tiny_blip2, tiny_checkpoints, store, config, make_png):
    served = vllm_tiny_blip2
    rows = two_rounds(store, config.limits, [served["tiny-blip2"]], {"single": "tiny-blip2"},
                      make_png(size=(120, 80)), GREEDY)
    assert_two_good_rounds(rows)
    # The same checkpoint in-process reads the same prompt (template, query tokens for the image).
    local = TransformersBackend("tiny-blip2", tiny_checkpoints["Blip2ForConditionalGeneration"], Limits()).load()
    local_rows = two_rounds(store, config.limits, [local], {"single": "tiny-blip2"}, make_png(size=(120, 80)),
                            GREEDY)
    assert local_rows[0]["tokens_in"] == rows[0]["tokens_in"]


def test_idefics3_base_and_its_lora_in_one_arena_on_vllm(vllm_tiny_idefics3, tiny_vllm, store, config,
                                                         make_png):
    """One server with --enable-lora answers for both; on the same prompt and seed they differ."""
    served = vllm_tiny_idefics3
    assert sorted(served) == ["tiny-idefics3", "tiny-idefics3-lora"]
    command = build_command(tiny_vllm.plans["tiny-idefics3"])
    assert "--enable-lora" in command and any(a.startswith("tiny-idefics3-lora=") for a in command)
    rows = two_rounds(store, config.limits, list(served.values()), {"A": "tiny-idefics3", "B": "tiny-idefics3-lora"},
                      make_png(size=(120, 80)), GREEDY)
    assert_two_good_rounds(rows, sides=2)
    base, adapter = rows[0], rows[1]
    assert (base["checkpoint"], adapter["checkpoint"]) == ("tiny-idefics3", "tiny-idefics3-lora")
    assert base["tokens_in"] == adapter["tokens_in"]
    assert [r["text"] for r in rows if r["side"] == "A"] != [r["text"] for r in rows if r["side"] == "B"]
    # The base side is the base's own reply: vllm-cpu 0.32 batched with an adapter request applied the
    # adapter to both (the plan's --max-num-seqs 1 on CPU avoids that).
    alone = two_rounds(store, config.limits, [served["tiny-idefics3"]], {"single": "tiny-idefics3"},
                       make_png(size=(120, 80)), GREEDY)
    assert alone[0]["text"] == base["text"]


# Run in the vLLM-CPU venv: which vLLM model module each architecture needs, and whether it imports.
PROBE = r"""
import importlib, json, sys
from vllm.model_executor.models.registry import _MULTIMODAL_MODELS as models
out = {}
for arch in json.loads(sys.argv[1]):
    if arch not in models:
        out[arch] = "no model"
        continue
    try:
        importlib.import_module("vllm.model_executor.models." + models[arch][0])
        out[arch] = "ok"
    except Exception as exc:
        out[arch] = f"{type(exc).__name__}: {exc}"
print("PROBE " + json.dumps(out))
"""


def test_what_vllm_cpu_cannot_serve_is_what_the_app_says():
    python = os.environ.get("IFT_CHAT_VLLM_PYTHON")
    if not python:
        pytest.skip("set IFT_CHAT_VLLM_PYTHON to the python of a vllm-cpu venv (make install-vllm-cpu)")
    result = subprocess.run([python, "-c", PROBE, json.dumps(sorted(KNOWN_ARCHITECTURES))],
                            capture_output=True, text=True, timeout=900)
    line = next(l for l in result.stdout.splitlines() if l.startswith("PROBE "))
    found = json.loads(line[len("PROBE "):])
    for arch, outcome in sorted(found.items()):
        if outcome == "ok":
            assert arch not in VLLM_CPU_CANNOT_SERVE, f"{arch} imports in vLLM-CPU now: drop it from the list"
        elif outcome == "no model":
            assert "has no model" in VLLM_CPU_CANNOT_SERVE.get(arch, ""), arch
        else:
            assert arch in VLLM_CPU_CANNOT_SERVE, f"{arch} fails in vLLM-CPU ({outcome}) but is planned there"
            if "torchvision" in outcome:
                assert "torchvision" in VLLM_CPU_CANNOT_SERVE[arch]
    assert found["Idefics3ForConditionalGeneration"] == found["Blip2ForConditionalGeneration"] == "ok"
