"""Conversations, their turns (with images) and the responses to each turn."""

from __future__ import annotations

import json
import uuid
from typing import Iterable, Sequence

from ..config import Limits
from ..dialog import HISTORY_POLICIES
from ..errors import NotFound, PermissionDenied, ValidationError
from .db import Transactor, check_text, now
from .images import ImageStore, PreparedImage
from .models import MODES, STATUSES, Conversation, Response, Turn

SIDE_NAMES = ("single", "A", "B", "C", "D")
HISTORY_MODES = HISTORY_POLICIES
BATTLE = "arena-anonymous"


def check_battle_open(db, conversation_id: str, rater_id: int | None, action: str) -> None:
    """An anonymous battle is its owner's alone, and only until it is revealed: after that
    its names are known, so nothing more in it may count as blind. Other modes pass."""
    row = db.execute("select mode, rater_id, revealed from conversations where id = ?",
                     [conversation_id]).fetchone()
    if row is None or row[0] != BATTLE:
        return
    if rater_id is None or row[1] != rater_id:
        raise PermissionDenied(f"this battle belongs to another rater: only they can {action}; "
                               "start your own battle")
    if row[2] is not None:
        raise ValidationError(f"this battle is over (its names were revealed): it can't {action}; "
                              "start a new battle")


def clean_text(text: str, limits: Limits, what: str = "message") -> str:
    """Strip NULs (SQLite and tokenizers choke on them) and enforce the length cap."""
    if not isinstance(text, str):
        raise ValidationError(f"the {what} must be text")
    text = check_text(text, what).replace("\x00", "")
    if len(text) > limits.max_text_chars:
        raise ValidationError(
            f"the {what} is {len(text):,} characters; the limit is {limits.max_text_chars:,}"
        )
    return text


