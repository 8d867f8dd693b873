"""Admin: task sets (create, progress, close, gold), agreement, raters, invites.

Hiding the tab is not security: every handler below first checks, on the
server, that the caller is logged in as an active admin.
"""

from __future__ import annotations


import gradio as gr

from ..crowd.agreement import agreement, rater_stats
from ..crowd.auth import admin_for_request, create_invite, require_admin, set_disabled
from ..crowd.tasks import TaskFilters, Tasks
from ..errors import IftChatError, ValidationError
from ..store.models import FOLLOWED, Rater
from .context import AppContext, ui_guarded
from .render import md_text

PROGRESS_HEADERS = ["id", "task set", "status", "k", "items", "gold", "ratings done",
                    "items complete", "leased now", "done %"]
ITEM_HEADERS = ["item id", "response id", "checkpoint", "gold", "ratings done", "majority"]
RATER_HEADERS = ["rater", "role", "disabled", "ratings", "median s/item", "agrees with majority",
                 "gold correct/total", "excluded (gold)"]


class AdminDesk:
    """Gradio-free admin actions; each starts with the server-side admin check."""

    def __init__(self, ctx: AppContext, tasks: Tasks | None = None):
        self.ctx = ctx
        self.tasks = tasks or Tasks(ctx.store)

    def admin(self, request: gr.Request | None) -> Rater:
        return admin_for_request(self.ctx.store, request)

    def progress_rows(self, admin: Rater) -> list[list]:
        rows = []
        for task_set in self.tasks.sets():
            p = self.tasks.progress(admin, task_set.id)
            rows.append([task_set.id, task_set.name, task_set.status, task_set.k, p.items, p.gold_items,
                         p.ratings_done, p.items_complete, p.active_leases, round(100 * p.fraction, 1)])
        return rows

    def rater_rows(self, admin: Rater) -> list[list]:
        require_admin(admin)
        stats = {s.rater_id: s for s in rater_stats(self.ctx.store)}
        rows = []
        for rater in self.ctx.store.raters.all():
            s = stats.get(rater.id)
            rows.append([rater.name, rater.role, bool(rater.disabled), s.count if s else 0,
                         _num(s.median_seconds if s else None),
                         _pct(s.agreement if s else None),
                         f"{s.gold_correct}/{s.gold_total}" if s and s.gold_total else "",
                         bool(s and s.excluded)])
        return rows

    def agreement_text(self, admin: Rater, set_id) -> str:
        require_admin(admin)
        task_set = self.tasks.get_set(_set_id(set_id))
        result = agreement(self.ctx.store, task_set.id)
        return (f"**{md_text(task_set.name)}**: {result.items_rated} items rated, "
                f"{result.items_with_majority} with a clear majority. "
                f"Krippendorff's alpha (ordinal): followed **{_num(result.alpha_followed, 3)}**, "
                f"score **{_num(result.alpha_score, 3)}** (1 = perfect, 0 = chance; "
                f"'n/a' until items have two ratings that differ somewhere).")

    def item_rows(self, admin: Rater, set_id) -> list[list]:
        """Items of a set with checkpoint, gold answer, ratings done and majority answer."""
        task_set_id = _set_id(set_id)
        majorities = agreement(self.ctx.store, task_set_id).majorities
        return [[i["id"], i["response_id"], i["checkpoint"], i["gold_followed"] or "", i["done"],
                 majorities.get(i["id"]) or ""] for i in self.tasks.items(admin, task_set_id)]

    def create(self, admin: Rater, name, k, checkpoints, eval_set, date_from, date_to, only_unrated,
               limit, lease_minutes, anonymous) -> str:
        filters = TaskFilters(checkpoints=tuple(checkpoints or ()), eval_set=eval_set or None,
                              date_from=(date_from or "").strip() or None,
                              date_to=(date_to or "").strip() or None, only_unrated=bool(only_unrated),
                              limit=int(limit) if limit else None)
        task_set = self.tasks.create_set(admin, name, k=int(k or 2), filters=filters,
                                         lease_seconds=int(float(lease_minutes or 15) * 60),
                                         anonymous=bool(anonymous))
        count = len(self.tasks.items(admin, task_set.id))
        return f"✔ Created task set **{md_text(task_set.name)}** (#{task_set.id}): {count} items × {task_set.k} ratings."


