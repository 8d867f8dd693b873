"""Per-turn instruction-following rating: saved as soon as it is given, editable later.

The verdict is one click on the message itself (the Chatbot's feedback options); the form
(score, tags, comment, correction) then targets that reply, prefilled with its rating.
"""

from __future__ import annotations

import gradio as gr

from ..errors import IftChatError, NotFound, ValidationError
from ..store import Dialog, Store
from ..store.models import ERROR_TAGS, FOLLOWED, TAG_LABELS, Rating, Response
from .context import AppContext, ui_guarded
from .render import md_text

FOLLOWED_CHOICES = list(zip(("Yes", "Partially", "No"), FOLLOWED))
# The buttons under every reply; their labels are what the Chatbot's like event reports.
FEEDBACK_OPTIONS = ("Followed", "Partially", "Not followed")
FEEDBACK_FOLLOWED = dict(zip(FEEDBACK_OPTIONS, FOLLOWED))
FOLLOWED_FEEDBACK = dict(zip(FOLLOWED, FEEDBACK_OPTIONS))
# Gradio puts options other than Like/Dislike in a menu behind a flag icon that opens on
# hover: shown here as a row of buttons under the reply instead (one click, nothing hidden).
RATE_CSS = """
.ift-rate .extra-feedback > :not(.extra-feedback-options) { display: none; }
.ift-rate .extra-feedback .extra-feedback-options { display: flex; position: static; flex-direction: row;
  padding: 0; }
.ift-rate .extra-feedback-option { font-size: var(--text-sm); padding: 1px 8px; cursor: pointer; }
.ift-rate .extra-feedback-option[style*="bold"] { border-color: var(--color-accent);
  background: var(--color-accent-soft); }
"""


def rater_rating(store: Store, response_id: int, rater_id: int | None) -> Rating | None:
    if rater_id is None:
        return None
    try:
        return store.feedback.rating(response_id, rater_id)
    except NotFound:
        return None


def feedback_values(store: Store, pairs: list[tuple[dict, Response | None]], rater_id: int | None,
                    dialog: Dialog | None = None) -> list:
    """The selected verdict button of each assistant message (this rater's rating), in order;
    from `dialog` (loaded for this rater) when given."""
    out = []
    for message, response in pairs:
        if message["role"] == "assistant":
            if response is None:
                rating = None
            elif dialog is not None:
                rating = dialog.rating_of(response.id)
            else:
                rating = rater_rating(store, response.id, rater_id)
            out.append(FOLLOWED_FEEDBACK.get(rating.followed) if rating else None)
    return out


