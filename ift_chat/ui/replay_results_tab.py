"""Replay results tab of /manage: pick a replay run of an eval set, see per item and round each
checkpoint's reply next to the reference, the human ratings, the votes and the automatic
checks, and open the item on the main page to vote or rate there.

Replays are named (no blind battle here). Every cell is plain text (Dataframe "str"); the
only markdown cells are links made here from hex ids.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ..dataloop.replay_results import ReplayRun, find_run, replay_runs, run_results, run_summary
from .browse_tab import LINK_ID, open_link
from .context import AppContext, ui_guarded

SUMMARY_COLUMNS = ["checkpoint", "replies", "rated", "followed", "checked", "all_checks_passed"]


def run_choices(ctx: AppContext) -> list[tuple[str, str]]:
    return [(run.label, run.id) for run in replay_runs(ctx.store)]


def results_table(run: ReplayRun, rows: list[dict]) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One row per item and round: the prompt, the reference, per checkpoint reply / ratings /
    checks, the votes, and links to the item's conversation(s); with the column datatypes and widths."""
    columns = ["open", "item", "round", "user message", "reference"]
    for name in run.checkpoints:  # alphabetical: a run's sides swap from item to item
        columns += [f"{name} reply", f"{name} ratings", f"{name} checks"]
    columns.append("votes")
    out = []
    for row in rows:
        links = " ".join(open_link(cid, "replay").replace("[open]", f"[open {n + 1}]" if len(row["conversations"]) > 1
                                                          else "[open]")
                         for n, cid in enumerate(row["conversations"]))
        item = f"#{row['item']}" + (f" ({row['title'].split(' sample ')[1]})" if " sample " in row["title"] else "")
        cells = [links, item, row["round"], row["user_text"], row["reference"]]
        for name in run.checkpoints:
            reply = row["replies"].get(name, {})
            cells += [reply.get("text", ""), reply.get("ratings", ""), reply.get("checks", "")]
        cells.append(row["votes"])
        out.append(cells)
    widths = ["80px", "60px", "60px", "220px", "140px", *["280px", "150px", "170px"] * len(run.checkpoints), "160px"]
    return pd.DataFrame(out, columns=columns).astype(str), ["markdown", *["str"] * (len(columns) - 1)], widths


def show(ctx: AppContext, run_id: str) -> tuple:
    if not run_id:
        return gr.skip(), gr.skip(), "Pick a replay run first (Refresh lists new ones)."
    run = find_run(ctx.store, run_id)
    rows = run_results(ctx.store, run)
    table, datatypes, widths = results_table(run, rows)
    summary = pd.DataFrame(run_summary(run, rows), columns=SUMMARY_COLUMNS).astype(str)
    how = ("A/B replay: **open** an item to vote on each round or rate a reply there."
           if run.paired else "**open** an item to rate its replies there.")
    return (summary, gr.Dataframe(value=table, headers=list(table.columns), datatype=datatypes,
                                   column_widths=widths),
            f"{len(rows)} rounds of {run.items} items. {how}")


def render(ctx: AppContext) -> None:
    gr.Markdown("Results of replaying an evaluation set: per item and round each checkpoint's reply, "
                "the reference, people's ratings and votes, and the automatic checks.")
    with gr.Row():
        run = gr.Dropdown(choices=[], label="Replay run", scale=4, elem_id="replay-run")
        refresh = gr.Button("Refresh", scale=0, elem_id="replay-refresh")
        button = gr.Button("Show", variant="primary", scale=0, elem_id="replay-show")
    note = gr.Markdown("", elem_id="replay-note")
    chosen = gr.Markdown("", elem_id="replay-open")
    summary = gr.Dataframe(headers=SUMMARY_COLUMNS, interactive=False, label="Per checkpoint",
                           elem_id="replay-summary")
    results = gr.Dataframe(headers=["open", "item", "round", "user message", "reference", "votes"], interactive=False, wrap=True, label="Per item and round", elem_id="replay-results",
                           max_height=900)

    def runs():
        choices = run_choices(ctx)
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    @ui_guarded
    def display(run_id):
        return show(ctx, run_id)

    def pick(evt: gr.SelectData):
        """A clicked row: its item's link(s) as one click (a table link takes two: the first
        selects the cell)."""
        values = evt.row_value or []
        ids = LINK_ID.findall(str(values[0] if values else ""))
        if not ids:
            return gr.skip()
        links = " ".join(open_link(i, "replay").replace("[open]", f"[open item {values[1]}"
                                                        + (f" ({n + 1})" if len(ids) > 1 else "") + "]")
                         for n, i in enumerate(ids))
        return f"{links} to vote on its rounds or rate its replies (round {values[2]} clicked)"

    results.select(pick, None, chosen, api_name=False)
    refresh.click(runs, None, run, api_name=False)
    gr.on(None, runs, None, run, api_name=False, show_progress="hidden")  # on page load
    button.click(display, run, [summary, results, note], api_name="replay_results")
