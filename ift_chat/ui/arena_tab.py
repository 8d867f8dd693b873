"""Arena: the same turn to two checkpoints at once, a vote on every turn.

Named battles live in the main app; anonymous ones on their own page (`/battle`),
whose every byte is free of checkpoint names until the rater ends the battle with
"Reveal & new battle": votes on each turn stay blind, and a revealed battle takes no
more votes or turns (the store refuses them).
"""

from __future__ import annotations

import gradio as gr

from ..errors import ValidationError
from ..runner import DialogRunner
from .context import AppContext, ui_guarded
from .panes import ConversationPanes
from .render import md_text
from .turn_rows import winner_choices, winner_label

HISTORY_CHOICES = [("each side continues from its own replies", "own"),
                   ("both continue from the winning reply", "winner")]
# The named arena: 2 to 4 checkpoints on one message (A and B, then "more models" as C, D).
ARENA_SIDES = ("A", "B", "C", "D")


class ArenaTab:
    def __init__(self, ctx: AppContext, runner: DialogRunner, anonymous: bool, rater_name: gr.Textbox):
        self.ctx, self.runner, self.anonymous = ctx, runner, anonymous
        self.rater_name = rater_name
        self.p = "battle" if anonymous else "arena"
        self.mode = "arena-anonymous" if anonymous else "arena-named"

    def render(self) -> "ArenaTab":
        extra = []
        if self.anonymous:
            gr.Markdown("Two anonymous models answer each message. Vote on every turn; their "
                        "names stay hidden until you end the battle with **Reveal & new battle**.")
        else:
            names = self.ctx.backends.names()
            with gr.Row():
                self.a = gr.Dropdown(names, value=names[0] if names else None, label="Model A",
                                     elem_id="arena-model-A")
                self.b = gr.Dropdown(names, value=names[1] if len(names) > 1 else None, label="Model B",
                                     elem_id="arena-model-B")
                self.more = gr.Dropdown(names, value=[], multiselect=True, max_choices=len(ARENA_SIDES) - 2,
                                        label="More models (C, D: a 3- or 4-way arena)",
                                        elem_id="arena-more-models")
            extra = [self.a, self.b]
        self.history = gr.Radio(HISTORY_CHOICES, value="own", label="After a vote, the next turn…")
        inputs = [*extra, self.history, *([] if self.anonymous else [self.more])]
        self.panes = ConversationPanes(
            self.ctx, self.runner, sides=("A", "B") if self.anonymous else ARENA_SIDES, modes=(self.mode,),
            api_prefix=self.p, start=self._start, anonymous=self.anonymous, rater_name=self.rater_name,
            extra_inputs=inputs, below_turn=self._render_vote_row, turn_update=self._vote_row)
        self.panes.render()
        self.panes.wire()
        self.vote_btn.click(self.vote, [self.panes.conversation, self.rater_name,
                                        self.winner, self.reason],
                            self.panes.outputs, api_name=f"{self.p}_vote", concurrency_limit=None)
        if self.anonymous:
            self.reveal_btn.click(self.end_battle, [self.panes.conversation, self.rater_name],
                                  self.panes.outputs, api_name=f"{self.p}_reveal",
                                  concurrency_limit=None)
        self.history.input(self._set_history, [self.panes.conversation, self.history,
                                               self.rater_name], None,
                           api_name=False, concurrency_limit=None)
        if not self.anonymous:
            for dd in (*extra, self.more):
                dd.input(self.panes.new, None, self.panes.reset_outputs, api_name=False, concurrency_limit=None)
        return self

    def _render_vote_row(self) -> list:
        """The vote on the latest turn, under its replies (earlier turns show theirs in their rows)."""
        with gr.Group():
            with gr.Row():
                self.winner = gr.Radio(winner_choices("AB"), label="Which reply to this turn is better?",
                                       interactive=False, scale=3, elem_id=f"{self.p}-winner")
                self.reason = gr.Textbox(label="Why? (optional)", scale=2, interactive=False)
                self.vote_btn = gr.Button("Vote", variant="primary", interactive=False, scale=0,
                                          elem_id=f"{self.p}-vote")
            self.reveal = gr.Markdown("", elem_id=f"{self.p}-reveal")
            controls = [self.winner, self.reason, self.vote_btn, self.reveal]
            if self.anonymous:
                self.reveal_btn = gr.Button("🏁 Reveal & new battle", interactive=False, size="sm",
                                            elem_id=f"{self.p}-reveal-btn")
                controls.append(self.reveal_btn)
        return controls

    @property
    def load_outputs(self) -> list:
        return self.panes.outputs

    def on_load(self, request: gr.Request, name: str | None) -> dict:
        return self.panes.load_from_url(request, name)

    def _start(self, rater, params, system_prompt, extra) -> str:
        if self.anonymous:
            (history,) = extra
            sides = self.runner.pick_anonymous_pair()
        else:
            a, b, history, more = extra
            if not a or not b:
                raise ValidationError("pick a checkpoint for both A and B")
            sides = {"A": a, "B": b, **dict(zip(ARENA_SIDES[2:], more or []))}
            if len(set(sides.values())) < len(sides):
                raise ValidationError("pick a different checkpoint for each side")
        return self.runner.start(self.mode, sides, rater_id=rater.id if rater else None,
                                 system_prompt=system_prompt, params=params,
                                 history_mode=history or "own").id

    def _vote_row(self, conversation_id: str | None, finished: bool) -> dict:
        """Voting opens when every reply to the latest turn is in, and not after the reveal.
        Two sides: which is better; three or more: which is best (see FeedbackStore.vote)."""
        revealed = self.anonymous and conversation_id is not None and self.panes.revealed(conversation_id)
        can_vote = (finished and conversation_id is not None and not revealed
                    and self._last_turn_done(conversation_id))
        sides = self.ctx.store.conversations.sides(conversation_id) if conversation_id else {"A": "", "B": ""}
        question = ("Which reply to this turn is better?" if len(sides) <= 2
                    else f"Which of the {len(sides)} replies to this turn is best?")
        update = {self.winner: gr.Radio(choices=winner_choices(sorted(sides)), value=None,
                                        interactive=can_vote, label=question),
                  self.reason: gr.Textbox(value="", interactive=can_vote),
                  self.vote_btn: gr.Button(interactive=can_vote)}
        if self.anonymous:
            update[self.reveal_btn] = gr.Button(interactive=conversation_id is not None and not revealed)
            # A new turn or battle clears the last vote's note (and an earlier battle's reveal).
            update[self.reveal] = self._reveal_text(conversation_id) if revealed else ""
        if not finished or conversation_id is None:
            update[self.reveal] = ""
        return update

    def _last_turn_done(self, conversation_id: str) -> bool:
        turns = self.ctx.store.conversations.turns(conversation_id)
        if not turns:
            return False
        responses = self.ctx.store.conversations.responses(turns[-1].id)
        sides = self.ctx.store.conversations.sides(conversation_id)
        return ({r.side for r in responses} >= set(sides) and len(sides) >= 2
                and all(r.status != "pending" for r in responses))

    @ui_guarded
    def vote(self, conversation_id, name, winner, reason, request: gr.Request):
        if not conversation_id or not self._last_turn_done(conversation_id):
            raise ValidationError("vote once both replies to your message are complete")
        if winner is None:
            raise ValidationError("choose which reply is better (or tie / both bad)")
        rater = self.ctx.rater_for(request, name)
        turn = self.ctx.store.conversations.turns(conversation_id)[-1]
        self.ctx.store.feedback.vote(turn.id, rater.id, winner, anonymous=self.anonymous, reason=reason)
        update = self.panes.show(conversation_id, rater)
        sides = self.ctx.store.conversations.sides(conversation_id)
        label = winner_label(winner, len(sides))
        if self.anonymous:  # blind for the whole battle: names only at its end
            update[self.reveal] = (f"Turn {turn.idx}: you voted **{label}**. Keep chatting to compare the "
                                   "next turn; the names are shown when you end the battle.")
        else:
            names = ", ".join(f"model {side} was **{md_text(name)}**" for side, name in sorted(sides.items()))
            update[self.reveal] = (f"Turn {turn.idx}: you voted **{label}**. {names[0].upper()}{names[1:]}. "
                                   "Keep chatting to compare the next turn.")
        update[self.winner] = gr.Radio(value=winner, interactive=True)
        return update

    @ui_guarded
    def end_battle(self, conversation_id, name, request: gr.Request):
        """The owner ends the battle: its names are shown and a new battle starts blank."""
        if not conversation_id:
            raise ValidationError("no battle yet: send a message first")
        rater = self.ctx.rater_for(request, name)
        self.ctx.store.conversations.reveal(conversation_id, rater.id)
        update = self.panes.show(None, None)
        update[self.reveal] = self._reveal_text(conversation_id)
        return update

    def _reveal_text(self, conversation_id: str) -> str:
        """The names of a revealed battle and the owner's blind votes on each turn."""
        dialog = self.ctx.store.dialogs.load(conversation_id)
        sides, owner = dialog.sides, dialog.conversation.rater_id
        votes = {t.turn.idx: winner_label(v.winner, len(sides))
                 for t in dialog.turns for v in t.votes if v.rater_id == owner}
        voted = "; ".join(f"turn {idx}: {label}" for idx, label in votes.items()) or "no votes"
        return (f"**Battle [`{conversation_id[:8]}`](?c={conversation_id}) revealed:** model A was "
                f"**{md_text(sides.get('A', '?'))}**, model B was **{md_text(sides.get('B', '?'))}**. Blind votes — "
                f"{voted}. This battle is closed: your next message starts a new one.")

    @ui_guarded
    def _set_history(self, conversation_id, history, name, request: gr.Request):
        if not conversation_id:
            return
        # a battle's history mode is its owner's to change, until the reveal
        rater = self.panes._optional_rater(request, name)
        self.ctx.store.conversations.check_battle_open(conversation_id, rater.id if rater else None,
                                                       "change it")
        self.ctx.store.conversations.set_history_mode(conversation_id, history)
