"""Text measurements shared by detection and checking: words, sentences, numbers, language."""

from __future__ import annotations

import functools
import re

WORD = re.compile(r"\w+(?:['’.,\-]\w+)*")
_SMALL = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORDS = {w: n for n, w in enumerate(_SMALL)} | {
    w: 20 + 10 * n for n, w in enumerate(_TENS)} | {
    "a single": 1, "single": 1, "once": 1, "twice": 2, "thrice": 3,
    "a couple of": 2, "a hundred": 100, "one hundred": 100, "hundred": 100, "a dozen": 12, "dozen": 12}
# Digits or number words ("twenty-five", "a single"); longest alternatives first.
NUMBER = (r"(?:\d{1,5}|(?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(_SMALL[1:10]) + r"))?|"
          + "|".join(sorted((w for w in NUMBER_WORDS if w not in _TENS), key=len, reverse=True)) + r")")


def parse_number(text: str) -> int | None:
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    if text in NUMBER_WORDS:
        return NUMBER_WORDS[text]
    parts = re.split(r"[- ]", text)
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _SMALL[1:10]:
        return NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]]
    return None


def words(text: str) -> list[str]:
    """Words as a reader counts them: "don't", "well-known" and "3.5" are one word each."""
    return WORD.findall(text)


def sentences(text: str) -> list[str]:
    """Sentences by nupunkt (Punkt, no data download), each line on its own (a bullet or
    heading without a full stop is still a sentence of its own)."""
    from nupunkt import sent_tokenize

    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or not any(ch.isalnum() for ch in line):
            continue
        out.extend(s.strip() for s in sent_tokenize(line) if any(ch.isalnum() for ch in s))
    return out


@functools.cache
def _language_identifier():
    # py3langid ships its model in the wheel; loading it takes ~2 s, so once per process.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from .languages import CANDIDATES

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(CANDIDATES)
    return identifier


def language_ranking(text: str) -> list[tuple[str, float]]:
    """(ISO 639-1 code, probability) of the text's likely languages, best first (py3langid)."""
    if len(text) > 4000:  # a long reply's language shows in its head and tail; keeps it ~ms
        text = text[:2000] + "\n" + text[-2000:]
    return [(code, float(p)) for code, p in _language_identifier().rank(text)]


def warm_up() -> None:
    """Load the language model now (e.g. at app start) rather than in the first checked turn."""
    _language_identifier()
    sentences("Warm up. Done.")
