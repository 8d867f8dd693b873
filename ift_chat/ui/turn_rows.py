"""The arena by turn: each earlier turn is one row — its message once, every side's reply to
it side by side, and the vote on it under them.

The rows are a ``@gr.render`` keyed by a server-side state (``TurnRows.key``): conversation,
latest turn, viewer and a version. Only the panes of the latest turn stream (they are the
fixed Chatbots of ``ConversationPanes``); the earlier rows are rebuilt when the key changes —
once per turn, vote or form save, never per streamed token.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import gradio as gr
from gradio.context import get_blocks_context

from .rating import FEEDBACK_OPTIONS, feedback_values
from .render import chatbot, md_text, pane_messages, user_message

if TYPE_CHECKING:
    from .panes import ConversationPanes

# A best pick among N, or the pairwise verdict between two; labels say which turn it was on.
PAIR_CHOICES = [("👈 A is better", "A"), ("👉 B is better", "B"), ("🤝 Tie", "tie"),
                ("👎 Both are bad", "both_bad")]


# A scroll box shown from its end: a column-reverse flex box starts scrolled to its last child
# (one inner column, so the rows keep their order).
ROWS_CSS = """
.ift-turn-rows { max-height: 42vh; overflow-y: auto; display: flex; flex-direction: column-reverse;
  flex-wrap: nowrap; }
.ift-turn-rows:not(:has(.ift-turn)) { display: none; }
"""


def winner_choices(sides) -> list[tuple[str, str]]:
    """The vote's choices for a turn between `sides` (2: which is better; 3+: which is best)."""
    sides = list(sides)
    if len(sides) <= 2:
        return PAIR_CHOICES
    return [*((f"🏆 {s} is best", s) for s in sides), ("🤝 Tie", "tie"), ("👎 All are bad", "both_bad")]


def winner_label(winner: str | None, n_sides: int = 2) -> str:
    labels = {v: k for k, v in (PAIR_CHOICES if n_sides <= 2 else winner_choices("ABCD"))}
    if n_sides > 2 and winner == "both_bad":
        return "👎 All are bad"
    return labels.get(winner, winner or "")


def rows_key(conversation_id: str | None, upto: int | None, rater_id: int | None, fresh: bool = False) -> dict:
    """What the rows show; `fresh` forces a rebuild (a rating saved from the form)."""
    return {"c": conversation_id, "upto": upto, "rater": rater_id,
            "v": time.monotonic_ns() if fresh else 0}


def latest_idx(dialog) -> int | None:
    return dialog.turns[-1].turn.idx if dialog and dialog.turns else None


def asked_messages(dialog) -> list:
    """The latest turn's message, shown once above its replies."""
    return [user_message(dialog.turns[-1])] if dialog and dialog.turns else []


def vote_note(turn, rater_id: int | None, n_sides: int) -> str:
    """"Voted: A is better · reason" for the viewer's vote on an earlier turn."""
    mine = [v for v in turn.votes if v.rater_id == rater_id] if rater_id is not None else []
    if not mine:
        return f"Turn {turn.turn.idx}: no vote."
    vote = mine[0]
    reason = f" · {md_text(vote.reason)}" if vote.reason else ""
    return f"Turn {turn.turn.idx} — Voted: {md_text(winner_label(vote.winner, n_sides))}{reason}"


def _make_private(fn) -> None:
    """The render's own event is the page's, not an API endpoint (`/apply` otherwise: the API
    surface is pinned, tests/security/test_api_surface.py)."""
    blocks = get_blocks_context()
    for block_fn in blocks.fns.values():
        if block_fn.renderable is not None and block_fn.renderable.fn is fn:
            block_fn.api_visibility = "private"


