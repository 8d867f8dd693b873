"""``checkpoints/registry.toml``: per-checkpoint overrides on top of discovery.

Example (see checkpoints/registry.example.toml)::

    [checkpoints.sft-v3]
    display_name = "SFT v3 (lr 2e-5)"
    backend = "vllm"                 # transformers | vllm
    gpu_memory_fraction = 0.4
    quantization = "4bit"            # 4bit | 8bit | bitsandbytes | fp8
    max_model_len = 4096
    vllm_args = ["--enforce-eager"]
    chat_template = "templates/chatml.jinja"   # relative to the checkpoints dir

    [checkpoints.remote-qwen]        # an already-running OpenAI-compatible server
    url = "http://gpu-box:8000/v1"
    model = "Qwen/Qwen2-VL-7B-Instruct"

A syntax error in the file stops everything (``ValidationError``): serving the
wrong thing silently is worse. A bad value in one entry is a problem of that
checkpoint only.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ValidationError
from .discovery import CheckpointSpec, check_checkpoint_name, discover, inspect_dir

REGISTRY_FILE = "registry.toml"
QUANTIZATIONS = ("4bit", "8bit", "bitsandbytes", "fp8")
KNOWN_KEYS = frozenset({"display_name", "backend", "url", "model", "vllm_args", "gpu_memory_fraction",
                        "quantization", "max_model_len", "chat_template", "path", "base", "disabled"})


def load_registry(path: Path) -> dict[str, dict]:
    """The ``[checkpoints.<name>]`` tables of a registry file; {} when there is no file."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path} is not valid TOML: {exc}") from None
    unknown_top = set(data) - {"checkpoints", "judges"}  # [judges.*]: ift_chat/judge/config.py
    if unknown_top:
        raise ValidationError(f"{path}: unknown section(s) {', '.join(sorted(unknown_top))}; "
                              "put each checkpoint under [checkpoints.<name>]")
    entries = data.get("checkpoints", {})
    if not all(isinstance(v, dict) for v in entries.values()):
        raise ValidationError(f"{path}: every entry must be a table [checkpoints.<name>]")
    return entries


def scan(checkpoints_dir: Path) -> list[CheckpointSpec]:
    """Discovered checkpoints + registry overrides + remote entries, with LoRA bases resolved."""
    root = Path(checkpoints_dir)
    entries = load_registry(root / REGISTRY_FILE)
    specs = {spec.name: spec for spec in discover(root)}
    for name, entry in entries.items():
        if entry.get("disabled"):
            specs.pop(name, None)
            continue
        specs[name] = apply_entry(specs.get(name), name, entry, root)
    specs = {name: _require_template(spec) for name, spec in specs.items()}
    resolved = [_resolve_base(spec, specs) for spec in specs.values()]
    return sorted(resolved, key=lambda s: s.name)


def apply_entry(spec: CheckpointSpec | None, name: str, entry: dict, root: Path) -> CheckpointSpec:
    """One registry entry on top of the discovered spec (or a new remote/outside-path spec)."""
    problems: list[str] = []
    try:
        check_checkpoint_name(name)
    except ValidationError as exc:
        return CheckpointSpec(name=name, kind="remote" if entry.get("url") else "full", problems=(str(exc),))
    unknown = set(entry) - KNOWN_KEYS
    if unknown:
        problems.append(f"registry: unknown key(s) {', '.join(sorted(unknown))}")
    if entry.get("url"):
        spec = _remote_spec(name, entry, problems)
    elif entry.get("path"):
        where = (root / entry["path"]).resolve()
        spec = inspect_dir(where) if where.is_dir() else None
        if spec is None:
            return CheckpointSpec(name=name, kind="full", path=where, problems=(
                f"registry: path {entry['path']} is not a checkpoint directory (no config.json)",))
        spec = replace(spec, name=name, problems=tuple(p for p in spec.problems if "name" not in p))
    elif spec is None:
        return CheckpointSpec(name=name, kind="full", path=root / name, problems=(
            f"registry.toml names {name} but there is no {root / name} directory and no url",))
    spec = replace(spec, **_overrides(entry, root, problems))
    return replace(spec, problems=spec.problems + tuple(problems))


