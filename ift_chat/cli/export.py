"""``export``: ratings → training data (SFT, preference pairs, KTO) or an eval set, on disk."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import app

FORMAT_HELP = "llava | sharegpt | openai | hf | dpo | kto | evalset"


@app.command()
def export(
    fmt: str = typer.Argument(..., metavar="FORMAT", help=FORMAT_HELP),
    out: Path = typer.Option(..., "--out", help="Directory to create (refused if it exists, unless --force)."),
    force: bool = typer.Option(False, "--force", help="Replace --out once the new export is complete."),
    checkpoint: List[str] = typer.Option([], "--checkpoint", help="Only these checkpoints (repeatable)."),
    since: Optional[str] = typer.Option(None, help="Conversations from this ISO date/time on."),
    until: Optional[str] = typer.Option(None, help="Conversations up to this ISO date (inclusive)."),
    task_set: Optional[str] = typer.Option(None, help="Only responses in this rating task set."),
    min_gold_accuracy: Optional[float] = typer.Option(None, help="Ignore raters below this gold accuracy (0-1)."),
    min_gold_items: int = typer.Option(5, help="Gold items a rater needs before being judged."),
    min_agreement: Optional[float] = typer.Option(None, help="Share of raters agreeing with the majority (0-1)."),
    min_raters: int = typer.Option(2, help="Ratings a turn needs (corrections need one)."),
    min_score: Optional[float] = typer.Option(None, help="Minimum mean quality score (1-5)."),
    min_voters: int = typer.Option(1, help="Arena votes a turn needs to make a preference pair."),
    no_corrections: bool = typer.Option(False, "--no-corrections", help="Ignore rater-written replies."),
    include_identity_leak: bool = typer.Option(False, help="Keep replies that name their checkpoint."),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="Keep duplicate image + instruction samples."),
    split: str = typer.Option("all", help="all | train | eval (split by image)."),
    eval_fraction: float = typer.Option(0.1, help="Share of image groups in the eval split."),
    split_seed: int = typer.Option(0, help="Seed of the train/eval split."),
    eval_set: Optional[str] = typer.Option(None, help="evalset format: dump this stored eval set instead."),
    inline_images: bool = typer.Option(False, help="openai format: embed images as data: URLs."),
    home: Optional[Path] = typer.Option(None, help="Data dir (env IFT_CHAT_HOME)."),
) -> None:
    """Export rated turns as FORMAT into --out, with report.json and an `exports` record."""
    from ..config import Config
    from ..dataloop.exports import run_export
    from ..dataloop.report import report_markdown
    from ..dataloop.select import Filters
    from ..errors import IftChatError
    from ..store import Store

    try:
        filters = Filters(checkpoints=tuple(checkpoint), since=since, until=until, task_set=task_set,
                          min_gold_accuracy=min_gold_accuracy, min_gold_items=min_gold_items,
                          min_agreement=min_agreement, min_raters=min_raters, min_score=min_score,
                          min_voters=min_voters, use_corrections=not no_corrections,
                          include_identity_leak=include_identity_leak, dedup=not no_dedup, split=split,
                          eval_fraction=eval_fraction, split_seed=split_seed)
        options = {k: v for k, v in (("eval_set", eval_set), ("inline_images", inline_images)) if v}
        store = Store(Config.from_env(home=home))
        try:
            result = run_export(store, fmt, out, filters, force=force, options=options)
        finally:
            store.close()
    except IftChatError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {result.row_count} rows to {result.path} (export {result.id}, sha256 {result.sha256[:16]}…)")
    typer.echo(report_markdown(result.report))