class RatingPanel:
    """Pick a reply (by turn and side), rate it; the store upserts per rater."""

    def __init__(self, ctx: AppContext, api_prefix: str):
        self.ctx = ctx
        self.api_prefix = api_prefix

    def render(self) -> "RatingPanel":
        p = self.api_prefix  # element ids for browser tests: <prefix>-followed, ...
        with gr.Accordion("Rate a reply: did it follow THIS turn's instruction?", open=True):
            # Any value is let through (an API client rates what it was just sent before the
            # choices arrive); _check_reply keeps it to the session's own conversation.
            self.reply = gr.Dropdown(label="Reply", choices=[], value=None, interactive=True,
                                     allow_custom_value=True, elem_id=f"{p}-reply",
                                     info="the latest reply is picked after each turn")
            with gr.Row():
                self.followed = gr.Radio(FOLLOWED_CHOICES, label="Instruction followed", value=None,
                                         elem_id=f"{p}-followed")
                self.score = gr.Radio([1, 2, 3, 4, 5], label="Quality (optional)", value=None,
                                      elem_id=f"{p}-score")
            self.tags = gr.CheckboxGroup([(TAG_LABELS[t], t) for t in ERROR_TAGS], label="Errors", value=[],
                                        elem_id=f"{p}-tags")
            with gr.Row():
                self.comment = gr.Textbox(label="Comment", lines=1, max_lines=4, elem_id=f"{p}-comment")
                self.corrected = gr.Textbox(label="Corrected response (becomes a training sample)",
                                            lines=2, max_lines=12, elem_id=f"{p}-corrected")
            with gr.Row():
                self.save_button = gr.Button("Save rating", size="sm", scale=0, elem_id=f"{p}-save-rating")
                self.saved = gr.Markdown("", elem_id=f"{p}-rating-saved")
        return self

    @property
    def fields(self) -> list:
        return [self.followed, self.score, self.tags, self.comment, self.corrected]

    def wire(self, rater_name: gr.Textbox, conversation: gr.State, pane_outputs: list, rerender) -> None:
        """`rerender(response_id, rater)` returns updates for `pane_outputs` (the badge)."""
        inputs = [self.reply, rater_name, *self.fields, conversation]
        outputs = [self.saved, *pane_outputs]

        def save(response_id, name, followed, score, tags, comment, corrected, conversation_id,
                 request: gr.Request):
            return self._save(response_id, name, followed, score, tags, comment, corrected,
                              request, rerender, explicit=True, conversation_id=conversation_id)

        def autosave(response_id, name, followed, score, tags, comment, corrected, conversation_id,
                     request: gr.Request):
            return self._save(response_id, name, followed, score, tags, comment, corrected,
                              request, rerender, explicit=False, conversation_id=conversation_id)

        for event in (self.followed.input, self.score.input, self.tags.input,
                      self.comment.blur, self.corrected.blur):
            event(autosave, inputs, outputs, api_name=False, show_progress="hidden", concurrency_limit=None)
        self.save_button.click(save, inputs, outputs, api_name=f"{self.api_prefix}_rate", concurrency_limit=None)
        self.reply.input(self.load, [self.reply, rater_name, conversation], self.fields + [self.saved],
                         api_name=False, concurrency_limit=None)

    @ui_guarded
    def _save(self, response_id, name, followed, score, tags, comment, corrected, request,
              rerender, explicit: bool, conversation_id: str | None) -> dict:
        if not explicit and (response_id is None or followed is None):
            return {self.saved: "Choose *Instruction followed* to save a rating."}
        response_id = self._check_reply(response_id, conversation_id)
        if followed is None:
            raise ValidationError("choose whether the instruction was followed first")
        rater = self.ctx.rater_for(request, name)
        self.ctx.store.feedback.rate(response_id, rater.id, followed,
                                     score=int(score) if score else None, tags=tags or [],
                                     comment=comment, corrected_text=corrected)
        return {self.saved: f"✔ Saved rating of {self._label(response_id)} as **{md_text(rater.name)}**.",
                **rerender(response_id, rater)}

    def _check_reply(self, response_id, conversation_id: str | None) -> int:
        """The picked reply as an id, if it is a finished reply in this session's conversation."""
        if response_id is None or response_id == "":
            raise ValidationError("pick a reply to rate")
        try:
            response_id = int(response_id)
        except (TypeError, ValueError):
            raise ValidationError("pick a reply from the list") from None
        owned = conversation_id and any(
            response_id == rid for _, rid in self.choices(conversation_id, {"single": ""}))
        if not owned:
            raise ValidationError("pick a reply from the list: that one is not in this conversation")
        return response_id

    def load(self, response_id, name, conversation_id=None, request: gr.Request | None = None) -> dict:
        """Show this rater's existing rating of the picked reply (or a blank form)."""
        blank = {self.followed: None, self.score: None, self.tags: [], self.comment: "",
                 self.corrected: "", self.saved: ""}
        try:
            response_id = self._check_reply(response_id, conversation_id)
            rater = self.ctx.rater_for(request, name)
        except IftChatError:
            return blank
        rating = rater_rating(self.ctx.store, response_id, rater.id)
        if rating is None:
            return blank
        return {**self._form(rating), self.saved: f"Your saved rating of {self._label(response_id)}."}

    def choices(self, conversation_id: str | None, side_labels: dict[str, str],
                dialog=None) -> list[tuple[str, int]]:
        """(label, response id) of every reply, earlier (superseded) ones included; labels never
        name a checkpoint.
        `dialog`: the conversation already read (store.dialogs.load)."""
        if not conversation_id:
            return []
        dialog = dialog or self.ctx.store.dialogs.load(conversation_id)
        rows = [(turn.turn.idx, True, r.side, r.id) for turn in dialog.turns
                for r in turn.responses.values() if r.status != "pending"]
        rows += [(e.turn.idx, False, e.response.side, e.response.id) for e in dialog.earlier
                 if e.response.status != "pending"]
        out = []  # per turn the earlier (superseded) replies first: the latest reply stays last
        for idx, current, side, rid in sorted(rows):
            earlier = not current
            suffix = f" · {side_labels[side]}" if len(side_labels) > 1 else ""
            out.append((f"Turn {idx}{' · earlier reply' if earlier else ''}{suffix}", rid))
        return out

    def _label(self, response_id) -> str:
        r = self.ctx.store.conversations.response(int(response_id))
        turn = self.ctx.store.conversations.turn(r.turn_id)
        earlier = ", earlier reply" if r.superseded or turn.superseded else ""
        return f"turn {turn.idx}{earlier}" + ("" if r.side == "single" else f", model {r.side}")

    # -- one click on the message -------------------------------------------------
    @ui_guarded
    def rate_inline(self, response: Response | None, liked, name, conversation_id, request,
                    rerender) -> dict:
        """A verdict button under a reply: store it (keeping the rater's score, tags, comment
        and correction of that reply) and point the form at that reply, prefilled. Clicking the
        selected verdict again (Gradio reports it as unselected) keeps it and opens the form."""
        if response is None or response.status == "pending":
            raise ValidationError("rate a reply once it is complete")
        response_id = self._check_reply(response.id, conversation_id)
        rater = self.ctx.rater_for(request, name)
        rating = rater_rating(self.ctx.store, response_id, rater.id)
        followed = FEEDBACK_FOLLOWED.get(liked) if isinstance(liked, str) else None
        if followed is not None:
            kept = ({"score": rating.score, "tags": rating.tags, "comment": rating.comment,
                     "corrected_text": rating.corrected_text} if rating else {})
            rating = self.ctx.store.feedback.rate(response_id, rater.id, followed, **kept)
        elif rating is None:
            raise ValidationError("choose Followed, Partially or Not followed")
        verdict = FOLLOWED_FEEDBACK[rating.followed]
        note = (f"✔ Saved **{verdict}** for {self._label(response_id)} as **{md_text(rater.name)}**. "
                "Score, tags, comment and correction (this form) save as you change them.")
        # The choices (every reply, earlier ones too) were set with the panes: pick this one.
        return {self.reply: gr.Dropdown(value=response_id), **self._form(rating), self.saved: note,
                **rerender(response_id, rater)}

    def _form(self, r: Rating) -> dict:
        return {self.followed: r.followed, self.score: r.score, self.tags: r.tags,
                self.comment: r.comment or "", self.corrected: r.corrected_text or ""}

    def blank(self, choices: list, value) -> dict:
        """After a turn: offer the new replies, pick the latest, clear the form."""
        return {self.reply: gr.Dropdown(choices=choices, value=value), self.followed: None,
                self.score: None, self.tags: [], self.comment: "", self.corrected: "", self.saved: ""}
