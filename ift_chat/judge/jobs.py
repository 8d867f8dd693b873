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
PREPARE_BATCH = 16  # targets prepared per thread hop
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


def sampling(spec: JudgeSpec) -> SamplingParams:
    return SamplingParams(temperature=spec.temperature, max_tokens=spec.max_tokens, seed=0)


async def ask(backend, spec: JudgeSpec, messages: list[dict],
              params: SamplingParams | None = None) -> tuple[str, str | None, float]:
    """The judge's whole output, an error (or None) and the latency in ms."""
    params = params or sampling(spec)
    start = time.perf_counter()
    pieces: list[str] = []
    error = None
    try:
        async with asyncio.timeout(spec.timeout_s):  # no extra task per request (unlike wait_for)
            async for item in backend.stream(messages, params):
                if isinstance(item, str):
                    pieces.append(item)
                elif item.status == "error":
                    error = item.error or "the judge failed"
    except TimeoutError:
        error = f"the judge did not answer within {spec.timeout_s:g} s"
    return "".join(pieces), error, (time.perf_counter() - start) * 1000


class _Job:
    """One run's steps: prepare (SQLite reads, prompt), grade (the judge), write (a batch)."""

    def __init__(self, store, backend, spec: JudgeSpec, policy: str, rater_id: int, pairwise: bool):
        self.store, self.backend, self.spec, self.policy = store, backend, spec, policy
        self.rater_id, self.pairwise = rater_id, pairwise
        self.params = sampling(spec)  # once per job, not per request
        self.counts = {"judged": 0, "unparsable": 0, "errors": 0, "no_reference": 0,
                       "consistent": 0, "inconsistent": 0}

    def turns(self, target: dict, side: str) -> list[dict] | None:
        turns = self.store.judges.history(target["conversation_id"], target["idx"], side)
        if self.policy == "reference":
            return with_reference(turns, self.store.judges.eval_rounds(target["eval_item_id"]))
        return [{**t, "reply": t["reply"] if t["reply"] is not None else NO_REPLY} for t in turns]

    def pair_turns(self, target: dict) -> list[dict] | None:
        if self.policy == "reference":
            return self.turns(target, "A")
        a = self.store.judges.history(target["conversation_id"], target["idx"], "A")
        b = self.store.judges.history(target["conversation_id"], target["idx"], "B")
        return [{**ta, "reply": ta["reply"] if ta["reply"] == tb["reply"] else None} for ta, tb in zip(a, b)]

    def prepare(self, target: dict) -> tuple[dict, list] | None:
        """The target and its prompt(s); None (counted) when the reference history is missing."""
        spec, system = self.spec, target["system_prompt"]
        if self.pairwise:
            turns = self.pair_turns(target)
            a, b = target["a_text"] or "", target["b_text"] or ""
            prompts = None if turns is None else [pair_prompt(spec, turns, a, b, system),
                                                  pair_prompt(spec, turns, b, a, system)]
        else:
            turns = self.turns(target, target["side"])
            prompts = None if turns is None else [single_prompt(spec, turns, target["text"] or "", system)]
        if prompts is None:
            self.counts["no_reference"] += 1
            return None
        return target, prompts

    async def grade(self, job: tuple[dict, list]) -> tuple:
        target, prompts = job
        if self.pairwise:
            return target["turn_id"], await self._pair(prompts)
        prompt = prompts[0]
        raw, error, ms = await ask(self.backend, self.spec, prompt.messages, self.params)
        parsed = parse_single(raw)
        status = "error" if error else parsed.status
        self._count(status)
        return target["response_id"], {
            "status": status, "parse": parsed.parse, "followed": parsed.followed, "score": parsed.score,
            "tags": parsed.tags, "reason": parsed.reason, "raw_output": raw, "error": error,
            "images_sent": prompt.images_sent, "images_hidden": prompt.images_hidden,
            "latency_ms": round(ms, 1)}

    async def _pair(self, prompts) -> dict:
        (raw_ab, err_ab, _), (raw_ba, err_ba, _) = await asyncio.gather(
            *(ask(self.backend, self.spec, p.messages, self.params) for p in prompts))
        ab, ba = parse_pair(raw_ab), parse_pair(raw_ba)
        winner_ba = SWAP.get(ba.winner) if ba.winner else None  # position A of that order is side B
        error = "; ".join(e for e in (err_ab, err_ba) if e) or None
        both = ab.winner is not None and winner_ba is not None
        status = "error" if error else "ok" if both else "unparsable"
        consistent = int(ab.winner == winner_ba) if both and not error else None
        self._count(status)
        if consistent is not None:
            self.counts["consistent" if consistent else "inconsistent"] += 1
        return {"status": status, "winner_ab": ab.winner, "winner_ba": winner_ba,
                "winner": ab.winner if consistent else None, "consistent": consistent,
                "raw_ab": raw_ab, "raw_ba": raw_ba, "error": error}

    def write(self, results: list[tuple]) -> None:
        rows = [(key, self.rater_id, self.policy, values) for key, values in results]
        (self.store.judges.record_pairs if self.pairwise else self.store.judges.record_verdicts)(rows)

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
    job = _Job(store, backend, spec, policy, rater_id, pairwise)
    await pipeline(todo, job, concurrency or spec.concurrency, on_progress, stop)
    c = job.counts
    return JobResult(spec.rater_name, len(targets), c["judged"], len(targets) - len(todo), c["unparsable"],
                     c["errors"], c["no_reference"], c["consistent"], c["inconsistent"],
                     round(time.perf_counter() - started, 3), bool(stop and stop.is_set()))


async def pipeline(items: list[dict], job: _Job, concurrency: int, on_progress, stop) -> None:
    """Prompts prepared ahead (one thread), ``concurrency`` requests in flight, verdicts written
    in batches by one writer: the judge server, not SQLite, sets the pace. A stop (or a
    cancel) keeps every verdict already written; the rest is judged by the next run."""
    concurrency = max(1, min(concurrency, len(items) or 1))
    prepared: asyncio.Queue = asyncio.Queue(maxsize=2 * concurrency)
    results: asyncio.Queue = asyncio.Queue()
    stopped = lambda: bool(stop and stop.is_set())  # noqa: E731
    progress = {"done": 0}
    if on_progress:
        on_progress(0, len(items))

    async def producer():
        for start in range(0, len(items), PREPARE_BATCH):
            if stopped():
                break
            for ready in await asyncio.to_thread(lambda s=start: [job.prepare(t) for t in items[s:s + PREPARE_BATCH]]):
                if ready is None:
                    progress["done"] += 1
                else:
                    await prepared.put(ready)
        for _ in range(concurrency):
            await prepared.put(None)

    async def worker():
        while (ready := await prepared.get()) is not None:
            if not stopped():
                await results.put(await job.grade(ready))

    async def writer():
        while True:
            batch = [await results.get()]
            while not results.empty():
                batch.append(results.get_nowait())
            done = [b for b in batch if b is not None]
            if done:
                await asyncio.to_thread(job.write, done)
                progress["done"] += len(done)
                if on_progress:
                    on_progress(progress["done"], len(items))
            if None in batch:
                return

    async with asyncio.TaskGroup() as group:
        write_task = group.create_task(writer())
        await asyncio.gather(producer(), *(worker() for _ in range(concurrency)))
        await results.put(None)
        await write_task
