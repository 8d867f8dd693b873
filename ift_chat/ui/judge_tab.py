"""Judges tab (/manage): run a judge over stored replies and see whether it agrees with people.

Admin actions, like the Data and Crowd admin tabs: running a judge spends compute and may
send dialogs to a remote server, and the per-conversation table names conversations. Every
judge carries its trust label; judge verdicts enter the leaderboard or an export only on opt-in
(judge/optin.py), never crowd agreement.
"""

from __future__ import annotations

import threading

import gradio as gr

from ..crowd.auth import admin_for_request
from ..errors import NotFound, ValidationError
from ..judge import conversation_scores, gate, judge_backend, load_judges, pair_summary, run_job
from ..judge.agreement import DEFAULT_THRESHOLD, PAIR_LABELS, pair_agreement
from ..store.models import FOLLOWED
from .context import AppContext, ui_guarded
from .render import md_text

SCOPES = [("Replies no person rated yet", "unrated"), ("An evaluation set's replays", "eval_set"),
          ("A rating task set", "task_set"), ("One checkpoint's replies", "checkpoint"), ("Every reply", "all")]
GATE_HEADERS = ["judge rater", "trust", "verdicts", "unparsable", "errors", "overlap with people",
                "kappa [95% CI]", "alpha [95% CI]", "pairs: order flips"]
SCORE_HEADERS = ["conversation", "side", "checkpoint", "turns judged", "mean", "min over turns",
                 "first round not followed"]
HONESTY = ("Judge verdicts are stored apart from human ratings: the leaderboard, exports and crowd "
           "agreement use **people's ratings only** unless you opt in to a judge (the Leaderboard's *Include "
           "judge*, `export --judge`), and then always with its agreement and trust label beside it. A judge's "
           "verdict shows beside a reply only once a person rated it, so it cannot sway that rating. A judge is *trusted* only when its Cohen's kappa "
           f"against the human majority reaches the threshold (default {DEFAULT_THRESHOLD:g}) on replies both "
           "rated; below that, or with no overlap yet, it is **not trusted** and its numbers say little "
           "about what people would say. Pairwise verdicts count only when both orders (A,B) and (B,A) agree.")


def _ci(value, ci) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


class JudgeDesk:
    """Gradio-free logic of the tab."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        # URL judges' clients, kept across runs: the backend pools connections per event loop, so
        # a run does not pay connection set-up again (served checkpoints belong to the app)
        self._clients: dict[tuple, object] = {}

    def backend(self, spec):
        if spec.checkpoint:
            return judge_backend(spec, self.ctx.backends, self.ctx.config.limits)
        key = (spec.name, spec.url, spec.model, spec.api_key_env, spec.timeout_s)
        if key not in self._clients:
            self._clients[key] = judge_backend(spec, None, self.ctx.config.limits)
        return self._clients[key]

    def judges(self) -> dict:
        return load_judges(self.ctx.config.checkpoints_dir)

    def spec(self, name: str):
        judges = self.judges()
        if not name or name not in judges:
            raise NotFound(f"no judge {name!r}: declare it as [judges.NAME] in registry.toml")
        return judges[name]

    async def run(self, request, name, scope, target, history, pairwise, force, on_progress, stop=None) -> str:
        admin_for_request(self.ctx.store, request)
        spec = self.spec(name)
        target = (target or "").strip() or None
        if scope in ("eval_set", "task_set", "checkpoint") and not target:
            raise ValidationError("type the name of the evaluation set, task set or checkpoint to judge")
        r = await run_job(self.ctx.store, self.backend(spec), spec, scope=scope, target=target, policy=history,
                          pairwise=bool(pairwise), force=bool(force), on_progress=on_progress, stop=stop)
        text = (f"**{md_text(r.rater)}**: {r.judged} judged, {r.skipped} already judged, {r.unparsable} "
                f"unparsable, {r.errors} errors, {r.no_reference} without reference history "
                f"({r.total} in scope, {r.seconds:.1f} s).")
        if r.inconsistency_rate is not None:
            text += (f" Position check: {r.inconsistent} of {r.consistent + r.inconsistent} pairs changed "
                     f"verdict when A and B swapped ({r.inconsistency_rate:.0%}); only consistent ones are kept.")
        return text

    def gate_rows(self, threshold: float = DEFAULT_THRESHOLD) -> list[list]:
        rows = []
        for info in self.ctx.store.judges.raters():
            g = gate(self.ctx.store, info["name"], threshold)
            counts = self.ctx.store.judges.counts(info["rater_id"])
            pairs = pair_summary(self.ctx.store.judges.pairs(info["rater_id"]))
            flips = (f"{pairs['inconsistent']}/{pairs['both_orders_parsed']}" if pairs["both_orders_parsed"]
                     else "n/a")
            rows.append([info["name"], g.label, sum(counts.values()), counts.get("unparsable", 0),
                         counts.get("error", 0), g.overall.n, _ci(g.overall.kappa, g.overall.kappa_ci),
                         _ci(g.overall.alpha, g.overall.alpha_ci), flips])
        return rows

    def detail(self, rater: str, threshold: float = DEFAULT_THRESHOLD) -> tuple[str, list[list]]:
        if not rater:
            raise ValidationError("type a judge rater name from the table (judge:NAME@HASH)")
        g = gate(self.ctx.store, rater.strip(), threshold)
        lines = [f"### {md_text(g.rater)}: {md_text(g.label)}",
                 f"{g.overall.n} replies rated by people and this judge; {g.human_ties} left out (people split).",
                 "", "| judge \\ people | " + " | ".join(FOLLOWED) + " |", "|---|" + "---|" * len(FOLLOWED)]
        lines += [f"| {j} | " + " | ".join(str(g.confusion[j][h]) for h in FOLLOWED) + " |" for j in FOLLOWED]
        lines += ["", "| round | n | kappa | alpha |", "|---|---|---|---|"]
        lines += [f"| {n} | {s.n} | {_ci(s.kappa, s.kappa_ci)} | {_ci(s.alpha, s.alpha_ci)} |"
                  for n, s in g.per_round.items()]
        lines += ["", "| error tag | n | kappa (tagged or not) |", "|---|---|---|"]
        lines += [f"| {md_text(t)} | {s.n} | {_ci(s.kappa, s.kappa_ci)} |" for t, s in g.per_tag.items()]
        if g.self_preference.get("bias") is not None:
            lines.append(f"\nSelf-preference: judge minus people on its own checkpoint's replies vs others' "
                         f"= {g.self_preference['bias']:+.2f} (positive: it favours itself).")
        lines += pair_vote_lines(pair_agreement(self.ctx.store, rater.strip()))
        info = self.ctx.store.judges.rater(rater.strip())
        scores = [[s["conversation_id"][:12], s["side"], s["checkpoint"], s["turns"], round(s["mean"], 2),
                   s["min"], s["first_break_round"]]
                  for s in conversation_scores(self.ctx.store.judges.verdicts(info["rater_id"]))]
        return "\n".join(lines), scores


def pair_vote_lines(votes: dict) -> list[str]:
    """Pairwise verdicts (position-consistent only) vs people's majority vote on the same turns."""
    if not votes["n"]:
        return ["", f"Pairwise vs people's votes: no arena turn has both a consistent judge verdict and a "
                    f"majority vote yet ({votes['human_splits']} with split votes)."]
    lines = ["", f"**Pairwise vs people's votes** ({votes['n']} arena turns; {votes['human_splits']} with split "
                 f"votes left out): kappa {_ci(votes['kappa'], votes['kappa_ci'])}; the judge's winner is the "
                 f"people's majority on {votes['matches_majority']:.0%} of turns.",
             "", "| judge \\ people's vote | " + " | ".join(PAIR_LABELS) + " |", "|---|" + "---|" * len(PAIR_LABELS)]
    return lines + [f"| {j} | " + " | ".join(str(votes["confusion"][j][h]) for h in PAIR_LABELS) + " |"
                    for j in PAIR_LABELS]


