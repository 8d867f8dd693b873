"""One frozen configuration object, built once at start-up and passed down."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import ValidationError


@dataclass(frozen=True)
class Limits:
    """Caps on user input; every one is enforced before anything is written."""

    max_upload_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 64_000_000  # a 24 MP phone photo passes, a bomb does not
    max_images_per_turn: int = 8
    max_text_chars: int = 20_000
    max_tokens_cap: int = 8192
    # A reply is cut (status "stopped", the reason shown) past these, whatever the model server
    # does with max_tokens: a server that never stops must not fill memory or the DB.
    max_reply_chars: int = 100_000
    max_turn_seconds: float = 600.0
    send_image_max_side: int = 1024  # images are downscaled before reaching a model


@dataclass(frozen=True)
class Config:
    home: Path = Path("logs")
    checkpoints_dir: Path = Path("checkpoints")
    host: str = "127.0.0.1"
    port: int = 7860
    backend: str = "auto"  # auto | transformers | vllm
    vllm_python: str | None = None  # python of the venv that has vLLM
    vllm_device: str = "auto"  # auto | cpu | cuda
    request_timeout_s: float = 120.0  # a model that sends nothing for this long is an error
    db_busy_timeout_s: float = 30.0  # how long a write waits for a lock held by another process
    # A `url =` server (or vLLM child) found down is probed again with backoff up to this interval,
    # so one that comes back is ready again within it; a ready one is checked this often.
    health_probe_s: float = 10.0
    auth_file: Path | None = None
    # Browser sessions whose state (open conversation, component updates) the app keeps, 1-2 MB
    # each (bench/bench_arena_load.py --census); past this the least recently used is dropped: its
    # page then starts a new conversation on the next message (the old one stays, by its link).
    max_sessions: int = 500
    demo: bool = True  # create demo checkpoints when checkpoints/ has none
    # Gradio's own traffic monitoring (/monitoring, and the queue's per-function latency summary
    # behind it): 0 = off. Gradio 6.31 otherwise rebuilds a pandas DataFrame over up to 10,000
    # past events after every queued event (28 % of the app's CPU at 64 users,
    # bench/bench_stream_cost.py); N > 0 turns the dashboard on, its summary redone every N events.
    gradio_monitoring_every: int = 0
    # How a streaming reply's text reaches the page: "sse" = a small server-sent-events route
    # beside Gradio (ui/live.py; Gradio sends a turn's start and its final message), "gradio" =
    # every token batch as a Gradio update of the whole panes (bench/bench_stream_cost.py).
    live_replies: str = "sse"
    limits: Limits = field(default_factory=Limits)

    @property
    def db_path(self) -> Path:
        return self.home / "ift_chat.db"

    @property
    def images_dir(self) -> Path:
        return self.home / "images"

    @property
    def servers_dir(self) -> Path:
        return self.home / "servers"

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo-checkpoints"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Config":
        """Environment first, then explicit overrides (CLI flags) win."""
        env = os.environ if env is None else env
        values: dict = {}
        if env.get("IFT_CHAT_HOME"):
            values["home"] = Path(env["IFT_CHAT_HOME"])
        if env.get("IFT_CHAT_CHECKPOINTS"):
            values["checkpoints_dir"] = Path(env["IFT_CHAT_CHECKPOINTS"])
        if env.get("IFT_CHAT_VLLM_PYTHON"):
            values["vllm_python"] = env["IFT_CHAT_VLLM_PYTHON"]
        if env.get("IFT_CHAT_AUTH_FILE"):
            values["auth_file"] = Path(env["IFT_CHAT_AUTH_FILE"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("home", "checkpoints_dir", "auth_file"):
            if isinstance(values.get(key), str):
                values[key] = Path(values[key])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.backend not in ("auto", "transformers", "vllm"):
            raise ValidationError(f"backend must be auto, transformers or vllm, not {self.backend!r}")
        if not 0 < self.port < 65536:
            raise ValidationError(f"port {self.port} is out of range")
        if not self.request_timeout_s > 0 or not self.db_busy_timeout_s > 0 or not self.health_probe_s > 0:
            raise ValidationError("timeouts must be positive numbers of seconds")
        if self.gradio_monitoring_every < 0:
            raise ValidationError("gradio monitoring interval must be 0 (off) or a number of events")
        if self.live_replies not in ("sse", "gradio"):
            raise ValidationError(f"live replies must be sse or gradio, not {self.live_replies!r}")
        if self.max_sessions < 1:
            raise ValidationError("max sessions must be at least 1")
        if not 0 < self.limits.max_upload_bytes <= 2 * 1024**3:
            raise ValidationError("the upload cap must be between 1 byte and 2 GB")
        if self.limits.max_reply_chars < 1 or not self.limits.max_turn_seconds > 0:
            raise ValidationError("the reply caps must be at least 1 character and more than 0 seconds")

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)
