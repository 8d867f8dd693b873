"""Leaderboard tab: Bradley–Terry ratings with intervals, win rates, per-round following.

Everything is recomputed from the store when the user presses Refresh (a fit with
1000 bootstrap rounds takes well under a second for a few hundred thousand votes).
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..errors import IftChatError, ValidationError
from ..leaderboard import RatingFilters, Report, ReportOptions, VoteFilters, build_report
from ..leaderboard.pairs import battles_needed
from .context import AppContext, ui_error

ANY = ""
NEEDED_COLUMNS = ["checkpoint", "opponent", "rating_gap", "votes", "extra_votes_to_separate"]


def _text(value) -> str | None:
    return (value or "").strip() or None


def report_options(rounds, both_bad, include_named, include_replays, aggregate, eval_set, since, until,
                   anchor, min_gold_accuracy, only=()) -> ReportOptions:
    """The tab's inputs as ReportOptions (bad values raise ValidationError)."""
    try:
        rounds = int(rounds if rounds not in (None, "") else 1000)
        gold = float(min_gold_accuracy) if min_gold_accuracy not in (None, "", 0) else None
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"not a number: {exc}") from None
    if not 0 <= rounds <= 10_000:
        raise ValidationError("bootstrap rounds must be between 0 and 10,000")
    if gold is not None and not 0 <= gold <= 1:
        raise ValidationError("the minimum gold accuracy is a share between 0 and 1")
    dates = {"since": _text(since), "until": _text(until), "eval_set": _text(eval_set),
             "checkpoints": tuple(c for c in (only or ()) if c)}
    return ReportOptions(
        votes=VoteFilters(both_bad=both_bad or "tie", anonymous_only=not include_named,
                          include_replays=bool(include_replays), **dates),
        ratings=RatingFilters(aggregate=aggregate or "mean", **dates),
        rounds=rounds, anchor_model=_text(anchor), min_gold_accuracy=gold)


def summary_markdown(report: Report) -> str:
    if report.board is None:
        return "No votes match these filters yet: vote in the arena or on replays, then refresh."
    s = report.summary()
    text = (f"**{s['votes']:,} votes** over {s['checkpoints']} checkpoints; "
            f"{report.options.ci:.0%} intervals from {s['bootstrap_rounds']} bootstrap rounds. "
            "Rank = 1 + number of checkpoints clearly better (intervals not overlapping).")
    for warning in report.warnings():
        text += f"\n\n**Warning:** {warning}."
    if report.excluded_raters:
        text += f" Left out {len(report.excluded_raters)} rater(s) by gold accuracy or choice."
    return text


def choices(ctx: AppContext) -> tuple[list[str], list[str]]:
    """(eval sets, checkpoints) for the dropdowns, each with "" for any/none first."""
    return ([ANY, *[e.name for e in ctx.store.eval_sets.all()]],
            [ANY, *[c.name for c in ctx.store.checkpoints.all()]])


def refresh_outputs(ctx: AppContext, options: ReportOptions) -> tuple:
    report = build_report(ctx.store, options)
    figures = report.figures()
    needed = battles_needed(report.pairs) if len(report.pairs) else pd.DataFrame(columns=NEEDED_COLUMNS)
    eval_sets, checkpoints = choices(ctx)  # new eval sets / checkpoints since the page loaded
    return (summary_markdown(report), figures["ratings"], report.ratings, figures["rounds"],
            report.rounds.round(3), figures["win_rate"], needed[NEEDED_COLUMNS], figures["tags"],
            gr.Dropdown(choices=eval_sets), gr.Dropdown(choices=checkpoints),
            gr.Dropdown(choices=checkpoints[1:]))


def render(ctx: AppContext) -> None:
    gr.Markdown("Which checkpoint wins (arena and replay votes), and in which round of a dialog "
                "each one stops following instructions (per-turn ratings).")
    eval_sets, checkpoints = choices(ctx)
    with gr.Row():
        both_bad = gr.Radio(["tie", "drop"], value="tie", label="'Both bad' votes count as")
        include_named = gr.Checkbox(False, label="Also count named-arena votes")
        include_replays = gr.Checkbox(True, label="Count votes on replays")
        aggregate = gr.Radio(["mean", "majority"], value="mean", label="Several raters of one reply")
    with gr.Row():
        eval_set = gr.Dropdown(eval_sets, value=ANY, label="Eval set", allow_custom_value=True)
        since = gr.Textbox(label="From date (YYYY-MM-DD)", max_lines=1)
        until = gr.Textbox(label="To date (inclusive)", max_lines=1)
        anchor = gr.Dropdown(checkpoints, value=ANY, label="Anchor at 1000 (none: the mean)",
                             allow_custom_value=True)
        min_gold = gr.Number(0, label="Min. rater gold accuracy (0-1, 0: everyone)", minimum=0, maximum=1)
        only = gr.Dropdown(checkpoints[1:], value=[], multiselect=True, allow_custom_value=True,
                           label="Only these checkpoints (none: all)")
        rounds = gr.Number(1000, label="Bootstrap rounds", precision=0, minimum=0, maximum=10_000)
    refresh = gr.Button("Refresh leaderboard", variant="primary")
    summary = gr.Markdown("Press **Refresh leaderboard** to compute.")
    ratings_plot = gr.Plot(label="Ratings")
    ratings_table = gr.Dataframe(label="Leaderboard", interactive=False)
    rounds_plot = gr.Plot(label="Instruction following by round")
    rounds_table = gr.Dataframe(label="Per-round instruction following", interactive=False)
    win_plot = gr.Plot(label="Win rates")
    needed_table = gr.Dataframe(label="Pairs that need more battles (rough extra votes)", interactive=False)
    tags_plot = gr.Plot(label="Error tags")

    def on_refresh(*values):
        try:
            return refresh_outputs(ctx, report_options(*values))
        except IftChatError as exc:
            raise ui_error(exc) from exc

    refresh.click(on_refresh,
                  [rounds, both_bad, include_named, include_replays, aggregate, eval_set, since, until,
                   anchor, min_gold, only],
                  [summary, ratings_plot, ratings_table, rounds_plot, rounds_table, win_plot,
                   needed_table, tags_plot, eval_set, anchor, only],
                  api_name="leaderboard_refresh")