def render(ctx: AppContext) -> JudgeDesk:
    desk = JudgeDesk(ctx)
    gr.Markdown(HONESTY)
    with gr.Row():
        name = gr.Dropdown(choices=list(desk.judges()), label="Judge (registry.toml [judges.*])",
                           allow_custom_value=True)  # checked server-side (desk.spec)
        scope = gr.Dropdown(choices=SCOPES, value="unrated", label="What to judge")
        target = gr.Textbox(label="Eval set / task set / checkpoint name", max_lines=1)
    with gr.Row():
        history = gr.Radio([("Its own history", "own"), ("Eval item's reference history", "reference")],
                           value="own", label="History shown to the judge")
        pairwise = gr.Checkbox(label="Pairwise (arena turns, both orders)")
        force = gr.Checkbox(label="Re-judge (force)")
        run_button = gr.Button("Run judge (admin)", variant="primary")
        stop_button = gr.Button("Stop", variant="stop")
    run_md = gr.Markdown("")
    refresh = gr.Button("Refresh agreement (admin)")
    table = gr.Dataframe(headers=GATE_HEADERS, label="Judges vs people", interactive=False)
    with gr.Row():
        rater = gr.Textbox(label="Judge rater (judge:NAME@HASH)", max_lines=1)
        detail_button = gr.Button("Details")
    detail_md = gr.Markdown("")
    scores = gr.Dataframe(headers=SCORE_HEADERS, label="Per conversation (MT-Bench-101 minimum over turns)",
                          interactive=False)
    _wire(desk, locals())
    return desk


def _wire(desk: JudgeDesk, c: dict) -> None:
    @ui_guarded
    async def run(name, scope, target, history, pairwise, force, request: gr.Request,
                  progress=gr.Progress()):
        stop = threading.Event()
        progress((0, None), desc="judging")
        message = await desk.run(request, name, scope, target, history, pairwise, force,
                                 lambda done, total: progress((done, total), desc="judging"), stop)
        return message, desk.gate_rows()

    @ui_guarded
    def show_gate(request: gr.Request):
        admin_for_request(desk.ctx.store, request)
        return desk.gate_rows()

    @ui_guarded
    def show_detail(rater, request: gr.Request):
        admin_for_request(desk.ctx.store, request)
        return desk.detail(rater)

    event = c["run_button"].click(run, [c["name"], c["scope"], c["target"], c["history"], c["pairwise"],
                                        c["force"]], [c["run_md"], c["table"]], api_name="judge_run",
                                  concurrency_limit=1)
    c["stop_button"].click(None, None, None, cancels=[event], api_name=False)
    c["refresh"].click(show_gate, None, c["table"], api_name="judge_refresh")
    c["detail_button"].click(show_detail, c["rater"], [c["detail_md"], c["scores"]], api_name="judge_detail")
