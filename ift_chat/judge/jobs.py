"""Judge jobs: grade the replies (or arena turns) of a scope with bounded concurrency.

Idempotent and resumable: a reply this judge (same name and rubric hash) already graded under
the same history policy is skipped unless ``force``; rows that ended in an error (timeout, a
server down) are retried by the next run. Each verdict is written when it arrives, so a stopped
or killed job loses nothing it acknowledged.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Callable

from ..backends import Backends, SamplingParams
from ..backends.openai_client import OpenAIBackend
from ..config import Limits
from ..errors import ValidationError
from .config import JudgeSpec
from .parse import parse_pair, parse_single
from .prompt import HISTORY_POLICIES, pair_prompt, single_prompt, with_reference

NO_REPLY = "(no reply was stored for this turn)"
SWAP = {"A": "B", "B": "A", "tie": "tie"}


@dataclass(frozen=True)
class JobResult:
    rater: str
    total: int  # targets in the scope
    judged: int  # asked now
    skipped: int  # already judged (not forced)
    unparsable: int
    errors: int
    no_reference: int  # reference policy, but the item has no reference history
    consistent: int = 0  # pairwise: both orders gave the same verdict
    inconsistent: int = 0
    seconds: float = 0.0
    stopped: bool = False

    @property
    def inconsistency_rate(self) -> float | None:
        n = self.consistent + self.inconsistent
        return self.inconsistent / n if n else None


def judge_backend(spec: JudgeSpec, backends: Backends | None, limits: Limits):
    """The served checkpoint (through the app's Backends) or a client for the judge's URL."""
    if spec.checkpoint:
        if backends is None:
            raise ValidationError(f"judge {spec.name} is the served checkpoint {spec.checkpoint}: "
                                  "run it where the app serves its checkpoints")
        return backends.get(spec.checkpoint)
    return OpenAIBackend(f"judge {spec.name}", spec.url, limits, model=spec.model,
                         timeout_s=spec.timeout_s, api_key=spec.api_key())


async def ask(backend, spec: JudgeSpec, messages: list[dict]) -> tuple[str, str | None, float]:
    """The judge's whole output, an error (or None) and the latency in ms."""
    params = SamplingParams(temperature=spec.temperature, max_tokens=spec.max_tokens, seed=0)
    start = time.perf_counter()
    text, error = "", None

    async def collect():
        nonlocal text, error
        async for item in backend.stream(messages, params):
            if isinstance(item, str):
                text += item
            elif item.status == "error":
                error = item.error or "the judge failed"
    try:
        await asyncio.wait_for(collect(), spec.timeout_s)
    except asyncio.TimeoutError:
        error = f"the judge did not answer within {spec.timeout_s:g} s"
    return text, error, (time.perf_counter() - start) * 1000


class _Job:
    def __init__(self, store, backend, spec: JudgeSpec, policy: str, rater_id: int,
                 stop: threading.Event | None):
        self.store, self.backend, self.spec, self.policy = store, backend, spec, policy
        self.rater_id, self.stop = rater_id, stop
        self.counts = {"judged": 0, "unparsable": 0, "errors": 0, "no_reference": 0,
                       "consistent": 0, "inconsistent": 0}

    def turns(self, target: dict, side: str) -> list[dict] | None:
        turns = self.store.judges.history(target["conversation_id"], target["idx"], side)
        if self.policy == "reference":
            return with_reference(turns, self.store.judges.eval_rounds(target["eval_item_id"]))
        return [{**t, "reply": t["reply"] if t["reply"] is not None else NO_REPLY} for t in turns]

    async def single(self, target: dict) -> None:
        turns = await asyncio.to_thread(self.turns, target, target["side"])
        if turns is None:
            self.counts["no_reference"] += 1
            return
        prompt = single_prompt(self.spec, turns, target["text"] or "", target["system_prompt"])
        raw, error, ms = await ask(self.backend, self.spec, prompt.messages)
        parsed = parse_single(raw)
        status = "error" if error else parsed.status
        values = {"status": status, "parse": parsed.parse, "followed": parsed.followed,
                  "score": parsed.score, "tags": parsed.tags, "reason": parsed.reason,
                  "raw_output": raw, "error": error, "images_sent": prompt.images_sent,
                  "images_hidden": prompt.images_hidden, "latency_ms": round(ms, 1)}
        await asyncio.to_thread(self.store.judges.record_verdict, target["response_id"], self.rater_id,
                                self.policy, values)
        self._count(status)

    def pair_turns(self, target: dict) -> list[dict] | None:
        if self.policy == "reference":
            return self.turns(target, "A")
        a = self.store.judges.history(target["conversation_id"], target["idx"], "A")
        b = self.store.judges.history(target["conversation_id"], target["idx"], "B")
        return [{**ta, "reply": ta["reply"] if ta["reply"] == tb["reply"] else None} for ta, tb in zip(a, b)]

    async def pair(self, target: dict) -> None:
        turns = await asyncio.to_thread(self.pair_turns, target)
        if turns is None:
            self.counts["no_reference"] += 1
            return
        a, b, system = target["a_text"] or "", target["b_text"] or "", target["system_prompt"]
        (raw_ab, err_ab, _), (raw_ba, err_ba, _) = await asyncio.gather(
            ask(self.backend, self.spec, pair_prompt(self.spec, turns, a, b, system).messages),
            ask(self.backend, self.spec, pair_prompt(self.spec, turns, b, a, system).messages))
        ab, ba = parse_pair(raw_ab), parse_pair(raw_ba)
        winner_ba = SWAP.get(ba.winner) if ba.winner else None  # position A of that order is side B
        error = "; ".join(e for e in (err_ab, err_ba) if e) or None
        both = ab.winner is not None and winner_ba is not None
        status = "error" if error else "ok" if both else "unparsable"
        consistent = int(ab.winner == winner_ba) if both and not error else None
        values = {"status": status, "winner_ab": ab.winner, "winner_ba": winner_ba,
                  "winner": ab.winner if consistent else None, "consistent": consistent,
                  "raw_ab": raw_ab, "raw_ba": raw_ba, "error": error}
        await asyncio.to_thread(self.store.judges.record_pair, target["turn_id"], self.rater_id,
                                self.policy, values)
        self._count(status)
        if consistent is not None:
            self.counts["consistent" if consistent else "inconsistent"] += 1

    def _count(self, status: str) -> None:
        self.counts["judged"] += 1
        if status == "unparsable":
            self.counts["unparsable"] += 1
        elif status == "error":
            self.counts["errors"] += 1


async def run_job(store, backend, spec: JudgeSpec, *, scope: str, target: str | None = None,
                  policy: str = "own", pairwise: bool = False, force: bool = False,
                  concurrency: int | None = None, on_progress: Callable[[int, int], None] | None = None,
                  stop: threading.Event | None = None) -> JobResult:
    """Grade every target of the scope this judge has not graded yet (all of them with force)."""
    if policy not in HISTORY_POLICIES:
        raise ValidationError(f"the history policy must be one of {', '.join(HISTORY_POLICIES)}")
    if scope in ("task_set", "eval_set", "checkpoint") and not target:
        raise ValidationError(f"the scope {scope} needs the name of a {scope.replace('_', ' ')}")
    started = time.perf_counter()
    rater_id = store.judges.ensure_rater(
        spec.rater_name, judge_name=spec.name, rubric_hash=spec.rubric_hash, checkpoint=spec.own_checkpoint,
        model=spec.model, url=spec.url, multimodal=spec.multimodal)
    finder = store.judges.pair_targets if pairwise else store.judges.single_targets
    targets = finder(scope, target, rater_id, policy)
    todo = [t for t in targets if force or t["judged"] in (None, "error")]
    job = _Job(store, backend, spec, policy, rater_id, stop)
    grade = job.pair if pairwise else job.single
    await _run_bounded(todo, grade, concurrency or spec.concurrency, on_progress, stop)
    c = job.counts
    return JobResult(spec.rater_name, len(targets), c["judged"], len(targets) - len(todo), c["unparsable"],
                     c["errors"], c["no_reference"], c["consistent"], c["inconsistent"],
                     round(time.perf_counter() - started, 3), bool(stop and stop.is_set()))


async def _run_bounded(items: list[dict], grade, concurrency: int, on_progress, stop) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    done = 0
    if on_progress:
        on_progress(0, len(items))

    async def worker():
        nonlocal done
        while not queue.empty() and not (stop and stop.is_set()):
            await grade(queue.get_nowait())
            done += 1
            if on_progress:
                on_progress(done, len(items))
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items) or 1)))))
