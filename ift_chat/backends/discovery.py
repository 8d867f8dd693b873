"""Find checkpoints in a directory: full HF model dirs and LoRA adapters.

Each immediate sub-directory is one candidate. What is wrong with a candidate
is collected as plain-word ``problems`` instead of raising, so the CLI and the
UI can list every checkpoint with its problems at once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ValidationError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,63}$")

# Vision-language architectures we know to work (vLLM and/or transformers); others get a warning.
KNOWN_ARCHITECTURES = frozenset({
    "Idefics3ForConditionalGeneration", "SmolVLMForConditionalGeneration", "LlavaForConditionalGeneration",
    "LlavaNextForConditionalGeneration", "LlavaOnevisionForConditionalGeneration",
    "Qwen2VLForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration",
    "Qwen3VLForConditionalGeneration",
    "PaliGemmaForConditionalGeneration", "Gemma3ForConditionalGeneration", "Blip2ForConditionalGeneration",
    "Phi3VForCausalLM", "InternVLChatModel", "InternVLForConditionalGeneration",
    "MllamaForConditionalGeneration", "Idefics2ForConditionalGeneration", "Mistral3ForConditionalGeneration",
    "AyaVisionForConditionalGeneration",
})
# Text-only architectures that load: served, but a turn with an image is refused.
TEXT_ONLY_ARCHITECTURES = frozenset({"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
                                     "Qwen3ForCausalLM", "Gemma2ForCausalLM", "Phi3ForCausalLM"})


@dataclass(frozen=True)
class CheckpointSpec:
    """One servable (or broken) checkpoint; registry overrides already applied."""

    name: str
    kind: str  # full | lora | remote
    path: Path | None = None
    architecture: str | None = None
    base: str | None = None  # lora: the base model's checkpoint name or path
    base_path: Path | None = None  # lora: the base model's directory, once resolved
    chat_template: Path | None = None  # registry: a template file for checkpoints without one
    lora_rank: int | None = None
    has_chat_template: bool = True
    display_name: str | None = None
    backend: str | None = None  # None = decided by the factory (config.backend)
    url: str | None = None  # remote: an OpenAI-compatible server's base URL
    model: str | None = None  # remote: the model name that server expects
    vllm_args: tuple[str, ...] = ()
    gpu_memory_fraction: float | None = None
    quantization: str | None = None
    max_model_len: int | None = None
    fingerprint: str | None = None
    problems: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def source(self) -> str:
        return self.url if self.kind == "remote" else str(self.path)

    def with_problem(self, problem: str) -> "CheckpointSpec":
        return replace(self, problems=self.problems + (problem,))


def check_checkpoint_name(name: str) -> str:
    """Names become served-model names, log file names and URL parts: no paths, no spaces."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise ValidationError(
            f"checkpoint name {name!r} is not allowed: 1-64 letters, digits or . _ + @ -, "
            "starting with a letter or digit, no '..' or slashes")
    return name


