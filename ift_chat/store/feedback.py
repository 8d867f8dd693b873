"""Checkpoints, per-turn ratings and arena votes (raters: store/raters.py)."""

from __future__ import annotations

import json
from typing import Iterable

from ..errors import NotFound, ValidationError
from .conversations import check_battle_open
from .db import Transactor, check_name, check_text, now
from .models import ERROR_TAGS, FOLLOWED, WINNERS, Checkpoint, Rating, Vote

MAX_COMMENT = 5_000
MAX_CORRECTED = 20_000


class Checkpoints:
    def __init__(self, tx: Transactor):
        self.tx = tx

    def register(self, name: str, *, source: str | None = None, backend: str | None = None,
                 architecture: str | None = None, fingerprint: str | None = None,
                 base: str | None = None, model: str | None = None,
                 display_name: str | None = None) -> Checkpoint:
        """Insert or refresh a checkpoint row; first_seen never changes."""
        name = check_name(name, "checkpoint name")
        fields = {"source": source, "backend": backend, "architecture": architecture,
                  "fingerprint": fingerprint, "base": base, "model": model,
                  "display_name": display_name}
        with self.tx.write() as db:
            if db["checkpoints"].count_where("name = ?", [name]):
                db["checkpoints"].update(name, fields)
            else:
                db["checkpoints"].insert({"name": name, "first_seen": now(), **fields})
        return self.get(name)

    def get(self, name: str) -> Checkpoint:
        rows = self.tx.query("select * from checkpoints where name = ?", [name])
        if not rows:
            raise NotFound(f"no checkpoint named {name!r}")
        return Checkpoint.from_row(rows[0])

    def all(self) -> list[Checkpoint]:
        return [Checkpoint.from_row(r) for r in self.tx.query("select * from checkpoints order by name")]

    def names(self, name: str) -> list[str]:
        """What a reply could call this checkpoint: its name, display name, served model id and
        base, and the last part of the path-like ones ("org/model" -> "model")."""
        return self._identity(name, "model, display_name, base")

    def identities(self, name: str) -> list[str]:
        """Everything that identifies this checkpoint in an error: its names plus its source
        (path or URL) and architecture."""
        return self._identity(name, "model, display_name, base, source, architecture")

    def _identity(self, name: str, columns: str) -> list[str]:
        rows = self.tx.query(f"select {columns} from checkpoints where name = ?", [name])
        words = [name]
        for value in (rows[0].values() if rows else ()):
            if value:
                words += [value, value.rstrip("/").rsplit("/", 1)[-1]]
        return list(dict.fromkeys(words))


def _check_rating(followed: str, score: int | None, tags: Iterable[str], comment: str | None,
                  corrected_text: str | None) -> list[str]:
    if followed not in FOLLOWED:
        raise ValidationError(f"'instruction followed' must be one of {', '.join(FOLLOWED)}, not {followed!r}")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5):
        raise ValidationError(f"the quality score must be a whole number from 1 to 5, not {score!r}")
    tags = list(dict.fromkeys(tags or []))
    unknown = [t for t in tags if t not in ERROR_TAGS]
    if unknown:
        raise ValidationError(f"unknown error tag(s): {', '.join(map(str, unknown))}")
    check_text(comment or "", "comment"), check_text(corrected_text or "", "corrected response")
    if comment and len(comment) > MAX_COMMENT:
        raise ValidationError(f"the comment is longer than {MAX_COMMENT:,} characters")
    if corrected_text and len(corrected_text) > MAX_CORRECTED:
        raise ValidationError(f"the corrected response is longer than {MAX_CORRECTED:,} characters")
    return tags


