"""The dialog read model: a conversation as its readers need it, in a fixed number of queries.

One ``Dialogs.load`` returns the live turns with their images, the current reply of each side,
the votes, one viewer's ratings and the automatic check verdicts: eight queries (nine for an
eval-set replay, whose references it also reads), plus one for the replies superseded by
Regenerate or an edit, however many turns the conversation has.
The runner builds each side's history from it, the panes render it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NotFound
from .db import Transactor
from .models import Conversation, ImageRecord, Rating, Response, Turn, Vote

BATTLE = "arena-anonymous"


@dataclass(frozen=True)
class DialogTurn:
    """One live turn with everything shown next to it."""

    turn: Turn
    images: tuple[ImageRecord, ...] = ()
    image_paths: tuple[Path, ...] = ()
    responses: dict[str, Response] = field(default_factory=dict)  # the current reply per side
    votes: tuple[Vote, ...] = ()  # latest first
    ratings: dict[int, Rating] = field(default_factory=dict)  # the viewer's, by response id
    checks: dict[int, list[dict]] = field(default_factory=dict)  # verdict rows, by response id
    reference: str | None = None  # the eval item's reference answer to this round, if any

    @property
    def id(self) -> int:
        return self.turn.id

    @property
    def winner(self) -> str | None:
        """The side of the latest vote (any rater), None without votes."""
        return self.votes[0].winner if self.votes else None

    def replies(self) -> dict[str, str]:
        return {side: r.text for side, r in self.responses.items()}


@dataclass(frozen=True)
class EarlierReply:
    """A reply superseded by Regenerate, or one to a message that was edited (``turn.superseded``)."""

    turn: Turn
    response: Response
    rating: Rating | None = None  # the viewer's
    checks: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Dialog:
    conversation: Conversation
    sides: dict[str, str]  # side -> checkpoint
    turns: tuple[DialogTurn, ...]
    viewer_id: int | None = None
    earlier: tuple[EarlierReply, ...] = ()  # superseded replies, oldest first

    @property
    def id(self) -> str:
        return self.conversation.id

    @property
    def names_hidden(self) -> bool:
        """An anonymous battle keeps its checkpoints secret until its owner reveals it."""
        return self.conversation.mode == BATTLE and self.conversation.revealed is None

    def rating_of(self, response_id: int) -> Rating | None:
        """The viewer's rating of any reply of this dialog, superseded ones included."""
        for t in self.turns:
            if response_id in t.ratings:
                return t.ratings[response_id]
        return next((e.rating for e in self.earlier if e.response.id == response_id), None)

    def turn(self, turn_id: int) -> DialogTurn:
        for t in self.turns:
            if t.id == turn_id:
                return t
        raise NotFound(f"no live turn {turn_id} in conversation {self.id}")

    def before(self, turn_id: int) -> tuple[DialogTurn, ...]:
        """The live turns before ``turn_id``, in order."""
        idx = self.turn(turn_id).turn.idx
        return tuple(t for t in self.turns if t.turn.idx < idx)


def _by(rows: list[dict], key: str) -> dict:
    out: dict = {}
    for row in rows:
        out.setdefault(row[key], []).append(row)
    return out


class Dialogs:
    def __init__(self, tx: Transactor, images_root: Path):
        self.tx = tx
        self.images_root = images_root

    def load(self, conversation_id: str, viewer_id: int | None = None) -> Dialog:
        """The conversation with its live turns; NotFound for an unknown id."""
        q = self.tx.query
        with self.tx.read():  # one connection for all: the rows belong together
            conv = q("select * from conversations where id = ?", [conversation_id])
            if not conv:
                raise NotFound(f"no conversation {conversation_id!r}")
            sides = q("select side, checkpoint from conversation_sides where conversation_id = ? "
                      "order by side", [conversation_id])
            turns = q("select * from turns where conversation_id = ? and superseded = 0 order by idx, id",
                      [conversation_id])
            live = "join turns t on t.id = x.turn_id where t.conversation_id = ? and t.superseded = 0"
            images = _by(q(f"""select x.turn_id, i.* from turn_images x join images i on i.sha256 = x.image_sha256
                               {live} order by x.turn_id, x.position""", [conversation_id]), "turn_id")
            responses = _by(q(f"select x.* from responses x {live} and x.superseded = 0 order by x.side, x.id",
                              [conversation_id]), "turn_id")
            votes = _by(q(f"select x.* from votes x {live} order by coalesce(x.updated, x.created) desc, x.id desc",
                          [conversation_id]), "turn_id")
            every = "join turns t on t.id = x.turn_id where t.conversation_id = ?"  # superseded too
            ratings = {} if viewer_id is None else {r["response_id"]: Rating.from_row(r) for r in q(
                f"""select g.* from ratings g join responses x on x.id = g.response_id {every}
                    and g.rater_id = ?""", [conversation_id, viewer_id])}
            checks = _by(q(f"""select c.* from response_checks c join responses x on x.id = c.response_id {every}
                               order by c.response_id, c.source_turn_idx, c.id""",
                           [conversation_id]), "response_id")
            earlier = q(f"""select x.*, t.idx t_idx, t.superseded t_superseded, t.user_text t_user_text,
                                   t.created t_created
                            from responses x {every} and (x.superseded = 1 or t.superseded = 1)
                            order by t.idx, x.id""", [conversation_id])
            references = self._references(conv[0].get("eval_item_id"))
        conversation = Conversation.from_row(conv[0])
        return Dialog(conversation, {r["side"]: r["checkpoint"] for r in sides}, tuple(
            self._turn(row, images.get(row["id"], []), responses.get(row["id"], []),
                       votes.get(row["id"], []), ratings, checks,
                       references[n] if n < len(references) else None)
            for n, row in enumerate(turns)), viewer_id,
            tuple(self._earlier(row, conversation_id, ratings, checks) for row in earlier))

    @staticmethod
    def _earlier(row: dict, conversation_id: str, ratings: dict, checks: dict) -> EarlierReply:
        response = Response.from_row({k: v for k, v in row.items() if not k.startswith("t_")})
        turn = Turn(id=row["turn_id"], conversation_id=conversation_id, idx=row["t_idx"],
                    user_text=row["t_user_text"], superseded=row["t_superseded"],
                    created=row["t_created"])
        return EarlierReply(turn, response, ratings.get(response.id), tuple(checks.get(response.id, [])))

    def _references(self, eval_item_id: int | None) -> list[str | None]:
        if eval_item_id is None:
            return []
        rows = self.tx.query("select rounds from eval_items where id = ?", [eval_item_id])
        return [r.get("reference") for r in json.loads(rows[0]["rounds"])] if rows else []

    def _turn(self, row: dict, images: list[dict], responses: list[dict], votes: list[dict],
              ratings: dict[int, Rating], checks: dict[int, list[dict]], reference: str | None) -> DialogTurn:
        shas = tuple(i["sha256"] for i in images)
        records = tuple(ImageRecord.from_row(i) for i in images)
        current = {r["side"]: Response.from_row(r) for r in responses}  # by id: the last one wins
        ids = [r.id for r in current.values()]
        return DialogTurn(
            Turn.from_row({**row, "images": shas}), records,
            tuple(self.images_root / i.path for i in records), current,
            tuple(Vote.from_row(v) for v in votes),
            {i: ratings[i] for i in ids if i in ratings}, {i: checks.get(i, []) for i in ids}, reference)
