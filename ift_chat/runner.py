"""Running dialog turns: store the turn, stream every side at once, record each reply.

Shared by the chat tab (one side), the arena (two or more) and replays (``answer``): one
path records every reply. Gradio-free: the UI iterates the snapshots this yields and renders them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from typing import AsyncIterator, Sequence

from . import checks
from .backends import Backends, Completion, SamplingParams
from .config import Limits
from .dialog import Round, build_messages, check_no_image_tokens, leaks_identity, rounds_for
from .errors import BackendUnavailable, NotFound, ValidationError
from .store import Store
from .store.conversations import BATTLE
from .store.images import prepare_image
from .store.models import Conversation, Response, Turn

log = logging.getLogger(__name__)

# How often a streaming reply's partial text is written to the DB, so a crash keeps it.
PARTIAL_SAVE_SECONDS = 2.0
# Each snapshot is a re-render of the panes (DB reads + a Gradio update, ~30 ms of event-loop CPU
# with Gradio 6.31), so deltas are batched to at most one snapshot per interval; a side's first
# text and a side finishing still go out at once (time to first token is not delayed).
SNAPSHOT_INTERVAL_SECONDS = 0.1


@dataclass(frozen=True)
class Snapshot:
    """The state of one turn while it streams: text so far and which sides finished."""

    turn_id: int
    texts: dict[str, str]
    finished: frozenset[str]

    @property
    def done(self) -> bool:
        return self.finished == frozenset(self.texts)


# A battle's sampling must not be repeatable: a reply reproduced with the same prompt, seed
# or (near-)greedy decoding on the chat tab, where the checkpoint is named, unblinds it.
BLIND_MIN_TEMPERATURE = 0.5
BLIND_MIN_TOP_P = 0.5


def check_blind_sampling(params: SamplingParams) -> SamplingParams:
    """Refuse sampling that would make a battle's replies reproducible."""
    if params.seed is not None:
        raise ValidationError("a battle samples at random: leave the seed blank (a fixed seed "
                              "would let a reply be reproduced where the model is named)")
    if params.temperature < BLIND_MIN_TEMPERATURE or params.top_p < BLIND_MIN_TOP_P:
        raise ValidationError(f"a battle needs temperature ≥ {BLIND_MIN_TEMPERATURE} and top-p ≥ "
                              f"{BLIND_MIN_TOP_P}: near-greedy replies could be reproduced where the "
                              "model is named")
    return params


def _take(item: tuple[str, str | None], texts: dict[str, str], finished: set[str]) -> bool:
    """Apply one queued (side, delta or None = done); True when it must be shown at once."""
    side, delta = item
    if delta is None:
        finished.add(side)
        return True
    first = not texts[side] and bool(delta)
    texts[side] += delta
    return first


