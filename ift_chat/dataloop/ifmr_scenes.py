"""Images of the built-in eval set, drawn with PIL so every visual question has a known answer.

A scene is a few shapes of one kind and colour on white, optionally with a word drawn in
black capitals; the drawing is deterministic (same bytes every time), so importing the set
twice stores each image once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

SIDE = 256
CELL = SIDE // 3
COLOURS = {"red": (220, 30, 30), "green": (30, 160, 60), "blue": (30, 70, 220), "yellow": (240, 200, 20),
           "orange": (245, 130, 20), "purple": (140, 50, 170), "black": (20, 20, 20)}
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@dataclass(frozen=True)
class Scene:
    shape: str  # circle | square | triangle
    colour: str
    count: int  # 1..6 (one per grid cell, top row first)
    word: str | None = None  # drawn in the bottom row when set

    @property
    def plural(self) -> str:
        return self.shape if self.count == 1 else self.shape + "s"

    @property
    def filename(self) -> str:
        word = f"-{self.word.lower()}" if self.word else ""
        return f"{self.count}-{self.colour}-{self.plural}{word}.png"

    def png(self) -> bytes:
        from PIL import Image, ImageDraw

        image = Image.new("RGB", (SIDE, SIDE), "white")
        draw = ImageDraw.Draw(image)
        rows = 2 if self.word else 3
        cells = [(c, r) for r in range(rows) for c in range(3)][: self.count]
        for col, row in cells:
            _shape(draw, self.shape, COLOURS[self.colour], col * CELL + 12, row * CELL + 12, CELL - 24)
        if self.word:
            _word(draw, self.word)
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=False)
        return buf.getvalue()


def _shape(draw, shape: str, fill, x: int, y: int, size: int) -> None:
    box = (x, y, x + size, y + size)
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([(x + size // 2, y), (x + size, y + size), (x, y + size)], fill=fill)


def _word(draw, word: str) -> None:
    from PIL import ImageFont

    try:
        font = ImageFont.load_default(size=44)
    except (TypeError, OSError):  # Pillow built without FreeType: the small bitmap font
        font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((0, 0), word, font=font)
    x = (SIDE - (right - left)) // 2
    y = 2 * CELL + (CELL - (bottom - top)) // 2 - top
    draw.text((x, y), word, fill=(0, 0, 0), font=font)
