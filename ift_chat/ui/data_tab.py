"""Data tab (admins): export training data / eval sets, import eval sets, replay them.

Hiding the tab is not security: every handler first checks, on the server, that
the caller is logged in as an active admin.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gradio as gr

from ..backends import SamplingParams
from ..crowd.auth import require_active, require_admin
from ..dataloop.exports import FORMATS, ExportResult, recent_exports, run_export
from ..dataloop.imports import ImportResult, import_eval_set
from ..dataloop.outdir import named_export_dir
from ..dataloop.replay import REPLAY_HISTORY_MODES, ReplayResult, replay_eval_set, wait_ready
from ..dataloop.report import report_markdown
from ..dataloop.select import CHECK_MODES, SPLITS, Filters
from ..errors import PermissionDenied, ValidationError
from ..store.models import Rater
from .context import AppContext, ui_guarded
from .render import md_text

EXPORT_HEADERS = ["id", "created", "format", "rows", "path", "sha256"]


def _blank(value) -> str | None:
    return (value or "").strip() or None


def _number(value, cast=float):
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        return cast(float(text)) if cast is int else cast(text)
    except ValueError:
        raise ValidationError(f"{text!r} is not a number") from None


class DataDesk:
    """Gradio-free actions of the tab; each takes the admin checked by ``admin``."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    @property
    def exports_dir(self) -> Path:
        return self.ctx.config.home / "exports"

    def admin(self, request: gr.Request | None) -> Rater:
        username = getattr(request, "username", None) if request is not None else None
        if not username:
            raise PermissionDenied("exports, imports and replays need an admin login: start the app with "
                                   "--auth-file (or use `python -m ift_chat export|evalset|replay`)")
        return require_admin(require_active(self.ctx.store.raters.by_name(username)))

    def export(self, admin: Rater, fmt: str, name: str, force: bool, filters: Filters,
               eval_set: str | None = None, options: dict | None = None) -> ExportResult:
        require_admin(admin)
        out = named_export_dir(self.exports_dir, name)
        options = {k: v for k, v in (options or {}).items() if v}
        if eval_set and fmt == "evalset":
            options["eval_set"] = eval_set
        only = {"llava_flavor": "llava", "image_placement": "llava", "images": "openai"}
        options = {k: v for k, v in options.items() if only.get(k, fmt) == fmt}
        return run_export(self.ctx.store, fmt, out, filters, force=force, rater_id=admin.id, options=options)

    def export_rows(self) -> list[list]:
        return [[r["id"], r["created"][:19], r["format"], r["row_count"], r["path"], (r["sha256"] or "")[:16]]
                for r in recent_exports(self.ctx.store)]

    def import_set(self, admin: Rater, file: str | None, name: str, images_dir: str | None,
                   uploads: list[str] | None) -> ImportResult:
        """Images come from a server directory or from uploaded files (matched by file name)."""
        require_admin(admin)
        if not file:
            raise ValidationError("choose an eval-set file (.jsonl or LLaVA .json)")
        if uploads:
            with tempfile.TemporaryDirectory(prefix="ift-import-") as tmp:
                for path in uploads:
                    shutil.copyfile(path, Path(tmp) / Path(path).name)
                return import_eval_set(self.ctx.store, Path(file), Path(tmp), name)
        folder = _blank(images_dir)
        if folder and not Path(folder).is_dir():
            raise ValidationError(f"{folder} is not a directory on the server")
        return import_eval_set(self.ctx.store, Path(file), Path(folder) if folder else None, name)

    async def replay(self, admin: Rater, eval_set: str, checkpoints: list[str], history: str,
                     params: SamplingParams, on_progress) -> ReplayResult:
        require_admin(admin)
        if not eval_set:
            raise ValidationError("pick an evaluation set")
        for name in checkpoints or []:
            self.ctx.backends.get(name)
        await wait_ready(self.ctx.backends, checkpoints or [], timeout_s=60)
        return await replay_eval_set(self.ctx.store, self.ctx.backends, eval_set, checkpoints or [], params,
                                     history_mode=history, rater_id=admin.id, on_progress=on_progress)


def filters_from(checkpoints, since, until, task_set, min_gold_accuracy, min_agreement, min_raters,
                 min_score, min_voters, use_corrections, include_identity_leak, dedup, split,
                 eval_fraction, checks="off", checks_only=False) -> Filters:
    return Filters(
        checkpoints=tuple(checkpoints or ()), since=_blank(since), until=_blank(until),
        task_set=_blank(task_set), min_gold_accuracy=_number(min_gold_accuracy),
        min_agreement=_number(min_agreement), min_raters=_number(min_raters, int) or 2,
        min_score=_number(min_score), min_voters=_number(min_voters, int) or 1,
        use_corrections=bool(use_corrections), include_identity_leak=bool(include_identity_leak),
        dedup=bool(dedup), split=split or "default", eval_fraction=_number(eval_fraction) or 0.1,
        checks=checks or "off", checks_only=bool(checks_only))




