"""Tiny random-weight vision-language checkpoints, made locally with no download (tests, benches).

SmolVLM architecture (``Idefics3ForConditionalGeneration``), a byte-level BPE
tokenizer trained in-process, a chat template and the PIL image processor
(the non-Pil processors of transformers 5 import torchvision). Text head_dim
is 64 because vLLM's CPU attention rejects smaller heads. The replies are
gibberish; the point is that every code path (processor, chat template,
image tokens, streaming, vLLM serving) is the real one.
"""

from __future__ import annotations

import json
from pathlib import Path

TINY_NAMES = ("demo-smolvlm-a", "demo-smolvlm-b")
TINY_MARKER = "ift_chat_demo.json"

SPECIAL_TOKENS = (
    ["<|im_start|>", "<end_of_utterance>", "<pad>", "<fake_token_around_image>", "<image>", "<global-img>"]
    + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
)

# Accepts content as a string or as a list of text/image parts (OpenAI style).
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}{{ ': ' + message['content'] }}"
    "{% else %}{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ('image', 'image_url') %}{{ '<image>' }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

CORPUS = [
    "Describe the image in one sentence.", "What color is the square?",
    "Answer in exactly three words.", "Now list the objects as bullet points.",
    "The picture shows a red square on a white background.", "Yes. No. Maybe.",
    "User: Assistant: The image contains shapes, colors and text.",
    "Please answer in JSON with keys color and shape.", "Translate your last answer to French.",
    "le carré rouge est sur un fond blanc", "1 2 3 4 5 6 7 8 9 10", "short answer please",
] * 20


def _train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<end_of_utterance>",
        pad_token="<pad>", additional_special_tokens=SPECIAL_TOKENS[3:])


def _processor(tokenizer):
    from transformers import Idefics3Processor
    from transformers.models.idefics3 import Idefics3ImageProcessorPil

    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=False, size={"longest_edge": 64}, max_image_size={"longest_edge": 64})
    return Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer,
                             image_seq_len=4, chat_template=CHAT_TEMPLATE)


def _model(tokenizer, seed: int):
    import torch
    from transformers import GenerationConfig, Idefics3Config, Idefics3ForConditionalGeneration, LlamaConfig
    from transformers.models.idefics3 import Idefics3VisionConfig

    torch.manual_seed(seed)
    vision = Idefics3VisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                  num_attention_heads=1, image_size=64, patch_size=16)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256,
                       num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                       max_position_embeddings=2048, pad_token_id=tokenizer.pad_token_id,
                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    config = Idefics3Config(vision_config=vision.to_dict(), text_config=text.to_dict(), scale_factor=2,
                            image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    model = Idefics3ForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, max_new_tokens=64)
    return model


def make_tiny_checkpoint(path: Path, seed: int) -> Path:
    """Write one tiny checkpoint (~2 MB) to ``path``; idempotent."""
    path = Path(path)
    if (path / TINY_MARKER).exists():
        return path
    tokenizer = _train_tokenizer()
    processor = _processor(tokenizer)
    model = _model(tokenizer, seed)
    tmp = path.with_name(path.name + ".partial")
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    (tmp / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    (tmp / TINY_MARKER).write_text(json.dumps({"seed": seed, "note": "random weights, for demos and tests"}))
    if path.exists():
        import shutil

        shutil.rmtree(path)
    tmp.rename(path)
    return path


def make_tiny_checkpoints(root: Path) -> list[Path]:
    """The two tiny checkpoints (different seeds, so A/B differ): for tests and benches that
    need speed, not sense."""
    return [make_tiny_checkpoint(Path(root) / name, seed) for seed, name in enumerate(TINY_NAMES, 1)]

