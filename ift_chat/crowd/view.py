"""What a rater is shown for a task item: the dialog up to the reply, never who wrote it.

Anonymous task sets also scrub checkpoint names out of every text shown
(a model may announce its own name, a user may have typed it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..store import Store

REDACTED = "[model]"


@dataclass(frozen=True)
class ViewRound:
    user_text: str
    image_paths: tuple[str, ...]
    reply: str | None  # None when that earlier turn has no finished reply


@dataclass(frozen=True)
class TaskView:
    item_id: int
    task_set_id: int
    task_set_name: str
    system_prompt: str
    rounds: tuple[ViewRound, ...]  # the last round's reply is the one being rated
    expires_at: str
    checkpoint: str | None = None  # only in named (not anonymous) task sets

    @property
    def reply(self) -> str:
        return self.rounds[-1].reply or ""


def _scrubber(store: Store, anonymous: bool):
    if not anonymous:
        return lambda text: text
    names = sorted((c["name"] for c in store.query("select name from checkpoints")), key=len, reverse=True)
    if not names:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)
    return lambda text: pattern.sub(REDACTED, text or "")


def build_view(store: Store, item_id: int, task_set_id: int, task_set_name: str, response_id: int,
               expires_at: str, *, anonymous: bool) -> TaskView:
    scrub = _scrubber(store, anonymous)
    response = store.conversations.response(response_id)
    turn = store.conversations.turn(response.turn_id)
    conversation = store.conversations.get(turn.conversation_id)
    rounds = []
    for earlier in store.conversations.turns(conversation.id):
        if earlier.idx >= turn.idx:
            break
        replies = [r for r in store.conversations.responses(earlier.id)
                   if r.side == response.side and r.status == "ok"]
        rounds.append(ViewRound(scrub(earlier.user_text), _paths(store, earlier.images),
                                scrub(replies[-1].text) if replies else None))
    rounds.append(ViewRound(scrub(turn.user_text), _paths(store, turn.images), scrub(response.text)))
    return TaskView(item_id, task_set_id, task_set_name, scrub(conversation.system_prompt or ""),
                    tuple(rounds), expires_at, None if anonymous else response.checkpoint)


def _paths(store: Store, shas: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(store.images.absolute_path(store.images.get(sha))) for sha in shas)