def _eval_set_names(ctx: AppContext) -> list[str]:
    return [e.name for e in ctx.store.eval_sets.all()]


def render(ctx: AppContext) -> DataDesk:
    desk = DataDesk(ctx)
    gr.Markdown("### Data: exports, evaluation sets, replays\nOnly logged-in admins can use this tab. "
                f"Exports are written under `{desk.exports_dir}`.")
    with gr.Accordion("Export ratings", open=True):
        with gr.Row():
            fmt = gr.Dropdown([(f"{f.name} — {f.help}", f.name) for f in FORMATS.values()], value="llava",
                              label="Format")
            name = gr.Textbox(label="Export name (folder)", max_lines=1, placeholder="sft-2026-11-23")
            force = gr.Checkbox(label="Replace an existing export of that name", value=False)
        with gr.Row():
            checkpoints = gr.Dropdown(label="Checkpoints (none = all)", multiselect=True,
                                      choices=[c.name for c in ctx.store.checkpoints.all()],
                                      allow_custom_value=True)
            since = gr.Textbox(label="From date (YYYY-MM-DD)", max_lines=1)
            until = gr.Textbox(label="To date (inclusive)", max_lines=1)
            task_set = gr.Textbox(label="Task set (optional)", max_lines=1)
        with gr.Row():
            min_raters = gr.Number(label="Min raters", value=2, precision=0, minimum=1)
            # Text boxes: Gradio's Number turns a blank into 0 in the browser, and 0 is a filter.
            min_score = gr.Textbox(label="Min mean score (1-5, blank = any)", value="", max_lines=1)
            min_agreement = gr.Textbox(label="Min agreement (0-1, blank = any)", value="", max_lines=1)
            min_gold_accuracy = gr.Textbox(label="Min rater gold accuracy (0-1, blank = any)", value="",
                                           max_lines=1)
            min_voters = gr.Number(label="Min votes per pair", value=1, precision=0, minimum=1)
        with gr.Row():
            use_corrections = gr.Checkbox(label="Use rater corrections", value=True)
            include_identity_leak = gr.Checkbox(label="Keep identity-leaking replies", value=False)
            dedup = gr.Checkbox(label="Dedup same image + instruction", value=True)
            split = gr.Radio(list(SPLITS), value="default", label="Split (by image; default: evalset → eval, "
                             "training formats → train)")
            eval_fraction = gr.Number(label="Eval fraction", value=0.1)
            export_eval_set = gr.Dropdown(["", *_eval_set_names(ctx)], value="", allow_custom_value=True,
                                          label="evalset format: dump this stored set instead")
        with gr.Row():
            checks = gr.Radio(list(CHECK_MODES), value="off", label="Automatic checks (a reply that failed one "
                              "does not pass; A/B turns without votes where one reply passed and one failed "
                              "become pairs)")
            checks_only = gr.Checkbox(label="Checks alone decide (no ratings or votes needed)", value=False)
        with gr.Row():
            images_mode = gr.Textbox(label="openai images: inline | relative | url-prefix=https://…",
                                     value="inline", max_lines=1)
            llava_flavor = gr.Radio(["1.5", "next"], value="1.5",
                                    label="llava flavour (1.5: one image path per row, multi-image rows skipped)")
            image_placement = gr.Radio(["", "first", "sent"], value="",
                                       label="llava <image> turn (blank: first for 1.5, sent for next)")
            image_tokens = gr.Radio(["escape", "skip"], value="escape",
                                    label="Text containing <image> or another image token")
        with gr.Row():
            export_button = gr.Button("Export", variant="primary")
            refresh_exports = gr.Button("Refresh list", scale=0)
        export_md = gr.Markdown("")
        exports_table = gr.Dataframe(headers=EXPORT_HEADERS, label="Recent exports", interactive=False)
    with gr.Accordion("Import an evaluation set", open=False):
        with gr.Row():
            import_file = gr.File(label="Eval set (.jsonl ours, or LLaVA .json)", file_types=[".jsonl", ".json"])
            import_images = gr.File(label="Images (optional, matched by file name)", file_count="multiple",
                                    file_types=["image"])
        with gr.Row():
            import_name = gr.Textbox(label="Name", max_lines=1)
            import_dir = gr.Textbox(label="…or images directory on the server", max_lines=1)
        import_button = gr.Button("Import", variant="primary")
        import_md = gr.Markdown("")
    with gr.Accordion("Replay an evaluation set", open=False):
        with gr.Row():
            replay_set = gr.Dropdown(_eval_set_names(ctx), label="Evaluation set", allow_custom_value=True)
            replay_ckpts = gr.Dropdown(ctx.backends.names(), multiselect=True,
                                       label="Checkpoints (two = an A/B arena per item)")
            history = gr.Radio(list(REPLAY_HISTORY_MODES), value="reference", label="History")
        with gr.Row():
            temperature = gr.Number(label="Temperature", value=0.0, minimum=0, maximum=2)
            max_tokens = gr.Number(label="Max tokens", value=256, precision=0, minimum=1)
            seed = gr.Number(label="Seed", value=0, precision=0)
        replay_button = gr.Button("Replay", variant="primary")
        replay_md = gr.Markdown("")
    _wire(desk, locals())
    return desk


