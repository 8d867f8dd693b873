"""``serve``: what app.py runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(7860, help="Port of the web app."),
    home: Optional[Path] = typer.Option(None, help="Data dir (DB, images, logs); env IFT_CHAT_HOME; default logs/."),
    checkpoints: Optional[Path] = typer.Option(None, help="Checkpoints dir; env IFT_CHAT_CHECKPOINTS."),
    backend: str = typer.Option("auto", help="auto | transformers | vllm"),
    auth_file: Optional[Path] = typer.Option(None, help="Users file for login (see README)."),
    no_demo: bool = typer.Option(False, "--no-demo", help="Do not create demo checkpoints."),
    timeout: float = typer.Option(120.0, help="Seconds a model may stay silent before its reply is an error."),
    max_upload_mb: float = typer.Option(20.0, help="Largest accepted upload (checked before decoding)."),
    max_sessions: int = typer.Option(500, help="Browser sessions kept in memory (1-2 MB each); the "
                                                "least recently used beyond this are dropped."),
    max_reply_chars: int = typer.Option(100_000, help="A reply is cut here (shown as stopped, with the "
                                                      "reason), whatever the model server does."),
    max_turn_seconds: float = typer.Option(600.0, help="Wall time a turn may take before its replies are cut."),
    probe_interval: float = typer.Option(10.0, help="Seconds between health probes of url = servers and "
                                                    "vLLM children; one that comes back is ready within it."),
    workers: int = typer.Option(1, help="UI worker processes behind nginx (sticky sessions, one SQLite file, "
                                        "model servers started once); see deploy/README.md."),
    sticky: str = typer.Option("cookie", help="With --workers: how nginx keeps a browser on its worker: "
                                              "cookie | ip (ip_hash)."),
    worker: bool = typer.Option(False, "--worker", hidden=True,
                                help="Run as one worker of `serve --workers N` (its supervisor did the start-up work)."),
    gradio_monitoring_every: int = typer.Option(0, help="Gradio's /monitoring dashboard, its summary redone "
                                                        "every N events; 0 = off (it costs CPU per event)."),
    live_replies: str = typer.Option("sse", help="How streaming replies reach the page: sse (a small event "
                                                 "stream beside Gradio) | gradio (Gradio updates per token batch)."),
) -> None:
    """Start the web app on the checkpoints found (demo checkpoints if none)."""
    from ..app_factory import run_app
    from ..config import Config, Limits

    config = Config.from_env(host=host, port=port, home=home, checkpoints_dir=checkpoints,
                             backend=backend, auth_file=auth_file, demo=not no_demo,
                             request_timeout_s=timeout, max_sessions=max_sessions,
                             health_probe_s=probe_interval, gradio_monitoring_every=gradio_monitoring_every,
                             live_replies=live_replies,
                             limits=Limits(max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                                           max_reply_chars=max_reply_chars, max_turn_seconds=max_turn_seconds))
    if workers > 1:
        from ..deploy.workers import run_workers
        run_workers(config, workers, sticky)
    elif worker:  # its supervisor marked the interrupted replies; the other workers' are running
        run_app(config, recover=False)
    else:
        run_app(config)