class Conversations:
    def __init__(self, tx: Transactor, images: ImageStore, limits: Limits):
        self.tx = tx
        self.images = images
        self.limits = limits

    # -- conversations -------------------------------------------------------
    def create(self, mode: str, *, sides: dict[str, str], rater_id: int | None = None,
               system_prompt: str = "", sampling_params: dict | None = None,
               eval_item_id: int | None = None, history_mode: str | None = None,
               title: str | None = None) -> Conversation:
        if mode not in MODES:
            raise ValidationError(f"unknown conversation mode {mode!r}")
        if history_mode not in HISTORY_MODES:
            raise ValidationError(f"unknown history mode {history_mode!r}")
        if not sides or any(s not in SIDE_NAMES for s in sides):
            raise ValidationError(f"sides must be among {SIDE_NAMES}, got {list(sides)}")
        system_prompt = clean_text(system_prompt or "", self.limits, "system prompt")
        row = {
            "id": uuid.uuid4().hex, "mode": mode, "rater_id": rater_id, "created": now(),
            "system_prompt": system_prompt, "sampling_params": json.dumps(sampling_params or {}),
            "eval_item_id": eval_item_id, "history_mode": history_mode, "title": title,
        }
        with self.tx.write() as db:
            unknown = [c for c in sides.values() if not db["checkpoints"].count_where("name = ?", [c])]
            if unknown:
                raise ValidationError(f"unknown checkpoint(s): {', '.join(unknown)}")
            db["conversations"].insert(row)
            db["conversation_sides"].insert_all(
                {"conversation_id": row["id"], "side": side, "checkpoint": ckpt}
                for side, ckpt in sides.items()
            )
        return Conversation.from_row(row)

    def get(self, conversation_id: str) -> Conversation:
        rows = self.tx.query("select * from conversations where id = ?", [conversation_id])
        if not rows:
            raise NotFound(f"no conversation {conversation_id!r}")
        return Conversation.from_row(rows[0])

    def sides(self, conversation_id: str) -> dict[str, str]:
        rows = self.tx.query(
            "select side, checkpoint from conversation_sides where conversation_id = ? order by side",
            [conversation_id])
        return {r["side"]: r["checkpoint"] for r in rows}

    def recent(self, limit: int = 50, mode: str | None = None, rater_id: int | None = None) -> list[Conversation]:
        where, params = ["1=1"], []
        if mode:
            where.append("mode = ?"); params.append(mode)
        if rater_id is not None:
            where.append("rater_id = ?"); params.append(rater_id)
        rows = self.tx.query(
            f"select * from conversations where {' and '.join(where)} order by created desc limit ?",
            [*params, limit])
        return [Conversation.from_row(r) for r in rows]

    def recent_openings(self, limit: int, mode: str) -> list[dict]:
        """The latest conversations of `mode` that have a turn: id, created, first live user text
        (``first_text``) and the single side's checkpoint, newest first, in one query."""
        return self.tx.query(
            """select c.id, c.created, s.checkpoint,
                      (select t.user_text from turns t where t.conversation_id = c.id and t.superseded = 0
                       order by t.idx limit 1) first_text
               from (select * from conversations where mode = ? order by created desc limit ?) c
               left join conversation_sides s on s.conversation_id = c.id and s.side = 'single'
               where exists (select 1 from turns t where t.conversation_id = c.id and t.superseded = 0)
               order by c.created desc""", [mode, limit])

    def check_battle_open(self, conversation_id: str, rater_id: int | None, action: str) -> None:
        with self.tx.read() as db:
            check_battle_open(db, conversation_id, rater_id, action)

    def reveal(self, conversation_id: str, rater_id: int | None) -> Conversation:
        """The owner ends an anonymous battle and sees its names; from now on it is closed.
        Revealing again changes nothing (the first reveal's time stays)."""
        with self.tx.write() as db:
            conversation = self.get(conversation_id)
            if conversation.mode != BATTLE:
                raise ValidationError("only an anonymous battle has names to reveal")
            if rater_id is None or conversation.rater_id != rater_id:
                raise PermissionDenied("this battle belongs to another rater: only they can reveal it")
            if conversation.revealed is None:
                db["conversations"].update(conversation_id, {"revealed": now()})
        return self.get(conversation_id)

    def set_history_mode(self, conversation_id: str, history_mode: str) -> None:
        if history_mode not in HISTORY_MODES:
            raise ValidationError(f"unknown history mode {history_mode!r}")
        with self.tx.write() as db:
            db["conversations"].update(conversation_id, {"history_mode": history_mode})

    # -- turns ---------------------------------------------------------------
    def check_message(self, text: str, image_count: int) -> str:
        """The cleaned text of a user message, or a ValidationError; writes nothing."""
        text = clean_text(text, self.limits).strip()
        if not text and not image_count:
            raise ValidationError("the message is empty: type something or attach an image")
        if image_count > self.limits.max_images_per_turn:
            raise ValidationError(
                f"{image_count} images in one turn; the limit is {self.limits.max_images_per_turn}")
        return text

    def add_turn(self, conversation_id: str, text: str,
                 images: Sequence[PreparedImage] = ()) -> Turn:
        """Validate everything first, write image files, then turn + images in one transaction."""
        text = self.check_message(text, len(images))
        self.get(conversation_id)
        paths = [self.images.write_file(img) for img in images]
        with self.tx.write() as db:
            idx = db.execute(
                "select coalesce(max(idx), 0) + 1 from turns where conversation_id = ? and superseded = 0",
                [conversation_id]).fetchone()[0]
            db["images"].insert_all((self.images.row_for(i, p) for i, p in zip(images, paths)), ignore=True)
            turn_id = db["turns"].insert({
                "conversation_id": conversation_id, "idx": idx, "user_text": text,
                "superseded": 0, "created": now()}).last_pk
            db["turn_images"].insert_all(
                {"turn_id": turn_id, "position": pos, "image_sha256": img.sha256}
                for pos, img in enumerate(images))
        return self.turn(turn_id)

    def turn(self, turn_id: int) -> Turn:
        rows = self.tx.query("select * from turns where id = ?", [turn_id])
        if not rows:
            raise NotFound(f"no turn {turn_id}")
        shas = self.tx.query(
            "select image_sha256 from turn_images where turn_id = ? order by position", [turn_id])
        return Turn.from_row({**rows[0], "images": tuple(r["image_sha256"] for r in shas)})

    def turns(self, conversation_id: str, include_superseded: bool = False) -> list[Turn]:
        """The conversation's turns in order, with their images: two queries, however many turns."""
        live = "" if include_superseded else " and t.superseded = 0"
        with self.tx.read():  # one connection for both: the images belong to the turns read
            rows = self.tx.query(f"select t.* from turns t where t.conversation_id = ?{live} order by t.idx, t.id",
                                 [conversation_id])
            shas: dict[int, list[str]] = {}
            for r in self.tx.query(f"""select ti.turn_id, ti.image_sha256 from turn_images ti
                                       join turns t on t.id = ti.turn_id where t.conversation_id = ?{live}
                                       order by ti.turn_id, ti.position""", [conversation_id]):
                shas.setdefault(r["turn_id"], []).append(r["image_sha256"])
        return [Turn.from_row({**r, "images": tuple(shas.get(r["id"], ()))}) for r in rows]

    def last_turn(self, conversation_id: str) -> Turn | None:
        """The latest live turn (None before the first): two queries."""
        rows = self.tx.query("""select id from turns where conversation_id = ? and superseded = 0
                                order by idx desc, id desc limit 1""", [conversation_id])
        return self.turn(rows[0]["id"]) if rows else None

    def supersede_turn(self, turn_id: int) -> None:
        """Editing the last user turn: the old turn and its responses stay, marked superseded."""
        with self.tx.write() as db:
            db["turns"].update(turn_id, {"superseded": 1})
            db.execute("update responses set superseded = 1 where turn_id = ?", [turn_id])

    # -- responses -----------------------------------------------------------
    def start_response(self, turn_id: int, side: str, checkpoint: str,
                       sampling_params: dict | None = None) -> int:
        with self.tx.write() as db:
            return db["responses"].insert({
                "turn_id": turn_id, "side": side, "checkpoint": checkpoint, "text": "",
                "status": "pending", "sampling_params": json.dumps(sampling_params or {}),
                "created": now()}).last_pk

    def save_partial(self, response_id: int, text: str) -> None:
        """While streaming: keep the text so far, so a crash leaves it in the DB."""
        with self.tx.write() as db:
            db.execute("update responses set text = ? where id = ? and status = 'pending'",
                       [text.replace("\x00", ""), response_id])

    def finish_response(self, response_id: int, *, text: str, status: str,
                        error: str | None = None, finish_reason: str | None = None,
                        ttft_ms: float | None = None, latency_ms: float | None = None,
                        tokens_in: int | None = None, tokens_out: int | None = None,
                        identity_leak: bool = False) -> Response:
        if status not in STATUSES or status == "pending":
            raise ValidationError(f"a finished response cannot have status {status!r}")
        with self.tx.write() as db:
            db["responses"].update(response_id, {
                "text": text.replace("\x00", ""), "status": status, "error": error,
                "finish_reason": finish_reason, "ttft_ms": ttft_ms, "latency_ms": latency_ms,
                "tokens_in": tokens_in, "tokens_out": tokens_out,
                "identity_leak": int(identity_leak), "completed": now()})
        return self.response(response_id)

    def response(self, response_id: int) -> Response:
        rows = self.tx.query("select * from responses where id = ?", [response_id])
        if not rows:
            raise NotFound(f"no response {response_id}")
        return Response.from_row(rows[0])

    def responses(self, turn_id: int, include_superseded: bool = False) -> list[Response]:
        sql = "select * from responses where turn_id = ?"
        if not include_superseded:
            sql += " and superseded = 0"
        return [Response.from_row(r) for r in self.tx.query(sql + " order by side, id", [turn_id])]

    def supersede_responses(self, turn_id: int, sides: Iterable[str] | None = None) -> None:
        """Regenerate: old responses stay in the DB, marked superseded."""
        with self.tx.write() as db:
            if sides is None:
                db.execute("update responses set superseded = 1 where turn_id = ?", [turn_id])
            else:
                for side in sides:
                    db.execute("update responses set superseded = 1 where turn_id = ? and side = ?",
                               [turn_id, side])

    def fail_pending(self, error: str = "the app stopped before this reply finished") -> int:
        """At start-up: replies left 'pending' by a crash become errors (partial text kept)."""
        with self.tx.write() as db:
            cur = db.execute(
                "update responses set status = 'error', error = ?, completed = ? where status = 'pending'",
                [error, now()])
            return cur.rowcount
