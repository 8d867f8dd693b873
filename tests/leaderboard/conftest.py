"""Arena battles and rated dialogs written through the real Store API into a tmp SQLite DB."""

from __future__ import annotations

from typing import Sequence

import pytest

from ift_chat.store import Store


class Arena:
    """Builds conversations, replies, votes and ratings the way the app records them."""

    def __init__(self, store: Store):
        self.store = store
        self._raters: dict[str, int] = {}

    def rater(self, name: str) -> int:
        if name not in self._raters:
            self._raters[name] = self.store.raters.get_or_create(name).id
        return self._raters[name]

    def checkpoint(self, name: str) -> None:
        self.store.checkpoints.register(name)

    def _reply(self, turn_id: int, side: str, checkpoint: str, text: str = "a reply",
               leak: bool = False) -> int:
        conversations = self.store.conversations
        response_id = conversations.start_response(turn_id, side, checkpoint)
        conversations.finish_response(response_id, text=text, status="ok", identity_leak=leak)
        return response_id

    def battle(self, a: str, b: str, winners: Sequence[str], *, raters: Sequence[str] = ("r1",),
               mode: str = "arena-anonymous", anonymous: bool = True, leak: bool = False,
               eval_item_id: int | None = None, reveal: bool = True) -> list[int]:
        """One A/B conversation, one turn per entry of winners: a str is every rater's vote,
        a tuple gives one vote per rater (in order). An anonymous battle belongs to one rater,
        so each rater gets their own copy, revealed at the end unless ``reveal=False``. Turn ids
        (of the first rater's copy)."""
        if mode != "arena-anonymous":
            return self._conversation(a, b, winners, raters, range(len(raters)), mode=mode,
                                      anonymous=anonymous, leak=leak, eval_item_id=eval_item_id)
        copies = [self._conversation(a, b, winners, [name], [k], mode=mode, anonymous=anonymous,
                                     leak=leak, eval_item_id=eval_item_id, owner=name, reveal=reveal)
                  for k, name in enumerate(raters)]
        return copies[0]

    def _conversation(self, a, b, winners, raters, columns, *, mode, anonymous, leak, eval_item_id,
                      owner=None, reveal=False) -> list[int]:
        conversations = self.store.conversations
        turn_ids = []
        with self.store.write():  # one commit (nested writes become savepoints)
            conv = conversations.create(mode, sides={"A": a, "B": b}, eval_item_id=eval_item_id,
                                        rater_id=self.rater(owner) if owner else None)
            for winner in winners:
                turn = conversations.add_turn(conv.id, "Describe the picture in one sentence.")
                self._reply(turn.id, "A", a, leak=leak)
                self._reply(turn.id, "B", b)
                per_rater = (winner,) * (max(columns) + 1) if isinstance(winner, str) else winner
                for name, k in zip(raters, columns, strict=True):
                    self.store.feedback.vote(turn.id, self.rater(name), per_rater[k], anonymous=anonymous)
                turn_ids.append(turn.id)
            if reveal:
                conversations.reveal(conv.id, self.rater(owner))
        return turn_ids

    def dialog(self, checkpoint: str, rounds: Sequence[Sequence[str]], *,
               raters: Sequence[str] = ("r1",), tags: Sequence[Sequence[str]] = ()) -> list[int]:
        """One single-side chat; round n's reply is rated rounds[n][k] by raters[k]. Response ids."""
        conversations = self.store.conversations
        response_ids = []
        with self.store.write():
            conv = conversations.create("chat", sides={"single": checkpoint})
            for n, verdicts in enumerate(rounds):
                turn = conversations.add_turn(conv.id, f"Instruction number {n + 1}.")
                response_id = self._reply(turn.id, "single", checkpoint)
                for k, followed in enumerate(verdicts):
                    self.store.feedback.rate(response_id, self.rater(raters[k]), followed,
                                             tags=tags[n] if n < len(tags) else ())
                response_ids.append(response_id)
        return response_ids


@pytest.fixture
def arena(store) -> Arena:
    return Arena(store)
