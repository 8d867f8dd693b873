"""SmolLM2's real text weights inside the SmolVLM architecture, with a random tiny vision tower.

SmolVLM's text model *is* SmolLM2-135M (hidden 576, 9 heads of 64), so its weights drop into
``Idefics3ForConditionalGeneration`` unchanged; the image tokens SmolVLM adds get the mean
embedding. The vision tower and connector are random (the connector scaled down so image
features stay small next to text embeddings): the checkpoint takes images through the real
processor, image tokens and serving paths, but cannot see what is in them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .tiny import SPECIAL_TOKENS

MARKER = "ift_chat_demo.json"
IMAGE_SIDE = 64
CONNECTOR_SCALE = 0.1

# ChatML like SmolLM2's own template (what its weights were tuned on), with image parts and
# without SmolLM2's default system prompt.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ('image', 'image_url') %}{{ '<image>' }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
IMAGE_TOKENS = [t for t in SPECIAL_TOKENS if t not in ("<|im_start|>", "<pad>")]


def build(text_dir: Path, target: Path, source: str, seed: int = 0) -> Path:
    """Write the SmolVLM-architecture checkpoint at ``target`` from the converted SmolLM2 dir."""
    import torch
    from transformers import (AutoTokenizer, GenerationConfig, Idefics3Config,
                              Idefics3ForConditionalGeneration, Idefics3Processor, LlamaForCausalLM)
    from transformers.models.idefics3 import Idefics3ImageProcessorPil, Idefics3VisionConfig

    target = Path(target)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(text_dir)
    tokenizer.add_special_tokens({"additional_special_tokens": IMAGE_TOKENS})
    llama = LlamaForCausalLM.from_pretrained(text_dir, dtype=torch.float32)
    llama.resize_token_embeddings(len(tokenizer))  # new rows: the mean embedding
    text = llama.config.to_dict()
    text.update(vocab_size=len(tokenizer), tie_word_embeddings=False)
    vision = Idefics3VisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                  num_attention_heads=1, image_size=IMAGE_SIDE, patch_size=16)
    config = Idefics3Config(vision_config=vision.to_dict(), text_config=text, scale_factor=2,
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    model = Idefics3ForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.model.text_model.load_state_dict(llama.model.state_dict())
        model.lm_head.weight.copy_(llama.lm_head.weight)
        model.model.connector.modality_projection.proj.weight.mul_(CONNECTOR_SCALE)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, max_new_tokens=256)
    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=False, size={"longest_edge": IMAGE_SIDE}, max_image_size={"longest_edge": IMAGE_SIDE})
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4,
                                  chat_template=CHAT_TEMPLATE)
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    (tmp / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    (tmp / MARKER).write_text(json.dumps({"source": source, "vision": "random"}))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target