def _wire(desk: DataDesk, c: dict) -> None:
    filter_inputs = [c[n] for n in ("checkpoints", "since", "until", "task_set", "min_gold_accuracy",
                                    "min_agreement", "min_raters", "min_score", "min_voters",
                                    "use_corrections", "include_identity_leak", "dedup", "split",
                                    "eval_fraction", "checks", "checks_only")]

    @ui_guarded
    def export(fmt, name, force, export_eval_set, checkpoints, since, until, task_set, min_gold_accuracy,
               min_agreement, min_raters, min_score, min_voters, use_corrections, include_identity_leak,
               dedup, split, eval_fraction, checks, checks_only, images_mode, llava_flavor, image_placement,
               image_tokens, request: gr.Request):
        admin = desk.admin(request)
        filters = filters_from(checkpoints, since, until, task_set, min_gold_accuracy, min_agreement,
                               min_raters, min_score, min_voters, use_corrections, include_identity_leak,
                               dedup, split, eval_fraction, checks, checks_only)
        options = {"images": _blank(images_mode), "llava_flavor": llava_flavor,
                   "image_placement": _blank(image_placement), "image_tokens_in_text": image_tokens}
        result = desk.export(admin, fmt, name, force, filters, _blank(export_eval_set), options)
        message = (f"✔ Wrote **{result.row_count:,}** rows ({result.format}) to **{md_text(result.path)}** — "
                   f"sha256 `{result.sha256[:16]}…`\n\n{report_markdown(result.report)}")
        return message, desk.export_rows()

    @ui_guarded
    def list_exports(request: gr.Request):
        desk.admin(request)
        return desk.export_rows()

    @ui_guarded
    def import_set(file, uploads, name, folder, request: gr.Request):
        result = desk.import_set(desk.admin(request), file, name, folder, uploads)
        names = _eval_set_names(desk.ctx)
        return (f"✔ Imported **{result.items}** items ({result.images} images) as **{md_text(result.eval_set.name)}**.",
                gr.Dropdown(choices=names), gr.Dropdown(choices=["", *names]))

    @ui_guarded
    async def replay(eval_set, checkpoints, history, temperature, max_tokens, seed, request: gr.Request,
                     progress=gr.Progress()):
        admin = desk.admin(request)
        params = SamplingParams(temperature=float(temperature or 0), max_tokens=int(max_tokens or 256),
                                seed=None if seed in (None, "") else int(seed))

        def on_progress(done: int, total: int) -> None:
            progress((done, total), desc="replaying rounds", unit="rounds")

        result = await desk.replay(admin, eval_set, checkpoints, history, params, on_progress)
        return (f"✔ {len(result.conversations)} replay conversations, {result.responses} responses "
                f"({result.errors} errors) in {result.seconds:.1f} s. They are now ordinary conversations "
                "(mode `replay`): add them to a rating task set, or vote on A/B replays.")

    export_options = [c[n] for n in ("images_mode", "llava_flavor", "image_placement", "image_tokens")]
    c["export_button"].click(export, [c["fmt"], c["name"], c["force"], c["export_eval_set"], *filter_inputs,
                                      *export_options],
                             [c["export_md"], c["exports_table"]], api_name="data_export")
    c["refresh_exports"].click(list_exports, None, [c["exports_table"]], api_name="data_exports")
    c["import_button"].click(import_set, [c["import_file"], c["import_images"], c["import_name"], c["import_dir"]],
                             [c["import_md"], c["replay_set"], c["export_eval_set"]], api_name="data_import")
    c["replay_button"].click(replay, [c["replay_set"], c["replay_ckpts"], c["history"], c["temperature"],
                                      c["max_tokens"], c["seed"]], [c["replay_md"]], api_name="data_replay")
