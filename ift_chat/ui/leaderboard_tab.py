"""Leaderboard tab: the per-round leaderboard first (who still wins and follows in round k+),
then Bradley–Terry ratings with bootstrap and sandwich intervals, win rates, style control,
category leaderboards and the automatic instruction checks.

Everything is recomputed from the store when the user presses Refresh (a fit with
1000 bootstrap rounds takes well under a second for a few hundred thousand votes).
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..errors import ValidationError
from ..judge.optin import rounds_beside
from ..leaderboard import RatingFilters, Report, ReportOptions, VoteFilters, build_report
from ..leaderboard.pairs import battles_needed
from .context import AppContext, ui_guarded
from .render import md_text

ANY = ""
NEEDED_COLUMNS = ["checkpoint", "opponent", "rating_gap", "votes", "extra_votes_to_separate"]


def _text(value) -> str | None:
    return (value or "").strip() or None


def report_options(rounds, both_bad, include_named, include_replays, aggregate, eval_set, since, until,
                   anchor, min_gold_accuracy, only=(), from_round=3, style_rounds=0) -> ReportOptions:
    """The tab's inputs as ReportOptions (bad values raise ValidationError)."""
    try:
        rounds = int(rounds if rounds not in (None, "") else 1000)
        gold = float(min_gold_accuracy) if min_gold_accuracy not in (None, "", 0) else None
        from_round = int(from_round if from_round not in (None, "") else 3)
        style_rounds = int(style_rounds or 0)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"not a number: {exc}") from None
    if not 0 <= rounds <= 10_000:
        raise ValidationError("bootstrap rounds must be between 0 and 10,000")
    if not 1 <= from_round <= 100:
        raise ValidationError("'from round' counts from 1 (at most 100)")
    if not 0 <= style_rounds <= 1000:
        raise ValidationError("style-control bootstrap rounds must be between 0 and 1,000")
    if gold is not None and not 0 <= gold <= 1:
        raise ValidationError("the minimum gold accuracy is a share between 0 and 1")
    dates = {"since": _text(since), "until": _text(until), "eval_set": _text(eval_set),
             "checkpoints": tuple(c for c in (only or ()) if c)}
    return ReportOptions(
        votes=VoteFilters(both_bad=both_bad or "tie", anonymous_only=not include_named,
                          include_replays=bool(include_replays), **dates),
        ratings=RatingFilters(aggregate=aggregate or "mean", **dates),
        rounds=rounds, anchor_model=_text(anchor), min_gold_accuracy=gold, from_round=from_round,
        style_rounds=style_rounds)


def summary_markdown(report: Report) -> str:
    if report.board is None:
        return "No votes match these filters yet: vote in the arena or on replays, then refresh."
    s = report.summary()
    text = (f"**{s['votes']:,} votes** over {s['checkpoints']} checkpoints; "
            f"{report.options.ci:.0%} intervals from {s['bootstrap_rounds']} bootstrap rounds. "
            "Rank = 1 + number of checkpoints clearly better (intervals not overlapping).")
    v = report.views
    if v is not None:
        text += (f" **Round {v.from_round}+:** {s['votes_from_round']:,} votes. Style control: "
                 f"{v.style.interval if v.style else 'no'} intervals. Automatic checks on "
                 f"{s['checked_replies']:,} replies.")
    for warning in report.warnings():
        text += f"\n\n**Warning:** {warning}."
    if report.excluded_raters:
        text += f" Left out {len(report.excluded_raters)} rater(s) by gold accuracy or choice."
    return text


def choices(ctx: AppContext) -> tuple[list[str], list[str]]:
    """(eval sets, checkpoints) for the dropdowns, each with "" for any/none first."""
    return ([ANY, *[e.name for e in ctx.store.eval_sets.all()]],
            [ANY, *[c.name for c in ctx.store.checkpoints.all()]])


def judge_choices(ctx: AppContext) -> list[str]:
    """"" (people only, the default) and every judge rater with verdicts."""
    return [ANY, *[r["name"] for r in ctx.store.judges.raters()]]


def add_judge_lines(figure, table: pd.DataFrame, label: str):
    """The judge's per-round shares as dashed lines beside people's, named with its trust."""
    import plotly.graph_objects as go

    for checkpoint, rows in table.dropna(subset=["judge_followed"]).groupby("checkpoint"):
        figure.add_trace(go.Scatter(x=rows["round"], y=rows["judge_followed"], mode="lines+markers",
                                    line={"dash": "dash"}, name=f"{checkpoint}: {label}"))
    return figure


def with_judge(ctx: AppContext, report: Report, figures: dict, judge: str | None) -> tuple[str, pd.DataFrame]:
    """Opt-in: (the judge's markdown line, people's per-round table with the judge beside it);
    without a judge, ("", people's table) and the figures untouched."""
    if not judge:
        return "", report.rounds.round(3)
    table, choice = rounds_beside(ctx.store, judge, report.rounds, report.options.ratings)
    add_judge_lines(figures["rounds"], table, choice.short_label())
    trust = "" if choice.gate.trusted else " Its numbers say little about what people would say."
    text = (f"\n\n**Judge beside people (opt-in): {md_text(choice.gate.rater)} is {md_text(choice.gate.label)}.**"
            f"{trust} Dashed lines and the judge_* columns are its verdicts; the rest stays human-only.")
    return text, table.round(3)


