"""The rater's task queue: next item → dialog and reply → rating → next item.

The rater sees the dialog and the reply only: no checkpoint name (anonymous
sets scrub it from the texts too) and nobody else's rating. Every handler
re-checks who is acting; a rater can only submit items leased to them.
"""

from __future__ import annotations

import re

import gradio as gr

from ..crowd.auth import require_active, stamp
from ..crowd.limits import RateLimiter, Sessions
from ..crowd.progress import RaterProgress, rater_progress
from ..crowd.tasks import Tasks
from ..crowd.view import TaskView
from ..errors import IftChatError, ValidationError
from ..store.models import ERROR_TAGS, FOLLOWED, TAG_LABELS, Rater
from .context import AppContext, ui_guarded
from .render import chatbot, html_message, md_text, safe_html

FOLLOWED_CHOICES = list(zip(("Yes", "Partially", "No"), FOLLOWED))
ANY_SET = ""
DONE_TEXT = "Nothing left for you to rate here. Thank you! Pick another task set or come back later."
KEYS_TEXT = ("Keys (outside text boxes): **Y** / **P** / **N** followed · **1**–**5** quality · "
             "**Enter** submit and next")
_ISO = re.compile(r"^[0-9:.T+-]+$")
# The lease ends at a UTC instant; the browser shows it in the viewer's own time zone. The same
# element listens for the raters' keys, on the page, while this tab is on screen and the focus is
# not in a text field (typing a comment must not rate).
LEASE_TEMPLATE = '<span class="ift-lease" data-iso="${value}"></span>'
TASK_KEYS_JS = """
const show = () => {
  const span = element.querySelector('.ift-lease');
  const iso = span && span.dataset.iso;
  if (!span) return;
  span.textContent = iso ? 'Your hold on this item ends at ' + new Date(iso).toLocaleTimeString(
    [], {hour: '2-digit', minute: '2-digit'}) + ' (your local time).' : '';
};
show();
watch('value', show);
if (!window.iftTaskKeys) {
  window.iftTaskKeys = true;
  const verdicts = {y: 'yes', p: 'partial', n: 'no'};
  document.addEventListener('keydown', (event) => {
    const submit = document.getElementById('crowd-submit');
    if (!submit || submit.offsetParent === null || event.ctrlKey || event.metaKey || event.altKey) return;
    const t = event.target;
    const typing = t && (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT'
      || (t.tagName === 'INPUT' && !['radio', 'checkbox', 'button', 'submit'].includes(t.type)));
    if (typing) return;
    const key = event.key.toLowerCase();
    let target = null;
    if (key in verdicts) target = document.querySelector(`#crowd-followed input[value="${verdicts[key]}"]`);
    else if (/^[1-5]$/.test(key)) target = document.querySelector(`#crowd-score input[value="${key}"]`);
    else if (event.key === 'Enter') target = submit;
    if (!target) return;
    event.preventDefault();
    target.click();
  });
}
"""


def view_messages(view: TaskView) -> list[dict]:
    """Chatbot messages for a task: user turns (images first) and replies, escaped."""
    messages = []
    for rnd in view.rounds:
        content: list = [{"path": p} for p in rnd.image_paths]
        if rnd.user_text:
            content.append(html_message(safe_html(rnd.user_text)))
        messages.append({"role": "user", "content": content})
        if rnd.reply is not None:
            messages.append({"role": "assistant",
                             "content": [html_message(safe_html(rnd.reply) or "<p><em>(empty reply)</em></p>")]})
    return messages


class RatingDesk:
    """Gradio-free logic of the tab; owns its rate limiter and session tracker."""

    def __init__(self, ctx: AppContext, tasks: Tasks | None = None, limiter: RateLimiter | None = None,
                 sessions: Sessions | None = None):
        self.ctx = ctx
        self.tasks = tasks or Tasks(ctx.store)
        self.limiter = limiter or RateLimiter(per_second=1.0, burst=5)
        self.sessions = sessions or Sessions()

    def rater(self, request: gr.Request | None, typed_name: str | None) -> Rater:
        rater = require_active(self.ctx.rater_for(request, typed_name))
        self.sessions.touch(getattr(request, "session_hash", None), rater.id)
        return rater

    def progress(self, rater: Rater, view: TaskView) -> RaterProgress:
        task_set = self.tasks.get_set(view.task_set_id)
        return rater_progress(self.ctx.store, task_set.id, task_set.k, rater.id, stamp(self.tasks.clock()))

    def set_choices(self) -> list[tuple[str, str]]:
        return [(f"{s.name} ({s.k} ratings per item)", s.name) for s in self.tasks.sets("open")]

    def next_view(self, rater: Rater, set_name: str | None) -> TaskView | None:
        """From the chosen set, or with no choice the first open set with work for this rater."""
        if set_name:
            return self.tasks.next_item(self.tasks.set_named(set_name).id, rater)
        for task_set in self.tasks.sets("open"):
            view = self.tasks.next_item(task_set.id, rater)
            if view is not None:
                return view
        return None

    def submit_and_next(self, rater: Rater, item_id, set_name: str | None, followed, score, tags,
                        comment, corrected) -> tuple[TaskView | None, str]:
        """Save the rating and lease the next item in one transaction (one disk sync, not two)."""
        if item_id in (None, "", 0):
            raise ValidationError("there is no task on screen; press Next task")
        if not followed:
            raise ValidationError("choose whether the reply followed the instruction")
        self.limiter.take(rater.id)
        with self.ctx.store.write():
            self.tasks.submit(int(item_id), rater, followed, score=int(score) if score else None,
                              tags=tags or [], comment=comment, corrected=corrected)
            try:  # a failing next lease (its savepoint rolled back) must not undo the rating
                return self.next_view(rater, set_name), "✔ Saved. "
            except IftChatError as exc:
                return None, f"✔ Saved. No next task: {exc}. "