class TurnRows:
    """The earlier turns of the panes' conversation, one row each."""

    def __init__(self, panes: "ConversationPanes"):
        self.panes = panes

    def render(self) -> "TurnRows":
        self.key = gr.State(rows_key(None, None, None))
        panes = self.panes

        # The rows scroll in a box of their own that starts at its end (ROWS_CSS), so the latest
        # turn, its vote and the input stay on screen as the dialog grows
        # (bench/bench_rating_clicks.py: 1,356 px of page scroll to rate turn 3 without it).
        with gr.Column(elem_id=f"{panes.p}-rows", elem_classes=["ift-turn-rows"]):
            @gr.render(inputs=[self.key], triggers=[self.key.change], show_progress="hidden")
            def rows(key):
                conversation_id, upto = (key or {}).get("c"), (key or {}).get("upto")
                if not conversation_id or upto is None:
                    return
                rater_id = key.get("rater")
                dialog = panes.ctx.store.dialogs.load(conversation_id, rater_id)
                labels = panes.side_labels(conversation_id, None, dialog)
                with gr.Column(elem_classes=["ift-turn-rows-inner"]):
                    for turn in dialog.turns:
                        if turn.turn.idx < upto:
                            self._row(dialog, turn, labels, rater_id)
            _make_private(rows)
        self.asked = chatbot(value=[], label="Latest turn", height=None, min_height=60, max_height=260,
                             elem_id=f"{panes.p}-asked", elem_classes=["ift-pane", "ift-turn-message"],
                             feedback_options=None)
        return self

    def frame(self, conversation_id: str | None, rater, dialog) -> dict:
        """The rows' key and the latest turn's message, for a conversation as `rater` sees it."""
        latest = dialog.turns[-1] if dialog and dialog.turns else None
        return {self.key: rows_key(conversation_id, latest_idx(dialog), rater.id if rater else None),
                self.asked: gr.Chatbot(value=asked_messages(dialog),
                                       label=f"Turn {latest.turn.idx}" if latest else "Latest turn")}

    def _row(self, dialog, turn, labels: dict[str, str], rater_id: int | None) -> None:
        p, idx = self.panes.p, turn.turn.idx
        sides = [s for s in self.panes.sides if s in dialog.sides]
        with gr.Column(elem_classes=["ift-turn"], elem_id=f"{p}-turn-{idx}"):
            chatbot(value=[user_message(turn)], label=f"Turn {idx}", height=None, min_height=60, max_height=260,
                    elem_classes=["ift-pane", "ift-turn-message"], feedback_options=None)
            with gr.Row(equal_height=True, elem_classes=["ift-turn-replies"]):
                for side in sides:
                    pairs = self._replies(dialog, side, idx)
                    bot = chatbot(value=[m for m, _ in pairs], label=labels[side], height=None,
                                  max_height=420, elem_id=f"{p}-turn-{idx}-{side}",
                                  elem_classes=["ift-pane", "ift-rate", "ift-turn-reply"],
                                  feedback_options=FEEDBACK_OPTIONS, group_consecutive_messages=False,
                                  feedback_value=feedback_values(self.panes.ctx.store, pairs, rater_id, dialog))
                    bot.like(self._like(dialog.id, side, idx, bot), [self.panes.conversation, self.panes.rater_name],
                             [*self.panes.rating_outputs, bot], api_name=False, show_progress="hidden",
                             concurrency_limit=None)
            gr.Markdown(vote_note(turn, rater_id, len(sides)), elem_id=f"{p}-turn-{idx}-vote",
                        elem_classes=["ift-turn-vote"])

    def _replies(self, dialog, side: str, idx: int) -> list:
        """The assistant messages of one cell: its earlier (superseded) replies, then the current."""
        pairs = pane_messages(self.panes.ctx.store, dialog.id, side, dialog=dialog, only_turn=idx)
        return [(m, r) for m, r in pairs if m["role"] == "assistant"]

    def _like(self, conversation_id: str, side: str, idx: int, bot: gr.Chatbot):
        """A verdict under a reply of an earlier row: the same store call as the live panes."""
        panes = self.panes

        def like(current_id, name, data: gr.LikeData, request: gr.Request):
            if current_id != conversation_id:  # a stale row of a conversation left since
                raise gr.Error("that conversation is no longer open", title="Can't do that")
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            pairs = self._replies(panes.ctx.store.dialogs.load(conversation_id), side, idx)
            response = pairs[index][1] if isinstance(index, int) and 0 <= index < len(pairs) else None

            def rerender(response_id, rater):  # the row's own pane, not the live ones
                dialog = panes.ctx.store.dialogs.load(conversation_id, rater.id)
                pairs = self._replies(dialog, side, idx)
                return {bot: gr.Chatbot(value=[m for m, _ in pairs], feedback_value=feedback_values(
                    panes.ctx.store, pairs, rater.id, dialog))}
            return panes.rating.rate_inline(response, data.liked, name, conversation_id, request, rerender)
        return like
