"""Checkers of format: JSON, title, sections, highlights, case, commas, start / end phrases,
quotation wrapping, postscript, placeholders."""

from __future__ import annotations

import json
import re

from .check_counts import counted

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.I)


def _short(text: str, n: int = 30) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 3] + "..."


def json_format(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    body = _FENCE.sub("", reply.strip())  # IFEval strips a ```json fence
    try:
        value = json.loads(body)
    except ValueError as exc:
        return False, f"not valid JSON ({exc.msg} at line {exc.lineno})"
    return True, f"valid JSON ({type(value).__name__})"


def title(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    m = re.search(r"<<([^\n]+?)>>", reply)
    if m and m.group(1).strip():
        return True, f"title <<{_short(m.group(1))}>>"
    return False, "no title in <<double angular brackets>>"


def sections(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    parts = re.split(r"\s?" + re.escape(params["splitter"]) + r"\s?\d+\s?", reply)
    return counted(len(parts) - 1, f"{params['splitter']} section", params)


def highlighted_sections(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", reply) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", reply) if h.removeprefix("**").removesuffix("**").strip()]
    return counted(len(single) + len(double), "highlighted section", params)


def _letters(reply: str, upper: bool) -> list[str]:
    return [w for w in re.findall(r"\S+", reply) if any((c.isupper() if upper else c.islower()) for c in w)]


def _case(reply: str, upper: bool, loose: bool) -> tuple[bool, str]:
    cased = reply.upper() if upper else reply.lower()
    want = "all capitals" if upper else "all lowercase"
    if reply == cased or loose:
        return reply == cased, want
    bad = _letters(reply, upper=not upper)
    if not bad:
        return True, want
    other = "lowercase letters" if upper else "capitals"
    return False, f"{len(bad)} words with {other}, e.g. \"{_short(bad[0], 20)}\""


def lowercase(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    return _case(reply, upper=False, loose=loose)


def uppercase(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    return _case(reply, upper=True, loose=loose)


def capital_word_count(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    n = sum(1 for w in re.findall(r"\b\w+\b", reply) if w.isupper())
    return counted(n, "all-capital word", params)


def no_commas(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    n = reply.count(",") + reply.count("，")
    return n == 0, "no commas" if not n else f"{n} comma" + ("s" if n > 1 else "")


_EDGE = " \t\n\"'“”‘’*_`#>"


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def starts_with(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    phrase, body = _norm(params["phrase"]), _norm(reply.strip())
    if loose:
        body = _norm(reply.strip(_EDGE))
    if body.startswith(phrase):
        return True, f"starts with \"{_short(params['phrase'])}\""
    return False, f"starts \"{_short(reply.strip(), 30)}\", need \"{_short(params['phrase'])}\""


def ends_with(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    phrase = _norm(params["phrase"])
    body = _norm(reply.strip().strip('"'))  # as IFEval: surrounding quotes are ignored
    if loose:
        body, phrase = _norm(reply.strip(_EDGE)).rstrip(".!?"), phrase.rstrip(".!?")
    if body.endswith(phrase):
        return True, f"ends with \"{_short(params['phrase'])}\""
    return False, f"ends \"...{reply.strip()[-30:]}\", need \"{_short(params['phrase'])}\""


def quotation(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    body = reply.strip()
    ok = len(body) > 1 and ((body[0] == '"' and body[-1] == '"') or (body[0] == "“" and body[-1] == "”"))
    return ok, "wrapped in double quotes" if ok else "not wrapped in double quotes"


def postscript(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    marker = params.get("marker", "P.S.")
    pattern = r"\s*" + r"\.?\s?".join(re.escape(ch) for ch in marker.rstrip(".").split(".")) + r"\.?"
    ok = re.search(r"^" + pattern, reply, re.I | re.M) is not None
    return ok, f"has a {marker}" if ok else f"no line starting with {marker}"


def placeholders(reply: str, params: dict, loose: bool) -> tuple[bool, str]:
    return counted(len(re.findall(r"\[[^\[\]\n]+\]", reply)), "placeholder", params)


CHECKERS = {"json": json_format, "title": title, "sections": sections,
            "highlighted_sections": highlighted_sections, "lowercase": lowercase, "uppercase": uppercase,
            "capital_word_count": capital_word_count, "no_commas": no_commas, "starts_with": starts_with,
            "ends_with": ends_with, "quotation": quotation, "postscript": postscript,
            "placeholders": placeholders}
