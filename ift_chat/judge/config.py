"""Judge configuration: ``[judges.<name>]`` in ``checkpoints/registry.toml`` or CLI options.

Example::

    [judges.qwen-judge]              # an OpenAI-compatible server
    url = "http://gpu-box:8000/v1"
    model = "Qwen/Qwen2-VL-7B-Instruct"
    api_key_env = "JUDGE_API_KEY"    # the NAME of an environment variable, never the key
    multimodal = true                # it is shown the turns' images
    rubric = "rubrics/single.md"     # relative to the checkpoints dir; default: the shipped one
    pairwise_rubric = "rubrics/pairwise.md"
    self_checkpoint = "qwen2-vl-7b"  # the stored checkpoint this judge is (self-preference check)

    [judges.sft-v3-judge]            # a checkpoint the app serves
    checkpoint = "sft-v3"

The key is read from the environment when the judge is used; it is never written to the
database, the logs or an error message.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ValidationError
from ..store.models import ERROR_TAGS, TAG_LABELS

KNOWN_KEYS = frozenset({"url", "model", "api_key_env", "checkpoint", "multimodal", "rubric",
                        "pairwise_rubric", "self_checkpoint", "max_tokens", "temperature",
                        "timeout_s", "concurrency"})
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PARSER_VERSION = "1"  # part of the rubric hash: a parser change could change stored verdicts


@dataclass(frozen=True)
class JudgeSpec:
    name: str
    rubric: str  # the single-grading prompt text
    pairwise_rubric: str
    url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    checkpoint: str | None = None  # a served checkpoint (through the app's Backends)
    multimodal: bool = False
    self_checkpoint: str | None = None
    max_tokens: int = 200
    temperature: float = 0.0
    timeout_s: float = 60.0
    concurrency: int = 4

    @property
    def rubric_hash(self) -> str:
        """Of the rubrics and of what the judge is (model, images or not): change any of them
        and its verdicts belong to another rater, so old and new verdicts never mix."""
        what = f"{self.checkpoint or ''}|{self.url or ''}|{self.model or ''}|{int(self.multimodal)}"
        text = "\n\x00".join([PARSER_VERSION, self.rubric, self.pairwise_rubric, what])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    @property
    def rater_name(self) -> str:
        return f"judge:{self.name}@{self.rubric_hash}"

    @property
    def own_checkpoint(self) -> str | None:
        return self.self_checkpoint or self.checkpoint

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ValidationError(f"judge {self.name}: the environment variable {self.api_key_env} "
                                  "(its API key) is not set")
        return key


def default_rubric(kind: str = "single") -> str:
    return resources.files("ift_chat.judge").joinpath("rubrics", f"{kind}.md").read_text("utf-8")


def tag_list() -> str:
    return "; ".join(f"{tag} ({TAG_LABELS[tag]})" for tag in ERROR_TAGS)


def _rubric(value, root: Path, kind: str, name: str) -> str:
    if value is None:
        return default_rubric(kind)
    path = (root / str(value)).expanduser()
    if not path.is_file():
        raise ValidationError(f"judge {name}: rubric file {value} does not exist")
    text = path.read_text("utf-8")
    if not text.strip():
        raise ValidationError(f"judge {name}: rubric file {value} is empty")
    return text


def _number(entry: dict, key: str, kind, low, high, name: str, default):
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        raise ValidationError(f"judge {name}: {key} must be between {low} and {high}, not {value!r}")
    return value


def make_spec(name: str, entry: dict, root: Path = Path(".")) -> JudgeSpec:
    """One judge from a registry table or CLI options; a bad value is a clear error."""
    if not NAME_RE.match(name or ""):
        raise ValidationError(f"judge name {name!r}: 1-48 letters, digits, . _ -")
    unknown = set(entry) - KNOWN_KEYS
    if unknown:
        raise ValidationError(f"judge {name}: unknown key(s) {', '.join(sorted(unknown))}")
    if bool(entry.get("url")) == bool(entry.get("checkpoint")):
        raise ValidationError(f"judge {name}: give exactly one of url (an OpenAI-compatible server) "
                              "or checkpoint (one the app serves)")
    url = str(entry["url"]).rstrip("/") if entry.get("url") else None
    if url and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
        raise ValidationError(f"judge {name}: url {url!r} must look like http://host:port/v1")
    env = entry.get("api_key_env")
    if env is not None and not ENV_RE.match(str(env)):
        raise ValidationError(f"judge {name}: api_key_env must name an environment variable "
                              "(e.g. JUDGE_API_KEY), not hold the key itself")
    return JudgeSpec(
        name=name, url=url, model=entry.get("model") or (None if url is None else name),
        api_key_env=env, checkpoint=entry.get("checkpoint"), multimodal=bool(entry.get("multimodal", False)),
        rubric=_rubric(entry.get("rubric"), root, "single", name),
        pairwise_rubric=_rubric(entry.get("pairwise_rubric"), root, "pairwise", name),
        self_checkpoint=entry.get("self_checkpoint"),
        max_tokens=_number(entry, "max_tokens", int, 16, 4096, name, 200),
        temperature=float(_number(entry, "temperature", (int, float), 0, 2, name, 0.0)),
        timeout_s=float(_number(entry, "timeout_s", (int, float), 0.1, 3600, name, 60.0)),
        concurrency=_number(entry, "concurrency", int, 1, 64, name, 4))


def load_judges(checkpoints_dir: Path) -> dict[str, JudgeSpec]:
    """The ``[judges.*]`` tables of ``registry.toml`` ({} without a file)."""
    path = Path(checkpoints_dir) / "registry.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path} is not valid TOML: {exc}") from None
    tables = data.get("judges", {})
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise ValidationError(f"{path}: every judge must be a table [judges.<name>]")
    return {name: make_spec(name, entry, Path(checkpoints_dir)) for name, entry in tables.items()}