def refresh_outputs(ctx: AppContext, options: ReportOptions, judge: str | None = None) -> tuple:
    report = build_report(ctx.store, options)
    figures = report.figures()
    judge_text, rounds_table = with_judge(ctx, report, figures, _text(judge))
    needed = battles_needed(report.pairs) if len(report.pairs) else pd.DataFrame(columns=NEEDED_COLUMNS)
    eval_sets, checkpoints = choices(ctx)  # new eval sets / checkpoints since the page loaded
    v = report.views
    return (summary_markdown(report) + judge_text, figures["ratings"], report.ratings, figures["rounds"],
            rounds_table, figures["win_rate"], needed[NEEDED_COLUMNS], figures["tags"],
            gr.Dropdown(choices=eval_sets), gr.Dropdown(choices=checkpoints),
            gr.Dropdown(choices=checkpoints[1:]),
            # the further views (file stems as in the `leaderboard --out` report)
            figures["rounds_leaderboard"], figures["auto_vs_human"], v.rounds_side_by_side,
            figures["rating_by_round"], figures["style"], figures["style_coefficients"], v.style_table,
            v.style_coefficients, figures["categories"], v.categories, figures["pif"], v.pif_overall.round(3),
            v.pif_n_k.round(3), figures["check_agreement"], v.agreement.round(3))


VIEW_OUTPUTS = ("rounds_leaderboard_plot", "auto_vs_human_plot", "rounds_side_by_side", "rating_by_round_plot",
                "style_plot", "style_coefficients_plot", "style_table", "style_coefficients",
                "categories_plot", "categories", "pif_plot", "pif", "pif_n_k", "agreement_plot", "agreement")


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
    with gr.Row():
        from_round = gr.Number(3, label="Per-round leaderboard: votes from round", precision=0, minimum=1,
                               maximum=100)
        style_rounds = gr.Number(0, label="Style control bootstrap rounds (0: sandwich intervals)",
                                 precision=0, minimum=0, maximum=1000)
        judge = gr.Dropdown(judge_choices(ctx), value=ANY, allow_custom_value=True,
                            label="Include judge (opt-in; none: people only) beside the per-round curve")
    refresh = gr.Button("Refresh leaderboard", variant="primary")
    summary = gr.Markdown("Press **Refresh leaderboard** to compute.")
    gr.Markdown("### Per-round leaderboard: who still wins, and still follows, in later rounds")
    view = {}
    with gr.Row():
        view["rounds_leaderboard_plot"] = gr.Plot(label="All rounds vs round k+")
        view["auto_vs_human_plot"] = gr.Plot(label="Following by round: automatic vs human")
    view["rounds_side_by_side"] = gr.Dataframe(label="All rounds vs round k+ (rank_change > 0: better later)",
                                               interactive=False)
    view["rating_by_round_plot"] = gr.Plot(label="Rating by round")
    gr.Markdown("### Overall leaderboard (bootstrap and sandwich intervals)")
    ratings_plot = gr.Plot(label="Ratings")
    ratings_table = gr.Dataframe(label="Leaderboard", interactive=False)
    rounds_plot = gr.Plot(label="Instruction following by round")
    rounds_table = gr.Dataframe(label="Per-round instruction following", interactive=False)
    win_plot = gr.Plot(label="Win rates")
    needed_table = gr.Dataframe(label="Pairs that need more battles (rough extra votes)", interactive=False)
    gr.Markdown("### Style control: ratings with length and markdown held equal")
    with gr.Row():
        view["style_plot"] = gr.Plot(label="Raw vs style-controlled")
        view["style_coefficients_plot"] = gr.Plot(label="Style coefficients")
    view["style_table"] = gr.Dataframe(label="Raw vs style-controlled ranking", interactive=False)
    view["style_coefficients"] = gr.Dataframe(label="Style coefficients (log-odds per sd)", interactive=False)
    gr.Markdown("### Categories: eval set, error tag, image, instruction kind")
    view["categories_plot"] = gr.Plot(label="Leaderboards by category")
    view["categories"] = gr.Dataframe(label="Category leaderboards", interactive=False)
    gr.Markdown("### Automatic instruction checks (programmatic, never counted as human ratings)")
    view["pif_plot"] = gr.Plot(label="PIF by round")
    view["pif"] = gr.Dataframe(label="PIF and prompt-level strict/loose accuracy per checkpoint",
                               interactive=False)
    view["pif_n_k"] = gr.Dataframe(label="PIF-N-K: share of replayed items where >= K of N samples followed",
                                   interactive=False)
    view["agreement_plot"] = gr.Plot(label="Automatic vs human agreement")
    view["agreement"] = gr.Dataframe(label="Automatic verdict vs human rating (confusion, Cohen's kappa)",
                                     interactive=False)
    tags_plot = gr.Plot(label="Error tags")

    @ui_guarded
    def on_refresh(*values):
        *values, judge_name = values
        return refresh_outputs(ctx, report_options(*values), judge_name)

    refresh.click(on_refresh,
                  [rounds, both_bad, include_named, include_replays, aggregate, eval_set, since, until,
                   anchor, min_gold, only, from_round, style_rounds, judge],
                  [summary, ratings_plot, ratings_table, rounds_plot, rounds_table, win_plot,
                   needed_table, tags_plot, eval_set, anchor, only, *(view[name] for name in VIEW_OUTPUTS)],
                  api_name="leaderboard_refresh")
    # judges that got verdicts since the page was built (never a default: people only)
    judge.focus(lambda: gr.Dropdown(choices=judge_choices(ctx)), None, judge, api_name=False)
