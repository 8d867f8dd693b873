"""``python -m ift_chat <verb>``: one CLI; each verb lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(help="ift-chat: chat with, compare and rate fine-tuned vision-language checkpoints.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

# Verbs register themselves on `app` when imported.
from . import serve  # noqa: E402,F401
from . import raters, tasks  # noqa: E402,F401
from . import evalsets, export  # noqa: E402,F401
from . import checkpoints  # noqa: E402,F401
from . import leaderboard  # noqa: E402,F401
from . import checks  # noqa: E402,F401
from . import judge  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """The CLI edge: our errors become one plain line on stderr and exit code 2."""
    from ..errors import IftChatError

    try:
        app(args=argv, prog_name="python -m ift_chat")
    except IftChatError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
