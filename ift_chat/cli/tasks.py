"""``tasks``: rating task sets (create, list, close, gold, agreement) from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import app
from .raters import HomeOption, open_store, the_admin

tasks_app = typer.Typer(help="Rating task sets: k ratings per reply from distinct raters.",
                        no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
AdminOption = typer.Option(None, help="Admin account to act as (default: first admin).")


@tasks_app.command("create")
def create(name: str, k: int = typer.Option(2, help="Ratings per item, from distinct raters."),
           checkpoint: List[str] = typer.Option([], help="Only replies of this checkpoint (repeatable)."),
           eval_set: Optional[str] = typer.Option(None, help="Only replays of this eval set."),
           date_from: Optional[str] = typer.Option(None, "--from", help="YYYY-MM-DD (UTC)."),
           date_to: Optional[str] = typer.Option(None, "--to", help="YYYY-MM-DD, inclusive."),
           only_unrated: bool = typer.Option(False, help="Skip replies someone already rated."),
           limit: Optional[int] = typer.Option(None, help="At most this many items."),
           lease_minutes: float = typer.Option(15.0, help="An unsubmitted item returns to the pool after this."),
           named: bool = typer.Option(False, "--named", help="Show checkpoint names to raters."),
           admin: Optional[str] = AdminOption, home: Optional[Path] = HomeOption) -> None:
    """Create a task set from finished replies matching the filters."""
    from ..crowd.tasks import TaskFilters, Tasks

    filters = TaskFilters(tuple(checkpoint), eval_set, date_from, date_to, only_unrated, limit)
    with open_store(home) as store:
        tasks = Tasks(store)
        boss = the_admin(store, admin)
        task_set = tasks.create_set(boss, name, k=k, filters=filters,
                                    lease_seconds=int(lease_minutes * 60), anonymous=not named)
        typer.echo(f"task set {task_set.id} {task_set.name!r}: "
                   f"{len(tasks.items(boss, task_set.id))} items x {task_set.k} ratings")


@tasks_app.command("list")
def list_sets(admin: Optional[str] = AdminOption, home: Optional[Path] = HomeOption) -> None:
    """Task sets with progress (ratings done / items x k)."""
    from ..crowd.tasks import Tasks

    with open_store(home) as store:
        tasks = Tasks(store)
        boss = the_admin(store, admin)
        typer.echo(f"{'id':>4} {'name':24} {'status':7} {'k':>2} {'items':>6} {'done':>6} {'complete':>8} {'%':>6}")
        for task_set in tasks.sets():
            p = tasks.progress(boss, task_set.id)
            typer.echo(f"{task_set.id:>4} {task_set.name:24} {task_set.status:7} {task_set.k:>2} "
                       f"{p.items:>6} {p.ratings_done:>6} {p.items_complete:>8} {100 * p.fraction:>5.1f}%")


@tasks_app.command("close")
def close(task_set_id: int, admin: Optional[str] = AdminOption, home: Optional[Path] = HomeOption) -> None:
    """Stop handing out and accepting ratings for a task set."""
    from ..crowd.tasks import Tasks

    with open_store(home) as store:
        task_set = Tasks(store).close_set(the_admin(store, admin), task_set_id)
        typer.echo(f"closed task set {task_set.id} {task_set.name!r}")


@tasks_app.command("gold")
def gold(item_ids: List[int], answer: str = typer.Option(..., help="yes, partial, no, or clear."),
         admin: Optional[str] = AdminOption, home: Optional[Path] = HomeOption) -> None:
    """Mark task items as gold with a known 'instruction followed' answer."""
    from ..crowd.tasks import Tasks

    with open_store(home) as store:
        count = Tasks(store).mark_gold(the_admin(store, admin), item_ids,
                                       None if answer == "clear" else answer)
        typer.echo(f"{count} items {'cleared' if answer == 'clear' else f'marked gold: {answer}'}")


@tasks_app.command("agreement")
def agreement_cmd(task_set_id: int, admin: Optional[str] = AdminOption,
                  home: Optional[Path] = HomeOption) -> None:
    """Krippendorff's alpha and per-rater stats for a task set."""
    from ..crowd.agreement import agreement, rater_stats
    from ..crowd.tasks import Tasks

    def fmt(x, spec=".3f"):
        return "n/a" if x is None else format(x, spec)

    with open_store(home) as store:
        tasks = Tasks(store)
        tasks.progress(the_admin(store, admin), task_set_id)  # admin check + set exists
        result = agreement(store, task_set_id)
        typer.echo(f"items rated {result.items_rated}, with majority {result.items_with_majority}; "
                   f"alpha followed {fmt(result.alpha_followed)}, score {fmt(result.alpha_score)}")
        for s in rater_stats(store, task_set_id):
            typer.echo(f"  {s.name:24} {s.count:>5} ratings  median {fmt(s.median_seconds, '.1f')} s  "
                       f"agrees {fmt(s.agreement, '.0%')}  gold {s.gold_correct}/{s.gold_total}"
                       f"{'  EXCLUDED' if s.excluded else ''}")
