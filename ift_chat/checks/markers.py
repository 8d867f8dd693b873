"""Scope phrases in a user turn: persistence ("from now on ...") and revocations."""

from __future__ import annotations

import bisect
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


class Persistence:
    """Which spans of one text are stated persistently: in a clause (sentence or line) with a
    persistence phrase, or in a list under a persistent heading line ("From now on:").
    Built once per text, so each lookup is a bisect (no rescanning per constraint)."""

    def __init__(self, text: str):
        self.text = text
        self.any = _PERSIST.search(text) is not None
        self._clauses = [0] + [m.end() for m in _BOUNDARY.finditer(text)] if self.any else [0]
        self._flags: dict[int, bool] = {}
        self._lines = [0] + [m.end() for m in re.finditer(r"\n", text)] if self.any else [0]
        self._headed: list[bool] = self._headed_lines() if self.any else []

    def _headed_lines(self) -> list[bool]:
        headed, current = [], False
        for n, start in enumerate(self._lines):
            end = self._lines[n + 1] - 1 if n + 1 < len(self._lines) else len(self.text)
            line = self.text[start:end]
            headed.append(current)
            if not line.strip():
                current = False
            elif line.rstrip().endswith(":"):
                current = _PERSIST.search(line) is not None
        return headed

    def _clause_flag(self, i: int) -> bool:
        if i not in self._flags:
            lo = self._clauses[i]
            hi = self._clauses[i + 1] if i + 1 < len(self._clauses) else len(self.text)
            self._flags[i] = _PERSIST.search(self.text, lo, hi) is not None
        return self._flags[i]

    def __call__(self, start: int, end: int) -> bool:
        if not self.any:
            return False
        first = bisect.bisect_right(self._clauses, start) - 1
        last = bisect.bisect_right(self._clauses, max(start, end - 1)) - 1
        if any(self._clause_flag(i) for i in range(first, last + 1)):
            return True
        return self._headed[bisect.bisect_right(self._lines, start) - 1]


def may_persist(text: str) -> bool:
    """False when no constraint in the text can be persistent (no persistence phrase at all)."""
    return _PERSIST.search(text) is not None


def is_persistent(text: str, start: int, end: int) -> bool:
    return Persistence(text)(start, end)


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
