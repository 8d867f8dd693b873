"""Conversations tab of /manage: every conversation (chat, arenas, battles, replays) filtered by
checkpoint, eval set, rounds, rating, tag, rater, date and text, in a table whose rows open the
conversation on the main page (to continue, rate or vote there) and preview it read-only here.

Blind battles stay blind: the store lists no checkpoint of an unrevealed battle and never
matches one by checkpoint or by its replies' text (ift_chat/store/browse.py); the preview
shows its replies as the battle page does, names and server details redacted. Table cells
are plain text (Dataframe "str" cells are text nodes); the only markdown cells are links made
here from hex ids.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

import gradio as gr
import pandas as pd

from ..errors import ValidationError
from ..store.browse import VERDICTS, BrowseFilters
from ..store.dates import time_zone
from ..store.models import ERROR_TAGS, MODES
from . import render as show
from .context import AppContext, ui_guarded

ANY = ""
PANES = 4  # preview panes: a conversation's sides (single, A, B, C, D: at most four are used)
COLUMNS = ["open", "created", "mode", "checkpoints", "rounds", "first message", "ratings", "votes",
           "owner", "eval set", "title"]
DATATYPES = ["markdown", *["str"] * (len(COLUMNS) - 1)]
WIDTHS = ["70px", "140px", "130px", "190px", "70px", "320px", "120px", "70px", "100px", "100px", "160px"]
_ID = re.compile(r"^[0-9a-f]{32}$")
LINK_ID = re.compile(r"\?c=([0-9a-f]{32})\)")  # the ids in a cell's links
TZ_JS = "() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'"
# Run before the search: an empty time zone box takes the browser's own.
BROWSER_TZ_JS = """(...args) => { const n = args.length - 1;
  if (!args[n]) args[n] = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return args; }"""


def local_time(stamp: str, tz: zoneinfo.ZoneInfo) -> str:
    return datetime.datetime.fromisoformat(stamp).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _count(text, what: str) -> int | None:
    text = str(text if text is not None else "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationError(f"{what} must be a whole number, not {text!r}")
    return int(text)


def filters_from(modes, checkpoint, eval_set, min_rounds, max_rounds, verdict, tag, rater, since, until,
                 text, tz_name) -> BrowseFilters:
    return BrowseFilters(
        modes=tuple(m for m in (modes or ()) if m), checkpoint=checkpoint or None, eval_set=eval_set or None,
        min_rounds=_count(min_rounds, "the minimum of rounds"), max_rounds=_count(max_rounds, "the maximum of rounds"),
        verdict=verdict or None, tag=tag or None, rater=(rater or "").strip() or None,
        since=since, until=until, tz=time_zone(tz_name).key, text=(text or "").strip() or None)


def open_link(conversation_id: str, mode: str) -> str:
    """Where a conversation opens (relative to /manage, so a sub-path works): battles on the
    battle page, everything else on the main page. Only ever a hex id in it."""
    if not _ID.match(conversation_id):
        return ""
    page = "battle/" if mode == "arena-anonymous" else "./"
    return f"[open]({page}?c={conversation_id})"


def _verdicts(row: dict) -> str:
    v = row["verdicts"]
    if not row["ratings"]:
        return ""
    return f"{row['ratings']}: " + " ".join(f"{n} {k}" for k, n in v.items() if n)


def table(rows: list[dict], tz: zoneinfo.ZoneInfo) -> pd.DataFrame:
    out = [[open_link(r["id"], r["mode"]), local_time(r["created"], tz), r["mode"],
            show.HIDDEN if r["blind"] else ", ".join(r["checkpoints"]), r["rounds"],
            (r["first_message"] or "")[:200], _verdicts(r), r["votes"], r["owner"] or "",
            r["eval_set"] or "", r["title"] or ""] for r in rows]
    return pd.DataFrame(out, columns=COLUMNS).astype(str)


def search(ctx: AppContext, *values) -> tuple:
    """The table, the summary line and the time zone used."""
    filters = filters_from(*values)
    tz = time_zone(values[-1])
    rows = ctx.store.browse.conversations(filters)
    more = " (the newest; narrow the filters to see others)" if len(rows) == filters.limit else ""
    summary = f"**{len(rows)} conversation{'s' * (len(rows) != 1)}**{more}, times in {show.md_text(tz.key)}."
    return table(rows, tz), summary, tz.key


def choice_updates(ctx: AppContext) -> tuple:
    """The dropdowns' choices as of now (checkpoints, eval sets and raters added since start-up)."""
    _, checkpoints, eval_sets, raters = _choices(ctx)
    return gr.Dropdown(choices=checkpoints), gr.Dropdown(choices=eval_sets), gr.Dropdown(choices=raters)


def blind_messages(ctx: AppContext, conversation_id: str, side: str) -> list[dict]:
    """One side of an unrevealed battle with every name redacted from its replies too (a model
    may say who it is): the browser is open to more people than the battle's owner."""
    store, messages = ctx.store, []
    for turn in store.dialogs.load(conversation_id).turns:
        messages.append(show.user_message(turn))
        r = turn.responses.get(side)
        if r is not None:
            text = show.redact_identities(store, conversation_id, r.text)
            error = show.redact_identities(store, conversation_id, r.error or "")
            messages.append({"role": "assistant", "content": [
                show.html_message(show.reply_html(text, r.status, error))]})
    return messages


