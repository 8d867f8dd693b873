"""Detectors of counts: MMMT-IF's per-sentence rules, then words / sentences / paragraphs /
bullets of the whole reply (in that order: "each sentence at most 8 words" is not a limit on
the reply's length, so the sentence rule takes the span first)."""

from __future__ import annotations

import re
from typing import Iterator

from .patterns import F, N, OPT_Q, POST, REL, Found, count, counts, each, find, ranges, unit_patterns, windows
from .text import parse_number

# -- MMMT-IF sentence rules (before the reply-level counts they contain) ----------------
_EVERY_SENTENCE = r"\b(?:each|every|all(?:\s+(?:of\s+)?(?:your|the))?|your)\s+sentences?\b"
_SENT_LEN = [re.compile(p, F) for p in (
    _EVERY_SENTENCE + rf"[^.!?\n]{{0,40}}?\b{REL}\s+{N}\s+words?\b{POST}?",
    _EVERY_SENTENCE + rf"[^.!?\n]{{0,40}}?{N}\s+words?\b{POST}",
    rf"\bsentences?\s+(?:of|with|having|containing)\s+{REL}\s+{N}\s+words?\b",
    rf"\bkeep\s+(?:each|every|all)\s+(?:of\s+your\s+)?sentences?\s+(?:short\s*\(?\s*)?{REL}\s+{N}\s+words?\b",
)]
_SENT_START = re.compile(
    rf"(?:\b(?:start|begin)\s+(?:each|every|all(?:\s+of\s+your)?|your)\s+sentences?\s+with|"
    rf"{_EVERY_SENTENCE}\s+(?:should|must|has\s+to|needs\s+to|will)\s+(?:start|begin)\s+with)\s+"
    rf"(?:(?:the\s+)?letter\s+{OPT_Q}?(?P<letter>[a-z]){OPT_Q}?(?![a-z])|{OPT_Q}(?P<qletter>[a-z]){OPT_Q}|"
    rf"(?:an?\s+)?(?P<cap>capital|uppercase|upper-case)\s+letters?)", F)
_SENT_END = re.compile(
    rf"(?:\bend\s+(?:each|every|all(?:\s+of\s+your)?|your)\s+sentences?\s+with|"
    rf"{_EVERY_SENTENCE}\s+(?:should|must|has\s+to|needs\s+to|will)\s+end\s+(?:with|in))\s+"
    rf"(?:an?\s+)?(?P<m1>exclamation\s+(?:marks?|points?)|question\s+marks?|{OPT_Q}?[!?]{OPT_Q}?)"
    rf"(?:\s+or\s+(?:an?\s+)?(?P<m2>exclamation\s+(?:marks?|points?)|question\s+marks?|{OPT_Q}?[!?]{OPT_Q}?))?", F)


def _mark(text: str | None) -> str:
    if not text:
        return ""
    return "!" if "!" in text or "exclamation" in text.lower() else "?"


_SENTENCE_CUE = re.compile(r"sentence", F)
_WORD_CUE = re.compile(r"\bwords?\b", F)
_PARAGRAPH_CUE = re.compile(r"paragraph", F)
_BULLET_CUE = re.compile(r"bullet", F)


def sentence_rules(text: str) -> Iterator[Found]:
    spans = windows(text, _SENTENCE_CUE, 90, 120)
    yield from counts("sentence_length", _SENT_LEN, text, "at_most", spans)
    for m in find(_SENT_START, text, spans):
        letter = m.group("letter") or m.group("qletter")
        params = {"letter": letter.lower()} if letter else {"capital": True}
        yield Found("sentences_start_with", params, m.start(), m.end())
    for m in find(_SENT_END, text, spans):
        marks = "".join(sorted(set(_mark(m.group("m1")) + _mark(m.group("m2")))))
        yield Found("sentences_end_with", {"marks": marks}, m.start(), m.end())


