"""Arena battles and rated dialogs written through the real Store API into a tmp SQLite DB."""

from __future__ import annotations

from typing import Sequence

import pytest

from ift_chat.store import Store
from ift_chat.store.images import prepare_image
from tests.conftest import png_bytes


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
               eval_item_id: int | None = None, texts: Sequence[tuple[str, str]] = (),
               image_turns: Sequence[int] = (), reveal: bool = True) -> list[int]:
        """One A/B conversation, one turn per entry of winners: a str is every rater's vote,
        a tuple gives one vote per rater (in order). An anonymous battle belongs to one rater,
        so each rater gets their own copy, revealed at the end unless ``reveal=False``. Turn ids
        (of the first rater's copy). texts[n]: turn n's (A, B) replies; image_turns: 0-based
        turns sent with an image."""
        content = dict(texts=texts, image_turns=image_turns)
        if mode != "arena-anonymous":
            return self._conversation(a, b, winners, raters, range(len(raters)), mode=mode,
                                      anonymous=anonymous, leak=leak, eval_item_id=eval_item_id, **content)
        copies = [self._conversation(a, b, winners, [name], [k], mode=mode, anonymous=anonymous,
                                     leak=leak, eval_item_id=eval_item_id, owner=name, reveal=reveal,
                                     **content)
                  for k, name in enumerate(raters)]
        return copies[0]

    def _conversation(self, a, b, winners, raters, columns, *, mode, anonymous, leak, eval_item_id,
                      texts=(), image_turns=(), owner=None, reveal=False) -> list[int]:
        conversations = self.store.conversations
        turn_ids = []
        with self.store.write():  # one commit (nested writes become savepoints)
            conv = conversations.create(mode, sides={"A": a, "B": b}, eval_item_id=eval_item_id,
                                        rater_id=self.rater(owner) if owner else None)
            for n, winner in enumerate(winners):
                images = [prepare_image(png_bytes(), self.store.config.limits)] if n in image_turns else []
                turn = conversations.add_turn(conv.id, "Describe the picture in one sentence.", images)
                text_a, text_b = texts[n] if n < len(texts) else ("a reply", "a reply")
                self._reply(turn.id, "A", a, text=text_a, leak=leak)
                self._reply(turn.id, "B", b, text=text_b)
                per_rater = (winner,) * (max(columns) + 1) if isinstance(winner, str) else winner
                for name, k in zip(raters, columns, strict=True):
                    self.store.feedback.vote(turn.id, self.rater(name), per_rater[k], anonymous=anonymous)
                turn_ids.append(turn.id)
            if reveal:
                conversations.reveal(conv.id, self.rater(owner))
        return turn_ids

    def dialog(self, checkpoint: str, rounds: Sequence[Sequence[str]], *,
               raters: Sequence[str] = ("r1",), tags: Sequence[Sequence[str]] = (),
               mode: str = "chat", eval_item_id: int | None = None) -> list[int]:
        """One single-side chat (or replay); round n's reply is rated rounds[n][k] by raters[k]. Response ids."""
        conversations = self.store.conversations
        response_ids = []
        with self.store.write():
            conv = conversations.create(mode, sides={"single": checkpoint}, eval_item_id=eval_item_id)
            for n, verdicts in enumerate(rounds):
                turn = conversations.add_turn(conv.id, f"Instruction number {n + 1}.")
                response_id = self._reply(turn.id, "single", checkpoint)
                for k, followed in enumerate(verdicts):
                    self.store.feedback.rate(response_id, self.rater(raters[k]), followed,
                                             tags=tags[n] if n < len(tags) else ())
                response_ids.append(response_id)
        return response_ids


    def reply_ids(self, turn_id: int) -> dict[str, int]:
        """side -> id of the turn's current reply."""
        return {r.side: r.id for r in self.store.conversations.responses(turn_id)}

    def checks(self, response_id: int, verdicts: Sequence[tuple[str, bool, bool]]) -> None:
        """Store automatic verdicts (kind, strict, loose) for a reply, as `checks run` would."""
        from ift_chat.checks import CHECKER_VERSION, Constraint, Verdict

        self.store.checks.record(response_id, [
            Verdict(Constraint(kind, {"n": i}), strict, loose, f"hand-made verdict {i}")
            for i, (kind, strict, loose) in enumerate(verdicts)], CHECKER_VERSION)


@pytest.fixture
def arena(store) -> Arena:
    return Arena(store)