class Feedback:
    """Ratings (per response) and votes (per arena turn); both upsert per rater."""

    def __init__(self, tx: Transactor):
        self.tx = tx

    def _require(self, db, table: str, pk, what: str) -> None:
        if not db[table].count_where(f"{db[table].pks[0]} = ?", [pk]):
            raise NotFound(f"no {what} {pk!r}")

    def rate(self, response_id: int, rater_id: int, followed: str, *, score: int | None = None,
             tags: Iterable[str] = (), comment: str | None = None, corrected_text: str | None = None,
             seconds_spent: float | None = None) -> Rating:
        tags = _check_rating(followed, score, tags, comment, corrected_text)
        corrected_text = (corrected_text or "").replace("\x00", "").strip() or None
        values = {"followed": followed, "score": score, "tags": json.dumps(tags),
                  "comment": (comment or "").strip() or None, "corrected_text": corrected_text,
                  "seconds_spent": seconds_spent, "updated": now()}
        with self.tx.write() as db:
            self._require(db, "responses", response_id, "response")
            self._require(db, "raters", rater_id, "rater")
            self._check_battle_rating(db, response_id, rater_id)
            existing = list(db["ratings"].rows_where(
                "response_id = ? and rater_id = ?", [response_id, rater_id]))
            if existing:
                db["ratings"].update(existing[0]["id"], values)
            else:
                db["ratings"].insert({"response_id": response_id, "rater_id": rater_id,
                                      "created": values["updated"], **values})
        return self.rating(response_id, rater_id)

    def _check_battle_rating(self, db, response_id: int, rater_id: int) -> None:
        """In a battle only its owner rates, before the reveal; a rating task that was given
        this reply to this rater is another way in (it shows the reply on its own)."""
        tasked = db.execute("""select 1 from task_items i join task_leases l on l.task_item_id = i.id
                               where i.response_id = ? and l.rater_id = ?""",
                            [response_id, rater_id]).fetchone()
        if tasked:
            return
        conversation_id = db.execute("""select t.conversation_id from responses r
                                        join turns t on t.id = r.turn_id where r.id = ?""",
                                     [response_id]).fetchone()[0]
        check_battle_open(db, conversation_id, rater_id, "rate its replies")

    def rating(self, response_id: int, rater_id: int) -> Rating:
        rows = self.tx.query("select * from ratings where response_id = ? and rater_id = ?",
                             [response_id, rater_id])
        if not rows:
            raise NotFound(f"no rating of response {response_id} by rater {rater_id}")
        return Rating.from_row(rows[0])

    def rating_counts(self) -> dict[int, int]:
        """Ratings given, by rater id."""
        return {r["rater_id"]: r["n"] for r in self.tx.query(
            "select rater_id, count(*) as n from ratings group by rater_id")}

    def vote_counts_by_pair(self) -> dict[tuple[str, str], int]:
        """Votes on A/B conversations, by their (sorted) pair of checkpoints."""
        rows = self.tx.query(
            """select sa.checkpoint a, sb.checkpoint b, count(*) n from votes v
               join turns t on t.id = v.turn_id
               join conversation_sides sa on sa.conversation_id = t.conversation_id and sa.side = 'A'
               join conversation_sides sb on sb.conversation_id = t.conversation_id and sb.side = 'B'
               group by 1, 2""")
        counts: dict[tuple[str, str], int] = {}
        for r in rows:
            pair = tuple(sorted((r["a"], r["b"])))
            counts[pair] = counts.get(pair, 0) + r["n"]
        return counts

    def ratings_for(self, response_id: int) -> list[Rating]:
        return [Rating.from_row(r) for r in self.tx.query(
            "select * from ratings where response_id = ? order by id", [response_id])]

    def vote(self, turn_id: int, rater_id: int, winner: str, *, anonymous: bool,
             reason: str | None = None) -> Vote:
        """One vote per rater and turn: the better side of two, the best of three or more (a
        best pick: the leaderboard reads it as a win over each other side, see
        leaderboard.votes), a tie or all bad. Stored as one row, so an edit or a superseded
        turn changes all that it implies at once."""
        if winner not in WINNERS:
            raise ValidationError(f"the vote must be one of {', '.join(WINNERS)}, not {winner!r}")
        if reason and len(check_text(reason, "reason")) > MAX_COMMENT:
            raise ValidationError(f"the reason is longer than {MAX_COMMENT:,} characters")
        values = {"winner": winner, "anonymous": int(anonymous),
                  "reason": (reason or "").strip() or None, "updated": now()}
        with self.tx.write() as db:
            self._require(db, "turns", turn_id, "turn")
            self._require(db, "raters", rater_id, "rater")
            conversation_id = db.execute("select conversation_id from turns where id = ?",
                                         [turn_id]).fetchone()[0]
            check_battle_open(db, conversation_id, rater_id, "vote")
            sides = [r[0] for r in db.execute("select side from conversation_sides where conversation_id = ?",
                                              [conversation_id])]
            if winner not in ("tie", "both_bad") and winner not in sides:
                raise ValidationError(f"this conversation has sides {', '.join(sorted(sides))}; "
                                      f"there is no side {winner!r} to vote for")
            existing = list(db["votes"].rows_where("turn_id = ? and rater_id = ?", [turn_id, rater_id]))
            if existing:
                db["votes"].update(existing[0]["id"], values)
            else:
                db["votes"].insert({"turn_id": turn_id, "rater_id": rater_id,
                                    "created": values["updated"], **values})
        return self.vote_of(turn_id, rater_id)

    def vote_of(self, turn_id: int, rater_id: int) -> Vote:
        rows = self.tx.query("select * from votes where turn_id = ? and rater_id = ?", [turn_id, rater_id])
        if not rows:
            raise NotFound(f"no vote on turn {turn_id} by rater {rater_id}")
        return Vote.from_row(rows[0])
