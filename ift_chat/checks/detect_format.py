"""Detectors of format: JSON, title, sections, highlights, case, commas, start / end
phrases, quotation wrapping, postscript, placeholders."""

from __future__ import annotations

import re
from typing import Iterator

from .patterns import F, N, OPT_Q, REL, Found, count, counts, each

_RESPONSE = r"(?:(?:your|the)\s+(?:entire\s+|whole\s+|full\s+)?(?:response|answer|reply|output)|it)"
_JSON = re.compile(
    r"\b(?:in|as|with|into|using|to)\s+(?:a\s+)?(?:valid\s+|only\s+|pure\s+|plain\s+)?json\b(?!\s+(?:files?|schemas?|parsers?|libraries?|specs?)\b)|"
    r"\bjson\s+(?:format|object|only|output)\b|\b(?:return|output|respond\s+with|reply\s+with|answer\s+with)\s+"
    r"(?:only\s+)?(?:a\s+|valid\s+)*json\b|\bwrapped\s+in\s+json\b", F)
_NOT_JSON = re.compile(r"\b(?:what\s+is|what's|explain|about|describe|parse|read|this|the\s+following)\s+(?:a\s+)?json\b", F)
_TITLE = re.compile(r"\btitle\b[^.\n]{0,60}?(?:<<|double\s+angular\s+brackets)|<<[^<>\n]+>>[^.\n]{0,20}\btitle\b", F)
_SECTIONS = re.compile(
    rf"\b(?:{REL}\s+)?{N}\s+sections\b[^\n]{{0,120}}?\b(?:mark|begin|start|label)\b[^\n]{{0,60}}?"
    rf"\bwith\s+{OPT_Q}?(?P<splitter>[A-Za-z]+)\s+(?:X|N|\d|\{{)", F)
_HIGHLIGHT = re.compile(
    rf"\bhighlight\s+(?:{REL}\s+)?{N}\s+(?:sections?|parts?|phrases?|words?)\b(?:[^.\n]{{0,60}}?markdown)?", F)
_LOWER = re.compile(
    r"\b(?:in|use|using|with|only)\s+(?:all\s+|only\s+)?(?:lower[- ]?case|small)\s+letters?\b|"
    r"\b(?:in|using)\s+(?:all\s+|only\s+)?lower[- ]?case\b|\ball\s+lower[- ]?case\b|\blower[- ]?case\s+only\b|"
    r"\bno\s+capital\s+letters\b|\bnot?\s+(?:use\s+)?(?:any\s+)?capital(?:s|\s+letters)\b|\bwithout\s+(?:any\s+)?capital\s+letters\b", F)
_UPPER = re.compile(
    r"\b(?:in|use|using|with|only)\s+(?:all\s+|only\s+)?(?:capital|upper[- ]?case|block)\s+letters\b|"
    r"\b(?:in|using)\s+(?:all\s+)?(?:upper[- ]?case|caps)\b|\ball[- ]caps\b|\ball\s+upper[- ]?case\b|"
    r"\bupper[- ]?case\s+only\b|\bin\s+all\s+capitals\b|\bshout\b", F)
_CAPITAL_WORDS = re.compile(
    rf"\bwords?\s+(?:with|in)\s+all\s+capital\s+letters\s+(?:should|must)\s+appear\s+{REL}\s+{N}\s+times\b", F)
_NO_COMMAS = re.compile(
    r"\b(?:no|without(?:\s+using)?(?:\s+any)?|zero|avoid(?:\s+using)?(?:\s+any)?|never\s+use|"
    r"(?:do\s+not|don'?t)\s+use\s+(?:any\s+)?|refrain\s+from\s+(?:the\s+use\s+of|using)\s+(?:any\s+)?|not\s+(?:a\s+)?single)\s*commas?\b", F)
_STARTS = re.compile(
    rf"\b(?:start|begin|open)\s+(?:{_RESPONSE}\s+)?with\s+(?:the\s+(?:exact\s+)?(?:word|phrase|sentence)\s+)?"
    rf"{OPT_Q}(?P<phrase>[^\"“”\n]{{1,80}}?){OPT_Q}(?=[\s.,;:!?)]|$)|"
    rf"\b{_RESPONSE}\s+(?:should|must)\s+(?:start|begin)\s+with\s+(?:the\s+(?:word|phrase)\s+)?{OPT_Q}(?P<phrase2>[^\"“”\n]{{1,80}}?){OPT_Q}", F)
