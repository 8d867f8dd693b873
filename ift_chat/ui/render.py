"""Turning stored dialogs into what the Chatbot shows, safely.

Model output is untrusted: HTML is shown as text (never interpreted) and markdown
images become plain text, so nothing in a reply can run script or make the
browser fetch a remote URL. Code blocks are left alone: markdown shows them verbatim.

Error texts of an anonymous battle are redacted until the viewer votes: backends
name themselves, their paths and servers in errors ("x failed at /models/x").
"""

from __future__ import annotations

import re

from ..store import Store
from ..store.models import Rating, Response, Turn

_CODE = re.compile(r"(```.*?(?:```|$)|`[^`\n]*`)", re.S)
_LOCATION = re.compile(r"[a-z][a-z0-9+.-]*://\S+|(?<![\w.])(?:~|\.{1,2})?/[^\s'\"()<>,;]+", re.I)
_SEPARATORS = re.compile(r"[\s_\-./]+")
HIDDEN = "[hidden until you vote]"
STATUS_NOTES = {"stopped": "⏹ stopped", "pending": "…", "error": "⚠️ error"}
FOLLOWED_BADGES = {"yes": "✅ followed", "partial": "🟡 partly followed", "no": "❌ not followed"}


def safe_markdown(text: str) -> str:
    """Escape HTML and neutralise image syntax outside code spans/blocks."""
    parts = _CODE.split(text or "")
    for i in range(0, len(parts), 2):  # even parts are outside code
        parts[i] = (parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("![", "!\\["))
    return "".join(parts)


def rating_badge(rating: Rating | None) -> str:
    if rating is None:
        return ""
    bits = [FOLLOWED_BADGES.get(rating.followed, rating.followed)]
    if rating.score:
        bits.append(f"{rating.score}/5")
    if rating.tags:
        bits.append(f"{len(rating.tags)} tag{'s' if len(rating.tags) > 1 else ''}")
    if rating.corrected_text:
        bits.append("corrected")
    return " · ".join(bits)


def reply_markdown(text: str, status: str, error: str | None, badge: str = "") -> str:
    body = safe_markdown(text) if text else ""
    notes = []
    if status == "error":
        notes.append(f"{STATUS_NOTES['error']}: {safe_markdown(error or 'unknown error')}")
    elif status in STATUS_NOTES:  # a reply the app cut short says why (runner caps)
        notes.append(STATUS_NOTES[status] + (f": {safe_markdown(error)}" if error else ""))
    if badge:
        notes.append(f"rated: {badge}")
    if notes:
        body = f"{body}\n\n*{' — '.join(notes)}*" if body else f"*{' — '.join(notes)}*"
    return body


def names_hidden(store: Store, conversation_id: str, rater_id: int | None) -> bool:
    """An anonymous battle keeps its checkpoints secret until this rater votes on its latest turn."""
    if store.conversations.get(conversation_id).mode != "arena-anonymous":
        return False
    if rater_id is None:
        return True
    return not store.query(
        """select v.id from votes v join turns t on t.id = v.turn_id
           where t.conversation_id = ? and v.rater_id = ? and t.superseded = 0
           and t.idx = (select max(idx) from turns where conversation_id = ? and superseded = 0)""",
        [conversation_id, rater_id, conversation_id])


def redact_identities(store: Store, conversation_id: str, text: str) -> str:
    """``text`` without the conversation's checkpoint names (any case or separator), their
    sources, bases and architectures, nor any path or URL at all."""
    words = set()
    for name in store.conversations.sides(conversation_id).values():
        words.add(name)
        rows = store.query("select source, base, architecture from checkpoints where name = ?", [name])
        for value in (rows[0].values() if rows else ()):
            if value:
                words.update({value, value.rstrip("/").rsplit("/", 1)[-1]})
    for word in sorted(words, key=len, reverse=True):
        parts = [re.escape(p) for p in _SEPARATORS.split(word) if p]
        if parts and len("".join(parts)) >= 3:
            text = re.sub(r"[\s_\-./]*".join(parts), "\0", text, flags=re.I)
    return _LOCATION.sub("\0", text).replace("\0", HIDDEN)  # placeholder: HIDDEN is never re-matched


def user_message(store: Store, turn: Turn) -> dict:
    content: list = [{"path": str(store.images.absolute_path(store.images.get(sha)))}
                     for sha in turn.images]
    if turn.user_text:
        content.append(safe_markdown(turn.user_text))
    return {"role": "user", "content": content}


def chat_messages(store: Store, conversation_id: str | None, side: str, rater_id: int | None = None,
                  live: dict[str, str] | None = None, live_turn: int | None = None) -> list[dict]:
    """One pane's messages from the DB; `live` overrides the streaming turn's text."""
    if not conversation_id:
        return []
    hidden: list[bool] = []  # decided once, and only if an error is shown
    messages = []
    for turn in store.conversations.turns(conversation_id):
        messages.append(user_message(store, turn))
        if live is not None and turn.id == live_turn:
            messages.append(live_message(live.get(side, "")))
            continue
        response = _side_response(store, turn, side)
        if response is not None:
            error = response.error
            if error and response.status == "error":
                hidden = hidden or [names_hidden(store, conversation_id, rater_id)]
                error = redact_identities(store, conversation_id, error) if hidden[0] else error
            messages.append({"role": "assistant", "content": reply_markdown(
                response.text, response.status, error, rating_badge(_rating(store, response, rater_id)))})
    return messages


def live_message(text: str) -> dict:
    """The reply being streamed."""
    return {"role": "assistant", "content": safe_markdown(text) or "…"}


def _side_response(store: Store, turn: Turn, side: str) -> Response | None:
    found = [r for r in store.conversations.responses(turn.id) if r.side == side]
    return found[-1] if found else None


def _rating(store: Store, response: Response, rater_id: int | None) -> Rating | None:
    if rater_id is None:
        return None
    rows = store.query("select * from ratings where response_id = ? and rater_id = ?",
                       [response.id, rater_id])
    return Rating.from_row(rows[0]) if rows else None
