"""From config to running backends: discover checkpoints, pick a backend for each, register them."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading

from ..config import Config
from ..demo import make_demo_checkpoints
from ..errors import IftChatError
from . import Backends
from .discovery import CheckpointSpec
from .registry import scan
from .transformers_backend import TransformersBackend

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
    """openai for url entries; else the registry's choice; else config.backend (auto: vllm on a GPU)."""
    if spec.url:
        return "openai"
    if spec.backend in ("transformers", "vllm"):
        return spec.backend
    if config.backend in ("transformers", "vllm"):
        return config.backend
    return "vllm" if gpu else "transformers"


def find_checkpoints(config: Config) -> tuple[list[CheckpointSpec], bool]:
    """(specs, demo): the checkpoints dir, or generated demo checkpoints when it has none."""
    specs = scan(config.checkpoints_dir)
    if specs or not config.demo:
        return specs, False
    make_demo_checkpoints(config.demo_dir)
    return scan(config.demo_dir), True


def build_backends(config: Config, store) -> Backends:
    """Discover, choose, start (models load in the background) and register every checkpoint."""
    specs, demo = find_checkpoints(config)
    gpu = gpu_present()
    backends, notes, to_load = [], {}, []
    for spec in specs:
        if not spec.ok:
            notes[spec.name] = "; ".join(spec.problems)
            continue
        kind = choose_backend(spec, config, gpu)
        try:
            backend = _make_backend(spec, kind, config)
        except IftChatError as exc:
            notes[spec.name] = str(exc)
            continue
        store.checkpoints.register(spec.name, source=spec.source, backend=kind,
                                   architecture=spec.architecture, fingerprint=spec.fingerprint,
                                   base=spec.base)
        backends.append(backend)
        if isinstance(backend, TransformersBackend):
            to_load.append(backend)
    if to_load:  # one after another, so two big models never peak in RAM together
        threading.Thread(target=lambda: [b.load() for b in to_load], name="load-checkpoints",
                         daemon=True).start()
    return Backends(backends, notes=notes, demo=demo)


def _make_backend(spec: CheckpointSpec, kind: str, config: Config):
    if kind == "transformers":
        if spec.kind == "lora":
            raise IftChatError(f"{spec.name}: LoRA adapters are served by vLLM; merge it or use backend vllm")
        template = spec.chat_template.read_text() if spec.chat_template else None
        return TransformersBackend(spec.name, spec.path, config.limits, chat_template=template,
                                   quantization=TRANSFORMERS_QUANTIZATION.get(spec.quantization))
    raise IftChatError(f"{spec.name}: backend {kind!r} is not available yet")
