"""Regex pieces the detectors share: numbers, relations ("at most", "or fewer"), counts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from .text import NUMBER, parse_number

F = re.IGNORECASE
N = rf"\b(?P<n>{NUMBER})"
_REL = {
    "at_most": r"at\s+most|no\s+more\s+than|not\s+more\s+than|(?:a\s+)?max(?:imum)?(?:\s+of)?|up\s+to|"
               r"within|not\s+exceeding|no\s+longer\s+than|not\s+longer\s+than|only|just|maximal",
    "less_than": r"less\s+than|fewer\s+than|under|below|shorter\s+than",
    "at_least": r"at\s+least|no\s+less\s+than|no\s+fewer\s+than|(?:a\s+)?min(?:imum)?(?:\s+of)?|"
                r"not\s+less\s+than|not\s+fewer\s+than",
    "more_than": r"more\s+than|over|longer\s+than|upwards\s+of|above",
    "exactly": r"exactly|precisely",
}
REL = "(?P<rel>" + "|".join(f"(?:{p})" for p in _REL.values()) + ")"
_REL_RES = [(name, re.compile(rf"^(?:{p})$", F)) for name, p in _REL.items()]
POST = r"(?:\s+or\s+(?P<post>less|fewer|under|shorter|more|longer|above)|\s+(?P<postmax>max(?:imum)?|at\s+most|tops)\b|\s+(?P<postmin>minimum|at\s+least)\b)"
OPT_Q = r"[\"'“”‘’`]"


def relation_of(rel: str | None, post: str | None = None, postmax=None, postmin=None,
                default: str = "exactly") -> str:
    if postmax:
        return "at_most"
    if postmin:
        return "at_least"
    if post:
        return "at_least" if post.lower() in ("more", "longer", "above") else "at_most"
    if rel:
        rel = " ".join(rel.lower().split())
        for name, pattern in _REL_RES:
            if pattern.match(rel):
                return name
    return default


@dataclass(frozen=True)
class Found:
    kind: str
    params: dict
    start: int
    end: int
    revokes: tuple[str, ...] = ()

    @property
    def params_key(self) -> str:
        return json.dumps(self.params, sort_keys=True)


Detector = Callable[[str], Iterator[Found]]


def count(kind: str, m: re.Match, default: str = "exactly", **extra) -> Found | None:
    n = parse_number(m.group("n"))
    if n is None:
        return None
    g = m.groupdict()
    rel = relation_of(g.get("rel"), g.get("post"), g.get("postmax"), g.get("postmin"), default)
    return Found(kind, {"relation": rel, "n": n, **extra}, m.start(), m.end())


def unit_patterns(unit: str, singular: str) -> list[re.Pattern]:
    return [re.compile(p, F) for p in (
        rf"\b{REL}\s+{N}\s+{unit}\b{POST}?",
        rf"{N}\s+{unit}\b{POST}",
        rf"\blimit(?:ed)?\b(?:\s+\w+){{0,4}}?\s+to\s+{N}\s+{unit}\b",
        rf"\b(?:in|using|use|with)\s+(?:only\s+|just\s+)?{N}\s+{unit}\b{POST}?",
        rf"{N}[- ]{singular}\s+(?:answer|reply|response|summary|description|limit|max(?:imum)?|"
        rf"explanation|paragraph|text|story|essay|poem|caption)\b",
    )]


BETWEEN = r"\bbetween\s+(?P<a>{n})\s+and\s+(?P<b>{n})\s+{unit}\b|\b(?P<a2>{n})\s*(?:-|–|to|or)\s*(?P<b2>{n})\s+{unit}\b"


def ranges(kind: str, text: str, unit: str, spans=None, **extra) -> Iterator[Found]:
    pattern = re.compile(BETWEEN.format(n=NUMBER, unit=unit), F)
    for m in (find(pattern, text, spans) if spans is not None else pattern.finditer(text)):
        a = parse_number(m.group("a") or m.group("a2"))
        b = parse_number(m.group("b") or m.group("b2"))
        if a is None or b is None or a >= b:
            continue
        yield Found(kind, {"relation": "at_least", "n": a, **extra}, m.start(), m.end())
        yield Found(kind, {"relation": "at_most", "n": b, **extra}, m.start(), m.end())




def windows(text: str, cue: re.Pattern, before: int = 90, after: int = 60) -> list[tuple[int, int]]:
    """Merged spans of text around each cue ("words", "sentence"): a count pattern can only
    match near its unit word, and searching those spans alone is much faster than the text."""
    out: list[tuple[int, int]] = []
    for m in cue.finditer(text):
        lo, hi = max(0, m.start() - before), min(len(text), m.end() + after)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def find(pattern: re.Pattern, text: str, spans: list[tuple[int, int]]) -> Iterator[re.Match]:
    """pattern.finditer over the spans only (positions stay those of the whole text)."""
    for lo, hi in spans:
        yield from pattern.finditer(text, lo, hi)


def matches(patterns: re.Pattern | list[re.Pattern], text: str, spans=None) -> Iterator[re.Match]:
    """Every match of one pattern or of several in turn; within ``spans`` only when given."""
    for p in patterns if isinstance(patterns, list) else [patterns]:
        yield from find(p, text, spans) if spans is not None else p.finditer(text)


def counts(kind: str, patterns, text: str, default: str = "exactly", spans=None, **extra) -> Iterator[Found]:
    """A count constraint (relation, n) for every match that names a number."""
    for m in matches(patterns, text, spans):
        if f := count(kind, m, default, **extra):
            yield f


def each(kind: str, patterns, text: str, spans=None, params: dict | None = None) -> Iterator[Found]:
    """A constraint with fixed params for every match."""
    for m in matches(patterns, text, spans):
        yield Found(kind, dict(params or {}), m.start(), m.end())
