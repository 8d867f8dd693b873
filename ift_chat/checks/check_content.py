"""Checkers of content: language, fixed answers, keywords, letters, numbers."""

from __future__ import annotations

import re

from .check_counts import counted
from .text import NUMBER_WORDS, language_ranking, parse_number

_EDGE = " \t\n\"'“”‘’*_`.!?,;:()"


def language(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    if not any(ch.isalpha() for ch in reply):
        return False, "no text to identify"
    ranking = language_ranking(reply)
    want, (best, prob) = params["lang"], ranking[0]
    if best == want:
        return True, f"{want} ({prob:.0%})"
    # loose: a short reply is hard to identify; the wanted language as runner-up passes
    passed = loose and len(reply.split()) < 8 and any(code == want for code, _ in ranking[:2])
    return passed, f"detected {best} ({prob:.0%}), need {want}"


def choice(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    options = [o.lower().strip(_EDGE) for o in params["options"]]
    body = " ".join(reply.split()).lower().strip(_EDGE)
    if body in options:
        return True, f"answered \"{body}\""
    if loose:  # "Yes, it is." answers a yes/no question
        first = re.split(r"[\s,.;:!]+", body, maxsplit=1)[0] if body else ""
        if first in options or any(body.startswith(o) for o in options if " " in o):
            return True, f"starts with \"{first}\""
    shown = body if len(body) <= 30 else body[:27] + "..."
    return False, f"answered \"{shown}\", need one of: {', '.join(params['options'])}"


def _pattern(keyword: str) -> re.Pattern:
    # whole words where the keyword starts / ends with a letter ("cat" is not in "category")
    left = r"\b" if keyword[:1].isalnum() else ""
    right = r"\b" if keyword[-1:].isalnum() else ""
    return re.compile(left + re.escape(keyword) + right, re.I)


def include_keywords(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    missing = [k for k in params["keywords"] if not _pattern(k).search(reply)]
    if not missing:
        return True, "includes " + ", ".join(f"\"{k}\"" for k in params["keywords"])
    return False, "missing " + ", ".join(f"\"{k}\"" for k in missing)


def exclude_keywords(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    found = [k for k in params["keywords"] if _pattern(k).search(reply)]
    if not found:
        return True, "avoids " + ", ".join(f"\"{k}\"" for k in params["keywords"])
    return False, "contains " + ", ".join(f"\"{k}\"" for k in found)


def keyword_frequency(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    n = len(_pattern(params["keyword"]).findall(reply))
    passed, detail = counted(n, "time", params)
    return passed, f"\"{params['keyword']}\" {detail}"


def letter_frequency(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    n = reply.lower().count(params["letter"])
    passed, detail = counted(n, "time", params)
    return passed, f"letter {params['letter']} {detail}"


def _numbers(reply: str) -> list[int]:
    found = [int(d) for d in re.findall(r"(?<![\d.])\d+(?![\d.]*\d)", reply)]
    found += [NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", reply.lower())
              if w in NUMBER_WORDS and w not in ("a", "an", "single", "once")]
    return found


def include_number(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    found = _numbers(reply)
    if "number" in params:
        ok = params["number"] in found
        return ok, f"mentions {params['number']}" if ok else f"no {params['number']}"
    parity = params["parity"]
    hits = [n for n in found if (n % 2 == 1) == (parity == "odd")]
    if hits:
        return True, f"{parity} number {hits[0]}"
    return False, f"no {parity} number" + (f" (found {', '.join(map(str, found[:3]))})" if found else "")


def number_only(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    body = " ".join(reply.split()).lower().strip(_EDGE)
    if re.fullmatch(r"-?\d+(?:[.,]\d+)?", body) or parse_number(body) is not None:
        return True, f"answered {body}"
    shown = body if len(body) <= 30 else body[:27] + "..."
    return False, f"answered \"{shown}\", need only a number"


CHECKERS = {"language": language, "number_only": number_only, "choice": choice, "include_keywords": include_keywords,
            "exclude_keywords": exclude_keywords, "keyword_frequency": keyword_frequency,
            "letter_frequency": letter_frequency, "include_number": include_number}