def _shown(view: TaskView | None, note: str = "", progress: RaterProgress | None = None) -> tuple:
    """Outputs (item id, chatbot, status, system prompt, lease end) for a view or for 'nothing left'."""
    if view is None:
        return 0, [], f"{md_text(note)}{DONE_TEXT}", "", ""
    author = f" · reply by **{md_text(view.checkpoint)}**" if view.checkpoint else ""
    left = f" · **{progress.text}**" if progress else ""
    status = (f"{md_text(note)}**{md_text(view.task_set_name)}** · item #{view.item_id}{author}{left} · "
              "rate the **last reply**")  # the hold's end: in the lease element, in local time
    system = view.system_prompt or ""  # a plain-text box
    lease = view.expires_at if _ISO.match(view.expires_at or "") else ""
    return view.item_id, view_messages(view), status, system, lease


def render(ctx: AppContext, name_box: gr.Textbox) -> RatingDesk:
    """The tab; `name_box` is this page's rater-name box (ui/identity.py)."""
    desk = RatingDesk(ctx)
    gr.Markdown("### Rating tasks\nRate each reply on its own: did it follow the instruction of "
                "the **last** user turn? You will not see who wrote it or how others rated it.")
    with gr.Row():
        set_choice = gr.Dropdown(label="Task set", choices=[("any open set", ANY_SET), *desk.set_choices()],
                                 value=ANY_SET, allow_custom_value=True, scale=3)
        refresh = gr.Button("↻", scale=0, min_width=40)
        next_button = gr.Button("Next task", variant="primary", scale=1)
    status = gr.Markdown("", elem_id="crowd-status")
    lease = gr.HTML("", html_template=LEASE_TEMPLATE, js_on_load=TASK_KEYS_JS, elem_id="crowd-lease")
    system = gr.Textbox(label="System prompt of the dialog", interactive=False, lines=1, max_lines=8,
                        elem_id="crowd-system")
    item_id = gr.Number(value=0, visible=False, precision=0, label="task item")
    dialog = chatbot(label="Dialog to rate", height=420, elem_id="crowd-dialog")
    with gr.Row():
        followed = gr.Radio(FOLLOWED_CHOICES, label="Instruction of the last turn followed? (Y / P / N)",
                            value=None, elem_id="crowd-followed")
        score = gr.Radio([1, 2, 3, 4, 5], label="Quality 1-5 (optional; keys 1-5)", value=None,
                         elem_id="crowd-score")
    tags = gr.CheckboxGroup([(TAG_LABELS[t], t) for t in ERROR_TAGS], label="Errors", value=[])
    with gr.Row():
        comment = gr.Textbox(label="Comment", lines=1, max_lines=4)
        corrected = gr.Textbox(label="Corrected reply (optional)", lines=2, max_lines=12)
    with gr.Row():
        submit_button = gr.Button("Submit and next (Enter)", variant="primary", elem_id="crowd-submit")
        gr.Markdown(KEYS_TEXT)
    fields = [followed, score, tags, comment, corrected]
    shown = [item_id, dialog, status, system, lease]
    cleared = (None, None, [], "", "")

    def on_refresh():
        return gr.Dropdown(choices=[("any open set", ANY_SET), *desk.set_choices()])

    @ui_guarded
    def on_next(set_name, typed_name, request: gr.Request):
        rater = desk.rater(request, typed_name)
        view = desk.next_view(rater, set_name or None)
        return (*_shown(view, progress=view and desk.progress(rater, view)), *cleared)

    @ui_guarded
    def on_submit(current, set_name, typed_name, f, s, t, c, x, request: gr.Request):
        rater = desk.rater(request, typed_name)
        view, note = desk.submit_and_next(rater, current, set_name or None, f, s, t, c, x)
        progress = view and desk.progress(rater, view)
        return (*_shown(view, note, progress), *cleared)

    refresh.click(on_refresh, None, [set_choice], api_name="crowd_task_sets")
    # The store runs one statement at a time behind one lock, so more handler threads
    # only queue on that lock (and the GIL): 50 raters got p50 ~600 ms with unlimited
    # threads and ~55 ms with two (bench/bench_crowd_load.py --think 5).
    serial = dict(concurrency_limit=2, concurrency_id="crowd_tasks")
    next_button.click(on_next, [set_choice, name_box], shown + fields, api_name="crowd_next", **serial)
    submit_button.click(on_submit, [item_id, set_choice, name_box, *fields], shown + fields,
                        api_name="crowd_submit", **serial)
    return desk