class DialogRunner:
    """Owns the cancel events of running turns (one per conversation)."""

    def __init__(self, store: Store, backends: Backends, limits: Limits):
        self.store = store
        self.backends = backends
        self.limits = limits
        self._cancels: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task] = set()

    # -- conversations ---------------------------------------------------------
    def start(self, mode: str, sides: dict[str, str], *, rater_id: int | None,
              system_prompt: str = "", params: SamplingParams | None = None,
              history_mode: str | None = None, eval_item_id: int | None = None) -> Conversation:
        check_no_image_tokens(system_prompt)
        params = (params or SamplingParams()).validate(self.limits)
        if mode == BATTLE:
            check_blind_sampling(params)
            if rater_id is None:
                raise ValidationError("enter your rater name (top right of the page) to start a battle: "
                                      "a battle and its votes are yours alone")
        self._require_ready(sides.values())  # a refused first turn leaves no empty conversation
        return self.store.conversations.create(
            mode, sides=sides, rater_id=rater_id, system_prompt=system_prompt,
            sampling_params=params.to_dict(), history_mode=history_mode, eval_item_id=eval_item_id)

    def pick_anonymous_pair(self, rng: random.Random | None = None) -> dict[str, str]:
        """Two ready checkpoints, pairs with fewer votes more likely, sides shuffled."""
        rng = rng or random.Random()
        ready = [n for n, s in self.backends.statuses().items() if s.state == "ready"]
        if len(ready) < 2:
            raise BackendUnavailable("an anonymous battle needs at least two ready checkpoints")
        counts = self.store.feedback.vote_counts_by_pair()
        pairs = [(a, b) for i, a in enumerate(ready) for b in ready[i + 1:]]
        weights = [1.0 / (1 + counts.get(tuple(sorted(p)), 0)) for p in pairs]
        pair = list(rng.choices(pairs, weights)[0])
        rng.shuffle(pair)
        return {"A": pair[0], "B": pair[1]}

    # -- turns -------------------------------------------------------------------
    def check_message(self, text: str, images: Sequence[bytes] = ()) -> None:
        """Refuse a bad message before a conversation is created for it (nothing is written)."""
        check_no_image_tokens(text)
        self.store.conversations.check_message(text, len(images))
        for n, data in enumerate(images):
            prepare_image(data, self.limits, f"image {n + 1}")

    async def send(self, conversation_id: str, text: str, images: Sequence[bytes] = (),
                   params: SamplingParams | None = None, *,
                   rater_id: int | None = None) -> AsyncIterator[Snapshot]:
        """Validate, store the user turn, then stream every side's reply."""
        check_no_image_tokens(text)
        conversation = self._open(conversation_id, rater_id)
        params = self._params(conversation, params)
        prepared = await asyncio.to_thread(self._prepare_images, images)
        self._check_ready(conversation_id)
        self._check_idle(conversation_id)
        # Writes run in a thread: one waiting for another process's lock must not stall the loop.
        turn = await asyncio.to_thread(self.store.conversations.add_turn, conversation_id, text, prepared)
        async for snapshot in self._respond(conversation, turn, params):
            yield snapshot

    async def regenerate(self, conversation_id: str, params: SamplingParams | None = None, *,
                         rater_id: int | None = None) -> AsyncIterator[Snapshot]:
        """New replies to the last turn on every side; the old ones stay, superseded."""
        conversation = self._open(conversation_id, rater_id)
        params = self._params(conversation, params)
        turn = self._last_turn(conversation_id)
        self._check_ready(conversation_id)
        self._check_idle(conversation_id)
        await asyncio.to_thread(self.store.conversations.supersede_responses, turn.id)
        async for snapshot in self._respond(conversation, turn, params):
            yield snapshot

    async def edit_last(self, conversation_id: str, text: str, images: Sequence[bytes] | None = None,
                        params: SamplingParams | None = None, *,
                        rater_id: int | None = None) -> AsyncIterator[Snapshot]:
        """Replace the last user turn (kept, superseded) and answer the new one.

        ``images=None`` keeps the old turn's images."""
        check_no_image_tokens(text)
        self._open(conversation_id, rater_id)
        old = self._last_turn(conversation_id)
        self._check_idle(conversation_id)
        if images is None:
            images = [self.store.images.absolute_path(self.store.images.get(sha)).read_bytes()
                      for sha in old.images]
        conversation = self.store.conversations.get(conversation_id)
        params = self._params(conversation, params)
        prepared = await asyncio.to_thread(self._prepare_images, images)
        self._check_ready(conversation_id)
        self.store.conversations.check_message(text, len(prepared))  # refused before anything changes
        await asyncio.to_thread(self.store.conversations.supersede_turn, old.id)
        turn = await asyncio.to_thread(self.store.conversations.add_turn, conversation_id, text, prepared)
        async for snapshot in self._respond(conversation, turn, params):
            yield snapshot

    def _prepare_images(self, images: Sequence[bytes]) -> list:
        return [prepare_image(data, self.limits, f"image {n + 1}") for n, data in enumerate(images)]

    def stop(self, conversation_id: str) -> bool:
        """Ask the running turn of this conversation to stop; its partial text is kept."""
        event = self._cancels.get(conversation_id)
        if event is None:
            return False
        event.set()
        return True

    def is_running(self, conversation_id: str) -> bool:
        return conversation_id in self._cancels

    # -- history -----------------------------------------------------------------
    def rounds_for(self, conversation: Conversation, turn: Turn, side: str) -> list[Round]:
        """The dialog as `side` sees it up to `turn` (its history policy: dialog.rounds_for)."""
        return rounds_for(self.store.dialogs.load(conversation.id), turn.id, side)

    # -- streaming ---------------------------------------------------------------
    async def answer(self, conversation: Conversation, turn: Turn, params: SamplingParams,
                     cancel: asyncio.Event | None = None) -> dict[str, Response]:
        """Record every side's reply to a stored turn, as a live turn does (history policy,
        partial saves, caps, errors recorded): replays and batch jobs. ``cancel`` stops it."""
        async for _ in self._respond(conversation, turn, params, cancel):
            pass
        return {r.side: r for r in await asyncio.to_thread(self.store.conversations.responses, turn.id)}

    async def _respond(self, conversation: Conversation, turn: Turn, params: SamplingParams,
                       cancel: asyncio.Event | None = None) -> AsyncIterator[Snapshot]:
        dialog = await asyncio.to_thread(self.store.dialogs.load, conversation.id)  # one read for all sides
        sides = dialog.sides
        cancel = cancel or asyncio.Event()
        self._cancels[conversation.id] = cancel
        queue: asyncio.Queue = asyncio.Queue()
        texts = {side: "" for side in sides}
        finished: set[str] = set()
        messages = {side: build_messages(rounds_for(dialog, turn.id, side),
                                         conversation.system_prompt or "") for side in sides}
        # Independent tasks: a closed browser tab must not lose the reply (nor lift its caps).
        deadline = asyncio.get_running_loop().time() + self.limits.max_turn_seconds
        tasks = [asyncio.create_task(self._stream_side(
            turn.id, side, checkpoint, messages[side], params, _Caps(self.limits, params, deadline),
            cancel, queue)) for side, checkpoint in sides.items()]
        group = asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.add(group)
        group.add_done_callback(lambda _: self._release(conversation.id, cancel, group))
        # The turn is stored and its sides are asked: shown at once (the user's message, a
        # placeholder reply), not only with the first token.
        yield Snapshot(turn.id, dict(texts), frozenset())
        loop, shown_at = asyncio.get_running_loop(), float("-inf")
        while len(finished) < len(sides):
            urgent = _take(await queue.get(), texts, finished)
            while not urgent and (wait := shown_at + SNAPSHOT_INTERVAL_SECONDS - loop.time()) > 0:
                try:  # batch deltas until the interval is over or something must be shown now
                    urgent = _take(await asyncio.wait_for(queue.get(), wait), texts, finished)
                except asyncio.TimeoutError:
                    break
            while not queue.empty():  # coalesce whatever else arrived meanwhile
                _take(queue.get_nowait(), texts, finished)
            shown_at = loop.time()
            if len(finished) == len(sides):
                # Every side is recorded: the conversation is idle before its last snapshot is
                # seen (the group's done-callback runs later, after an immediate next send).
                self._idle(conversation.id, cancel)
            yield Snapshot(turn.id, dict(texts), frozenset(finished))

    def _release(self, conversation_id: str, cancel: asyncio.Event, group) -> None:
        self._tasks.discard(group)
        self._idle(conversation_id, cancel)

    def _idle(self, conversation_id: str, cancel: asyncio.Event) -> None:
        if self._cancels.get(conversation_id) is cancel:
            del self._cancels[conversation_id]

    async def _stream_side(self, turn_id: int, side: str, checkpoint: str, messages: list[dict],
                           params: SamplingParams, caps: "_Caps", cancel: asyncio.Event,
                           queue: asyncio.Queue) -> None:
        conversations = self.store.conversations
        response_id = await asyncio.to_thread(conversations.start_response, turn_id, side, checkpoint,
                                              params.to_dict())
        text, completion, saving = "", None, None
        try:
            last_save = time.monotonic()
            stream = self.backends.get(checkpoint).stream(messages, params, cancel)
            async with contextlib.aclosing(stream), asyncio.timeout_at(caps.deadline):
                async for item in stream:
                    if isinstance(item, Completion):
                        completion = item
                        continue
                    item = caps.take(text, item)
                    text += item
                    if item:
                        queue.put_nowait((side, item))
                    if caps.reason:  # leaving the stream closes it: the server stops generating
                        break
                    if time.monotonic() - last_save > PARTIAL_SAVE_SECONDS and not (saving and not saving.done()):
                        # In a thread and not awaited: a locked DB must not stop the reply being read.
                        saving = asyncio.ensure_future(asyncio.to_thread(conversations.save_partial,
                                                                         response_id, text))
                        last_save = time.monotonic()
        except TimeoutError:
            caps.reason = caps.time_reason()
        except Exception as exc:  # a backend bug must not lose the turn
            log.exception("backend %s failed", checkpoint)
            completion = Completion(text, "error", error=f"{type(exc).__name__}: {exc}")
        if caps.reason:
            completion = Completion(text, "stopped", finish_reason="length", error=caps.reason,
                                    prompt_tokens=getattr(completion, "prompt_tokens", None),
                                    ttft_ms=getattr(completion, "ttft_ms", None), latency_ms=caps.elapsed_ms())
        completion = completion or Completion(text, "error", error="the backend ended without a result")
        final = completion.text if completion.text and not caps.reason else text
        try:
            if saving is not None:
                await asyncio.gather(saving, return_exceptions=True)
            # In a thread: a write waiting for another process's lock must not stall the loop.
            await asyncio.to_thread(self._finish, response_id, checkpoint, final, completion)
        finally:
            if final != text:
                queue.put_nowait((side, final[len(text):] if final.startswith(text) else ""))
            queue.put_nowait((side, None))

    def _finish(self, response_id: int, checkpoint: str, final: str, completion: Completion) -> None:
        with self.store.write():  # the reply and its automatic checks: one commit
            self.store.conversations.finish_response(
                response_id, text=final, status=completion.status, error=completion.error,
                finish_reason=completion.finish_reason, ttft_ms=completion.ttft_ms,
                latency_ms=completion.latency_ms, tokens_in=completion.prompt_tokens,
                tokens_out=completion.completion_tokens,
                identity_leak=leaks_identity(final, *self.store.checkpoints.names(checkpoint)))
            checks.record_for_response(self.store, response_id)  # final replies only; never raises

    # -- checks ------------------------------------------------------------------
    def _open(self, conversation_id: str, rater_id: int | None) -> Conversation:
        """The conversation, if this rater may continue it (a battle: its owner, until revealed)."""
        self.store.conversations.check_battle_open(conversation_id, rater_id, "continue it")
        return self.store.conversations.get(conversation_id)

    def _params(self, conversation: Conversation, params: SamplingParams | None) -> SamplingParams:
        params = params or SamplingParams.from_dict(conversation.sampling_params)
        params = params.validate(self.limits)
        return check_blind_sampling(params) if conversation.mode == BATTLE else params

    def _check_ready(self, conversation_id: str) -> None:
        self._require_ready(self.store.conversations.sides(conversation_id).values())

    def _require_ready(self, checkpoints) -> None:
        for checkpoint in checkpoints:
            status = self.backends.get(checkpoint).status()
            if status.state != "ready":
                # No name or detail: in an anonymous battle it would reveal the model.
                raise BackendUnavailable(
                    f"a checkpoint in this conversation is {status.state}; try again in a moment")

    def _check_idle(self, conversation_id: str) -> None:
        if self.is_running(conversation_id):
            raise ValidationError("a reply is still streaming: wait for it or press Stop")

    def _last_turn(self, conversation_id: str) -> Turn:
        turn = self.store.conversations.last_turn(conversation_id)
        if turn is None:
            raise NotFound("this conversation has no turn yet")
        return turn


class _Caps:
    """The app's own limits on one reply: characters, streamed pieces (each at least one token:
    more than twice ``max_tokens`` means the server ignores it) and the turn's wall time."""

    def __init__(self, limits: Limits, params: SamplingParams, deadline: float):
        self.chars, self.seconds, self.deadline = limits.max_reply_chars, limits.max_turn_seconds, deadline
        self.pieces, self.max_pieces, self.max_tokens = 0, 2 * params.max_tokens + 16, params.max_tokens
        self.started = time.monotonic()
        self.reason: str | None = None  # why the app cut the reply (shown with it)

    def take(self, text: str, piece: str) -> str:
        """The part of ``piece`` that fits; sets ``reason`` once a cap is reached."""
        self.pieces += 1
        if self.pieces > self.max_pieces:
            self.reason = (f"cut by the app: the model server kept sending past the {self.max_tokens} "
                           "tokens asked for")
            return ""
        room = self.chars - len(text)
        if len(piece) >= room:
            self.reason = f"cut by the app at its limit of {self.chars:,} characters per reply"
            return piece[:room]
        return piece

    def time_reason(self) -> str:
        return f"cut by the app at its limit of {self.seconds:g} s per turn"

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000