def _set_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError("enter the task set's id (first column of the progress table)") from None


def _num(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value) -> str:
    return "" if value is None else f"{100 * value:.0f}%"


def render(ctx: AppContext, name_box: gr.Textbox) -> AdminDesk:
    """The tab; `name_box` is this page's rater-name box, filled with the login on page load."""
    desk = AdminDesk(ctx)
    notice = gr.Markdown("### Crowd rating admin\nOnly for admins: log in as an admin to use this tab.")
    with gr.Column(visible=False) as panel:
        with gr.Row():
            refresh = gr.Button("Refresh", scale=0)
            message = gr.Markdown("")
        progress = gr.Dataframe(headers=PROGRESS_HEADERS, label="Task sets", interactive=False)
        with gr.Accordion("New task set", open=False):
            with gr.Row():
                name = gr.Textbox(label="Name", max_lines=1)
                k = gr.Number(label="Ratings per item (k)", value=2, precision=0, minimum=1)
                lease = gr.Number(label="Lease (minutes)", value=15, minimum=1)
                limit = gr.Number(label="At most N items (0 = all)", value=0, precision=0, minimum=0)
            with gr.Row():
                checkpoints = gr.Dropdown(label="Checkpoints (none = all)", multiselect=True,
                                          choices=[c.name for c in ctx.store.checkpoints.all()],
                                          allow_custom_value=True)
                eval_set = gr.Dropdown(label="Eval set (optional)", allow_custom_value=True,
                                       choices=["", *[e.name for e in ctx.store.eval_sets.all()]], value="")
            with gr.Row():
                date_from = gr.Textbox(label="From date (YYYY-MM-DD)", max_lines=1)
                date_to = gr.Textbox(label="To date (inclusive)", max_lines=1)
                only_unrated = gr.Checkbox(label="Only replies nobody rated yet", value=False)
                anonymous = gr.Checkbox(label="Anonymous (hide checkpoint names)", value=True)
            create_button = gr.Button("Create task set", variant="primary")
        with gr.Row():
            set_id = gr.Number(label="Task set id", precision=0, value=None)
            agreement_button = gr.Button("Agreement and items")
            close_button = gr.Button("Close task set", variant="stop")
        agreement_md = gr.Markdown("")
        items_table = gr.Dataframe(headers=ITEM_HEADERS, label="Items of the set (ids for gold marking)",
                                   interactive=False, max_height=300)
        with gr.Accordion("Gold items", open=False):
            with gr.Row():
                gold_items = gr.Textbox(label="Task item ids (comma separated)", max_lines=1)
                gold_answer = gr.Radio([*FOLLOWED, "clear"], label="Known answer", value="yes")
                gold_button = gr.Button("Mark gold")
        raters_table = gr.Dataframe(headers=RATER_HEADERS, label="Raters", interactive=False)
        with gr.Accordion("Invites and accounts", open=False):
            with gr.Row():
                invite_role = gr.Radio(["rater", "admin"], label="Role", value="rater")
                invite_hours = gr.Number(label="Valid for (hours)", value=72)
                invite_uses = gr.Number(label="Uses", value=1, precision=0, minimum=1)
                invite_button = gr.Button("Create invite")
            invite_out = gr.Textbox(label="Invite token (shown once)", interactive=False)
            with gr.Row():
                account = gr.Textbox(label="Rater name", max_lines=1)
                disable_button = gr.Button("Disable")
                enable_button = gr.Button("Enable")
    _wire(desk, locals())
    return desk




