"""The conversation component: N chat panes sharing one input (1 = chat, 2+ = arena)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Callable, Sequence

import gradio as gr

from ..errors import IftChatError, ValidationError
from ..runner import DialogRunner, Snapshot
from ..store.models import Rater
from .context import AppContext, ui_guarded
from .live import LivePanes
from .rating import FEEDBACK_OPTIONS, RatingPanel, feedback_values
from .render import chatbot, live_message, names_hidden, pane_messages
from .settings import SettingsPanel
from .turn_rows import TurnRows, asked_messages, latest_idx, rows_key

# start(rater, params, system_prompt, extra values) -> new conversation id
StartFn = Callable[[Rater | None, object, str, Sequence], str]


class ConversationPanes:
    """One pane per side sharing one input. With several sides the panes are laid out by turn:
    the earlier turns are rows (``TurnRows``), the latest turn's replies stream side by side in
    the fixed panes below them, with `below_turn` (the vote row) under those.

    Configured at construction: `extra_inputs` go to `start` (e.g. the model pickers);
    `below_turn()` renders the controls under the latest turn and returns them (they join
    `outputs`); `turn_update(conversation_id, finished)` gives their updates before and after
    each turn."""

    def __init__(self, ctx: AppContext, runner: DialogRunner, *, sides: Sequence[str],
                 modes: Sequence[str], api_prefix: str, start: StartFn, rater_name: gr.Textbox,
                 anonymous: bool = False, extra_inputs: Sequence = (),
                 below_turn: Callable[[], list] | None = None,
                 turn_update: Callable[[str | None, bool], dict] | None = None):
        self.ctx, self.runner, self.rater_name = ctx, runner, rater_name
        self.sides, self.modes, self.p = tuple(sides), tuple(modes), api_prefix
        self.start, self.anonymous = start, anonymous
        self.extra_inputs = tuple(extra_inputs)
        self.by_turn = self.sides != ("single",)
        self._below_turn, self._turn_update = below_turn, turn_update
        self.turn_controls: tuple = ()

    # -- layout ------------------------------------------------------------------
    def render(self) -> "ConversationPanes":
        self.conversation = gr.State(None)
        self.editing = gr.State(False)
        self.rating = None
        if not self.by_turn:  # one pane: the rating details sit beside it
            with gr.Row(equal_height=True):
                with gr.Column(scale=3):
                    self.chatbots = {"single": self._chatbot("single")}
                with gr.Column(scale=2):
                    self.render_rating()
        else:
            self.rows = TurnRows(self).render()  # the earlier turns, then the latest turn's message
            with gr.Row(equal_height=True, elem_id=f"{self.p}-live-row"):
                self.chatbots = {side: self._chatbot(side) for side in self.sides}
            if self._below_turn:
                self.turn_controls = tuple(self._below_turn())
        self.input = gr.MultimodalTextbox(
            file_types=["image"], file_count="multiple", sources=["upload"],
            placeholder="Type a message; attach or drop images with the clip (several allowed)…",
            show_label=False, elem_id=f"{self.p}-input")
        with gr.Row():
            self.stop_btn = gr.Button("⏹ Stop", size="sm", elem_id=f"{self.p}-stop")
            self.regen_btn = gr.Button("🔄 Regenerate", size="sm", elem_id=f"{self.p}-regenerate")
            self.edit_btn = gr.Button("✏️ Edit last message", size="sm", elem_id=f"{self.p}-edit")
            self.new_btn = gr.Button("🆕 New conversation", size="sm", elem_id=f"{self.p}-new")
        self.info = gr.Markdown("", elem_id=f"{self.p}-info")
        self.settings = SettingsPanel(self.ctx.config.limits, blind=self.anonymous).render()
        self.live = LivePanes(self, self.ctx.live).render()  # reply text over SSE (ui/live.py)
        if self.by_turn:
            self.render_rating()
        return self

    def _chatbot(self, side: str) -> gr.Chatbot:
        # One bubble per message: each reply (earlier ones too) gets its own verdict buttons.
        # By turn, a pane holds one turn's replies: its height follows them.
        size = dict(height=None, min_height=120, max_height=440) if self.by_turn else dict(height=440)
        return chatbot(label=self._default_label(side), elem_id=f"{self.p}-chat-{side}",
                       elem_classes=["ift-pane", "ift-rate"], feedback_options=FEEDBACK_OPTIONS,
                       group_consecutive_messages=False, visible=side in self.sides[:2],
                       placeholder=None if self.by_turn else "Upload an image and ask something about it.",
                       **size)

    def render_rating(self) -> "ConversationPanes":
        if self.rating is None:
            self.rating = RatingPanel(self.ctx, self.p).render()
        return self

    # -- events ------------------------------------------------------------------
    def wire(self) -> None:
        name = self.rater_name
        base = [self.conversation, name, *self.settings.inputs[1:]]
        # A streaming turn updates only what changes while it streams (_stream_outputs): Gradio
        # 6 rebuilds every output a yield leaves out (a new component and its config, JSON
        # schemas included) on every token. The rating form and the vote row follow once the
        # turn is done. It shows its progress on the panes only, as a small spinner: Gradio's
        # default full overlay on each output kept the page's main thread busy
        # (bench/bench_ui_latency.py, bench/bench_arena_load.py).
        streaming = dict(concurrency_limit=None, show_progress="minimal",
                         show_progress_on=list(self.chatbots.values()))
        quiet = dict(api_name=False, show_progress="hidden", concurrency_limit=None)
        turns = [
            self.input.submit(self.send, [self.conversation, self.input, self.editing, name,
                                          *self.settings.inputs, *self.extra_inputs],
                              [*self._stream_outputs(), *self.live.outputs], api_name=f"{self.p}_send",
                            **streaming),
            self.regen_btn.click(self.regenerate, base, [*self._stream_outputs(), *self.live.outputs],
                                 api_name=f"{self.p}_regenerate", **streaming),
        ]
        # The input clears at once, in a parallel unqueued event rather than in the stream's
        # first yield (the stream's later yields would each rebuild it). Nothing else runs in
        # parallel: a parallel event can land after the turn's own updates (seen in CI).
        self.input.submit(self._take_input, [self.input], [self.input], queue=False,
                          api_name=False, show_progress="hidden")
        self.live.wire()
        for turn in turns:
            turn.success(self.after_turn, [self.conversation, name], self._after_outputs(), **quiet)
        self.stop_btn.click(self.stop, [self.conversation], [self.info], api_name=f"{self.p}_stop",
                            concurrency_limit=None)
        self.edit_btn.click(self.edit, [self.conversation], [self.input, self.editing, self.info],
                            api_name=f"{self.p}_edit", concurrency_limit=None)
        self.new_btn.click(self.new, None, self.reset_outputs, api_name=f"{self.p}_new",
                           concurrency_limit=None)
        self.rating.wire(name, self.conversation, self._pane_outputs(), self._rerender_for)
        for side, bot in self.chatbots.items():
            bot.like(self._like(side), [self.conversation, name], [*self.rating_outputs, *self._pane_outputs()],
                     api_name=False, show_progress="hidden", concurrency_limit=None
                     ).failure(self.restore, [self.conversation, name], list(self.chatbots.values()),
                               api_name=False, show_progress="hidden", concurrency_limit=None)

    @property
    def outputs(self) -> list:
        """Everything `show` sets (not the input: a resumed conversation keeps what is typed)."""
        return [*self._stream_outputs(), *self._after_outputs()]

    @property
    def reset_outputs(self) -> list:
        return [*self.outputs, self.input]

    @property
    def rating_outputs(self) -> list:
        """What an inline verdict sets besides the panes: the form, pointed at that reply."""
        return [self.rating.reply, *self.rating.fields, self.rating.saved]

    def _pane_outputs(self) -> list:
        """The panes, and by turn the earlier rows' key (a saved rating can be on a row)."""
        return [*self.chatbots.values(), *([self.rows.key] if self.by_turn else [])]

    def _stream_outputs(self) -> list:
        # Each yield sets all of these but the states (a left-out state costs Gradio nothing).
        shown = [self.rows.key, self.rows.asked] if self.by_turn else []
        return [self.conversation, self.editing, self.info, *shown, *self.chatbots.values()]

    def _after_outputs(self) -> list:
        return [*self.rating_outputs, *self.turn_controls]

    @ui_guarded
    async def send(self, conversation_id, message, editing, name, system_prompt, temperature,
                   top_p, max_tokens, seed, request: gr.Request, *extra):
        params = self.settings.params(temperature, top_p, max_tokens, seed)

        def begin(conversation_id):  # DB writes and file reads: in a thread, not on the event loop
            rater = self._optional_rater(request, name)
            text, images = self._read_message(message)
            if conversation_id and not editing and self.anonymous and self.revealed(conversation_id):
                conversation_id = None  # a revealed battle is closed: this message starts a new one
            if not conversation_id:
                self.runner.check_message(text, images)
                conversation_id = self.start(rater, params, system_prompt or "", extra)
            return rater, text, images, conversation_id

        rater, text, images, conversation_id = await asyncio.to_thread(begin, conversation_id)
        rater_id = rater.id if rater else None
        if editing:
            stream = self.runner.edit_last(conversation_id, text, images or None, params,
                                           rater_id=rater_id)
        else:
            stream = self.runner.send(conversation_id, text, images, params, rater_id=rater_id)
        async for update in self._stream(conversation_id, stream, rater):
            yield update

    @ui_guarded
    async def regenerate(self, conversation_id, name, temperature, top_p, max_tokens, seed,
                         request: gr.Request):
        if not conversation_id:
            raise ValidationError("nothing to regenerate yet: send a message first")
        params = self.settings.params(temperature, top_p, max_tokens, seed)
        rater = await asyncio.to_thread(self._optional_rater, request, name)
        stream = self.runner.regenerate(conversation_id, params, rater_id=rater.id if rater else None)
        async for update in self._stream(conversation_id, stream, rater):
            yield update

    async def _stream(self, conversation_id: str, stream, rater: Rater | None):
        if self.live.enabled:  # the text goes by SSE; Gradio gets the start and the end
            async for update in self.live.stream(conversation_id, stream, rater):
                yield update
            return
        link, frames = self._link(conversation_id), {}
        async for snapshot in stream:
            update = self._live(conversation_id, snapshot, rater, frames)
            update.update({self.conversation: conversation_id, self.editing: False, self.info: link})
            yield update
        # The panes only: the rating form and the vote row follow in after_turn.
        yield self._panes_update(conversation_id, rater, self._dialog(conversation_id, rater))

    def _take_input(self, message):
        """Clear the input as a turn starts, unless the message will surely be refused (then it
        stays, to be fixed). A message refused later (e.g. too long for the model) is gone from
        the input; the error says why."""
        try:
            text, images = self._read_message(message, read=False)
            self.ctx.store.conversations.check_message(text, len(images))
        except (IftChatError, OSError):
            return gr.skip()
        return None

    def after_turn(self, conversation_id, name, request: gr.Request):
        """Once a turn is in: the rating form offers its replies, the vote row opens."""
        rater = self._optional_rater(request, name)
        dialog = self._dialog(conversation_id, rater)
        update = self._after_update(conversation_id, self.side_labels(conversation_id, rater, dialog), dialog)
        return {out: update[out] for out in self._after_outputs() if out in update}

    def stop(self, conversation_id):
        if conversation_id and self.runner.stop(conversation_id):
            return "Stopping… the partial reply is kept."
        return "Nothing is streaming."

    def edit(self, conversation_id):
        turns = self.ctx.store.conversations.turns(conversation_id) if conversation_id else []
        if not turns:
            raise gr.Error("nothing to edit yet", title="Can't do that")
        return {self.input: gr.MultimodalTextbox(value={"text": turns[-1].user_text, "files": []}),
                self.editing: True,
                self.info: (f"Editing turn {turns[-1].idx}: change the text and press Enter. Its images "
                            "are kept unless you attach new ones; the old turn stays in the log.")}

    def new(self):
        update = self.show(None, None)
        update[self.input] = None
        return update

    # -- rendering ---------------------------------------------------------------
    def show(self, conversation_id: str | None, rater: Rater | None) -> dict:
        """Everything the panes show for a stored conversation (None = empty)."""
        dialog = self._dialog(conversation_id, rater)
        update = self._panes_update(conversation_id, rater, dialog)
        update.update(self._after_update(conversation_id, self.side_labels(conversation_id, rater, dialog),
                                         dialog))
        return update

    def _dialog(self, conversation_id: str | None, rater: Rater | None):
        """The conversation as this rater sees it: one read for every pane, label and choice."""
        return self.ctx.store.dialogs.load(conversation_id, rater.id if rater else None) if conversation_id else None

    def shown_sides(self, dialog) -> tuple[str, ...]:
        """The panes a conversation uses (a new one: the first two)."""
        return tuple(s for s in self.sides if s in dialog.sides) if dialog else self.sides[:2]

    def _panes_update(self, conversation_id: str | None, rater: Rater | None, dialog) -> dict:
        labels = self.side_labels(conversation_id, rater, dialog)
        update = {self.conversation: conversation_id, self.editing: False,
                  self.info: self._link(conversation_id) if conversation_id else ""}
        shown = self.shown_sides(dialog)
        for side, bot in self.chatbots.items():
            update[bot] = self._pane(conversation_id, side, rater, dialog, label=labels.get(side, side),
                                     **({"visible": side in shown} if self.by_turn else {}))
        if self.by_turn:
            update.update(self.rows.frame(conversation_id, rater, dialog))
        return update

    def _pairs(self, conversation_id: str | None, side: str, rater_id: int | None = None, dialog=None,
               **live) -> list:
        """(message, reply) of one pane: all of it, or by turn the latest turn's replies."""
        if not self.by_turn:
            return pane_messages(self.ctx.store, conversation_id, side, rater_id, dialog=dialog, **live)
        if conversation_id and dialog is None:
            dialog = self._dialog(conversation_id, None)
        pairs = pane_messages(self.ctx.store, conversation_id, side, rater_id, dialog=dialog,
                              only_turn=latest_idx(dialog), **live)
        return [(m, r) for m, r in pairs if m["role"] == "assistant"]

    def _pane(self, conversation_id: str | None, side: str, rater: Rater | None, dialog=None,
              **props) -> gr.Chatbot:
        """A pane's messages with this rater's verdict selected under each rated reply."""
        if dialog is None:
            dialog = self._dialog(conversation_id, rater)
        rater_id = rater.id if rater else None
        pairs = self._pairs(conversation_id, side, rater_id, dialog=dialog)
        return gr.Chatbot(value=[m for m, _ in pairs],
                          feedback_value=feedback_values(self.ctx.store, pairs, rater_id, dialog), **props)

    def _like(self, side: str):
        """A verdict button under message `index` of this side's pane: the reply at that index."""
        def like(conversation_id, name, data: gr.LikeData, request: gr.Request):
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            pairs = self._pairs(conversation_id, side) if conversation_id else []
            response = pairs[index][1] if isinstance(index, int) and 0 <= index < len(pairs) else None
            return self.rating.rate_inline(response, data.liked, name, conversation_id, request,
                                           self._rerender_for)
        return like

    def restore(self, conversation_id, name, request: gr.Request):
        """After a refused click: the panes as stored (the browser had selected the button)."""
        rater = self._optional_rater(request, name)
        dialog = self._dialog(conversation_id, rater)
        return {bot: self._pane(conversation_id, side, rater, dialog) for side, bot in self.chatbots.items()}

    def _after_update(self, conversation_id: str | None, labels: dict[str, str], dialog=None) -> dict:
        choices = self.rating.choices(conversation_id, labels, dialog)
        update = self.rating.blank(choices, choices[-1][1] if choices else None)
        if self._turn_update:
            update.update(self._turn_update(conversation_id, True))
        return update

    def _live(self, conversation_id: str, snapshot: Snapshot, rater: Rater | None, frames: dict) -> dict:
        """The panes while a turn streams. The stored part is read once per side (and once more
        when the side finishes); each snapshot only swaps in the streaming reply's text. By
        turn, the first snapshot also moves the previous turn into the rows."""
        update, first = {}, "frame" not in frames
        for side, bot in self.chatbots.items():
            finished = side in snapshot.finished
            key = (side, snapshot.turn_id, finished)
            if key not in frames:
                dialog = frames.get(("dialog", snapshot.finished))  # one read per change of finished sides
                if dialog is None:
                    dialog = frames[("dialog", snapshot.finished)] = self._dialog(conversation_id, rater)
                frames[key] = [m for m, _ in self._pairs(conversation_id, side, dialog=dialog,
                                                         live=None if finished else {},
                                                         live_turn=snapshot.turn_id)]
            messages = frames[key]
            if not finished and messages:  # the streaming reply is the last message
                messages = [*messages[:-1], live_message(snapshot.texts.get(side, ""))]
            update[bot] = messages
        if self.by_turn:
            if first:  # which panes show, the turn's message, the rows: once per turn
                dialog = frames[("dialog", snapshot.finished)]
                shown, frame = self.shown_sides(dialog), self.rows.frame(conversation_id, rater, dialog)
                update = {bot: gr.Chatbot(value=update[bot], visible=side in shown)
                          for side, bot in self.chatbots.items()}
                update.update(frame)
                frames["frame"] = {self.rows.key: frame[self.rows.key], self.rows.asked: asked_messages(dialog)}
            else:
                update.update(frames["frame"])
        return update

    def _rerender_for(self, response_id: int, rater: Rater) -> dict:
        response = self.ctx.store.conversations.response(response_id)
        conversation_id = self.ctx.store.conversations.turn(response.turn_id).conversation_id
        dialog = self._dialog(conversation_id, rater)
        update = {bot: self._pane(conversation_id, side, rater, dialog) for side, bot in self.chatbots.items()}
        if self.by_turn:  # the rated reply may be on an earlier row: rebuild the rows
            update[self.rows.key] = rows_key(conversation_id, latest_idx(dialog), rater.id, fresh=True)
        return update

    def side_labels(self, conversation_id: str | None, rater: Rater | None, dialog=None) -> dict[str, str]:
        if not conversation_id:
            return {side: self._default_label(side) for side in self.sides}
        dialog = dialog or self.ctx.store.dialogs.load(conversation_id)
        sides = dialog.sides
        if self.anonymous and dialog.names_hidden:
            return {side: self._default_label(side) for side in self.sides}
        if self.sides == ("single",):
            return {"single": sides.get("single", "")}
        return {side: f"Model {side}: {sides.get(side, '?')}" for side in self.sides}

    def revealed(self, conversation_id: str, rater: Rater | None = None) -> bool:
        """Anonymous names show to anyone once the battle's owner revealed it, to no one before."""
        return not names_hidden(self.ctx.store, conversation_id)

    def _default_label(self, side: str) -> str:
        return "Reply" if side == "single" else f"Model {side}"

    def _link(self, conversation_id: str) -> str:
        return f"Conversation [`{conversation_id[:8]}`](?c={conversation_id}) — bookmark this link to come back."

    # -- helpers -----------------------------------------------------------------
    def _optional_rater(self, request, name) -> Rater | None:
        try:
            return self.ctx.rater_for(request, name)
        except IftChatError:
            return None

    def _read_message(self, message, read: bool = True) -> tuple[str, list]:
        """(text, image bytes); with read=False only the sizes are checked (paths returned)."""
        message = message or {}
        limit = self.ctx.config.limits.max_upload_bytes
        images = []
        for f in message.get("files") or []:
            path = Path(f if isinstance(f, str) else f.get("path", ""))
            size = os.path.getsize(path)
            if size > limit:  # refuse before reading it all into memory
                raise ValidationError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB")
            images.append(path.read_bytes() if read else path)
        return message.get("text") or "", images

    def load_from_url(self, request: gr.Request, name: str | None) -> dict:
        """Resume `?c=<id>` when it belongs to this pane's mode; else leave things alone."""
        conversation_id = (request.query_params.get("c") or "") if request else ""
        if not conversation_id:
            return {self.info: gr.skip()}
        try:
            conversation = self.ctx.store.conversations.get(conversation_id)
        except IftChatError:
            return {self.info: "That conversation link is not valid (unknown id)."}
        if conversation.mode not in self.modes and not self._shows_replay(conversation):
            return {self.info: gr.skip()}
        return self.show(conversation_id, self._optional_rater(request, name))

    def _shows_replay(self, conversation) -> bool:
        """Replays open where their sides fit: one checkpoint in Chat, an A/B replay in the Arena."""
        if conversation.mode != "replay" or self.anonymous:
            return False
        sides = set(self.ctx.store.conversations.sides(conversation.id))
        return sides <= set(self.sides) and (len(sides) > 1) == self.by_turn