_STARTS_WORD = re.compile(
    rf"\b(?:start|begin)\s+(?:{_RESPONSE}\s+)?with\s+the\s+word\s+(?P<phrase>[A-Za-z']+)\b|"
    rf"\bthe\s+first\s+word\s+of\s+{_RESPONSE}\s+(?:should|must)\s+be\s+{OPT_Q}?(?P<phrase2>[A-Za-z']+)", F)
_ENDS = re.compile(
    rf"\b(?:end|finish|close|conclude)\s+(?:{_RESPONSE}\s+)?with\s+(?:this|the)\s+(?:exact\s+)?(?:phrase|sentence|words?)\s*:?\s+"
    rf"{OPT_Q}?(?P<phrase>[^\"“”\n]{{1,100}}?){OPT_Q}?(?=\.?\s+No\s+other\s+words|[.]?\s*$|\.?\s*\n|{OPT_Q})|"
    rf"\b(?:end|finish|close|conclude)\s+(?:{_RESPONSE}\s+)?with\s+{OPT_Q}(?P<phrase2>[^\"“”\n]{{1,100}}?){OPT_Q}", F)
_QUOTATION = re.compile(
    r"\b(?:wrap|enclose|put|surround|place)\s+(?:your\s+|the\s+)?(?:entire\s+|whole\s+|full\s+)?(?:response|answer|reply|output|it)\s+"
    r"(?:with|in|inside|within|between)\s+(?:double\s+)?(?:quotation\s+marks|quotes)\b|"
    r"\b(?:response|answer|reply)\s+(?:should|must)\s+be\s+(?:wrapped|enclosed)\s+in\s+(?:double\s+)?(?:quotation\s+marks|quotes)\b", F)
_POSTSCRIPT = re.compile(
    r"\b(?:add|include|append|end\s+with|finish\s+with)\s+(?:a\s+)?(?:postscript|p\.\s?s\.?)(?=[\s.,;:!?)]|$)"
    r"(?:[^.\n]{0,40}?\bstarting\s+with\s+(?P<marker>P\.\s?P\.\s?S|P\.\s?S)\.?)?", F)
_PLACEHOLDERS = re.compile(rf"(?:\b{REL}\s+)?{N}\s+placeholders?\b", F)


def json_format(text: str) -> Iterator[Found]:
    for m in _JSON.finditer(text):
        if not _NOT_JSON.search(text[max(0, m.start() - 20):m.end()]):
            yield Found("json", {}, m.start(), m.end())


def sections(text: str) -> Iterator[Found]:
    for m in _SECTIONS.finditer(text):
        if f := count("sections", m, "exactly", splitter=m.group("splitter")):
            yield f
    yield from counts("highlighted_sections", _HIGHLIGHT, text, "at_least")


def title(text: str) -> Iterator[Found]:
    yield from each("title", _TITLE, text)


def case(text: str) -> Iterator[Found]:
    yield from counts("capital_word_count", _CAPITAL_WORDS, text, "at_least")
    yield from each("lowercase", _LOWER, text)
    yield from each("uppercase", _UPPER, text)


def commas(text: str) -> Iterator[Found]:
    yield from each("no_commas", _NO_COMMAS, text)


def _phrase(m: re.Match) -> str:
    return (m.group("phrase") or m.group("phrase2") or "").strip()


def start_end(text: str) -> Iterator[Found]:
    for pattern in (_STARTS, _STARTS_WORD):
        for m in pattern.finditer(text):
            if _phrase(m):
                yield Found("starts_with", {"phrase": _phrase(m)}, m.start(), m.end())
    for m in _ENDS.finditer(text):
        if _phrase(m):
            yield Found("ends_with", {"phrase": _phrase(m)}, m.start(), m.end())
    yield from each("quotation", _QUOTATION, text)


def extras(text: str) -> Iterator[Found]:
    for m in _POSTSCRIPT.finditer(text):
        marker = (m.group("marker") or "P.S").upper().replace(" ", "")
        yield Found("postscript", {"marker": marker.rstrip(".") + "."}, m.start(), m.end())
    yield from counts("placeholders", _PLACEHOLDERS, text, "at_least")


DETECTORS = (json_format, sections, title, case, commas, start_end, extras)
