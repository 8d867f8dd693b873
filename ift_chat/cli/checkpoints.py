"""``checkpoints``: what is in the checkpoints dir, which backend would serve it, what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..backends.vllm_plan import CPU_LORA_NOTE, vllm_device
from . import app


@app.command()
def checkpoints(
    checkpoints: Optional[Path] = typer.Option(None, "--dir",
                                               help="Checkpoints dir; env IFT_CHAT_CHECKPOINTS."),
    backend: str = typer.Option("auto", help="auto | transformers | vllm (as for serve)."),
) -> None:
    """List the checkpoints found (with registry.toml overrides) and their problems, in plain words."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..backends.factory import choose_backend, gpu_present
    from ..backends.registry import scan
    from ..backends.vllm_plan import vllm_cpu_problem
    from ..config import Config

    config = Config.from_env(checkpoints_dir=checkpoints, backend=backend)
    specs = scan(config.checkpoints_dir)
    console = Console()
    if not specs:
        console.print(f"No checkpoints in {config.checkpoints_dir}/ "
                      "(`serve` will create two demo checkpoints unless --no-demo).")
        return
    gpu = gpu_present()
    table = Table(title=f"Checkpoints in {config.checkpoints_dir}/ ({'GPU' if gpu else 'no GPU'})")
    for column in ("name", "kind", "architecture / base", "backend", "source", "status"):
        table.add_column(column, overflow="fold")
    details = []  # full sentences below the table: a table cell would fold them mid-word
    for spec in specs:
        what = f"LoRA on {spec.base}" if spec.kind == "lora" else (spec.architecture or "?")
        chosen = choose_backend(spec, config, gpu) if spec.ok else "-"
        notes = list(spec.warnings) + _backend_notes(spec, chosen, vllm_cpu_problem(spec, config, gpu), config, gpu)
        status = "[green]ok[/green]" if spec.ok else f"[red]{len(spec.problems)} problem(s)[/red]"
        if notes:
            status += f"\n[yellow]{len(notes)} note(s)[/yellow]"
        details += [f"[red]{escape(spec.name)}: {escape(p)}[/red]" for p in spec.problems]
        details += [f"[yellow]{escape(spec.name)}: {escape(n)}[/yellow]" for n in notes]
        name = spec.name if not spec.display_name else f"{spec.name}\n({spec.display_name})"
        table.add_row(escape(name), spec.kind, escape(what), chosen, escape(spec.source), status)
    console.print(table)
    for line in details:
        console.print(line, soft_wrap=True)
    broken = sum(not s.ok for s in specs)
    console.print(f"{len(specs) - broken} servable, {broken} with problems (not served).")


def _backend_notes(spec, chosen: str, why_not_vllm: str | None, config, gpu: bool) -> list[str]:
    """Why a checkpoint is served the way it is, when that is not what one would expect."""
    notes = [why_not_vllm] if chosen == "transformers" and why_not_vllm else []
    if chosen == "transformers" and spec.kind == "lora":
        notes.append("LoRA served by transformers: the adapter is merged into a copy of its base with peft")
    if chosen == "vllm" and spec.kind == "lora" and vllm_device(config, gpu) == "cpu":
        notes.append(CPU_LORA_NOTE)
    return notes