# -- counts of the whole reply ------------------------------------------------------------
_ONE_WORD = re.compile(
    r"\b(?:in|with|using|use|give\s+(?:me\s+)?|reply|answer|respond)\s+(?:only\s+|just\s+|exactly\s+)?"
    r"(?:one|a\s+single|1)\s+word\b(?!\s+(?:about|on|of|for|that|which|from|to|per|each|or\s+(?:two|so)))(?:\s+(?:only|answer|reply))?|"
    r"\bin\s+a\s+word(?=\s*[:,.?!]|\s*$)|"
    r"\b(?:a\s+|one\s+)?(?:single|one)[- ]word\s+(?:answer|reply|response)\b|"
    r"\bone\s+word\s+(?:only|answers?|max(?:imum)?)\b", F)
_WORDS = "words?"
_WORD_PATTERNS = unit_patterns("words?", "word")
_SENTENCE_PATTERNS = unit_patterns("sentences?", "sentence") + [
    re.compile(rf"\b(?:write|give\s+(?:me\s+)?|answer\s+with)\s+(?:exactly\s+)?{N}\s+sentences?\b", F)]
_ONE_SENTENCE = re.compile(
    r"\b(?:in|with|using|use)\s+(?:only\s+|just\s+|exactly\s+)?(?:one|a\s+single|1)\s+sentence\b|"
    r"\b(?:a\s+|one\s+)?(?:single|one)[- ]sentence\s+(?:answer|reply|response|summary|description)\b", F)
_PARAGRAPH_PATTERNS = unit_patterns("paragraphs?", "paragraph") + [
    re.compile(rf"\bthere\s+should\s+be\s+{N}\s+paragraphs?\b", F)]
_DIVIDER = re.compile(r"\*\*\*|markdown\s+divider", F)


def one_word(text: str) -> Iterator[Found]:
    yield from each("one_word", _ONE_WORD, text, windows(text, _WORD_CUE, 40, 30))


def word_counts(text: str) -> Iterator[Found]:
    spans = windows(text, _WORD_CUE)
    yield from ranges("word_count", text, _WORDS, spans)
    for i, p in enumerate(_WORD_PATTERNS):
        for m in find(p, text, spans):
            f = count("word_count", m, "exactly" if i == 3 and _small(m) else "at_most")
            if f and f.params["n"] == 1 and f.params["relation"] == "exactly":
                f = Found("one_word", {}, f.start, f.end)
            if f:
                yield f


def _small(m: re.Match) -> bool:
    n = parse_number(m.group("n"))
    return n is not None and n <= 10  # "in three words": exactly; "in 50 words": a limit


def sentence_counts(text: str) -> Iterator[Found]:
    spans = windows(text, _SENTENCE_CUE)
    yield from each("sentence_count", _ONE_SENTENCE, text, spans, {"relation": "exactly", "n": 1})
    yield from ranges("sentence_count", text, "sentences?", spans)
    yield from counts("sentence_count", _SENTENCE_PATTERNS, text, "exactly", spans)


def paragraph_counts(text: str) -> Iterator[Found]:
    separator = "***" if _DIVIDER.search(text) else "blank_line"
    yield from counts("paragraph_count", _PARAGRAPH_PATTERNS, text, "exactly", windows(text, _PARAGRAPH_CUE),
                      separator=separator)


_BULLETS = [re.compile(p, F) for p in (
    rf"(?:\b{REL}\s+)?{N}\s+(?:markdown\s+)?(?:bullet(?:s|[- ]points?)?|bulleted\s+items)\b",
    rf"\bbullet(?:ed)?\s+list\s+(?:of|with)\s+(?:{REL}\s+)?{N}\s+(?:items|points|entries)\b")]


def bullets(text: str) -> Iterator[Found]:
    yield from counts("bullet_count", _BULLETS, text, "exactly", windows(text, _BULLET_CUE))


DETECTORS = (sentence_rules, one_word, word_counts, sentence_counts, paragraph_counts, bullets)