def discover(root: Path) -> list[CheckpointSpec]:
    """Every checkpoint-looking sub-directory of ``root``, sorted by name; no registry applied."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if path.name.endswith(".partial"):
            continue
        spec = inspect_dir(path)
        if spec is not None:
            found.append(spec)
    return found


def inspect_dir(path: Path) -> CheckpointSpec | None:
    """A spec for a checkpoint dir; None when it holds no config and no weights (not a checkpoint)."""
    if (path / "adapter_config.json").is_file():
        return _inspect_adapter(path)
    if (path / "config.json").is_file():
        return _inspect_full(path)
    if _weight_files(path):  # weights without a config: say what it is instead of skipping it
        problem = (OPENFLAMINGO if _looks_like_openflamingo(path, {}) else
                   "weights but no config.json: not a Hugging Face checkpoint directory "
                   "(save it with save_pretrained)")
        return CheckpointSpec(name=path.name, kind="full", path=path.resolve(),
                              problems=_name_problems(path.name) + (problem,))
    return None


def _name_problems(name: str) -> tuple[str, ...]:
    try:
        check_checkpoint_name(name)
        return ()
    except ValidationError as exc:
        return (str(exc),)


def _inspect_full(path: Path) -> CheckpointSpec:
    problems = list(_name_problems(path.name))
    warnings = []
    config = _read_json(path / "config.json", problems)
    archs = config.get("architectures") or []
    arch = archs[0] if archs else None
    layout = _layout_problem(path, config, arch)
    if layout:
        problems.append(layout)
    elif arch is None:
        problems.append("config.json names no architecture")
    elif arch in TEXT_ONLY_ARCHITECTURES:
        warnings.append(f"{arch} is a text-only model: turns with images are refused")
    elif arch not in KNOWN_ARCHITECTURES:
        warnings.append(f"architecture {arch} is not a vision-language model we know; it may not load")
    else:
        problems += _processor_problems(path)
    if not _weight_files(path):
        problems.append("no weight files (*.safetensors or *.bin) next to config.json")
    has_template = has_chat_template(path)
    text_cfg = config.get("text_config") or config
    return CheckpointSpec(
        name=path.name, kind="full", path=path.resolve(), architecture=arch, has_chat_template=has_template,
        max_model_len=text_cfg.get("max_position_embeddings"), fingerprint=fingerprint(path),
        problems=tuple(problems), warnings=tuple(warnings))


def _inspect_adapter(path: Path) -> CheckpointSpec:
    problems = list(_name_problems(path.name))
    adapter = _read_json(path / "adapter_config.json", problems)
    base = adapter.get("base_model_name_or_path")
    if not base:
        problems.append("adapter_config.json does not name its base model (base_model_name_or_path)")
    if not _weight_files(path):
        problems.append("no adapter weights (adapter_model.safetensors)")
    return CheckpointSpec(
        name=path.name, kind="lora", path=path.resolve(), base=base, lora_rank=adapter.get("r"),
        has_chat_template=has_chat_template(path), fingerprint=fingerprint(path), problems=tuple(problems))


OPENFLAMINGO = ("OpenFlamingo checkpoint: neither vLLM nor transformers can run OpenFlamingo (it needs the "
                "open_flamingo package, a CLIP encoder and a separate base LLM), so ift-chat cannot serve it; "
                "serve it yourself behind an OpenAI-compatible server and add it with url = \"http://host:port/v1\" "
                "under its name in registry.toml, or fine-tune a supported architecture (LLaVA-hf, Qwen2-VL, "
                "Idefics3/SmolVLM, BLIP-2)")
ORIGINAL_LLAVA_ARCHS = ("LlavaLlamaForCausalLM", "LlavaMistralForCausalLM", "LlavaMptForCausalLM",
                        "LlavaQwenForCausalLM")


def _layout_problem(path: Path, config: dict, arch: str | None) -> str | None:
    """Layouts no backend loads as they are: original LLaVA repos and OpenFlamingo."""
    if arch in ORIGINAL_LLAVA_ARCHS or (config.get("model_type") == "llava" and "mm_vision_tower" in config):
        tower = config.get("mm_vision_tower") or "openai/clip-vit-large-patch14-336"
        return (f"original LLaVA layout ({arch or 'model_type llava'} with mm_vision_tower, as in "
                "liuhaotian/llava-v1.5-*): vLLM and transformers only load the llava-hf layout "
                "(LlavaForConditionalGeneration). Convert it with the script "
                "src/transformers/models/llava/convert_llava_weights_to_hf.py from the transformers source "
                "repository (it is not in the pip package): --text_model_id <the LLM it was trained from, "
                f"e.g. lmsys/vicuna-7b-v1.5> --vision_model_id {tower} --old_state_dict_id <this checkpoint> "
                "--output_hub_path <new repo>; then put the converted directory in the checkpoints dir")
    if _looks_like_openflamingo(path, config):
        return OPENFLAMINGO
    return None


def _looks_like_openflamingo(path: Path, config: dict) -> bool:
    if "flamingo" in str(config.get("model_type", "")).lower() or any(
            "flamingo" in a.lower() for a in config.get("architectures") or []):
        return True
    readme = path / "README.md"
    text = readme.read_text(errors="replace")[:20000].lower() if readme.is_file() else ""
    return (path / "checkpoint.pt").is_file() and ("flamingo" in text or "flamingo" in path.name.lower())


def _processor_problems(path: Path) -> list[str]:
    """A vision-language checkpoint needs its image processor and tokenizer files next to the weights."""
    problems = []
    processor = _read_json(path / "processor_config.json", []) if (path / "processor_config.json").is_file() else {}
    if not (path / "preprocessor_config.json").is_file() and "image_processor" not in processor:
        problems.append(
            "processor missing: no preprocessor_config.json (or processor_config.json with an image_processor), "
            "so images cannot be prepared; training scripts that save only the model leave it out. Copy it from "
            "the model you fine-tuned: AutoProcessor.from_pretrained(\"<that model>\").save_pretrained(\"<this dir>\")")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        problems.append("tokenizer missing: no tokenizer.json, tokenizer.model or vocab.json; save the tokenizer "
                        "of the model you fine-tuned into this directory")
    return problems


def has_chat_template(path: Path) -> bool:
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    for name in ("tokenizer_config.json", "processor_config.json"):
        data = _read_json(path / name, []) if (path / name).is_file() else {}
        if data.get("chat_template"):
            return True
    return False


def fingerprint(path: Path) -> str:
    """Cheap identity of a checkpoint: config files' bytes plus weight files' names and sizes."""
    digest = hashlib.sha256()
    for name in ("config.json", "adapter_config.json", "generation_config.json"):
        if (path / name).is_file():
            digest.update(name.encode() + (path / name).read_bytes())
    for weights in _weight_files(path):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def _weight_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def _read_json(path: Path, problems: list[str]) -> dict:
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            return data
        problems.append(f"{path.name} is not a JSON object")
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} cannot be read: {exc}")
    return {}
