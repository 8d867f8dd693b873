"""``raters``: accounts and invites (``raters add NAME --role admin``, ``list``, ``invite``)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Optional

import typer

from . import app
from .common import opened_store

raters_app = typer.Typer(help="Rater accounts, roles and invite tokens.", no_args_is_help=True)
app.add_typer(raters_app, name="raters")

HomeOption = typer.Option(None, help="Data dir (DB, images); env IFT_CHAT_HOME; default logs/.")


@contextlib.contextmanager
def open_store(home: Optional[Path]) -> Iterator:
    """The store of ``home``, closed afterwards."""
    from ..config import Config

    with opened_store(Config.from_env(home=home)) as store:
        yield store


def the_admin(store, name: Optional[str]):
    """Who the CLI acts as for admin actions: --admin NAME, else the first admin account."""
    from ..crowd.auth import require_admin
    from ..errors import NotFound

    if name:
        return require_admin(store.raters.by_name(name))
    admins = [r for r in store.raters.all() if r.is_admin and not r.disabled]
    if not admins:
        raise NotFound("no admin account yet: python -m ift_chat raters add NAME --role admin")
    return admins[0]


@raters_app.command("add")
def add(name: str, role: str = typer.Option("rater", help="rater or admin"),
        password: Optional[str] = typer.Option(None, help="Asked for (hidden) when left out."),
        home: Optional[Path] = HomeOption) -> None:
    """Create an account, or set the role and password of an existing one."""
    from ..crowd.auth import set_account

    if password is None:
        password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    with open_store(home) as store:
        rater = set_account(store, name, role, password)
        typer.echo(f"{rater.name}: {rater.role}")


@raters_app.command("list")
def list_raters(home: Optional[Path] = HomeOption) -> None:
    """Accounts with role, ratings given and gold accuracy."""
    from ..crowd.agreement import rater_stats

    with open_store(home) as store:
        stats = {s.rater_id: s for s in rater_stats(store)}
        counts = store.feedback.rating_counts()
        typer.echo(f"{'name':24} {'role':6} {'state':8} {'ratings':>7} {'gold':>7}")
        for rater in store.raters.all():
            s = stats.get(rater.id)
            gold = f"{s.gold_correct}/{s.gold_total}" if s and s.gold_total else "-"
            state = "disabled" if rater.disabled else "active"
            typer.echo(f"{rater.name:24} {rater.role:6} {state:8} {counts.get(rater.id, 0):>7} {gold:>7}")


@raters_app.command("invite")
def invite(role: str = typer.Option("rater", help="Role of the accounts it creates."),
           hours: float = typer.Option(72.0, help="Valid for this many hours."),
           uses: int = typer.Option(1, help="How many accounts it may create."),
           admin: Optional[str] = typer.Option(None, help="Admin account to act as (default: first admin)."),
           home: Optional[Path] = HomeOption) -> None:
    """Print a new invite token: log in with any free name and the token as password."""
    from ..crowd.auth import create_invite

    with open_store(home) as store:
        token, row = create_invite(store, the_admin(store, admin), role=role, hours=hours, max_uses=uses)
        typer.echo(token)
        typer.echo(f"({row.role}, {row.max_uses} use(s), valid until {row.expires_at[:16]} UTC)", err=True)


@raters_app.command("disable")
def disable(name: str, enable: bool = typer.Option(False, "--enable", help="Re-enable instead."),
            home: Optional[Path] = HomeOption) -> None:
    """Stop an account from logging in, rating or getting tasks."""
    from ..crowd.auth import set_disabled

    with open_store(home) as store:
        rater = set_disabled(store, name, not enable)
        typer.echo(f"{rater.name}: {'disabled' if rater.disabled else 'active'}")


@raters_app.command("hash")
def hash_cmd(password: Optional[str] = typer.Option(None, help="Asked for (hidden) when left out.")) -> None:
    """Print a scrypt hash to put in a users file instead of a plain password."""
    from ..crowd.auth import hash_password

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    typer.echo(hash_password(password))
