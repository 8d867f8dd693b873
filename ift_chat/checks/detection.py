"""Which verifiable constraints one user turn states (IFEval's families, MMMT-IF's sentence
rules, and the natural phrasings people use: "in one word", "under 20 words", "in French").

Detectors run in priority order; a span an earlier (more specific) one took is not read
again. Revocations ("you no longer need to answer in French") are found first.
"""

from __future__ import annotations

import re

from . import detect_content, detect_counts, detect_format
from .languages import LANGUAGES
from .markers import Persistence, find_revocations
from .model import REVOKE, Constraint
from .patterns import Found

DETECTORS = detect_counts.DETECTORS + detect_format.DETECTORS + detect_content.DETECTORS
# A detector only runs when the lowercased text contains one of its cue words: most turns
# state no constraint, and a substring test is far cheaper than the detector's regexes.
_CUES = {
    "sentence_rules": ("sentence",), "one_word": ("word",), "word_counts": ("word",),
    "sentence_counts": ("sentence",), "paragraph_counts": ("paragraph",), "bullets": ("bullet",),
    "json_format": ("json",), "sections": ("section", "highlight"), "title": ("title",),
    "case": ("case", "capital", "caps", "letter", "shout"), "commas": ("comma",),
    "start_end": ("start", "begin", "open", "end", "finish", "close", "conclude", "first word", "quot",
                  "wrap", "enclose"),
    "extras": ("p.s", "p. s", "postscript", "placeholder"), "keywords": ("word", "letter"),
    "numbers": ("number",), "number_only": ("number",), "choice": ("yes", "true", "option"),
}
_REVOKE_CUES = ("forget", "ignore", "drop", "disregard", "cancel", "no more", "normal", "freely",
                "however you", "no longer", "don", "do not", "needn", "stop", "again", "limit", "fine",
                "allowed", "no need", "quit", "cease", "any language", "any length", "anymore", "any more")
_LANGUAGE_NAMES = frozenset(LANGUAGES)


def _cued(name: str, lower: str) -> bool:
    if name == "language":
        return not _LANGUAGE_NAMES.isdisjoint(_WORDS.findall(lower))
    for cue in _CUES[name]:
        if cue in lower:
            return True
    return False


_WORDS = re.compile(r"[a-z]+")


def _revocations(text: str, lower: str) -> list[Found]:
    return list(find_revocations(text)) if any(c in lower for c in _REVOKE_CUES) else []


def revocations(text: str, source_turn: int = 0) -> list[Constraint]:
    """Only the revocations a turn states."""
    return [Constraint(REVOKE, {}, False, source_turn, f.revokes) for f in _revocations(text, text.lower())]


# A turn stating more constraints than this is noise (or an attack on the checker's time).
MAX_PER_DETECTOR = 40


def _found(text: str) -> list[Found]:
    lower = text.lower()
    taken: list[Found] = _revocations(text, lower)[:MAX_PER_DETECTOR]
    for run in DETECTORS:
        if not _cued(run.__name__, lower):
            continue
        for n, f in enumerate(run(text)):
            if n >= MAX_PER_DETECTOR:
                break
            if not any(f.start < t.end and t.start < f.end for t in taken):
                taken.append(f)
            elif any(t.start == f.start and t.end == f.end and t.kind == f.kind for t in taken):
                taken.append(f)  # a range ("between 5 and 9 words") gives two bounds on one span
    return sorted(taken, key=lambda f: (f.start, f.kind))


def detect(text: str, source_turn: int = 0) -> list[Constraint]:
    """The constraints one user turn states, in the order they appear; source_turn is the
    0-based round they are stated in. A constraint stated twice is reported once
    (persistent if either statement is)."""
    text = text or ""
    persistent = Persistence(text)
    out: dict[tuple, Constraint] = {}
    for f in _found(text):
        key = (f.kind, f.params_key, f.revokes)
        if key in out and (out[key].persistent or f.kind == REVOKE):
            continue
        out[key] = Constraint(f.kind, f.params, persistent=f.kind != REVOKE and persistent(f.start, f.end),
                              source_turn=source_turn, revokes=f.revokes)
    return list(out.values())
