"""Chat tab: talk to one checkpoint, multi-round with images, rate every reply."""

from __future__ import annotations

import gradio as gr

from ..errors import ValidationError
from ..runner import DialogRunner
from .context import AppContext, ui_guarded
from .panes import ConversationPanes
from .render import md_text


def checkpoint_choices(ctx: AppContext) -> list[tuple[str, str]]:
    return [(f"{name} · {status.label}", name) for name, status in ctx.backends.statuses().items()]


def status_markdown(ctx: AppContext) -> str:
    lines = []
    for name, status in ctx.backends.statuses().items():
        # A detail or log line can quote a model server's error body: literal text only.
        line = f"- **{md_text(name)}** {status.label}" + (f" — {md_text(status.detail)}" if status.detail else "")
        if status.state == "down" and status.log_tail:
            line += "\n\n  " + "  \n  ".join(md_text(t) for t in status.log_tail[-5:])
        lines.append(line)
    for name, problem in sorted(ctx.backends.notes.items()):
        lines.append(f"- ~~{md_text(name)}~~ not served: {md_text(problem)}")
    return "\n".join(lines) or "No checkpoints are being served."


class ChatTab:
    def __init__(self, ctx: AppContext, runner: DialogRunner, rater_name: gr.Textbox):
        self.ctx, self.runner, self.rater_name = ctx, runner, rater_name

    def render(self) -> "ChatTab":
        names = self.ctx.backends.names()
        with gr.Row():
            self.checkpoint = gr.Dropdown(checkpoint_choices(self.ctx), value=names[0] if names else None,
                                          label="Checkpoint", scale=3, elem_id="chat-checkpoint")
            # Custom values allowed: a pasted conversation id works too (checked on resume).
            self.recent = gr.Dropdown([], label="Resume a conversation", scale=3, elem_id="chat-recent",
                                      allow_custom_value=True)
        with gr.Accordion("Checkpoint status", open=False):
            self.status = gr.Markdown(status_markdown(self.ctx))
        self.panes = ConversationPanes(self.ctx, self.runner, sides=("single",), modes=("chat",),
                                       api_prefix="chat", start=self._start,
                                       rater_name=self.rater_name, extra_inputs=[self.checkpoint])
        self.panes.render().render_rating()
        self.panes.wire()
        self.checkpoint.input(self.panes.new, None, self.panes.reset_outputs, api_name=False,
                              concurrency_limit=None)
        self.recent.input(self._resume, [self.recent, self.rater_name],
                          [*self.panes.outputs, self.checkpoint], api_name="chat_resume",
                          concurrency_limit=None)
        gr.Timer(5).tick(self._refresh, None, [self.checkpoint, self.status], api_name=False,
                         show_progress="hidden")
        return self

    def on_load(self, request: gr.Request, name: str | None) -> dict:
        update = self.panes.load_from_url(request, name)
        conversation_id = update.get(self.panes.conversation)
        if conversation_id:
            update[self.checkpoint] = self.ctx.store.conversations.sides(conversation_id).get("single")
        update[self.recent] = gr.Dropdown(choices=self._recent_choices())
        return update

    @property
    def load_outputs(self) -> list:
        return [*self.panes.outputs, self.checkpoint, self.recent]

    def _start(self, rater, params, system_prompt, extra) -> str:
        (checkpoint,) = extra
        if not checkpoint:
            raise ValidationError("pick a checkpoint first")
        return self.runner.start("chat", {"single": checkpoint}, rater_id=rater.id if rater else None,
                                 system_prompt=system_prompt, params=params).id

    @ui_guarded
    def _resume(self, conversation_id, name, request: gr.Request):
        if not conversation_id:
            return {self.panes.info: gr.skip()}
        if self.ctx.store.conversations.get(conversation_id).mode != "chat":
            raise ValidationError("that is not a chat conversation")
        update = self.panes.show(conversation_id, self.panes._optional_rater(request, name))
        # The picker follows the conversation: the next message goes to the model it shows.
        update[self.checkpoint] = self.ctx.store.conversations.sides(conversation_id).get("single")
        return update

    def _recent_choices(self) -> list[tuple[str, str]]:
        return [(f"{c['created'][:16]} · {c['checkpoint'] or '?'} · {c['first_text'][:40]}", c["id"])
                for c in self.ctx.store.conversations.recent_openings(50, "chat")]

    def _refresh(self):
        return gr.Dropdown(choices=checkpoint_choices(self.ctx)), status_markdown(self.ctx)


