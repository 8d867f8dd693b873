"""Arena: the same turn to two checkpoints at once, a vote on every turn.

Named battles live in the main app; anonymous ones on their own page (`/battle`),
whose every byte sent before a vote is free of checkpoint names.
"""

from __future__ import annotations

import gradio as gr

from ..errors import IftChatError, ValidationError
from ..runner import DialogRunner
from .context import AppContext, ui_error
from .panes import ConversationPanes
from .render import md_text

WINNER_CHOICES = [("👈 A is better", "A"), ("👉 B is better", "B"), ("🤝 Tie", "tie"),
                  ("👎 Both are bad", "both_bad")]
HISTORY_CHOICES = [("each side continues from its own replies", "own"),
                   ("both continue from the winning reply", "winner")]


class ArenaTab:
    def __init__(self, ctx: AppContext, runner: DialogRunner, anonymous: bool, rater_name: gr.Textbox):
        self.ctx, self.runner, self.anonymous = ctx, runner, anonymous
        self.rater_name = rater_name
        self.p = "battle" if anonymous else "arena"
        self.mode = "arena-anonymous" if anonymous else "arena-named"

    def render(self) -> "ArenaTab":
        extra = []
        if self.anonymous:
            gr.Markdown("Two anonymous models answer each message. Vote on every turn; "
                        "their names are shown after your vote.")
        else:
            names = self.ctx.backends.names()
            with gr.Row():
                self.a = gr.Dropdown(names, value=names[0] if names else None, label="Model A")
                self.b = gr.Dropdown(names, value=names[1] if len(names) > 1 else None, label="Model B")
            extra = [self.a, self.b]
        self.history = gr.Radio(HISTORY_CHOICES, value="own", label="After a vote, the next turn…")
        self.panes = ConversationPanes(self.ctx, self.runner, sides=("A", "B"), modes=(self.mode,),
                                       api_prefix=self.p, start=self._start, anonymous=self.anonymous,
                                       rater_name=self.rater_name)
        self.panes.extra_inputs = [*extra, self.history]
        self.panes.render()
        with gr.Group():
            with gr.Row():
                self.winner = gr.Radio(WINNER_CHOICES, label="Which reply to this turn is better?",
                                       interactive=False, scale=3, elem_id=f"{self.p}-winner")
                self.reason = gr.Textbox(label="Why? (optional)", scale=2, interactive=False)
                self.vote_btn = gr.Button("Vote", variant="primary", interactive=False, scale=0,
                                          elem_id=f"{self.p}-vote")
            self.reveal = gr.Markdown("", elem_id=f"{self.p}-reveal")
        self.panes.render_rating()
        self.panes.extra_outputs = [self.winner, self.reason, self.vote_btn, self.reveal]
        self.panes.turn_hooks.append(self._vote_row)
        self.panes.wire()
        self.vote_btn.click(self.vote, [self.panes.conversation, self.rater_name,
                                        self.winner, self.reason],
                            self.panes._outputs(), api_name=f"{self.p}_vote", concurrency_limit=None)
        self.history.input(self._set_history, [self.panes.conversation, self.history], None,
                           api_name=False, concurrency_limit=None)
        if not self.anonymous:
            for dd in extra:
                dd.input(self.panes.new, None, self.panes.reset_outputs, api_name=False, concurrency_limit=None)
        return self

    @property
    def load_outputs(self) -> list:
        return self.panes._outputs()

    def on_load(self, request: gr.Request, name: str | None) -> dict:
        return self.panes.load_from_url(request, name)

    def _start(self, rater, params, system_prompt, extra) -> str:
        if self.anonymous:
            (history,) = extra
            sides = self.runner.pick_anonymous_pair()
        else:
            a, b, history = extra
            if not a or not b:
                raise ValidationError("pick a checkpoint for both A and B")
            sides = {"A": a, "B": b}
        return self.runner.start(self.mode, sides, rater_id=rater.id if rater else None,
                                 system_prompt=system_prompt, params=params,
                                 history_mode=history or "own").id

    def _vote_row(self, conversation_id: str | None, finished: bool) -> dict:
        """Voting opens when both replies to the latest turn are in."""
        can_vote = finished and conversation_id is not None and self._last_turn_done(conversation_id)
        update = {self.winner: gr.Radio(value=None, interactive=can_vote),
                  self.reason: gr.Textbox(value="", interactive=can_vote),
                  self.vote_btn: gr.Button(interactive=can_vote)}
        if not finished or conversation_id is None:
            update[self.reveal] = ""
        return update

    def _last_turn_done(self, conversation_id: str) -> bool:
        turns = self.ctx.store.conversations.turns(conversation_id)
        if not turns:
            return False
        responses = self.ctx.store.conversations.responses(turns[-1].id)
        return len(responses) >= 2 and all(r.status != "pending" for r in responses)

    def vote(self, conversation_id, name, winner, reason, request: gr.Request):
        try:
            if not conversation_id or not self._last_turn_done(conversation_id):
                raise ValidationError("vote once both replies to your message are complete")
            if winner is None:
                raise ValidationError("choose which reply is better (or tie / both bad)")
            rater = self.ctx.rater_for(request, name)
            turn = self.ctx.store.conversations.turns(conversation_id)[-1]
            self.ctx.store.feedback.vote(turn.id, rater.id, winner, anonymous=self.anonymous,
                                         reason=reason)
        except IftChatError as exc:
            raise ui_error(exc) from exc
        update = self.panes.show(conversation_id, rater)
        sides = self.ctx.store.conversations.sides(conversation_id)
        label = dict((v, k) for k, v in WINNER_CHOICES)[winner]
        update[self.reveal] = (f"Turn {turn.idx}: you voted **{label}**. Model A was **{md_text(sides['A'])}**, "
                               f"model B was **{md_text(sides['B'])}**. Keep chatting to compare the next turn.")
        update[self.winner] = gr.Radio(value=winner, interactive=True)
        return update

    def _set_history(self, conversation_id, history):
        if conversation_id:
            self.ctx.store.conversations.set_history_mode(conversation_id, history)
