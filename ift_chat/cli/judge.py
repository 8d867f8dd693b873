"""``judge``: grade stored replies with a judge model, and measure it against people.

    python -m ift_chat judge run qwen-judge --eval-set ifmr-text          # [judges.qwen-judge]
    python -m ift_chat judge run j1 --url http://h:8000/v1 --model M --api-key-env KEY --unrated
    python -m ift_chat judge agreement judge:qwen-judge@1a2b3c4d5e6f
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Optional

import typer

from ..errors import BackendUnavailable, ValidationError
from . import app
from .raters import HomeOption, open_store

judge_app = typer.Typer(help="Judge models: a model rates stored turns; its agreement with people "
                             "decides whether it is trusted.", no_args_is_help=True)
app.add_typer(judge_app, name="judge")


def _scope(task_set, eval_set, of_checkpoint, unrated, all_) -> tuple[str, str | None]:
    given = [(k, v) for k, v in (("task_set", task_set), ("eval_set", eval_set),
                                 ("checkpoint", of_checkpoint)) if v is not None]
    given += [(k, None) for k, flag in (("unrated", unrated), ("all", all_)) if flag]
    if len(given) != 1:
        raise ValidationError("give exactly one of --task-set NAME, --eval-set NAME, --of-checkpoint NAME, "
                    "--unrated (no human rating yet), --all")
    return given[0]


def resolve_spec(config, name: str, options: dict):
    """The judge NAME of registry.toml, or one defined by --url / --checkpoint options."""
    from ..errors import NotFound
    from ..judge import load_judges, make_spec

    entry = {k: v for k, v in options.items() if v not in (None, False)}
    if entry.get("url") or entry.get("checkpoint"):
        return make_spec(name, entry, Path.cwd())
    judges = load_judges(config.checkpoints_dir)
    if name not in judges:
        raise NotFound(f"no judge {name!r} in {config.checkpoints_dir / 'registry.toml'} "
                       f"(known: {', '.join(judges) or 'none'}); or give --url or --checkpoint")
    return judges[name]


async def _served_backend(config, store, spec, wait_s: float = 3600):
    """The app's backends (vLLM / transformers, as `serve` starts them), once the judge is ready."""
    from ..backends.factory import build_backends

    backends = build_backends(config, store)
    backend = backends.get(spec.checkpoint)
    for _ in range(int(wait_s)):
        if backend.status().state == "ready":
            return backends, backend
        await asyncio.sleep(1)
    await backends.aclose()
    raise BackendUnavailable(f"the judge's checkpoint {spec.checkpoint} did not become ready: {backend.status().detail}")


async def _run(config, store, spec, **job):
    from tqdm import tqdm

    from ..judge import judge_backend, run_job

    backends = None
    if spec.checkpoint:
        backends, backend = await _served_backend(config, store, spec)
    else:
        backend = judge_backend(spec, None, config.limits)
    try:
        with tqdm(unit="turn" if job.get("pairwise") else "reply", desc=spec.rater_name) as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)
            return await run_job(store, backend, spec, on_progress=progress, **job)
    finally:
        await (backends.aclose() if backends else backend.aclose())