def preview(ctx: AppContext, conversation_id: str) -> list:
    """A read-only view of one conversation: its header (with the link) and one pane per side."""
    conversation = ctx.store.conversations.get(conversation_id)
    sides = ctx.store.conversations.sides(conversation_id)
    hidden = show.names_hidden(ctx.store, conversation_id)
    header = (f"**Conversation `{conversation_id[:8]}`** ({show.md_text(conversation.mode)}) · "
              f"{open_link(conversation_id, conversation.mode)} to continue, rate or vote"
              + (" · a blind battle: names stay hidden until its owner reveals it" if hidden else ""))
    panes = []
    for side in list(sides)[:PANES]:
        if hidden:
            label, messages = f"Model {side}", blind_messages(ctx, conversation_id, side)
        else:
            label = sides[side] if side == "single" else f"{side}: {sides[side]}"
            messages = show.chat_messages(ctx.store, conversation_id, side)
        panes.append(gr.Chatbot(value=messages, label=label, visible=True))
    panes += [gr.Chatbot(value=[], visible=False) for _ in range(PANES - len(panes))]
    return [header, *panes]


def _choices(ctx: AppContext) -> tuple[list, list, list, list]:
    modes = list(dict.fromkeys([*MODES, *ctx.store.browse.modes()]))
    return (modes, [ANY, *[c.name for c in ctx.store.checkpoints.all()]],
            [ANY, *[e.name for e in ctx.store.eval_sets.all()]], [ANY, *ctx.store.browse.rater_names()])


def render(ctx: AppContext) -> None:
    modes, checkpoints, eval_sets, raters = _choices(ctx)
    gr.Markdown("All conversations, newest first. Filter, then **Search**; click a row to preview it "
                "read-only, then **open** it to continue, rate or vote on it.")
    with gr.Row():
        mode = gr.Dropdown(modes, multiselect=True, label="Mode (any if empty)", elem_id="browse-mode")
        checkpoint = gr.Dropdown(checkpoints, value=ANY, label="Checkpoint", elem_id="browse-checkpoint")
        eval_set = gr.Dropdown(eval_sets, value=ANY, label="Eval set", elem_id="browse-eval-set")
        rater = gr.Dropdown(raters, value=ANY, label="Rater (owns, rated or voted)", allow_custom_value=True,
                            elem_id="browse-rater")
    with gr.Row():
        min_rounds = gr.Textbox(label="Rounds ≥", max_lines=1, elem_id="browse-min-rounds")
        max_rounds = gr.Textbox(label="Rounds ≤", max_lines=1, elem_id="browse-max-rounds")
        verdict = gr.Dropdown([ANY, *VERDICTS], value=ANY, label="Rating verdict", elem_id="browse-verdict")
        tag = gr.Dropdown([ANY, *ERROR_TAGS], value=ANY, label="Error tag", elem_id="browse-tag")
    with gr.Row():
        since = gr.Textbox(label="From (date, time)", placeholder="2026-12-01 or 2026-12-01 09:00",
                           max_lines=1, elem_id="browse-since")
        until = gr.Textbox(label="To (a date: through that day)", placeholder="2026-12-31", max_lines=1,
                           elem_id="browse-until")
        tz = gr.Textbox(label="Time zone", placeholder="your browser's", max_lines=1, elem_id="browse-tz")
        text = gr.Textbox(label="Text (messages, replies, titles)", max_lines=1, elem_id="browse-text")
    button = gr.Button("Search", variant="primary", elem_id="browse-search")
    summary = gr.Markdown("", elem_id="browse-summary")
    results = gr.Dataframe(headers=COLUMNS, datatype=DATATYPES, column_widths=WIDTHS, interactive=False,
                           wrap=True, label="Conversations (click a row to preview)", elem_id="browse-results")
    header = gr.Markdown("", elem_id="browse-preview-header")
    with gr.Row(elem_id="browse-preview"):
        panes = [show.chatbot(visible=False, height=420) for _ in range(PANES)]

    @ui_guarded
    def run(*values):
        return search(ctx, *values)

    @ui_guarded
    def pick(evt: gr.SelectData):
        found = LINK_ID.search(str((evt.row_value or [""])[0]))
        if not found:
            return [gr.skip()] * (PANES + 1)
        return preview(ctx, found[1])

    inputs = [mode, checkpoint, eval_set, min_rounds, max_rounds, verdict, tag, rater, since, until, text, tz]
    gr.on([button.click, text.submit], run, inputs, [results, summary, tz], js=BROWSER_TZ_JS,
          api_name="browse_conversations")
    # On page load (this page's own context): the browser's time zone, then every conversation.
    gr.on(None, None, None, [tz], js=TZ_JS, api_name=False).then(
        run, inputs, [results, summary, tz], api_name=False, show_progress="hidden")
    gr.on(None, lambda: choice_updates(ctx), None, [checkpoint, eval_set, rater], api_name=False,
          show_progress="hidden")
    results.select(pick, None, [header, *panes], api_name=False)
