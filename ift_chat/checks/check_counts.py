"""Checkers of counts: words, sentences, paragraphs, bullets and the per-sentence rules."""

from __future__ import annotations

import re

from .text import sentences, words

_PHRASE = {"at_most": "limit {n}", "less_than": "must be under {n}", "at_least": "need at least {n}",
           "more_than": "need more than {n}", "exactly": "need exactly {n}"}


def compare(count: int, relation: str, n: int) -> bool:
    return {"at_most": count <= n, "less_than": count < n, "at_least": count >= n,
            "more_than": count > n, "exactly": count == n}[relation]


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" + ("" if count == 1 else "s")


def counted(count: int, unit: str, params: dict) -> tuple[bool, str]:
    """(passed, "17 words, limit 10")."""
    relation, n = params["relation"], params["n"]
    return compare(count, relation, n), f"{_plural(count, unit)}, {_PHRASE[relation].format(n=n)}"


def word_count(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    return counted(len(words(reply)), "word", params)


def one_word(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    n = len(words(reply))
    return n == 1, f"{_plural(n, 'word')}, need one"


def sentence_count(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    return counted(len(sentences(reply)), "sentence", params)


def paragraph_count(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    if params.get("separator") == "***":
        parts = re.split(r"\s?\*\*\*\s?", reply)
        # IFEval: an empty paragraph between dividers fails; leading/trailing ones are dropped
        inner = parts[1:-1] if len(parts) > 2 else []
        if any(not p.strip() for p in inner):
            return False, "an empty paragraph between *** dividers"
        n = sum(1 for p in parts if p.strip())
        unit = "paragraph"
    else:
        n = sum(1 for p in re.split(r"\n\s*\n", reply) if p.strip())
        unit = "paragraph"
    return counted(n, unit, params)


_BULLET = re.compile(r"^\s*(?:[*\-•+]\s|\*(?!\*)\S)", re.M)
_NUMBERED = re.compile(r"^\s*\d+[.)]\s", re.M)


def bullet_count(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    n = len(_BULLET.findall(reply))
    if loose and not n:  # a numbered list for "three bullet points" passes loosely
        n = len(_NUMBERED.findall(reply))
    return counted(n, "bullet point", params)


def _first_letter(sentence: str) -> str:
    for ch in sentence:
        if ch.isalpha():
            return ch
    return ""


def _last_mark(sentence: str) -> str:
    stripped = sentence.rstrip(" \t\"'”’)*_`»")
    return stripped[-1:] if stripped else ""


def _short(sentence: str) -> str:
    return sentence if len(sentence) <= 40 else sentence[:37] + "..."


def _every_sentence(reply: str, ok, what: str) -> tuple[bool, str]:
    found = sentences(reply)
    if not found:
        return False, "no sentence"
    bad = [s for s in found if not ok(s)]
    if not bad:
        return True, f"all {len(found)} sentences {what}"
    return False, f"{len(bad)} of {len(found)} sentences do not {what}: \"{_short(bad[0])}\""


def sentences_start_with(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    if params.get("capital"):
        return _every_sentence(reply, lambda s: _first_letter(s).isupper(), "start with a capital letter")
    letter = params["letter"].lower()
    return _every_sentence(reply, lambda s: _first_letter(s).lower() == letter,
                           f"start with the letter {letter.upper()}")


def sentences_end_with(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    marks = params["marks"]
    return _every_sentence(reply, lambda s: _last_mark(s) in marks and _last_mark(s) != "",
                           f"end with {' or '.join(marks)}")


def sentence_length(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    found = sentences(reply)
    if not found:
        return False, "no sentence"
    lengths = [len(words(s)) for s in found]
    bad = [(i, n) for i, n in enumerate(lengths, 1) if not compare(n, params["relation"], params["n"])]
    if not bad:
        return True, f"{len(found)} sentences of {min(lengths)}-{max(lengths)} words"
    i, n = bad[0]
    return False, f"sentence {i} has {_plural(n, 'word')}, {_PHRASE[params['relation']].format(n=params['n'])}" + (
        f" ({len(bad)} sentences fail)" if len(bad) > 1 else "")


CHECKERS = {"word_count": word_count, "one_word": one_word, "sentence_count": sentence_count,
            "paragraph_count": paragraph_count, "bullet_count": bullet_count,
            "sentences_start_with": sentences_start_with, "sentences_end_with": sentences_end_with,
            "sentence_length": sentence_length}
