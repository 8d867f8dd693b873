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


def _parse(raw: str, key: str, words: dict, from_json, patterns, from_text) -> Parsed:
    """JSON first (``obj[key]`` one of ``words``), then the first explicit label matched by
    ``patterns``; neither: unparsable. ``from_json(obj, label)`` / ``from_text(raw, match)``
    build the verdict."""
    raw = raw or ""
    obj = _json_object(raw)
    if obj is not None:
        label = words.get(str(obj.get(key, "")).strip().lower())
        if label is not None:
            return Parsed("ok", "json", **from_json(obj, label))
    match = next((m for m in (p.search(raw) for p in patterns) if m), None)
    if match is None:
        return Parsed("unparsable", None)
    return Parsed("ok", "fallback", **from_text(raw, match))


def _single_json(obj: dict, followed: str) -> dict:
    return {"followed": followed, "score": _score(obj.get("score")), "tags": _tags(obj.get("tags")),
            "reason": _reason(obj.get("reason"))}


def _single_text(raw: str, match: re.Match) -> dict:
    score, reason = _SCORE_RE.search(raw), _REASON_RE.search(raw)
    return {"followed": FOLLOWED_WORDS[match.group(1).lower()],
            "score": int(score.group(1)) if score else None,
            "tags": tuple(t for t in ERROR_TAGS if re.search(rf"\b{t}\b", raw)),
            "reason": _reason(reason.group(1) if reason else None)}


def _pair_json(obj: dict, winner: str) -> dict:
    return {"winner": winner, "reason": _reason(obj.get("reason"))}


def _pair_text(raw: str, match: re.Match) -> dict:
    return {"winner": WINNER_WORDS.get(match.group(1).lower(), "tie")}  # [[C]]: MT-Bench's tie


def parse_single(raw: str) -> Parsed:
    return _parse(raw, "followed", FOLLOWED_WORDS, _single_json, (_FOLLOWED_RE, _BARE_RE), _single_text)


def parse_pair(raw: str) -> Parsed:
    return _parse(raw, "winner", WINNER_WORDS, _pair_json, (_WINNER_RE, _BRACKET_RE), _pair_text)
