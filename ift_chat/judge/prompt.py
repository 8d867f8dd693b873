"""What a judge is sent: its rubric as the system prompt, the dialog as one marked-up user message.

The dialog is data, fenced by BEGIN/END markers the rubric tells the judge to treat as such.
A multimodal judge gets the turns' images in place; a text-only judge is told, at each image,
that an image was there and that it cannot see it (and the verdict records how many it missed).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import JudgeSpec, tag_list

HISTORY_POLICIES = ("own", "reference")


@dataclass(frozen=True)
class Prompt:
    messages: list[dict]
    images_sent: int
    images_hidden: int


def system_text(rubric: str) -> str:
    return rubric.replace("{tags}", tag_list())  # not str.format: rubrics hold JSON braces


def _user_parts(n: int, turn: dict, spec: JudgeSpec, counts: list[int]) -> list[dict]:
    parts: list[dict] = [{"type": "text", "text": f"\n[USER, turn {n}]\n"}]
    for path in turn.get("images") or ():
        if spec.multimodal:
            parts.append({"type": "image", "path": path})
            counts[0] += 1
        else:
            parts.append({"type": "text", "text": "[an image was attached here; you cannot see it: "
                                                  "judge only what the text allows]\n"})
            counts[1] += 1
    parts.append({"type": "text", "text": turn["user_text"] or "(no text)"})
    return parts


def dialog_parts(turns: list[dict], spec: JudgeSpec, system_prompt: str | None,
                 counts: list[int]) -> list[dict]:
    """Earlier rounds with their replies, then the current user turn (no reply)."""
    parts: list[dict] = [{"type": "text", "text": "BEGIN CONVERSATION"}]
    if (system_prompt or "").strip():
        parts.append({"type": "text", "text": f"\n[SYSTEM PROMPT the assistant was given]\n{system_prompt}"})
    for n, turn in enumerate(turns, start=1):
        parts += _user_parts(n, turn, spec, counts)
        if n < len(turns):
            reply = turn.get("reply")
            reply = "(omitted: the two replies being compared had different earlier replies)" \
                if reply is None else reply
            parts.append({"type": "text", "text": f"\n[ASSISTANT, turn {n}]\n{reply}"})
    parts.append({"type": "text", "text": "\nEND CONVERSATION"})
    return parts


def _note(spec: JudgeSpec, counts: list[int]) -> list[dict]:
    if counts[1] and not spec.multimodal:
        return [{"type": "text", "text": f"\nNote: this conversation has {counts[1]} image(s) you cannot "
                                         "see; do not guess what they show."}]
    return []


def single_prompt(spec: JudgeSpec, turns: list[dict], reply: str, system_prompt: str | None = None) -> Prompt:
    counts = [0, 0]
    parts = dialog_parts(turns, spec, system_prompt, counts)
    parts.append({"type": "text", "text": f"\nBEGIN REPLY TO GRADE (turn {len(turns)})\n{reply}\n"
                                          "END REPLY TO GRADE"})
    parts += _note(spec, counts)
    return _prompt(spec.rubric, parts, counts)


def pair_prompt(spec: JudgeSpec, turns: list[dict], first: str, second: str,
                system_prompt: str | None = None) -> Prompt:
    counts = [0, 0]
    parts = dialog_parts(turns, spec, system_prompt, counts)
    parts.append({"type": "text", "text": f"\nBEGIN REPLY A\n{first}\nEND REPLY A"
                                          f"\nBEGIN REPLY B\n{second}\nEND REPLY B"})
    parts += _note(spec, counts)
    return _prompt(spec.pairwise_rubric, parts, counts)


def _prompt(rubric: str, parts: list[dict], counts: list[int]) -> Prompt:
    # Adjacent text parts merged: text-only servers and chat templates want one string.
    merged: list[dict] = []
    for part in parts:
        if part["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1] = {"type": "text", "text": merged[-1]["text"] + part["text"]}
        else:
            merged.append(part)
    messages = [{"role": "system", "content": [{"type": "text", "text": system_text(rubric)}]},
                {"role": "user", "content": merged}]
    return Prompt(messages, counts[0], counts[1])


def with_reference(turns: list[dict], rounds: list[dict] | None) -> list[dict] | None:
    """The turns with every earlier reply replaced by the eval item's reference reply
    (MT-Bench-101 style), or None when the item has no reference for one of them."""
    if len(turns) <= 1:  # a first turn has no history to replace
        return turns
    if not rounds or len(rounds) < len(turns):
        return None
    out = []
    for n, turn in enumerate(turns):
        if n < len(turns) - 1:
            reference = rounds[n].get("reference")
            if not reference:
                return None
            turn = {**turn, "reply": reference}
        out.append(turn)
    return out
