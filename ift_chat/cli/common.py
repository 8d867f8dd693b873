"""What several verbs share: a command group, an open store, a progress bar."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import typer

from . import app


def command_group(name: str, help: str) -> typer.Typer:
    """``python -m ift_chat NAME …``: a group of sub-commands registered on the main app."""
    group = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


@contextmanager
def opened_store(config) -> Iterator:
    from ..store import Store

    store = Store(config)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def progress_bar(desc: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr, driven by ``on_progress(done, total)`` callbacks."""
    from tqdm import tqdm

    with tqdm(unit=unit, desc=desc) as bar:
        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)
        yield update
