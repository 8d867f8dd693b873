"""A data report for an export: counts, lengths, duplicates, tags, diversity.

Accumulated while the export streams, in bounded memory (length histograms and
hashes of instructions, not the texts)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field


# Diversity is measured on the first instructions only, so the report's memory is bounded.
DIVERSITY_SAMPLE = 50_000


def _quantiles(hist: Counter) -> dict:
    total = sum(hist.values())
    if not total:
        return {}
    out, seen, marks = {}, 0, {"p10": 0.1, "p50": 0.5, "p90": 0.9}
    values = sorted(hist)
    for value in values:
        seen += hist[value]
        for name, q in marks.items():
            if name not in out and seen >= q * total:
                out[name] = value
    mean = sum(v * c for v, c in hist.items()) / total
    return {"min": values[0], **out, "max": values[-1], "mean": round(mean, 1)}


def _key(text: str) -> bytes:
    return hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=8).digest()


@dataclass
class DataReport:
    rows: int = 0
    per_checkpoint: Counter = field(default_factory=Counter)
    per_source: Counter = field(default_factory=Counter)
    turns_per_dialog: Counter = field(default_factory=Counter)
    instruction_chars: Counter = field(default_factory=Counter)
    response_chars: Counter = field(default_factory=Counter)
    tags: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)
    images: int = 0
    _instructions: set = field(default_factory=set)
    _bigrams: set = field(default_factory=set)
    _instruction_count: int = 0
    _bigram_count: int = 0

    def add(self, *, checkpoint: str, source: str, instructions: list[str], responses: list[str],
            images: int = 0, tags=(), label: str | None = None) -> None:
        self.rows += 1
        self.per_checkpoint[checkpoint] += 1
        self.per_source[source] += 1
        self.turns_per_dialog[len(instructions)] += 1
        self.images += images
        self.tags.update(tags)
        if label is not None:
            self.labels[label] += 1
        for text in instructions:
            self.instruction_chars[len(text)] += 1
            if self._instruction_count >= DIVERSITY_SAMPLE:
                continue
            self._instruction_count += 1
            self._instructions.add(_key(text))
            words = text.lower().split()
            self._bigram_count += max(len(words) - 1, 0)
            self._bigrams.update(_key(f"{a} {b}") for a, b in zip(words, words[1:]))
        for text in responses:
            self.response_chars[len(text)] += 1

    def to_dict(self, duplicates_dropped: int = 0) -> dict:
        seen = self.rows + duplicates_dropped
        return {
            "rows": self.rows,
            "per_checkpoint": dict(self.per_checkpoint.most_common()),
            "per_source": dict(self.per_source.most_common()),
            "turns_per_dialog": dict(sorted(self.turns_per_dialog.items())),
            "instruction_chars": _quantiles(self.instruction_chars),
            "response_chars": _quantiles(self.response_chars),
            "images": self.images,
            "duplicates_dropped": duplicates_dropped,
            "duplicate_rate": round(duplicates_dropped / seen, 4) if seen else 0.0,
            "tags": dict(self.tags.most_common()),
            "labels": dict(self.labels),
            # Diversity over the first DIVERSITY_SAMPLE instructions: share of distinct
            # instructions, and distinct word bigrams / all bigrams (distinct-2).
            "distinct_instructions": round(len(self._instructions) / self._instruction_count, 4)
            if self._instruction_count else 0.0,
            "distinct_2": round(len(self._bigrams) / self._bigram_count, 4) if self._bigram_count else 0.0,
            "diversity_sample": self._instruction_count,
        }


def report_markdown(report: dict) -> str:
    lines = [f"**{report['rows']:,} rows**, {report['images']:,} image references, "
             f"{report['duplicates_dropped']:,} duplicates dropped ({report['duplicate_rate']:.1%})."]
    for title, key in (("Per checkpoint", "per_checkpoint"), ("Per source", "per_source"),
                       ("Turns per dialog", "turns_per_dialog"), ("Labels", "labels"), ("Tags", "tags")):
        if report.get(key):
            lines.append(f"- {title}: " + ", ".join(f"{k}: {v}" for k, v in report[key].items()))
    for title, key in (("Instruction length (chars)", "instruction_chars"),
                       ("Response length (chars)", "response_chars")):
        if report.get(key):
            lines.append(f"- {title}: " + ", ".join(f"{k} {v}" for k, v in report[key].items()))
    lines.append(f"- Diversity: {report['distinct_instructions']:.1%} distinct instructions, "
                 f"distinct-2 {report['distinct_2']:.3f}")
    if report.get("split"):
        lines.append(f"- Split: {report['split']}")
    for what, n in (report.get("skipped") or {}).items():
        lines.append(f"- Skipped {n:,}: {what}")
    for what, n in (report.get("notes") or {}).items():
        lines.append(f"- {n:,} {what}")
    for key, value in (report.get("choices") or {}).items():
        lines.append(f"- {key.replace('_', ' ')}: {value}")
    return "\n".join(lines)
