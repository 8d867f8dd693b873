"""``evalset import|list`` and ``replay``: evaluation sets in, replays of them out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer

from . import app
from .common import command_group, opened_store, progress_bar

evalset_app = command_group(
    "evalset", "Evaluation sets: import from JSONL / LLaVA JSON / MMMT-IF CSV or the built-in ifmr, list.")


@evalset_app.command("import")
def import_evalset(
    file: Optional[Path] = typer.Argument(None, help="Our eval-set JSONL, a LLaVA-format JSON list, or "
                                                    "an MMMT-IF CSV (images: --images DIR/<conversation id>/imageN.png)."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the new evaluation set."),
    builtin: Optional[str] = typer.Option(None, "--builtin", help="Import a set that ships with the app: ifmr."),
    images: Optional[Path] = typer.Option(None, "--images", help="Directory the image paths are relative to."),
    description: Optional[str] = typer.Option(None, help="Free text shown with the set."),
    home: Optional[Path] = typer.Option(None, help="Data dir (env IFT_CHAT_HOME)."),
) -> None:
    """Import an evaluation set; a bad file writes nothing."""
    from ..config import Config
    from ..dataloop.imports import import_eval_set
    from ..errors import ValidationError

    if (file is None) == (builtin is None):
        raise ValidationError("give a FILE to import or --builtin NAME, not both")
    if builtin is not None and builtin != "ifmr":
        raise ValidationError(f"no built-in evaluation set {builtin!r} (there is: ifmr)")
    if file is not None and not name:
        raise ValidationError("--name is required when importing a file")
    with opened_store(Config.from_env(home=home)) as store:
        if builtin is not None:
            from ..dataloop.ifmr import import_builtin

            result = import_builtin(store, name or builtin)
        else:
            result = import_eval_set(store, file, images, name, description)
    typer.echo(f"imported {result.items} items ({result.images} images) as evaluation set {result.eval_set.name!r}")


@evalset_app.command("list")
def list_evalsets(home: Optional[Path] = typer.Option(None, help="Data dir (env IFT_CHAT_HOME).")) -> None:
    """Evaluation sets with their item counts."""
    from ..config import Config

    with opened_store(Config.from_env(home=home)) as store:
        for row in store.eval_sets.summary():
            typer.echo(f"{row['name']}	{row['n']} items	{row['source'] or ''}")


@app.command()
def replay(
    eval_set: str = typer.Option(..., "--eval-set", help="Name of the evaluation set."),
    checkpoint: List[str] = typer.Option([], "--checkpoint", help="Checkpoint to replay on (repeatable)."),
    checkpoints: Optional[str] = typer.Option(None, "--checkpoints", help="Or comma-separated: a,b"),
    history: str = typer.Option("reference", help="reference (earlier rounds' references) | self"),
    temperature: float = typer.Option(0.0, help="Same sampling params for every checkpoint."),
    top_p: float = typer.Option(1.0),
    max_tokens: int = typer.Option(256),
    seed: Optional[int] = typer.Option(0),
    concurrency: int = typer.Option(2, help="Eval items replayed at once."),
    samples: int = typer.Option(1, "--samples", help="Replies sampled per item and checkpoint (PIF-N-K; "
                                                      "needs --temperature above 0; sample k uses seed+k)."),
    home: Optional[Path] = typer.Option(None, help="Data dir (env IFT_CHAT_HOME)."),
    checkpoints_dir: Optional[Path] = typer.Option(None, help="Checkpoints dir (env IFT_CHAT_CHECKPOINTS)."),
    backend: str = typer.Option("auto", help="auto | transformers | vllm"),
) -> None:
    """Run an evaluation set against checkpoints; results are `replay` conversations (A/B for two)."""
    from ..backends import SamplingParams
    from ..config import Config
    from ..dataloop.replay import replay_eval_set

    names = list(checkpoint) + [c.strip() for c in (checkpoints or "").split(",") if c.strip()]
    config = Config.from_env(home=home, checkpoints_dir=checkpoints_dir, backend=backend)
    params = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed)
    with opened_store(config) as store, progress_bar(f"replay {eval_set}", "round") as progress:
        result = asyncio.run(_replay(config, store, eval_set, names, params, history,
                                     concurrency, progress, replay_eval_set, samples))
    typer.echo(f"{len(result.conversations)} replay conversations, {result.responses} responses "
               f"({result.errors} errors) in {result.seconds:.1f} s")


async def _replay(config, store, eval_set, names, params, history, concurrency, progress, replay_eval_set,
                  samples=1):
    from ..backends.factory import build_backends
    from ..dataloop.replay import wait_ready

    backends = build_backends(config, store)
    try:
        await wait_ready(backends, names)
        return await replay_eval_set(store, backends, eval_set, names, params, history_mode=history,
                                     concurrency=concurrency, on_progress=progress, samples=samples)
    finally:
        await backends.aclose()
