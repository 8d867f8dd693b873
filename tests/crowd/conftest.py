"""Crowd fixtures: logged dialogs with finished replies, accounts, a hand-driven clock."""

from __future__ import annotations

import datetime
import socket

import gradio as gr
import pytest

from ift_chat.crowd.auth import set_account
from ift_chat.crowd.tasks import Tasks
from ift_chat.store.images import prepare_image

CHECKPOINTS = ("ckpt-alpha", "ckpt-beta")


class FakeClock:
    """Time only moves when a test says so; leases expire without sleeping."""

    def __init__(self, start=datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.timezone.utc)):
        self.moment = start

    def __call__(self) -> datetime.datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += datetime.timedelta(seconds=seconds)


def add_dialog(store, checkpoint: str, texts: list[tuple[str, str]], image: bytes | None = None) -> list[int]:
    """A logged chat with one finished reply per (user, reply) pair; returns response ids."""
    conv = store.conversations.create("chat", sides={"single": checkpoint}, system_prompt="Be brief.")
    ids = []
    for n, (user, reply) in enumerate(texts):
        images = [prepare_image(image, store.config.limits)] if image and n == 0 else []
        turn = store.conversations.add_turn(conv.id, user, images)
        rid = store.conversations.start_response(turn.id, "single", checkpoint)
        store.conversations.finish_response(rid, text=reply, status="ok")
        ids.append(rid)
    return ids


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def responses(store) -> list[int]:
    """20 finished replies, alternating between two checkpoints."""
    for name in CHECKPOINTS:
        store.checkpoints.register(name)
    ids = []
    for i in range(20):
        ids += add_dialog(store, CHECKPOINTS[i % 2], [(f"question {i}", f"answer {i}")])
    return ids


@pytest.fixture
def admin(store):
    return set_account(store, "boss", "admin", "admin-password")


@pytest.fixture
def raters(store):
    return [set_account(store, f"rater{i}", "rater", f"password-{i}") for i in range(3)]


@pytest.fixture
def tasks(store, clock) -> Tasks:
    return Tasks(store, clock)


def crowd_blocks(ctx):
    """The two crowd tabs in one Blocks, as the main app mounts them."""

    from ift_chat.ui import admin_tab, tasks_tab

    with gr.Blocks() as blocks:
        ctx.shared["rater_name"] = gr.Textbox(label="Your rater name")
        with gr.Tab("Tasks"):
            tasks_tab.render(ctx)
        with gr.Tab("Admin"):
            admin_tab.render(ctx)
        blocks.load(login_name, None, [ctx.shared["rater_name"]], api_name=False)
    return blocks


def login_name(request: gr.Request):
    """As the main app does: the name box shows who is logged in."""
    return getattr(request, "username", None) or ""


@pytest.fixture
def crowd_app(config, store, responses, admin, raters):
    """A running loopback app with both crowd tabs and password login."""
    from ift_chat.backends import Backends
    from ift_chat.crowd.auth import make_auth_check
    from ift_chat.ui.context import AppContext

    config = config.replace(auth_file=config.home / "users.txt")  # login required, as served
    blocks = crowd_blocks(AppContext(config, store, Backends()))
    with socket.socket() as probe:  # a free port, not Gradio's shared default 7860
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, url, _ = blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                              auth=make_auth_check(store), quiet=True, ssr_mode=False)
    yield url
    blocks.close()
