"""What every tab gets: the app's config, store and backends, plus session helpers."""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr

from ..backends import Backends
from ..config import Config
from ..errors import AuthError, IftChatError, NotFound, ValidationError
from ..store import Store
from ..store.models import Rater
from ..crowd.auth import require_active

if TYPE_CHECKING:
    from .live import LiveReplies


@dataclass(frozen=True)
class AppContext:
    """Built once by ``build_app``; tabs read from it, never replace it."""

    config: Config
    store: Store
    backends: Backends
    live: "LiveReplies | None" = None  # the app's SSE reply streams (ui/live.py); None = Gradio streams

    def rater_for(self, request: gr.Request | None, typed_name: str | None) -> Rater:
        """Who is acting: the logged-in user when auth is on, else the typed name."""
        username = getattr(request, "username", None) if request is not None else None
        if username:  # a login stays open until logout: re-check the account on every action
            return require_active(self.store.raters.by_name(username))
        if self.config.auth_file is not None:
            raise AuthError("please log in first")
        if not (typed_name or "").strip():
            raise ValidationError("enter your rater name (top right of the page) before rating or voting")
        return self.store.raters.get_or_create(typed_name)


def ui_error(exc: Exception) -> gr.Error:
    """The UI edge: our errors become a visible gr.Error with their plain message. Gradio shows
    an error's message as HTML (it has no option for text), so the message is escaped here:
    it can quote a user's text or a model server's error body."""
    if isinstance(exc, IftChatError):
        return gr.Error(html.escape(str(exc)), title=_title(exc))
    return gr.Error(html.escape(f"unexpected error: {exc}"))


def ui_guarded(handler):
    """The UI edge as a decorator: IftChatError raised by a sync, async or generator handler
    becomes ``ui_error`` (the signature is kept: Gradio reads it for inputs and gr.Request)."""
    if inspect.isasyncgenfunction(handler):
        @functools.wraps(handler)
        async def run_async_gen(*args, **kwargs):
            with _ui_edge():
                async for update in handler(*args, **kwargs):
                    yield update
        return run_async_gen
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def run_gen(*args, **kwargs):
            with _ui_edge():
                yield from handler(*args, **kwargs)
        return run_gen
    if inspect.iscoroutinefunction(handler):
        @functools.wraps(handler)
        async def run_async(*args, **kwargs):
            with _ui_edge():
                return await handler(*args, **kwargs)
        return run_async

    @functools.wraps(handler)
    def run(*args, **kwargs):
        with _ui_edge():
            return handler(*args, **kwargs)
    return run


@contextlib.contextmanager
def _ui_edge():
    """The one place an IftChatError becomes the toast the page shows."""
    try:
        yield
    except IftChatError as exc:
        raise ui_error(exc) from exc


def _title(exc: Exception) -> str:
    if isinstance(exc, NotFound):
        return "Not found"
    if isinstance(exc, ValidationError):
        return "Can't accept that"
    if isinstance(exc, AuthError):
        return "Not allowed"
    return "Error"
