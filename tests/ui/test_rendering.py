"""How the app as built shows content (fast, no browser): every Chatbot on every page shows the
renderer's HTML as it is, messages are that HTML, and error toasts carry plain text."""

from __future__ import annotations

import gradio as gr
import pytest

from ift_chat.errors import BackendError, ValidationError
from ift_chat.ui.app import build_app, build_battle_app
from ift_chat.ui.context import ui_error
from ift_chat.ui.render import chat_messages
from tests.security.test_sanitiser import assert_inert
from tests.security.xss_vectors import VECTORS
from tests.ui.conftest import scripted_backends
from tests.scripted_backend import ScriptedBackend


def _chatbots(blocks: gr.Blocks) -> list[gr.Chatbot]:
    return [b for b in blocks.blocks.values() if isinstance(b, gr.Chatbot)]


def test_every_chatbot_shows_html_as_it_is(config, store):
    """No Chatbot re-renders markdown or LaTeX in the browser (that is the server's job), and the
    browser's own sanitizer stays on as a second fence."""
    backends = scripted_backends(store, ScriptedBackend("a"), ScriptedBackend("b"))
    bots = [*_chatbots(build_app(config, store, backends)), *_chatbots(build_battle_app(config, store, backends))]
    assert len(bots) >= 5  # chat, named arena A/B, battle A/B, rating tasks
    for bot in bots:
        assert bot.render_markdown is False and bot.sanitize_html is True
        assert not bot.allow_tags and not bot.latex_delimiters
        assert not bot.buttons  # a copy button would copy the HTML source


def test_stored_messages_are_sanitised_html(store):
    store.checkpoints.register("m", backend="scripted")
    conv = store.conversations.create("chat", sides={"single": "m"})
    for text in VECTORS.values():
        turn = store.conversations.add_turn(conv.id, text, [])
        rid = store.conversations.start_response(turn.id, "single", "m")
        store.conversations.finish_response(rid, text=text, status="error", error=text)
    messages = chat_messages(store, conv.id, "single")
    parts = [p["text"] for m in messages for p in m["content"]]
    assert len(parts) == 2 * len(VECTORS)
    for part in parts:
        assert_inert(part)


@pytest.mark.parametrize("exc", [ValidationError("rater name '<img src=x onerror=alert(1)>' is not allowed"),
                                 BackendError("m answered HTTP 500: <svg><a href='javascript:alert(1)'>x</a></svg>"),
                                 RuntimeError("<b>boom</b>")])
def test_error_toasts_are_plain_text(exc):
    """Gradio renders a gr.Error's message as HTML: the one UI error edge escapes it."""
    message = ui_error(exc).message
    assert "<" not in message and ">" not in message and "&lt;" in message
