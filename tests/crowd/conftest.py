"""Crowd fixtures: logged dialogs with finished replies, accounts, a hand-driven clock."""

from __future__ import annotations

import datetime

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


@pytest.fixture
def crowd_app(config, store, responses, admin, raters):
    """The app as `serve --auth-file` runs it (all routes, password login), on loopback; the crowd
    tabs are on its /manage page."""
    from ift_chat.backends import Backends
    from ift_chat.crowd.auth import make_auth_check
    from tests.ui.conftest import running_app

    config = config.replace(auth_file=config.home / "users.txt")  # login required, as served
    with running_app(config, store, Backends(), auth=make_auth_check(store)) as url:
        yield url
