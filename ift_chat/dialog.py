"""Turning stored dialogs into backend messages (shared by chat, arena and replay)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class Round:
    """One user turn and, if it already has one, the assistant reply to carry as history."""

    text: str
    image_paths: tuple[Path, ...] = ()
    reply: str | None = None


def user_content(text: str, image_paths: Sequence[Path]) -> list[dict]:
    """Images first, then the text: the order most VLM chat templates expect."""
    parts: list[dict] = [{"type": "image", "path": str(p)} for p in image_paths]
    if text:
        parts.append({"type": "text", "text": text})
    return parts


def build_messages(rounds: Sequence[Round], system_prompt: str = "") -> list[dict]:
    """OpenAI-style messages; every round but the last must carry its reply."""
    messages: list[dict] = []
    if system_prompt.strip():
        messages.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    for n, r in enumerate(rounds):
        messages.append({"role": "user", "content": user_content(r.text, r.image_paths)})
        last = n == len(rounds) - 1
        if r.reply is not None and not last:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": r.reply}]})
        elif not last:
            raise ValueError(f"round {n + 1} has no reply to carry as history")
    return messages
