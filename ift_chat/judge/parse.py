"""Reading a judge's output: a JSON object first, then a tolerant fallback; never a guess.

The fallback accepts only explicit labels ("followed: partially", "Verdict: no", "[[A]]",
"winner: B"); output that states no verdict is *unparsable* and is stored as such.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..store.models import ERROR_TAGS

FOLLOWED_WORDS = {"yes": "yes", "partially": "partial", "partial": "partial", "no": "no"}
WINNER_WORDS = {"a": "A", "b": "B", "tie": "tie"}
MAX_REASON = 300

_FOLLOWED_RE = re.compile(r"\b(?:followed|verdict|instruction[ _]followed)\s*[\"']?\s*[:=]\s*[\"']?"
                          r"(yes|partially|partial|no)\b", re.I)
_BARE_RE = re.compile(r"^\W*(yes|partially|no)\b", re.I)
_SCORE_RE = re.compile(r"\bscore\s*[\"']?\s*[:=]\s*[\"']?([1-5])(?!\d|\.\d)", re.I)
_REASON_RE = re.compile(r"\breason\s*[\"']?\s*[:=]\s*[\"']?([^\n\"]+)", re.I)
_WINNER_RE = re.compile(r"\b(?:winner|better)\s*[\"']?\s*[:=]\s*[\"']?\s*(?:reply\s+)?(A|B|tie)\b", re.I)
_BRACKET_RE = re.compile(r"\[\[\s*(A|B|tie|C)\s*\]\]", re.I)


@dataclass(frozen=True)
class Parsed:
    status: str  # ok | unparsable
    parse: str | None  # json | fallback | None
    followed: str | None = None
    score: int | None = None
    tags: tuple[str, ...] = field(default=())
    reason: str | None = None
    winner: str | None = None


def _json_object(text: str) -> dict | None:
    """The first JSON object in the text (code fences and chatter around it allowed)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _score(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer() and 1 <= value <= 5:
        return int(value)
    if isinstance(value, str) and value.strip() in {"1", "2", "3", "4", "5"}:
        return int(value.strip())
    return None


def _tags(value) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    known = [str(t).strip() for t in items if str(t).strip() in ERROR_TAGS]
    return tuple(dict.fromkeys(known))


def _reason(value) -> str | None:
    text = " ".join(str(value or "").split())
    return text[:MAX_REASON] or None


def parse_single(raw: str) -> Parsed:
    raw = raw or ""
    obj = _json_object(raw)
    if obj is not None:
        followed = FOLLOWED_WORDS.get(str(obj.get("followed", "")).strip().lower())
        if followed is not None:
            return Parsed("ok", "json", followed, _score(obj.get("score")), _tags(obj.get("tags")),
                          _reason(obj.get("reason")))
    match = _FOLLOWED_RE.search(raw) or _BARE_RE.search(raw)
    if match is None:
        return Parsed("unparsable", None)
    score = _SCORE_RE.search(raw)
    reason = _REASON_RE.search(raw)
    tags = tuple(t for t in ERROR_TAGS if re.search(rf"\b{t}\b", raw))
    return Parsed("ok", "fallback", FOLLOWED_WORDS[match.group(1).lower()],
                  int(score.group(1)) if score else None, tags, _reason(reason.group(1) if reason else None))


def parse_pair(raw: str) -> Parsed:
    raw = raw or ""
    obj = _json_object(raw)
    if obj is not None:
        winner = WINNER_WORDS.get(str(obj.get("winner", "")).strip().lower())
        if winner is not None:
            return Parsed("ok", "json", winner=winner, reason=_reason(obj.get("reason")))
    match = _WINNER_RE.search(raw) or _BRACKET_RE.search(raw)
    if match is None:
        return Parsed("unparsable", None)
    word = match.group(1).lower()
    return Parsed("ok", "fallback", winner=WINNER_WORDS.get(word, "tie"))  # [[C]]: MT-Bench's tie
