"""``checks explain`` (what the automatic checks see in one turn) and ``checks run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .common import command_group, opened_store, progress_bar

checks_app = command_group("checks", "Automatic per-turn instruction checks (verifiable constraints).")


@checks_app.command("explain")
def explain_command(
    instruction: str = typer.Option(..., "--instruction", help="The user turn to check."),
    reply: str = typer.Option(..., "--reply", help="The reply to that turn."),
    history: Optional[Path] = typer.Option(
        None, "--history", help='JSON file: a list of {"user": ..., "assistant": ...} earlier rounds.'),
) -> None:
    """Print the constraints in force for INSTRUCTION and whether REPLY followed them (JSON)."""
    from ..checks import explain
    from ..errors import ValidationError

    rounds = []
    if history is not None:
        try:
            rounds = json.loads(history.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValidationError(f"could not read the history file {history}: {exc}") from None
    result = explain(instruction, reply, rounds)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@checks_app.command("run")
def run_command(
    conversation: Optional[str] = typer.Option(None, "--conversation", help="One conversation id."),
    eval_set: Optional[str] = typer.Option(None, "--eval-set", help="The replays of one evaluation set."),
    all_: bool = typer.Option(False, "--all", help="Every stored conversation."),
    force: bool = typer.Option(False, "--force", help="Re-check replies already checked by this version."),
    home: Optional[Path] = typer.Option(None, help="Data dir (env IFT_CHAT_HOME)."),
) -> None:
    """(Re)check stored replies; replies already checked by this checker version are skipped."""
    from ..checks import CHECKER_VERSION, run_checks
    from ..config import Config
    from ..errors import ValidationError

    if sum([conversation is not None, eval_set is not None, all_]) != 1:
        raise ValidationError("give exactly one of --conversation ID, --eval-set NAME, --all")
    with opened_store(Config.from_env(home=home)) as store:
        if eval_set is not None:
            store.eval_sets.by_name(eval_set)  # a clear error for an unknown name
        if conversation is not None:
            store.conversations.get(conversation)
        with progress_bar("checks", "reply") as progress:
            result = run_checks(store, conversation_id=conversation, eval_set=eval_set,
                                force=force, on_progress=progress)
    typer.echo(f"checker {CHECKER_VERSION}: {result.checked} replies checked, {result.skipped} already "
               f"checked, {result.rows} verdicts written ({result.conversations} conversations)")
