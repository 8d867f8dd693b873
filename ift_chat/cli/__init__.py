"""``python -m ift_chat <verb>``: one CLI; each verb lives in its own module."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from ..errors import IftChatError

ERROR_EXIT_CODE = 1
"""What every verb exits with when our code refuses (bad input, unknown name, not allowed).
Usage errors found by typer itself (an unknown option, a missing argument) exit 2, as in click."""


class _ErrorEdge(TyperGroup):
    """The CLI edge, for every verb and sub-command (they all run inside this group's invoke):
    an IftChatError becomes one plain line on stderr and ERROR_EXIT_CODE."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except IftChatError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(ERROR_EXIT_CODE) from None


app = typer.Typer(help="ift-chat: chat with, compare and rate fine-tuned vision-language checkpoints.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  cls=_ErrorEdge)

# Verbs register themselves on `app` when imported.
from . import serve  # noqa: E402,F401
from . import raters, tasks  # noqa: E402,F401
from . import evalsets, export  # noqa: E402,F401
from . import checkpoints  # noqa: E402,F401
from . import leaderboard  # noqa: E402,F401
from . import checks  # noqa: E402,F401
from . import judge  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """``python -m ift_chat``; errors are converted by ``_ErrorEdge``."""
    app(args=argv, prog_name="python -m ift_chat")
