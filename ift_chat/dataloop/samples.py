"""Training samples derived from rated dialogs: SFT dialogs, preference pairs, KTO examples.

Every sample carries its provenance (conversation, turn, response, rating and vote
ids); writers add the export id and put it where their format allows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from .select import SKIP_FAILED_CHECK, RatedDialog, RatedResponse, RatedTurn, Selection

SKIP_OWN_HISTORY = "preference pairs: arena turns whose two sides had seen different histories (own-history " \
                   "arena from round 2 on, or no earlier winner to continue from): chosen and rejected would " \
                   "answer different prompts"
SKIP_STOPPED_CORRECTION = "correction pairs: the original reply was stopped (truncated); its correction is " \
                          "used as the SFT reply instead"
PAIR_ID_PREFIX = {"vote": "vote", "checks": "check"}  # row ids x<export>-vote-<turn>, …-check-<turn>
SKIP_CHECKS_UNDECIDED = "check pairs: arena turns where the automatic checks did not separate the two replies " \
                        "(both passed, both failed, or a side without a verifiable constraint)"


@dataclass(frozen=True)
class SampleRound:
    text: str
    images: tuple[str, ...] = ()
    reply: str | None = None


@dataclass(frozen=True)
class Sample:
    """One SFT dialog: every round passed the filter; replies may be corrections."""

    id: str
    rounds: tuple[SampleRound, ...]
    checkpoint: str
    system_prompt: str = ""
    corrected_rounds: int = 0
    tags: tuple[str, ...] = ()
    provenance: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Pair:
    """A preference pair; the prompt's last round has no reply."""

    id: str
    prompt: tuple[SampleRound, ...]
    chosen: str
    rejected: str
    source: str  # vote | correction | checks
    chosen_checkpoint: str
    rejected_checkpoint: str
    system_prompt: str = ""
    provenance: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Unpaired:
    """A KTO example: one completion labelled desirable or not."""

    id: str
    prompt: tuple[SampleRound, ...]
    completion: str
    label: bool
    checkpoint: str
    system_prompt: str = ""
    provenance: dict = field(default_factory=dict, compare=False)


def images_of(rounds) -> tuple[str, ...]:
    return tuple(sha for r in rounds for sha in r.images)


def provenance(dialog: RatedDialog, turns, responses: list[RatedResponse], votes=(), ratings=None) -> dict:
    """The ids a row came from (``ratings`` defaults to every rating of ``responses``)."""
    if ratings is None:
        ratings = [rid for r in responses for rid in r.judgement.rating_ids]
    out = {"conversation": dialog.id, "side": None, "turns": [t.id for t in turns], "responses": [r.id for r in responses],
           "ratings": list(ratings), "votes": list(votes),
           "checks": [c["id"] for r in responses for c in r.checks]}
    judged = [r.judgement.judge_verdict_id for r in responses if r.judgement.judge_verdict_id is not None]
    return {**out, "judge_verdicts": judged} if judged else out  # only with --judge


def history(dialog: RatedDialog, upto: int, side: str) -> list[SampleRound]:
    """The rounds before turn number `upto` as `side` saw them when it answered:
    the eval item's references (replay, ``reference``), the winner of the latest vote
    cast before that answer started (arena, ``winner``, as the runner chose it), or
    else its own replies."""
    rounds = []
    when = _answered_at(dialog, upto, side)
    for n, turn in enumerate(dialog.turns[:upto]):
        replies = {s: r.text for s, r in turn.responses.items()}
        reply = replies.get(side, "")
        winner = (turn.winner_at(when) if when else turn.last_winner) if dialog.history_mode == "winner" else None
        if dialog.history_mode == "reference" and n < len(dialog.references) and dialog.references[n] is not None:
            reply = dialog.references[n]
        elif winner in replies:
            reply = replies[winner]
        rounds.append(SampleRound(turn.text, turn.images, reply))
    return rounds


def _answered_at(dialog: RatedDialog, upto: int, side: str) -> str:
    if upto >= len(dialog.turns):
        return ""
    turn = dialog.turns[upto]
    resp = turn.responses.get(side)
    return (resp.created if resp else "") or turn.created


