"""Detectors of content: response language, yes/no and other fixed answers, keywords
(included, excluded, how often), letters, numbers."""

from __future__ import annotations

import re
from typing import Iterator

from .languages import LANGUAGES
from .patterns import F, N, OPT_Q, REL, Found, count, each
from .text import NUMBER

_LANG = "(?P<lang>" + "|".join(LANGUAGES) + ")"
_VERB = r"(?:answer|reply|respond|write|speak|talk|describe|explain|say|tell|translate|continue|summari[sz]e|chat)"
_LANGUAGE = [re.compile(p, F) for p in (
    # "answer in French", "reply only in German", "translate it into Spanish", unless a noun
    # follows ("in French history", "in French cuisine")
    rf"\b{_VERB}\b(?:\s+[\w'’]+){{0,6}}?\s+(?:only\s+|entirely\s+|exclusively\s+)?(?:in|into)\s+(?:the\s+)?{_LANG}\b"
    rf"(?:\s+language)?(?=\s*(?:$|[.,;:!?)\n]|(?:only|please|from|for|and|or|now|again|instead|too|as\s+well|from\s+now)\b))",
    rf"\b(?:your|the)\s+(?:entire\s+|whole\s+|full\s+)?(?:response|answer|reply|output)s?\s+(?:should|must|has\s+to|needs\s+to)\s+be\s+"
    rf"(?:written\s+)?(?:entirely\s+|only\s+)?in\s+(?:the\s+)?{_LANG}\b",
    rf"^\s*(?:only\s+)?in\s+{_LANG}(?:\s+only)?\s*(?:please)?\s*[.!:,]",
    rf"\b(?:use|using)\s+(?:only\s+)?(?:the\s+)?{_LANG}(?:\s+language)?\s+(?:only\b|for\s+(?:your|the|all|every))",
    rf"\btranslate\b[^.!?\n]{{0,80}}?\s+to\s+{_LANG}\b",
)]
_NO_LANGUAGE = re.compile(rf"\b(?:no|not\s+in)\s+{_LANG}\b", F)
# "How do you say hello in French?" asks about French; the answer is not in French
_ASKS_ABOUT = re.compile(r"\b(?:how\s+(?:do|would|can|does|to)|what(?:'s|\s+is|\s+are|\s+does))\b[^.!?\n]*$", F)

_YES_NO = re.compile(
    rf"(?<!the\s)(?<!your\s)(?<!an\s)\b(?:answer|reply|respond|say)\s+(?:only\s+|just\s+|simply\s+|strictly\s+)?(?:with\s+)?(?:(?:only|just)\s+)?(?:a\s+|either\s+)?"
    rf"{OPT_Q}?(?P<a>yes|true){OPT_Q}?\s*(?:or|/)\s*{OPT_Q}?(?P<b>no|false){OPT_Q}?(?!\s+questions?)|"
    rf"\b(?:a|with\s+a|give\s+(?:me\s+)?a)\s+(?P<c>yes[/-]no|true[/-]false|yes-or-no)\s+(?:answer|reply|response)\b|"
    rf"\b(?:just|only)\s+(?:say\s+)?{OPT_Q}?(?P<d>yes){OPT_Q}?\s+or\s+{OPT_Q}?no{OPT_Q}?[.!]", F)
_NUMBER_ONLY = re.compile(
    r"\b(?:answer|reply|respond)\s+(?:with\s+)?(?:only\s+|just\s+)?(?:a|the)\s+(?:single\s+)?number(?!\s+of)"
    r"(?:\s+only)?\b|\b(?:only|just)\s+(?:give\s+|say\s+|write\s+)?the\s+number(?!\s+of)\b", F)
_OPTIONS = re.compile(r"\banswer\s+with\s+one\s+of\s+the\s+following\s+options\s*:\s*(?P<opts>[^\n]+)", F)

