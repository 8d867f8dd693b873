"""Replies stored through the real store API (and the runner, for the live hook)."""

from __future__ import annotations

import pytest


def add_dialog(store, checkpoint: str, rounds: list[tuple[str, str]], *, mode: str = "chat",
               eval_item_id: int | None = None, status: str = "ok") -> tuple[str, list[int]]:
    """A conversation with one reply per round, stored like an import does (no runner, so
    no check is recorded); returns (conversation id, response ids)."""
    conv = store.conversations.create(mode, sides={"single": checkpoint}, eval_item_id=eval_item_id)
    ids = []
    for user, reply in rounds:
        turn = store.conversations.add_turn(conv.id, user)
        rid = store.conversations.start_response(turn.id, "single", checkpoint)
        store.conversations.finish_response(rid, text=reply, status=status)
        ids.append(rid)
    return conv.id, ids


@pytest.fixture
def dialog_store(store):
    store.checkpoints.register("ckpt-a", backend="scripted")
    return store