def sft_samples(sel: Selection) -> Iterator[Sample]:
    """Per conversation side: the rounds up to the first one that fails the filter.

    A failing turn ends the dialog because later user turns may build on its reply."""
    for dialog in sel.dialogs_in_split():
        sides = sorted({s for t in dialog.turns for s in t.responses})
        for side in sides:
            rounds, corrected, tags, checkpoint, used = [], 0, [], None, []
            for turn in dialog.turns:
                resp = turn.responses.get(side)
                reply = sel.sft_reply(resp)
                if reply is None:
                    break
                corrected += reply != resp.text
                tags += resp.judgement.tags
                checkpoint = resp.checkpoint
                rounds.append(SampleRound(turn.text, turn.images, reply))
                used.append((turn, resp))
            if rounds and sel.is_new("sft", images_of(rounds), [r.text for r in rounds]):
                prov = provenance(dialog, [t for t, _ in used], [r for _, r in used],
                                  votes=[v for t, _ in used for v in t.vote_ids])
                yield Sample(f"sft-{dialog.id}-{side}", tuple(rounds), checkpoint, dialog.system_prompt,
                             corrected, tuple(tags), {**prov, "side": side})


def preference_pairs(sel: Selection) -> Iterator[Pair]:
    """Arena turns with a majority winner (ties and both-bad never make a pair; a best pick of
    N sides makes one pair per other side),
    then corrected responses (the correction chosen over the original); with ``checks`` on,
    also arena turns nobody voted on where one reply passed every automatic check and the
    other failed one (``checks_only``: those alone)."""
    f = sel.filters
    for dialog in sel.dialogs_in_split():
        for n, turn in enumerate(dialog.turns):
            if not f.checks_only:
                yield from _vote_pair(sel, dialog, n, turn)
                if f.use_corrections:
                    yield from _correction_pairs(sel, dialog, n, turn)
            if f.checks != "off" and (f.checks_only or not turn.winners):
                yield from _check_pair(sel, dialog, n, turn)


def _pair_allowed(sel: Selection, chosen: RatedResponse | None, rejected: RatedResponse | None) -> bool:
    """Both replies final and within the filters (one of the checkpoints, one in the task set)."""
    if not (chosen and rejected and chosen.ok and rejected.ok):
        return False
    f = sel.filters
    if not f.include_identity_leak and (chosen.identity_leak or rejected.identity_leak):
        return False
    if f.checkpoints and not {chosen.checkpoint, rejected.checkpoint} & set(f.checkpoints):
        return False
    return sel.task_set_id is None or chosen.in_task_set or rejected.in_task_set


def _same_prompt_pair(sel: Selection, dialog: RatedDialog, n: int, turn: RatedTurn, chosen: RatedResponse,
                      rejected: RatedResponse, source: str, votes=()) -> Iterator[Pair]:
    if history(dialog, n, chosen.side) != history(dialog, n, rejected.side):
        sel.skipped[SKIP_OWN_HISTORY] += 1
        return
    prompt = (*history(dialog, n, chosen.side), SampleRound(turn.text, turn.images))
    if sel.is_new("pair", images_of(prompt), [r.text for r in prompt], chosen.text, rejected.text):
        prov = provenance(dialog, dialog.turns[:n + 1], [chosen, rejected], votes=votes)
        # An N-way turn makes one pair per losing side: the side names the row (…-vote-<turn>-C).
        row = f"{PAIR_ID_PREFIX[source]}-{turn.id}" + (f"-{rejected.side}" if len(turn.responses) > 2 else "")
        yield Pair(row, prompt, chosen.text, rejected.text, source,
                   chosen.checkpoint, rejected.checkpoint, dialog.system_prompt, prov)


