"""Checkpoint discovery, registry.toml overrides and the `checkpoints` CLI, on real directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ift_chat.backends.discovery import check_checkpoint_name, discover
from ift_chat.backends.registry import scan
from ift_chat.cli import app
from ift_chat.errors import ValidationError

IDEFICS3 = "Idefics3ForConditionalGeneration"


def full(root, name, arch=IDEFICS3, template=True, weights=True, processor=True):
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"architectures": [arch] if arch else [],
                                               "text_config": {"max_position_embeddings": 4096}}))
    if processor:
        (d / "preprocessor_config.json").write_text("{}")
        (d / "tokenizer.json").write_text("{}")
    if weights:
        (d / "model.safetensors").write_bytes(b"\0" * 16)
    if template:
        (d / "chat_template.jinja").write_text("{{ messages }}")
    return d


def adapter(root, name, base, rank=16):
    d = root / name
    d.mkdir(parents=True)
    (d / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base, "r": rank}))
    (d / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    return d


def by_name(specs):
    return {s.name: s for s in specs}


def test_full_checkpoints_and_adapters_are_found(tmp_path):
    base = full(tmp_path, "base-model")
    adapter(tmp_path, "lora-by-name", "base-model", rank=8)
    adapter(tmp_path, "lora-by-path", str(base))
    (tmp_path / "notes").mkdir()  # not a checkpoint: ignored
    specs = by_name(scan(tmp_path))
    assert sorted(specs) == ["base-model", "lora-by-name", "lora-by-path"]
    assert specs["base-model"].kind == "full" and specs["base-model"].architecture == IDEFICS3
    assert specs["base-model"].max_model_len == 4096 and specs["base-model"].ok
    lora = specs["lora-by-name"]
    assert lora.kind == "lora" and lora.ok and lora.base == "base-model" and lora.lora_rank == 8
    assert lora.base_path == base.resolve() and lora.architecture == IDEFICS3
    assert specs["lora-by-path"].base == "base-model"


def test_problems_in_plain_words(tmp_path):
    full(tmp_path, "no-template", template=False)
    full(tmp_path, "no-weights", weights=False)
    full(tmp_path, "no-arch", arch=None)
    full(tmp_path, "text-only", arch="GPT2LMHeadModel")
    adapter(tmp_path, "orphan", "some-org/not-here")
    (tmp_path / "bad json").mkdir()
    (tmp_path / "bad json" / "config.json").write_text("{oops")
    specs = by_name(scan(tmp_path))
    assert "missing chat template" in specs["no-template"].problems[0]
    assert "no weight files" in specs["no-weights"].problems[0]
    assert "no architecture" in specs["no-arch"].problems[0]
    assert specs["text-only"].ok and "not a vision-language model" in specs["text-only"].warnings[0]
    assert "adapter without base" in specs["orphan"].problems[0]
    bad = specs["bad json"].problems
    assert any("not allowed" in p for p in bad) and any("config.json cannot be read" in p for p in bad)


def test_adapter_on_a_broken_base_is_not_servable(tmp_path):
    full(tmp_path, "base-model", template=False)
    adapter(tmp_path, "lora", "base-model")
    assert "base checkpoint base-model has problems" in by_name(scan(tmp_path))["lora"].problems[0]


@pytest.mark.parametrize("name", ["..", "a/b", "../etc", "a..b", "", " x", "x" * 65, "a b"])
def test_unsafe_names_are_rejected(name):
    with pytest.raises(ValidationError, match="not allowed"):
        check_checkpoint_name(name)


def test_registry_overrides_and_remote_entries(tmp_path):
    full(tmp_path, "sft-v3")
    full(tmp_path, "plain", template=False)
    full(tmp_path, "hidden")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "chatml.jinja").write_text("{{ messages }}")
    (tmp_path / "registry.toml").write_text('''
[checkpoints.sft-v3]
display_name = "SFT v3"
backend = "vllm"
gpu_memory_fraction = 0.4
quantization = "4bit"
max_model_len = 2048
vllm_args = ["--enforce-eager"]

[checkpoints.plain]
chat_template = "templates/chatml.jinja"

[checkpoints.hidden]
disabled = true

[checkpoints.remote-qwen]
url = "http://gpu-box:8000/v1/"
model = "Qwen/Qwen2-VL-7B-Instruct"
''')
    specs = by_name(scan(tmp_path))
    assert sorted(specs) == ["plain", "remote-qwen", "sft-v3"]
    sft = specs["sft-v3"]
    assert (sft.display_name, sft.backend, sft.gpu_memory_fraction, sft.quantization, sft.max_model_len,
            sft.vllm_args) == ("SFT v3", "vllm", 0.4, "4bit", 2048, ("--enforce-eager",))
    assert specs["plain"].ok and specs["plain"].chat_template.name == "chatml.jinja"
    remote = specs["remote-qwen"]
    assert remote.kind == "remote" and remote.url == "http://gpu-box:8000/v1"
    assert remote.model == "Qwen/Qwen2-VL-7B-Instruct" and remote.ok and remote.source == remote.url


def test_registry_bad_values_are_problems_of_that_entry(tmp_path):
    full(tmp_path, "m")
    (tmp_path / "registry.toml").write_text('''
[checkpoints.m]
backend = "tgi"
gpu_memory_fraction = 1.5
quantization = "2bit"
colour = "red"

[checkpoints.ghost]
backend = "vllm"

[checkpoints."../escape"]
url = "http://x:1/v1"

[checkpoints.badurl]
url = "ftp://x"
''')
    specs = by_name(scan(tmp_path))
    text = " | ".join(specs["m"].problems)
    for words in ("backend must be transformers or vllm", "gpu_memory_fraction", "quantization", "colour"):
        assert words in text
    assert "no " in specs["ghost"].problems[0] and "directory" in specs["ghost"].problems[0]
    assert "not allowed" in specs["../escape"].problems[0]
    assert "must look like http" in specs["badurl"].problems[0]


def test_registry_syntax_error_stops_everything(tmp_path):
    full(tmp_path, "m")
    (tmp_path / "registry.toml").write_text("[checkpoints.m\nbackend = ")
    with pytest.raises(ValidationError, match="not valid TOML"):
        scan(tmp_path)


def test_discover_on_missing_dir_is_empty(tmp_path):
    assert discover(tmp_path / "nope") == []


def test_cli_lists_checkpoints_and_problems(tmp_path, demo_checkpoints):
    shutil.copytree(demo_checkpoints[0], tmp_path / "demo-smolvlm-a")
    adapter(tmp_path, "orphan", "nowhere/base")
    result = CliRunner().invoke(app, ["checkpoints", "--dir", str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "demo-smolvlm-a" in result.output and "transformers" in result.output
    assert "adapter without base" in result.output
    assert "1 servable, 1 with problems" in result.output


def test_cli_broken_registry_exits_1(tmp_path):
    (tmp_path / "registry.toml").write_text("not = [toml")
    result = CliRunner().invoke(app, ["checkpoints", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "not valid TOML" in result.output


def test_the_example_registry_parses_with_known_keys_only(tmp_path):
    example = Path(__file__).resolve().parents[2] / "checkpoints" / "registry.example.toml"
    shutil.copy(example, tmp_path / "registry.toml")
    full(tmp_path, "sft-v3")
    full(tmp_path, "base-pretrained", template=False)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "chatml.jinja").write_text("{{ messages }}")
    adapter(tmp_path, "sft-lora-r16", "/somewhere/else")
    full(tmp_path, "old-run")
    specs = by_name(scan(tmp_path))
    assert "old-run" not in specs
    for name in ("sft-v3", "base-pretrained", "sft-lora-r16", "qwen-remote"):
        assert specs[name].ok, (name, specs[name].problems)
    assert specs["sft-lora-r16"].base == "sft-v3"
    assert "not a checkpoint directory" in specs["run-0412"].problems[0]  # /data/runs/... is not here
