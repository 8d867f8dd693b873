"""``export``: ratings → training data (SFT, preference pairs, KTO) or an eval set, on disk;
``export explain ROW_ID``: where one exported row came from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import app

FORMAT_HELP = "llava | sharegpt | openai | hf | dpo | kto | evalset, or `explain ROW_ID`"


@app.command()
def export(
    fmt: str = typer.Argument(..., metavar="FORMAT", help=FORMAT_HELP),
    row_id: Optional[str] = typer.Argument(None, metavar="[ROW_ID]", help="With `explain`: an exported row's id."),
    out: Optional[Path] = typer.Option(None, "--out", help="Directory to create (refused if it exists, unless --force)."),
    force: bool = typer.Option(False, "--force", help="Replace --out once the new export is complete."),
    checkpoint: List[str] = typer.Option([], "--checkpoint", help="Only these checkpoints (repeatable)."),
    since: Optional[str] = typer.Option(None, help="Conversations from this date or date-time on (UTC unless it has an offset)."),
    until: Optional[str] = typer.Option(None, help="Conversations through this date (the whole day, UTC) or up to this date-time."),
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
    split: str = typer.Option("default", help="default (evalset: eval, others: train) | all | train | eval; "
                                              "by image groups, so train and eval share no image."),
    eval_fraction: float = typer.Option(0.1, help="Share of image groups in the eval split."),
    split_seed: int = typer.Option(0, help="Seed of the train/eval split."),
    checks: str = typer.Option("off", help="Automatic per-turn checks: off | strict | loose. A reply that failed "
                                           "a stored check (`checks run`) does not pass; A/B turns without votes "
                                           "where one reply passed and the other failed become DPO pairs."),
    checks_only: bool = typer.Option(False, "--checks-only", help="With --checks: the checks decide alone (no "
                                                                  "ratings or votes needed; unrated replays too)."),
    judge: Optional[str] = typer.Option(None, help="Opt-in: use this judge's verdicts (judge:NAME@HASH or NAME); "
                                                   "report.json records it, its rubric hash and its agreement."),
    judge_use: str = typer.Option("label", help="With --judge: label (its verdict labels replies no person rated) | "
                                                "filter (it vetoes replies people passed that it says were not followed)."),
    allow_untrusted_judge: bool = typer.Option(False, help="Use a judge below the kappa threshold anyway (warned)."),
    eval_set: Optional[str] = typer.Option(None, help="evalset format: dump this stored eval set instead."),
    images: str = typer.Option("inline", help="openai: inline (data: URLs) | url-prefix=https://… | relative."),
    llava_flavor: str = typer.Option("1.5", help="llava: 1.5 (image is one path; multi-image rows skipped) | next "
                                                 "(a list for several images)."),
    image_placement: Optional[str] = typer.Option(None, help="llava: first (all <image> in the first human turn, "
                                                             "default for 1.5) | sent (the turn it was sent, "
                                                             "default for next)."),
    image_tokens_in_text: str = typer.Option("escape", help="Text containing <image> or another image token: "
                                                            "escape (&lt;image>) | skip the row."),
    home: Optional[Path] = typer.Option(None, help="Data dir (env IFT_CHAT_HOME)."),
) -> None:
    """Export rated turns as FORMAT into --out, with report.json, provenance.jsonl and an `exports` record."""
    from ..config import Config

    if fmt == "explain":
        _explain(Config.from_env(home=home), row_id)
        return
    if out is None or row_id is not None:
        raise typer.BadParameter("give one FORMAT and --out DIR (or: export explain ROW_ID)")
    result = _run(Config.from_env(home=home), fmt, out, force, locals())
    from ..dataloop.report import report_markdown
    judged = result.report.get("choices", {}).get("judge")
    if judged:
        typer.echo(f"judge {judged['rater']} ({judged['use']}): {judged['label']}")
        if judged["warning"]:
            typer.echo(judged["warning"], err=True)
    typer.echo(f"wrote {result.row_count} rows to {result.path} (export {result.id}, sha256 {result.sha256[:16]}…)")
    typer.echo(report_markdown(result.report))


def _run(config, fmt: str, out: Path, force: bool, a: dict):
    from tqdm import tqdm

    from ..dataloop.exports import run_export
    from ..dataloop.select import Filters
    from ..store import Store

    filters = Filters(checkpoints=tuple(a["checkpoint"]), since=a["since"], until=a["until"], task_set=a["task_set"],
                      min_gold_accuracy=a["min_gold_accuracy"], min_gold_items=a["min_gold_items"],
                      min_agreement=a["min_agreement"], min_raters=a["min_raters"], min_score=a["min_score"],
                      min_voters=a["min_voters"], use_corrections=not a["no_corrections"],
                      include_identity_leak=a["include_identity_leak"], dedup=not a["no_dedup"], split=a["split"],
                      eval_fraction=a["eval_fraction"], split_seed=a["split_seed"], checks=a["checks"],
                      checks_only=a["checks_only"], judge=a["judge"], judge_use=a["judge_use"],
                      allow_untrusted_judge=a["allow_untrusted_judge"])
    options = {"image_tokens_in_text": a["image_tokens_in_text"]}
    if fmt == "openai":
        options["images"] = a["images"]
    if fmt == "llava":
        options.update(llava_flavor=a["llava_flavor"], image_placement=a["image_placement"])
    if a["eval_set"]:
        options["eval_set"] = a["eval_set"]
    options = {k: v for k, v in options.items() if v is not None}
    store = Store(config)
    try:
        with tqdm(unit=" rows", desc=f"export {fmt}", file=sys.stderr, mininterval=1.0) as bar:
            return run_export(store, fmt, out, filters, force=force, options=options,
                              progress=lambda n: bar.update(n - bar.n))
    finally:
        store.close()


def _explain(config, row_id: str | None) -> None:
    from ..dataloop.provenance import explain, explanation_text
    from ..store import Store

    if not row_id:
        raise typer.BadParameter("export explain needs a ROW_ID (the id or metadata.row_id of an exported row)")
    store = Store(config)
    try:
        typer.echo(explanation_text(explain(store, row_id)))
    finally:
        store.close()
