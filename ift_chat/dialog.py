"""Turning stored dialogs into backend messages (shared by chat, arena and replay)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .errors import ValidationError

if TYPE_CHECKING:
    from .store.dialog import Dialog, DialogTurn

# Image placeholders of VLM chat templates (LLaVA/Idefics/SmolVLM, Qwen-VL, Gemma 3, Llama 3.2
# Vision, InternVL, Pixtral) and of the LLaVA / LLaMA-Factory formats. Typed into a user message,
# the processor reads one as an image slot: "Found total 2 <image> tokens and 1 images".
IMAGE_TOKEN_RE = re.compile(
    r"<image>|<\|image_pad\|>|<\|vision_start\|>|<\|vision_end\|>|<\|video_pad\|>|<fake_token_around_image>"
    r"|<global-img>|<row_\d+_col_\d+>|<image_soft_token>|<start_of_image>|<end_of_image>|<\|image\|>"
    r"|<IMG_CONTEXT>|<video>|\[IMG\]")


def image_tokens_in(text: str) -> list[str]:
    return IMAGE_TOKEN_RE.findall(text or "")


def check_no_image_tokens(text: str) -> None:
    """Refuse user text that contains an image placeholder token (nothing is written)."""
    found = image_tokens_in(text)
    if found:
        raise ValidationError(
            f"the message contains {found[0]!r}, which models read as an image placeholder; "
            "write it differently (for example with spaces: < image >) or attach the image instead")


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


# What a side sees of earlier rounds: its own replies ("own"; "self" in replays, None in old
# rows), the latest vote's winner ("winner", else its own), or the eval item's reference
# answers ("reference", else its own).
HISTORY_POLICIES = (None, "own", "winner", "reference", "self")


def history_reply(policy: str | None, past: "DialogTurn", side: str) -> str:
    """The reply `side` is shown as the answer to the earlier turn `past`."""
    replies = past.replies()
    if policy == "reference" and past.reference is not None:
        return past.reference
    if policy == "winner" and past.winner in replies:
        return replies[past.winner]
    return replies.get(side, "")


def rounds_for(dialog: "Dialog", turn_id: int, side: str) -> list[Round]:
    """The dialog as `side` sees it when it answers live turn `turn_id` (the last round)."""
    policy = dialog.conversation.history_mode
    rounds = [Round(past.turn.user_text, past.image_paths, history_reply(policy, past, side))
              for past in dialog.before(turn_id)]
    current = dialog.turn(turn_id)
    return [*rounds, Round(current.turn.user_text, current.image_paths)]


def leaks_identity(text: str, *identities: str) -> bool:
    """A reply that says any of its checkpoint's identities (name, display name, served model
    id, base; any case, modulo -/_/./space) breaks anonymity."""
    def squash(s: str) -> str:
        return re.sub(r"[\s_\-./:()]+", "", s.lower())
    said = squash(text)
    return any(len(name) >= 3 and name in said for name in map(squash, identities))