@judge_app.command("run")
def run_command(
    name: str = typer.Argument(..., help="A judges.NAME table of registry.toml, or a new name with --url/--checkpoint."),
    task_set: Optional[str] = typer.Option(None, help="The replies of one rating task set."),
    eval_set: Optional[str] = typer.Option(None, help="The replays of one evaluation set."),
    of_checkpoint: Optional[str] = typer.Option(None, help="Every reply of one checkpoint."),
    unrated: bool = typer.Option(False, help="Every reply no person has rated yet."),
    all_: bool = typer.Option(False, "--all", help="Every stored reply."),
    pairwise: bool = typer.Option(False, help="Arena turns, A vs B, asked in both orders."),
    history: str = typer.Option("own", help="own: the reply's own history; reference: the eval item's."),
    force: bool = typer.Option(False, help="Re-grade replies this judge and rubric already graded."),
    concurrency: Optional[int] = typer.Option(None, min=1, max=64, help="Requests in flight."),
    url: Optional[str] = typer.Option(None, help="An OpenAI-compatible server, e.g. http://host:8000/v1."),
    model: Optional[str] = typer.Option(None, help="The model id the server is asked for."),
    api_key_env: Optional[str] = typer.Option(None, help="NAME of the env variable holding the API key."),
    checkpoint: Optional[str] = typer.Option(None, help="Judge with a checkpoint the app serves."),
    multimodal: bool = typer.Option(False, help="The judge sees the turns' images."),
    rubric: Optional[Path] = typer.Option(None, help="Single-grading rubric file (default: shipped)."),
    pairwise_rubric: Optional[Path] = typer.Option(None, help="Pairwise rubric file (default: shipped)."),
    timeout_s: Optional[float] = typer.Option(None, help="Seconds to wait for one verdict."),
    home: Optional[Path] = HomeOption,
) -> None:
    """Grade stored replies; ones this judge already graded are skipped (resumable)."""
    from ..config import Config

    scope, target = _scope(task_set, eval_set, of_checkpoint, unrated, all_)
    options = {"url": url, "model": model, "api_key_env": api_key_env, "checkpoint": checkpoint,
               "multimodal": multimodal, "rubric": str(rubric) if rubric else None,
               "pairwise_rubric": str(pairwise_rubric) if pairwise_rubric else None, "timeout_s": timeout_s}
    with open_store(home) as store:
        config = Config.from_env(home=home)
        spec = resolve_spec(config, name, options)
        result = asyncio.run(_run(config, store, spec, scope=scope, target=target, policy=history,
                                  pairwise=pairwise, force=force, concurrency=concurrency))
        typer.echo(f"{result.rater}: {result.judged} judged, {result.skipped} already judged, "
                   f"{result.unparsable} unparsable, {result.errors} errors"
                   + (f", {result.no_reference} without reference history" if history == "reference" else "")
                   + f" ({result.total} in scope, {result.seconds:.1f} s)")
        if pairwise and result.inconsistency_rate is not None:
            typer.echo(f"position consistency: {result.inconsistent} of {result.consistent + result.inconsistent} "
                       f"pairs changed verdict when A and B swapped ({result.inconsistency_rate:.0%}); "
                       "only consistent verdicts are kept")
        if not pairwise:
            from ..judge import gate
            typer.echo(f"agreement with people: {gate(store, result.rater).label}")


@judge_app.command("agreement")
def agreement_command(
    rater: str = typer.Argument(..., help="judge:<name>@<hash> (see `judge list`)."),
    threshold: float = typer.Option(0.6, help="Kappa below which the judge is not trusted."),
    history: str = typer.Option("own", help="The history policy whose verdicts to compare."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    home: Optional[Path] = HomeOption,
) -> None:
    """The agreement gate: the judge vs the human majority on replies both rated."""
    from dataclasses import asdict

    from ..judge import conversation_scores, gate, pair_summary
    from ..judge.agreement import pair_agreement
    from .judge_report import print_conversations, print_gate, print_pair_votes

    with open_store(home) as store:
        g = gate(store, rater, threshold, history)
        rater_id = store.judges.rater(rater)["rater_id"]
        pairs = pair_summary(store.judges.pairs(rater_id))
        votes = pair_agreement(store, rater, history)
        conversations = conversation_scores(store.judges.verdicts(rater_id))
        if as_json:
            typer.echo(json.dumps({**asdict(g), "trusted": g.trusted, "label": g.label, "pairwise": pairs,
                                   "pairwise_vs_votes": votes, "conversations": conversations},
                                  indent=2, default=str))
        else:
            print_gate(g, pairs)
            print_pair_votes(votes)
            print_conversations(conversations)


@judge_app.command("list")
def list_command(home: Optional[Path] = HomeOption) -> None:
    """Judges declared in registry.toml and judge raters with verdicts, with their trust label."""
    from ..config import Config
    from ..judge import gate, load_judges

    with open_store(home) as store:
        config = Config.from_env(home=home)
        for name, spec in load_judges(config.checkpoints_dir).items():
            typer.echo(f"declared {name}: {spec.url or 'checkpoint ' + str(spec.checkpoint)} -> {spec.rater_name}")
        for row in store.judges.raters():
            counts = store.judges.counts(row["rater_id"])
            typer.echo(f"{row['name']}: {sum(counts.values())} verdicts {counts}; {gate(store, row['name']).label}")


@judge_app.command("rubrics")
def rubrics_command(out: Path = typer.Option(..., help="Directory to copy the default rubrics to.")) -> None:
    """Copy the shipped rubrics, to edit and point a judge at (rubric = "...")."""
    from importlib import resources

    out.mkdir(parents=True, exist_ok=True)
    for kind in ("single", "pairwise"):
        target = out / f"{kind}.md"
        if target.exists():
            raise ValidationError(f"{target} exists; not overwritten")
        with resources.as_file(resources.files("ift_chat.judge").joinpath("rubrics", f"{kind}.md")) as src:
            shutil.copyfile(src, target)
        typer.echo(f"wrote {target}")