def _wire(desk: AdminDesk, c: dict) -> None:
    tables = [c["progress"], c["raters_table"]]

    def tables_for(admin):
        return desk.progress_rows(admin), desk.rater_rows(admin)

    @ui_guarded
    def refresh(request: gr.Request):
        return tables_for(desk.admin(request))

    @ui_guarded
    def create(name, k, checkpoints, eval_set, date_from, date_to, only_unrated, limit, lease,
               anonymous, request: gr.Request):
        admin = desk.admin(request)
        message = desk.create(admin, name, k, checkpoints, eval_set, date_from, date_to,
                              only_unrated, limit, lease, anonymous)
        return (message, *tables_for(admin))

    @ui_guarded
    def show_agreement(set_id, request: gr.Request):
        admin = desk.admin(request)
        return desk.agreement_text(admin, set_id), desk.item_rows(admin, set_id)

    @ui_guarded
    def close(set_id, request: gr.Request):
        admin = desk.admin(request)
        task_set = desk.tasks.close_set(admin, _set_id(set_id))
        return (f"Closed **{md_text(task_set.name)}**.", *tables_for(admin))

    @ui_guarded
    def mark_gold(item_ids, answer, request: gr.Request):
        admin = desk.admin(request)
        ids = [int(x) for x in (item_ids or "").replace(" ", "").split(",") if x.isdigit()]
        if not ids:
            raise ValidationError("enter task item ids, e.g. 12, 15, 31")
        count = desk.tasks.mark_gold(admin, ids, None if answer == "clear" else answer)
        return (f"✔ Gold answer set on {count} items.", *tables_for(admin))

    @ui_guarded
    def invite(role, hours, uses, request: gr.Request):
        token, row = create_invite(desk.ctx.store, desk.admin(request), role=role,
                                   hours=float(hours or 72), max_uses=int(uses or 1))
        return token, (f"Invite for a {row.role}, {row.max_uses} use(s), valid until {row.expires_at[:16]} UTC. "
                       "They log in with a name of their choice and the token as password.")

    def toggler(disabled: bool):
        @ui_guarded
        def toggle(name, request: gr.Request):
            admin = desk.admin(request)
            rater = set_disabled(desk.ctx.store, name, disabled)
            return (f"{md_text(rater.name)} is now {'disabled' if rater.disabled else 'enabled'}.",
                    *tables_for(admin))
        return toggle

    def show_if_admin(request: gr.Request):
        """Cosmetic only (each handler checks again): the panel appears for admins after login."""
        try:
            admin = desk.admin(request)
        except IftChatError:
            return gr.Column(visible=False), gr.Markdown(visible=True), gr.skip(), gr.skip()
        return (gr.Column(visible=True), gr.Markdown(visible=False), *tables_for(admin))

    # The page's name box is filled with the login name when the page loads.
    c["name_box"].change(show_if_admin, None, [c["panel"], c["notice"], *tables], api_name=False)
    create_inputs = [c[n] for n in ("name", "k", "checkpoints", "eval_set", "date_from", "date_to",
                                    "only_unrated", "limit", "lease", "anonymous")]
    c["refresh"].click(refresh, None, tables, api_name="crowd_admin_refresh")
    c["create_button"].click(create, create_inputs, [c["message"], *tables], api_name="crowd_admin_create")
    c["agreement_button"].click(show_agreement, [c["set_id"]], [c["agreement_md"], c["items_table"]],
                                api_name="crowd_admin_agreement")
    c["close_button"].click(close, [c["set_id"]], [c["message"], *tables], api_name="crowd_admin_close")
    c["gold_button"].click(mark_gold, [c["gold_items"], c["gold_answer"]], [c["message"], *tables],
                           api_name="crowd_admin_gold")
    c["invite_button"].click(invite, [c["invite_role"], c["invite_hours"], c["invite_uses"]],
                             [c["invite_out"], c["message"]], api_name="crowd_admin_invite")
    c["disable_button"].click(toggler(True), [c["account"]], [c["message"], *tables],
                              api_name="crowd_admin_disable")
    c["enable_button"].click(toggler(False), [c["account"]], [c["message"], *tables],
                             api_name="crowd_admin_enable")
