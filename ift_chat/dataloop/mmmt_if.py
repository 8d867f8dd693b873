"""The MMMT-IF CSV layout (google-research/mmmt_if, "MMMT-IF public release data.csv").

One row per turn: ``conversation id``, ``turn count (which turn in this conversation)``,
``prompt`` (the instructions are part of the prompt text), ``image 1`` .. ``image 5``. The
public release leaves the image columns empty (the images are not redistributed), and its
prompts refer to them as "Image1" .. "Image5", all shown at the start of the chat. So a
conversation's images are, in order of preference: the file names in its first row's image
columns, else the files ``<images dir>/<conversation id>/image<N>.<ext>`` (user-supplied).
They go with round 1. Prompts are hard-wrapped in the CSV; whitespace is normalised.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import ValidationError
from .imports import ParsedRound
from .outdir import inside

CONVERSATION = "conversation id"
TURN = "turn count (which turn in this conversation)"
PROMPT = "prompt"
IMAGE_COLUMNS = tuple(f"image {n}" for n in range(1, 6))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def looks_like_mmmt_if(text: str) -> bool:
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    return CONVERSATION in header and PROMPT in header


def parse_mmmt_if(text: str, images_dir: Path | None) -> list[tuple[str | None, list[ParsedRound]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in (CONVERSATION, TURN, PROMPT) if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(f"not an MMMT-IF CSV: missing column(s) {', '.join(missing)}")
    chats: dict[str, list[tuple[int, dict]]] = {}
    for n, row in enumerate(reader, 2):
        conv, turn = (row.get(CONVERSATION) or "").strip(), (row.get(TURN) or "").strip()
        if not conv or not turn.isdigit():
            raise ValidationError(f"line {n}: needs a conversation id and a turn number")
        chats.setdefault(conv, []).append((int(turn), row))
    items = []
    for conv, rows in chats.items():
        rows.sort(key=lambda r: r[0])
        turns = [t for t, _ in rows]
        if len(set(turns)) != len(turns):
            raise ValidationError(f"conversation {conv}: a turn number appears twice")
        images = _images(conv, rows[0][1], images_dir)
        rounds = [ParsedRound(" ".join((row.get(PROMPT) or "").split()), images if i == 0 else (), None)
                  for i, (_, row) in enumerate(rows)]
        items.append((f"mmmt-if-{conv}", rounds, None))  # no system prompt in that layout
    return items


def _images(conv: str, first_row: dict, images_dir: Path | None) -> tuple[str, ...]:
    named = tuple(v.strip() for c in IMAGE_COLUMNS if (v := (first_row.get(c) or "").strip()))
    if named or images_dir is None:
        return named
    folder = inside(images_dir, conv)
    if not folder.is_dir():
        return ()
    found = []
    for n in range(1, len(IMAGE_COLUMNS) + 1):
        match = next((p for p in sorted(folder.iterdir()) if p.stem.lower() == f"image{n}"
                      and p.suffix.lower() in IMAGE_SUFFIXES), None)
        if match is not None:
            found.append(f"{conv}/{match.name}")
    return tuple(found)
