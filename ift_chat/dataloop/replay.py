"""Replaying an evaluation set against checkpoints; results are ordinary conversations.

Each eval item becomes a conversation with mode ``replay`` and ``eval_item_id``
set; turns and responses are stored exactly as in chat, so replays flow into
rating tasks. With two checkpoints an item is one A/B conversation (sides
alternate by item, against position bias), so human votes on it count on the
leaderboard; otherwise one single-side conversation per checkpoint.

History modes: ``reference`` (each round sees the reference answers of earlier
rounds, falling back to the model's own when an item has none: isolates
per-round instruction following) or ``self`` (the model's own earlier answers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .. import checks
from ..backends import Backends, Completion, SamplingParams
from ..dialog import Round, build_messages
from ..errors import BackendUnavailable, NotFound, ValidationError
from ..runner import leaks_identity
from ..store import PreparedImage, Store
from ..store.models import EvalItem

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
            await _replay_item(store, backends, conversation.id, item, sides, sample_params, history_mode,
                               cancel, counts, round_done)
            return conversation.id

    if on_progress:
        on_progress(0, total)
    conversation_ids = await asyncio.gather(*(run(item, sides, k) for item, sides, k in jobs))
    return ReplayResult(eval_set, tuple(checkpoints), tuple(conversation_ids), counts["responses"],
                        counts["errors"], time.monotonic() - started)


def _stored_image(store: Store, sha: str) -> tuple[PreparedImage, Path]:
    record = store.images.get(sha)
    path = store.images.absolute_path(record)
    ext = Path(record.path).suffix.lstrip(".")
    return PreparedImage(sha, path.read_bytes(), ext, record.width, record.height), path


async def _replay_item(store: Store, backends: Backends, conversation_id: str, item: EvalItem,
                       sides: dict[str, str], params: SamplingParams, history_mode: str,
                       cancel: asyncio.Event, counts: dict, round_done: Callable[[], None]) -> None:
    past: list[tuple[str, tuple[Path, ...], str | None]] = []  # text, images, reference
    own: dict[str, list[str]] = {side: [] for side in sides}
    for r in item.rounds:
        images = [_stored_image(store, sha) for sha in r.get("images") or []]
        turn = store.conversations.add_turn(conversation_id, r["text"], [img for img, _ in images])
        paths = tuple(path for _, path in images)

        async def answer(side: str, checkpoint: str) -> tuple[str, Completion]:
            history = [Round(text, imgs, ref if history_mode == "reference" and ref is not None else own[side][n])
                       for n, (text, imgs, ref) in enumerate(past)]
            messages = build_messages([*history, Round(r["text"], paths)], item.system_prompt or "")
            return side, await _stream_one(store, backends, turn.id, side, checkpoint, messages, params, cancel)

        results = await asyncio.gather(*(answer(side, ckpt) for side, ckpt in sides.items()))
        for side, completion in results:
            own[side].append(completion.text)
            counts["responses"] += 1
            counts["errors"] += completion.status == "error"
        past.append((r["text"], paths, r.get("reference")))
        round_done()


async def _stream_one(store: Store, backends: Backends, turn_id: int, side: str, checkpoint: str,
                      messages: list[dict], params: SamplingParams, cancel: asyncio.Event) -> Completion:
    """Stream one reply and record it like chat does (a backend failure becomes an error row)."""
    conversations = store.conversations
    response_id = conversations.start_response(turn_id, side, checkpoint, params.to_dict())
    text, completion = "", None
    try:
        async for item in backends.get(checkpoint).stream(messages, params, cancel):
            if isinstance(item, Completion):
                completion = item
            else:
                text += item
    except Exception as exc:  # a backend bug must not lose the replay
        completion = Completion(text, "error", error=f"{type(exc).__name__}: {exc}")
    completion = completion or Completion(text, "error", error="the backend ended without a result")
    final = completion.text or text
    with store.write():  # the reply and its automatic checks: one commit, as in chat
        conversations.finish_response(
            response_id, text=final, status=completion.status, error=completion.error,
            finish_reason=completion.finish_reason, ttft_ms=completion.ttft_ms,
            latency_ms=completion.latency_ms, tokens_in=completion.prompt_tokens,
            tokens_out=completion.completion_tokens, identity_leak=leaks_identity(final, checkpoint))
        checks.record_for_response(store, response_id)  # final replies only; never raises
    return Completion(final, completion.status, completion.finish_reason, completion.error)
