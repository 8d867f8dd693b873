"""`python -m ift_chat checkpoints` on checkpoints users bring that won't load as they are: each gets
a plain diagnosis that says what to do, and nothing crashes (the same dir also holds a good one)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from ift_chat.backends.registry import scan

from .tiny_models import build_idefics3


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A real tiny checkpoint to copy and break in the ways users' checkpoints are broken."""
    return build_idefics3(tmp_path_factory.mktemp("good") / "tiny-idefics3")


def cli(root) -> str:
    """The real command line, as a user runs it (a subprocess, wide terminal, no colour codes)."""
    env = {"COLUMNS": "220", "NO_COLOR": "1", "PATH": "/usr/bin:/bin", "IFT_CHAT_VLLM_PYTHON": ""}
    result = subprocess.run([sys.executable, "-m", "ift_chat", "checkpoints", "--dir", str(root)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def liuhaotian_llava(root):
    """The original LLaVA-1.5 repo layout: LlavaLlamaForCausalLM, mm_* keys, a Llama tokenizer."""
    d = root / "llava-v1.5-7b-sft"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({
        "_name_or_path": "lmsys/vicuna-7b-v1.5", "architectures": ["LlavaLlamaForCausalLM"],
        "model_type": "llava", "mm_vision_tower": "openai/clip-vit-large-patch14-336",
        "mm_projector_type": "mlp2x_gelu", "mm_hidden_size": 1024, "max_position_embeddings": 4096}))
    (d / "model-00001-of-00002.safetensors").write_bytes(b"\0" * 16)
    (d / "tokenizer.model").write_bytes(b"\0")
    (d / "tokenizer_config.json").write_text("{}")


def openflamingo(root):
    """As the OpenFlamingo repos ship it: checkpoint.pt and a README, no config.json."""
    d = root / "OpenFlamingo-3B-vitl-mpt1b"
    d.mkdir()
    (d / "checkpoint.pt").write_bytes(b"\0" * 16)
    (d / "README.md").write_text("# OpenFlamingo-3B\nfrom open_flamingo import create_model_and_transforms\n")


def test_each_diagnosis_in_the_cli_output(good, tmp_path):
    shutil.copytree(good, tmp_path / "sft-ok")
    liuhaotian_llava(tmp_path)
    shutil.copytree(good, tmp_path / "sft-no-template")
    (tmp_path / "sft-no-template" / "chat_template.jinja").unlink()
    openflamingo(tmp_path)
    shutil.copytree(good, tmp_path / "sft-no-processor")
    (tmp_path / "sft-no-processor" / "processor_config.json").unlink()
    (tmp_path / "lora-orphan").mkdir()
    (tmp_path / "lora-orphan" / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "HuggingFaceTB/SmolVLM-256M-Instruct", "r": 8, "peft_type": "LORA"}))
    (tmp_path / "lora-orphan" / "adapter_model.safetensors").write_bytes(b"\0" * 16)

    out = cli(tmp_path)
    lines = out.splitlines()

    def said(name: str, *parts: str) -> None:
        line = next((l for l in lines if l.startswith(f"{name}: ") and parts[0] in l), None)
        assert line is not None, f"no diagnosis for {name} with {parts[0]!r} in:\n{out}"
        for part in parts[1:]:
            assert part in line, (part, line)

    said("llava-v1.5-7b-sft", "original LLaVA layout (LlavaLlamaForCausalLM with mm_vision_tower",
         "only load the llava-hf layout (LlavaForConditionalGeneration)",
         "src/transformers/models/llava/convert_llava_weights_to_hf.py",
         "--vision_model_id openai/clip-vit-large-patch14-336", "--old_state_dict_id <this checkpoint>")
    said("sft-no-template", "missing chat template",
         "chat_template = \"file.jinja\" under its name in registry.toml")
    said("OpenFlamingo-3B-vitl-mpt1b", "OpenFlamingo checkpoint: neither vLLM nor transformers can run "
         "OpenFlamingo", "ift-chat cannot serve it", "url = \"http://host:port/v1\"")
    said("sft-no-processor", "processor missing: no preprocessor_config.json",
         "AutoProcessor.from_pretrained(\"<that model>\").save_pretrained(\"<this dir>\")")
    said("lora-orphan", "adapter without base: its base model 'HuggingFaceTB/SmolVLM-256M-Instruct' "
         "is neither a checkpoint here nor a local directory")
    assert "1 servable, 5 with problems (not served)" in out
    assert "Traceback" not in out
    assert {s.name for s in scan(tmp_path) if s.ok} == {"sft-ok"}


def test_a_fixed_checkpoint_is_served(good, tmp_path):
    """Following the no-template diagnosis (a template in the registry) makes it servable."""
    shutil.copytree(good, tmp_path / "sft-no-template")
    template = (tmp_path / "sft-no-template" / "chat_template.jinja")
    (tmp_path / "chatml.jinja").write_text(template.read_text())
    template.unlink()
    assert not scan(tmp_path)[0].ok
    (tmp_path / "registry.toml").write_text('[checkpoints.sft-no-template]\nchat_template = "chatml.jinja"\n')
    assert "1 servable, 0 with problems" in cli(tmp_path)


def test_weights_without_a_config_are_listed_not_skipped(tmp_path):
    (tmp_path / "exported").mkdir()
    (tmp_path / "exported" / "pytorch_model.bin").write_bytes(b"\0")
    out = cli(tmp_path)
    assert "exported: weights but no config.json: not a Hugging Face checkpoint directory" in out
