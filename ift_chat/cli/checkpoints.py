"""``checkpoints``: what is in the checkpoints dir, which backend would serve it, what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app


@app.command()
def checkpoints(
    checkpoints: Optional[Path] = typer.Option(None, "--dir",
                                               help="Checkpoints dir; env IFT_CHAT_CHECKPOINTS."),
    backend: str = typer.Option("auto", help="auto | transformers | vllm (as for serve)."),
) -> None:
    """List the checkpoints found (with registry.toml overrides) and their problems, in plain words."""
    from rich.console import Console
    from rich.table import Table

    from ..backends.factory import choose_backend, gpu_present
    from ..backends.registry import scan
    from ..config import Config
    from ..errors import IftChatError

    try:
        config = Config.from_env(checkpoints_dir=checkpoints, backend=backend)
        specs = scan(config.checkpoints_dir)
    except IftChatError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    console = Console()
    if not specs:
        console.print(f"No checkpoints in {config.checkpoints_dir}/ "
                      "(`serve` will create two demo checkpoints unless --no-demo).")
        return
    gpu = gpu_present()
    table = Table(title=f"Checkpoints in {config.checkpoints_dir}/ ({'GPU' if gpu else 'no GPU'})")
    for column in ("name", "kind", "architecture / base", "backend", "source", "status"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        what = f"LoRA on {spec.base}" if spec.kind == "lora" else (spec.architecture or "?")
        status = "[green]ok[/green]" if spec.ok else "[red]" + "\n".join(spec.problems) + "[/red]"
        if spec.warnings:
            status += "\n[yellow]" + "\n".join(spec.warnings) + "[/yellow]"
        name = spec.name if not spec.display_name else f"{spec.name}\n({spec.display_name})"
        table.add_row(name, spec.kind, what, choose_backend(spec, config, gpu) if spec.ok else "-",
                      spec.source, status)
    console.print(table)
    broken = sum(not s.ok for s in specs)
    console.print(f"{len(specs) - broken} servable, {broken} with problems (not served).")