def _remote_spec(name: str, entry: dict, problems: list[str]) -> CheckpointSpec:
    url = str(entry["url"]).rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(f"registry: url {url!r} must look like http://host:port/v1")
    return CheckpointSpec(name=name, kind="remote", url=url, model=entry.get("model") or name,
                          backend="openai", architecture=entry.get("architecture"))


def _overrides(entry: dict, root: Path, problems: list[str]) -> dict:
    out: dict = {}
    if "display_name" in entry:
        out["display_name"] = str(entry["display_name"])[:80]
    backend = entry.get("backend")
    if backend is not None and not entry.get("url"):
        if backend in ("transformers", "vllm"):
            out["backend"] = backend
        else:
            problems.append(f"registry: backend must be transformers or vllm, not {backend!r}")
    quantization = entry.get("quantization")
    if quantization is not None:
        if quantization in QUANTIZATIONS:
            out["quantization"] = quantization
        else:
            problems.append(f"registry: quantization must be one of {', '.join(QUANTIZATIONS)}, "
                            f"not {quantization!r}")
    fraction = entry.get("gpu_memory_fraction")
    if fraction is not None:
        if isinstance(fraction, (int, float)) and 0 < fraction < 1:
            out["gpu_memory_fraction"] = float(fraction)
        else:
            problems.append(f"registry: gpu_memory_fraction must be between 0 and 1, not {fraction!r}")
    max_len = entry.get("max_model_len")
    if max_len is not None:
        if isinstance(max_len, int) and max_len > 0:
            out["max_model_len"] = max_len
        else:
            problems.append(f"registry: max_model_len must be a positive whole number, not {max_len!r}")
    args = entry.get("vllm_args")
    if args is not None:
        if isinstance(args, list) and all(isinstance(a, str) for a in args):
            out["vllm_args"] = tuple(args)
        else:
            problems.append("registry: vllm_args must be a list of strings, e.g. [\"--enforce-eager\"]")
    template = entry.get("chat_template")
    if template is not None:
        path = (root / str(template)).resolve()
        if path.is_file():
            out["chat_template"] = path
        else:
            problems.append(f"registry: chat_template file {template} does not exist")
    if entry.get("base") is not None:
        out["base"] = str(entry["base"])
    return out


def _require_template(spec: CheckpointSpec) -> CheckpointSpec:
    if spec.kind != "full" or spec.has_chat_template or spec.chat_template is not None:
        return spec
    return spec.with_problem("missing chat template: add chat_template.jinja to the checkpoint "
                             "or chat_template = \"file.jinja\" under its name in registry.toml")


def _resolve_base(spec: CheckpointSpec, specs: dict[str, CheckpointSpec]) -> CheckpointSpec:
    """A LoRA adapter's base must be a served full checkpoint (by name or path) or a local directory."""
    if spec.kind != "lora" or not spec.base or not spec.ok:
        return spec
    for other in specs.values():
        if other.kind == "full" and (spec.base == other.name or _same_path(spec.base, other.path)):
            if not other.ok:
                return spec.with_problem(f"its base checkpoint {other.name} has problems")
            return replace(spec, base=other.name, base_path=other.path, architecture=other.architecture)
    base_dir = Path(spec.base).expanduser()
    if base_dir.is_dir() and (base_dir / "config.json").is_file():
        return replace(spec, base_path=base_dir.resolve())
    return spec.with_problem(f"adapter without base: its base model {spec.base!r} is neither a checkpoint "
                             "here nor a local directory")


def _same_path(candidate: str, path: Path | None) -> bool:
    if path is None:
        return False
    try:
        return Path(candidate).expanduser().resolve() == path.resolve()
    except OSError:
        return False
