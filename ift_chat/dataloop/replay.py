"""Replaying an evaluation set against checkpoints; results are ordinary conversations.

Each eval item becomes a conversation with mode ``replay`` and ``eval_item_id``
set; turns and responses are stored exactly as in chat, so replays flow into
rating tasks. With two checkpoints an item is one A/B conversation (sides
alternate by item, against position bias), so human votes on it count on the
leaderboard; otherwise one single-side conversation per checkpoint.

History modes: ``reference`` (each round sees the reference answers of earlier
rounds, falling back to the model's own when an item has none: isolates
per-round instruction following) or ``self`` (the model's own earlier answers); the
policy is ``dialog.history_reply``. Replies are recorded by the runner (``DialogRunner.answer``),
exactly as live turns are: partial saves, the app's caps, errors, identity leaks, checks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..backends import Backends, SamplingParams
from ..errors import BackendUnavailable, NotFound, ValidationError
from ..runner import DialogRunner
from ..store import PreparedImage, Store
from ..store.models import Conversation, EvalItem

REPLAY_HISTORY_MODES = ("reference", "self")
MAX_SAMPLES = 32
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReplayResult:
    eval_set: str
    checkpoints: tuple[str, ...]
    conversations: tuple[str, ...]
    responses: int
    errors: int
    seconds: float


async def wait_ready(backends: Backends, names: Sequence[str], timeout_s: float = 600.0,
                     poll_s: float = 0.5) -> None:
    """Wait until every named backend is ready (vLLM servers take a while to start)."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = {name: backends.get(name).status() for name in names}
        down = {n: s for n, s in states.items() if s.state == "down"}
        if down:
            raise BackendUnavailable("; ".join(f"{n} is down: {s.detail}" for n, s in down.items()))
        if all(s.state == "ready" for s in states.values()):
            return
        if time.monotonic() > deadline:
            raise BackendUnavailable(f"checkpoints not ready after {timeout_s:.0f} s")
        await asyncio.sleep(poll_s)


def plan_sides(checkpoints: Sequence[str], item_idx: int) -> list[dict[str, str]]:
    if len(checkpoints) == 2:
        a, b = checkpoints if item_idx % 2 else tuple(reversed(checkpoints))
        return [{"A": a, "B": b}]
    return [{"single": c} for c in checkpoints]


def check_request(store: Store, backends: Backends, eval_set: str, checkpoints: Sequence[str],
                  params: SamplingParams, history_mode: str) -> list[EvalItem]:
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise ValidationError("pick at least one checkpoint to replay on")
    if len(set(checkpoints)) != len(checkpoints):
        raise ValidationError("a checkpoint is listed twice")
    if history_mode not in REPLAY_HISTORY_MODES:
        raise ValidationError(f"history mode must be one of {', '.join(REPLAY_HISTORY_MODES)}")
    params.validate(store.config.limits)
    for name in checkpoints:
        backends.get(name)
    items = store.eval_sets.items(store.eval_sets.by_name(eval_set).id)
    if not items:
        raise ValidationError(f"the evaluation set {eval_set!r} has no items")
    for name in checkpoints:
        try:
            store.checkpoints.get(name)
        except NotFound:
            store.checkpoints.register(name)
    return items


async def replay_eval_set(store: Store, backends: Backends, eval_set: str, checkpoints: Sequence[str],
                          params: SamplingParams, *, history_mode: str = "reference",
                          rater_id: int | None = None, concurrency: int = 2,
                          on_progress: Progress | None = None,
                          cancel: asyncio.Event | None = None, samples: int = 1) -> ReplayResult:
    """Run every item on every checkpoint with the same sampling params, ``samples`` times
    (PIF-N-K: sample k uses seed + k, so sampled replies differ; its conversation is titled
    "… #idx sample k/N")."""
    started = time.monotonic()
    items = check_request(store, backends, eval_set, checkpoints, params, history_mode)
    if not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        raise ValidationError(f"samples must be a whole number from 1 to {MAX_SAMPLES}, not {samples!r}")
    if samples > 1 and params.greedy:
        raise ValidationError("several samples per item need a temperature above 0 (greedy replies are identical)")
    jobs = [(item, sides, k) for item in items for k in range(samples)
            for sides in plan_sides(checkpoints, item.idx)]
    total = sum(len(item.rounds) for item, _, _ in jobs)
    done, counts = 0, {"responses": 0, "errors": 0}
    gate = asyncio.Semaphore(max(1, concurrency))
    runner = DialogRunner(store, backends, store.config.limits)
    cancel = cancel or asyncio.Event()

    def round_done() -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, total)

    async def run(item: EvalItem, sides: dict[str, str], k: int) -> str:
        sample_params = params if params.seed is None or k == 0 else dataclasses.replace(params, seed=params.seed + k)
        title = f"{eval_set} #{item.idx}" + (f" sample {k + 1}/{samples}" if samples > 1 else "")
        async with gate:
            conversation = store.conversations.create(
                "replay", sides=sides, rater_id=rater_id, sampling_params=sample_params.to_dict(),
                system_prompt=item.system_prompt or "", eval_item_id=item.id, history_mode=history_mode,
                title=title)
            await _replay_item(runner, conversation, item, sample_params, cancel, counts, round_done)
            return conversation.id

    if on_progress:
        on_progress(0, total)
    conversation_ids = await asyncio.gather(*(run(item, sides, k) for item, sides, k in jobs))
    return ReplayResult(eval_set, tuple(checkpoints), tuple(conversation_ids), counts["responses"],
                        counts["errors"], time.monotonic() - started)


def _stored_image(store: Store, sha: str) -> PreparedImage:
    record = store.images.get(sha)
    path = store.images.absolute_path(record)
    ext = Path(record.path).suffix.lstrip(".")
    return PreparedImage(sha, path.read_bytes(), ext, record.width, record.height)


async def _replay_item(runner: DialogRunner, conversation: Conversation, item: EvalItem,
                       params: SamplingParams, cancel: asyncio.Event, counts: dict,
                       round_done: Callable[[], None]) -> None:
    """Each round becomes a turn answered on the runner's path (history by the conversation's
    policy: ``reference`` or ``self``)."""
    store = runner.store
    for r in item.rounds:
        images = [_stored_image(store, sha) for sha in r.get("images") or []]
        turn = await asyncio.to_thread(store.conversations.add_turn, conversation.id, r["text"], images)
        replies = await runner.answer(conversation, turn, params, cancel)
        counts["responses"] += len(replies)
        counts["errors"] += sum(reply.status == "error" for reply in replies.values())
        round_done()
