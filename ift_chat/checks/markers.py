"""Scope phrases in a user turn: persistence ("from now on ...") and revocations."""

from __future__ import annotations

import re
from typing import Iterator

from .patterns import F, Found

_PERSIST = re.compile(
    r"\bfrom\s+(?:now|here|this\s+point)\s+(?:on|onwards?|forward)\b|\bgoing\s+forward\b|\bhenceforth\b|"
    r"\bfor\s+the\s+(?:rest|remainder)\s+of\s+(?:this|the|our)\s+(?:conversation|chat|session|dialog(?:ue)?)\b|"
    r"\b(?:in|for)\s+(?:all|every|each(?:\s+of)?)\s+(?:(?:your|my|the)\s+)?(?:future|subsequent|following|next|later|upcoming|"
    r"other)?\s*(?:responses|answers|replies|messages|turns|questions|response|answer|reply|message|turn|question)\b|"
    r"\b(?:all|every|each)\s+(?:of\s+)?(?:your\s+)?(?:future\s+|subsequent\s+|following\s+)?(?:responses|answers|replies|response|answer|reply)\b|"
    r"\bin\s+(?:all\s+)?(?:future|subsequent|later|following)\s+(?:turns|responses|answers|replies|rounds)\b|"
    r"\buntil\s+I\s+(?:say|tell\s+you)\s+otherwise\b|\balways\b|\bfrom\s+this\s+(?:message|turn)\s+on\b", F)
_BOUNDARY = re.compile(r"(?<=[.!?;])\s+|\n")


def _clause(text: str, start: int, end: int) -> str:
    """The sentence (or line) around text[start:end]."""
    left = 0
    for m in _BOUNDARY.finditer(text, 0, start):
        left = m.end()
    m = _BOUNDARY.search(text, end)
    return text[left:m.start() if m else len(text)]


def _header(text: str, start: int) -> bool:
    """Under a persistent heading line ("From now on, follow these rules:") in the same block."""
    lines = text[:start].split("\n")
    for line in reversed(lines[:-1]):
        if not line.strip():
            return False
        if line.rstrip().endswith(":"):
            return bool(_PERSIST.search(line))
    return False


def may_persist(text: str) -> bool:
    """False when no constraint in the text can be persistent (no persistence phrase at all)."""
    return _PERSIST.search(text) is not None


def is_persistent(text: str, start: int, end: int) -> bool:
    return bool(_PERSIST.search(_clause(text, start, end))) or _header(text, start)


# -- revocations -------------------------------------------------------------------------
_KIND_WORDS = [
    ("language", r"french|german|spanish|italian|portuguese|dutch|russian|chinese|japanese|korean|"
                 r"arabic|hindi|english|language|turkish|polish|swedish|greek"),
    ("case", r"lower\s*case|upper\s*case|capital(?:\s+letters)?|caps|small\s+letters"),
    ("no_commas", r"commas?"),
    ("length", r"word\s+limit|one\s+word|single\s+word|words|short|brief|length|limit"),
    ("sentence_count", r"sentences?"),
    ("json", r"json"),
    ("bullet_count", r"bullet(?:\s+points?)?s?|lists?"),
    ("postscript", r"p\.\s?s\.?|postscripts?"),
    ("quotation", r"quot(?:es|ation\s+marks)"),
    ("title", r"titles?"),
    ("ends_with", r"end(?:ing)?\s+(?:phrase|with)"),
    ("starts_with", r"start(?:ing)?\s+(?:phrase|with)"),
    ("choice", r"yes\s+or\s+no"),
]
_ALL = re.compile(
    r"\b(?:forget|ignore|drop|disregard|cancel)\s+(?:about\s+)?(?:all\s+)?(?:of\s+)?(?:the|my|those|these|your|any)?\s*"
    r"(?:previous|earlier|above|prior|former|old|past)?\s*(?:instructions|rules|constraints|requirements|restrictions)\b|"
    r"\bno\s+more\s+(?:rules|constraints|restrictions)\b|\bback\s+to\s+normal\b|"
    r"\b(?:answer|reply|respond|write)\s+(?:freely|normally|however\s+you\s+(?:like|want))\b", F)
_TRIGGER = re.compile(
    r"\b(?:you\s+)?(?:no\s+longer|don'?t|do\s+not|needn'?t)\s+(?:need|have)\s+to\b|\bno\s+longer\s+(?:need|required|necessary)\b|"
    r"\bstop\s+(?:answering|writing|replying|responding|using|speaking|being|giving|adding|making|keeping)\b|"
    r"\b(?:you\s+(?:can|may)|feel\s+free\s+to)\s+(?:now\s+)?(?:use|answer|reply|write|respond)\b(?=[^.!?\n]*\bagain\b)|"
    r"\bno\s+(?:more\s+)?(?=(?:word\s+)?limit)|\b(?:is|are)\s+(?:fine|ok(?:ay)?|allowed)\s+(?:now|again)\b|"
    r"\bno\s+need\s+(?:for|to)\b|\b(?:don'?t|do\s+not)\b(?=[^.!?;\n]{0,40}\b(?:anymore|any\s+(?:more|longer))\b)|"
    r"\b(?:quit|cease)\b|\bdrop\s+the\b|\bany\s+(?:language|length)\s+is\s+fine\b", F)


def find_revocations(text: str) -> Iterator[Found]:
    for m in _ALL.finditer(text):
        yield Found("revoke", {}, m.start(), m.end(), revokes=("*",))
    for m in _TRIGGER.finditer(text):
        clause_end = _BOUNDARY.search(text, m.end())
        stop = clause_end.start() if clause_end else len(text)
        window_start = max(0, m.start() - 40)
        window = text[window_start:stop]
        kinds = tuple(kind for kind, words in _KIND_WORDS if re.search(rf"\b(?:{words})\b", window, F))
        if kinds:
            yield Found("revoke", {}, m.start(), stop, revokes=kinds)
