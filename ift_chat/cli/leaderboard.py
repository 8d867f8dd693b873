"""``leaderboard``: Bradley–Terry ratings, win rates and per-round following, as files."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import app


def _rater_ids(store, names: list[str]) -> frozenset[int]:
    return frozenset(store.raters.by_name(name).id for name in names)


def _judge_beside(store, report, name: str):
    from ..judge.optin import rounds_beside

    return rounds_beside(store, name, report.rounds, report.options.ratings)


def _write_judge(folder: Path, table, choice) -> None:
    """The opt-in judge's files, beside (never inside) the human-only tables."""
    import json

    table.to_csv(folder / "rounds_with_judge.csv", index=False)
    table.to_json(folder / "rounds_with_judge.json", orient="records", indent=1)
    (folder / "judge.json").write_text(json.dumps(choice.figures, indent=1) + "\n")


@app.command()
def leaderboard(
    out: Path = typer.Option(..., "--out", help="Directory to create (refused if it exists, unless --force)."),
    force: bool = typer.Option(False, "--force", help="Replace --out once the new report is complete."),
    rounds: int = typer.Option(1000, help="Bootstrap rounds for the intervals (0: none)."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
    ci: float = typer.Option(0.95, help="Interval level."),
    anchor_value: float = typer.Option(1000.0, help="Rating of the anchor (default: the mean checkpoint)."),
    anchor: Optional[str] = typer.Option(None, help="Pin this checkpoint at --anchor-value."),
    both_bad: str = typer.Option("tie", help="'Both bad' votes: tie (half a win each) | drop."),
    include_named: bool = typer.Option(False, help="Also count named-arena votes (raters saw the names)."),
    no_replays: bool = typer.Option(False, "--no-replays", help="Ignore votes on replayed eval items."),
    since: Optional[str] = typer.Option(None, help="Votes/ratings from this date or date-time on (UTC unless it has an offset)."),
    until: Optional[str] = typer.Option(None, help="Votes/ratings through this date (the whole day, UTC) or up to this date-time."),
    eval_set: Optional[str] = typer.Option(None, help="Only conversations replaying this eval set."),
    checkpoint: List[str] = typer.Option([], "--checkpoint", help="Only these checkpoints (repeatable)."),
    exclude_rater: List[str] = typer.Option([], "--exclude-rater", help="Leave out this rater (repeatable)."),
    min_gold_accuracy: Optional[float] = typer.Option(None, help="Leave out raters below this gold accuracy (0-1)."),
    min_gold_items: int = typer.Option(5, help="Gold items a rater needs before being judged."),
    aggregate: str = typer.Option("mean", help="Several raters of one reply: mean | majority."),
    from_round: int = typer.Option(3, "--from-round", help="Per-round leaderboard: votes on this round or later."),
    style_rounds: int = typer.Option(0, help="Bootstrap rounds for style control (0: sandwich intervals)."),
    no_png: bool = typer.Option(False, "--no-png", help="Skip PNG plots (they need Chromium)."),
    include_judge: Optional[str] = typer.Option(
        None, "--include-judge", help="Opt-in: a judge's per-round curve beside people's (judge:NAME@HASH or "
                                      "NAME), labelled with its kappa vs people; written as rounds_with_judge.*"),
    home: Optional[Path] = typer.Option(None, help="Data dir (env IFT_CHAT_HOME)."),
) -> None:
    """Write ratings/pairs/rounds/tags, the per-round board, style control, categories and the
    automatic checks as CSV + JSON and plots as HTML (+ PNG) into --out."""
    from tqdm import tqdm

    from ..config import Config
    from ..leaderboard import RatingFilters, ReportOptions, VoteFilters, build_report, write_report
    from ..store import Store

    store = Store(Config.from_env(home=home))
    try:
        dropped = _rater_ids(store, exclude_rater)
        options = ReportOptions(
            votes=VoteFilters(both_bad=both_bad, anonymous_only=not include_named,
                              include_replays=not no_replays, since=since, until=until,
                              eval_set=eval_set, checkpoints=tuple(checkpoint), exclude_raters=dropped),
            ratings=RatingFilters(aggregate=aggregate, since=since, until=until, eval_set=eval_set,
                                  checkpoints=tuple(checkpoint), exclude_raters=dropped, ci=ci),
            rounds=rounds, seed=seed, ci=ci, anchor_value=anchor_value, anchor_model=anchor,
            min_gold_accuracy=min_gold_accuracy, min_gold=min_gold_items, from_round=from_round,
            style_rounds=style_rounds)
        if include_judge:
            from ..judge.optin import resolve
            resolve(store, include_judge)  # a bad name fails before the long fit
        with tqdm(total=rounds, desc="bootstrap", unit="round", disable=rounds == 0) as bar:
            report = build_report(store, options, on_progress=bar.update)
        beside = _judge_beside(store, report, include_judge) if include_judge else None
        summary = write_report(report, out, force=force, png=not no_png)
        if beside is not None:
            _write_judge(Path(summary["path"]), *beside)
    finally:
        store.close()
    if beside is not None:
        table, choice = beside
        typer.echo(f"\nper-round following, people vs {choice.gate.rater} (opt-in): {choice.gate.label}")
        typer.echo(table.round(3).to_string(index=False))
    if report.ratings.empty:
        typer.echo("no votes match these filters yet: the ratings table is empty")
    else:
        typer.echo(report.ratings.to_string(index=False))
    if report.views is not None and len(report.views.rounds_side_by_side):
        typer.echo(f"\nall rounds vs round {from_round}+:")
        typer.echo(report.views.rounds_side_by_side.to_string(index=False))
        typer.echo("\nraw vs style-controlled (sandwich intervals):")
        typer.echo(report.views.style_table.to_string(index=False))
        typer.echo(report.views.style_coefficients.to_string(index=False))
    for warning in report.warnings():
        typer.echo(f"warning: {warning}")
    typer.echo(f"{summary['votes']:,} votes, {summary['rated_responses_by_round']:,} rated replies; "
               f"PNG: {summary['png']}; wrote {summary['path']}")