_QUOTED = r"[\"“'‘`](?P<q>[^\"“”'‘’`\n]{1,40})[\"”'’`]"
_ITEM = r"[\w'\-]+(?: [\w'\-]+){0,2}?"
_LIST = rf"(?P<list>{_ITEM}(?:\s*,\s*{_ITEM}){{0,6}}?(?:,?\s+and\s+{_ITEM})?)"
_INCLUDE = [re.compile(p, F) for p in (
    rf"\b(?:include|use|mention|contain|incorporate)\s+(?:the\s+)?(?:key)?words?\s+{_QUOTED}",
    rf"\binclude\s+(?:the\s+)?keywords?\s+{_LIST}(?=\s+in\s+(?:the|your)\s+(?:response|answer|reply)|[.\n]|$)",
    r"\b(?:include|use|mention|contain)\s+the\s+word\s+(?P<w>[A-Za-z][\w'\-]*)\b(?!\s+(?:count|limit))",
    rf"\b(?:make\s+sure\s+(?:to|you)\s+|be\s+sure\s+to\s+)(?:include|use|mention)\s+{_QUOTED}",
)]
_EXCLUDE = [re.compile(p, F) for p in (
    rf"\b(?:do\s+not|don'?t|never|without|avoid)\s+(?:use|using|include|including|say|saying|mention|mentioning|write|writing)?\s*"
    rf"(?:the\s+|any\s+(?:of\s+the\s+)?)?(?:key)?words?\s+{_QUOTED}",
    rf"\b(?:do\s+not|don'?t)\s+include\s+(?:the\s+)?keywords?\s+{_LIST}(?=\s+in\s+(?:the|your)\s+(?:response|answer|reply)|[.\n]|$)",
    r"\b(?:do\s+not|don'?t|never|without|avoid)\s+(?:use|using|say|saying|mention|mentioning)\s+the\s+word\s+(?P<w>[A-Za-z][\w'\-]*)\b",
)]
_TIMES = r"(?:\s+times?)?"
_KEYWORD_FREQ = [re.compile(p, F) for p in (
    rf"\bthe\s+word\s+(?:{_QUOTED}|(?P<w>[A-Za-z][\w'\-]*))\s+(?:should|must|has\s+to|needs\s+to)\s+appear\s+{REL}\s+{N}{_TIMES}\b",
    rf"\b(?:use|mention|say|repeat)\s+the\s+word\s+(?:{_QUOTED}|(?P<w>[A-Za-z][\w'\-]*))\s+{REL}\s+{N}{_TIMES}\b",
    rf"\b(?:use|mention|say|repeat)\s+the\s+word\s+(?:{_QUOTED}|(?P<w>[A-Za-z][\w'\-]*))\s+(?:exactly\s+)?(?P<n>once|twice|thrice|{NUMBER}(?=\s+times\b))\b",
)]
_LETTER_FREQ = [re.compile(p, F) for p in (
    rf"\bthe\s+letter\s+{OPT_Q}?(?P<l>[a-z]){OPT_Q}?\s+(?:should|must|has\s+to|needs\s+to)\s+appear\s+{REL}\s+{N}{_TIMES}\b",
    rf"\buse\s+the\s+letter\s+{OPT_Q}?(?P<l>[a-z]){OPT_Q}?\s+{REL}\s+{N}{_TIMES}\b",
)]
_NUMBER = re.compile(
    r"\b(?:include|mention|contain|use|state)\s+(?:at\s+least\s+one\s+|an?\s+)?(?P<parity>odd|even)\s+number\b|"
    r"\b(?:include|mention|contain|use)\s+the\s+number\s+(?P<num>\d+)\b", F)


def language(text: str) -> Iterator[Found]:
    for p in _LANGUAGE:
        for m in p.finditer(text):
            if _NO_LANGUAGE.search(text[max(0, m.start() - 10):m.end()]) or _ASKS_ABOUT.search(text, 0, m.start()):
                continue
            yield Found("language", {"lang": LANGUAGES[m.group("lang").lower()]}, m.start(), m.end())


def number_only(text: str) -> Iterator[Found]:
    yield from each("number_only", _NUMBER_ONLY, text)


def choice(text: str) -> Iterator[Found]:
    for m in _YES_NO.finditer(text):
        pair = (m.group("a") or m.group("c") or m.group("d") or "yes").lower()
        options = ["true", "false"] if pair.startswith("true") else ["yes", "no"]
        yield Found("choice", {"options": options}, m.start(), m.end())
    for m in _OPTIONS.finditer(text):
        opts = [o.strip(" \"'“”()") for o in re.split(r",\s*(?=[\"'“(A-Z])|\s+or\s+", m.group("opts"))]
        opts = [o for o in opts if o]
        if len(opts) >= 2:
            yield Found("choice", {"options": opts}, m.start(), m.end())


def _keywords(m: re.Match) -> list[str]:
    g = m.groupdict()
    if g.get("q"):
        return [g["q"].strip()]
    if g.get("w"):
        return [g["w"]]
    parts = re.split(r"\s*,\s*|\s+and\s+", g.get("list") or "")
    return [p.strip() for p in parts if p.strip()]


def keywords(text: str) -> Iterator[Found]:
    for p in _KEYWORD_FREQ:
        for m in p.finditer(text):
            word = (m.group("q") or m.group("w")).strip()
            if f := count("keyword_frequency", m, "at_least", keyword=word.lower()):
                yield f
    for p in _LETTER_FREQ:
        for m in p.finditer(text):
            if f := count("letter_frequency", m, "at_least", letter=m.group("l").lower()):
                yield f
    for kind, patterns in (("exclude_keywords", _EXCLUDE), ("include_keywords", _INCLUDE)):
        for p in patterns:
            for m in p.finditer(text):
                words = [w.lower() for w in _keywords(m)]
                if words:
                    yield Found(kind, {"keywords": words}, m.start(), m.end())


def numbers(text: str) -> Iterator[Found]:
    for m in _NUMBER.finditer(text):
        params = {"parity": m.group("parity").lower()} if m.group("parity") else {"number": int(m.group("num"))}
        yield Found("include_number", params, m.start(), m.end())


DETECTORS = (keywords, number_only, numbers, choice, language)