def _vote_pair(sel: Selection, dialog: RatedDialog, n: int, turn: RatedTurn) -> Iterator[Pair]:
    if len(turn.winners) < sel.filters.min_voters:
        return
    winner, count = Counter(turn.winners).most_common(1)[0]
    if winner not in turn.responses or count * 2 <= len(turn.winners):  # a tie or "all bad": none
        return
    if sel.filters.min_agreement is not None and count / len(turn.winners) < sel.filters.min_agreement:
        return
    chosen = turn.responses[winner]
    # A best pick of N is chosen over each other side (as the leaderboard counts it).
    rejected_sides = [side for side in sorted(turn.responses) if side != winner]
    if not any(_pair_allowed(sel, chosen, turn.responses[side]) for side in rejected_sides):
        return
    if sel.check_passed(chosen) is False:
        sel.skipped[SKIP_FAILED_CHECK] += 1
        return
    for side in rejected_sides:
        if _pair_allowed(sel, chosen, turn.responses[side]):
            yield from _same_prompt_pair(sel, dialog, n, turn, chosen, turn.responses[side], "vote",
                                         turn.vote_ids)


def _check_pair(sel: Selection, dialog: RatedDialog, n: int, turn: RatedTurn) -> Iterator[Pair]:
    """The reply that passed every active constraint over the one that failed one; both answer
    the same prompt, so both were checked against the same constraints."""
    a, b = turn.responses.get("A"), turn.responses.get("B")
    if not _pair_allowed(sel, a, b):
        return
    passed = sel.check_passed(a), sel.check_passed(b)
    if None in passed or passed[0] == passed[1]:
        sel.skipped[SKIP_CHECKS_UNDECIDED] += 1
        return
    chosen, rejected = (a, b) if passed[0] else (b, a)
    yield from _same_prompt_pair(sel, dialog, n, turn, chosen, rejected, "checks")


def _correction_pairs(sel: Selection, dialog: RatedDialog, n: int, turn: RatedTurn) -> Iterator[Pair]:
    for side, resp in sorted(turn.responses.items()):
        corrected = resp.judgement.corrected
        if not corrected or corrected.strip() == resp.text.strip():
            continue
        if not sel.eligible(resp):
            if sel.eligible(resp, stopped_ok=True):
                sel.skipped[SKIP_STOPPED_CORRECTION] += 1
            continue
        prompt = (*history(dialog, n, side), SampleRound(turn.text, turn.images))
        if sel.is_new("pair", images_of(prompt), [r.text for r in prompt], corrected, resp.text):
            prov = provenance(dialog, dialog.turns[:n + 1], [resp], ratings=[resp.judgement.correction_id])
            yield Pair(f"correction-{resp.id}", prompt, corrected, resp.text, "correction",
                       "human", resp.checkpoint, dialog.system_prompt, {**prov, "side": side})


def unpaired_examples(sel: Selection) -> Iterator[Unpaired]:
    """KTO: responses with a trusted majority yes (desirable) or no (undesirable); with
    ``checks`` on, a desirable one must not fail an automatic check (``checks_only``: the
    checks give the label: passed every active constraint or failed one)."""
    for dialog in sel.dialogs_in_split():
        for n, turn in enumerate(dialog.turns):
            for side, resp in sorted(turn.responses.items()):
                label = _kto_label(sel, resp)
                if label is None or not resp.text.strip():
                    continue
                prompt = (*history(dialog, n, side), SampleRound(turn.text, turn.images))
                if sel.is_new("kto", images_of(prompt), [r.text for r in prompt], resp.text):
                    prov = provenance(dialog, dialog.turns[:n + 1], [resp])
                    yield Unpaired(f"response-{resp.id}", prompt, resp.text, label, resp.checkpoint,
                                   dialog.system_prompt, {**prov, "side": side})


def _kto_label(sel: Selection, resp: RatedResponse) -> bool | None:
    if not sel.eligible(resp):
        return None
    if sel.filters.checks_only:
        return sel.check_passed(resp)
    if not sel.trusted(resp.judgement):
        return None
    label = {"yes": True, "no": False}.get(resp.judgement.majority)
    if label is True and sel.check_passed(resp) is False:
        sel.skipped[SKIP_FAILED_CHECK] += 1
        return None
    if label is True and sel.judge_vetoes(resp):
        return None
    return label
