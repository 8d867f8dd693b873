"""Judged turns per second: the app's judge path vs the same requests sent straight to the server.

    .venv/bin/python bench/bench_judge.py --replies 400 --concurrency 8 --prefill-ms 200

A stub judge server (bench/rate_stub.py in its own process, answering a fixed JSON verdict
as ``--tokens`` chunks after ``--prefill-ms``) serves both sides. "direct": the exact request
bodies the app would send (built beforehand, outside the timing) streamed with raw httpx at
the same concurrency, one pooled client. "app": ``run_job`` with ``force`` and one pooled judge
client across rounds (as the Judges tab keeps it): history read from SQLite, prompt built,
streamed through the OpenAI backend, parsed, the verdict row written (durably). Both sides
share one event loop and are warmed up once; rounds alternate (direct, app, direct, app, ...)
so load changes hit both; the ratio of medians and the median of per-round ratios are printed
(goal: >= 0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from ift_chat.backends import SamplingParams  # noqa: E402
from ift_chat.backends.openai_client import OpenAIBackend  # noqa: E402
from ift_chat.config import Config  # noqa: E402
from ift_chat.judge import make_spec, run_job  # noqa: E402
from ift_chat.judge.jobs import NO_REPLY, judge_backend  # noqa: E402
from ift_chat.judge.prompt import single_prompt  # noqa: E402
from ift_chat.store import Store  # noqa: E402

VERDICT = '{"followed": "partially", "score": 3, "tags": ["broke_format_or_length"], "reason": "too long"}'
STUB = """import sys; sys.path.insert(0, {here!r}); import rate_stub
rate_stub.WORDS = {words!r}
sys.argv = ["rate_stub", "--port", "{port}", "--rate", "{rate}", "--prefill-ms", "{prefill}"]
rate_stub.main()"""


def pieces(text: str, n: int) -> tuple[str, ...]:
    step = -(-len(text) // n)
    return tuple(text[i:i + step] for i in range(0, len(text), step))


def start_stub(port: int, words: tuple[str, ...], rate: float, prefill_ms: float) -> subprocess.Popen:
    code = STUB.format(here=str(Path(__file__).parent), words=words, port=port, rate=rate, prefill=prefill_ms)
    proc = subprocess.Popen([sys.executable, "-c", code])
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the stub judge server did not start")


def build(store: Store, replies: int) -> None:
    store.checkpoints.register("bench-ckpt", backend="bench")
    done = 0
    while done < replies:
        conv = store.conversations.create("chat", sides={"single": "bench-ckpt"})
        for n in range(min(3, replies - done)):
            turn = store.conversations.add_turn(conv.id, f"Round {n + 1}: answer in one short sentence, "
                                                         "no commas, and list two colours.")
            rid = store.conversations.start_response(turn.id, "single", "bench-ckpt")
            store.conversations.finish_response(rid, text=f"Reply {done}: red and blue, as asked.", status="ok")
            done += 1


def request_bodies(store: Store, spec, backend: OpenAIBackend) -> list[dict]:
    """What the app sends for every reply (same prompt code), built outside the timing."""
    bodies = []
    rater_id = store.judges.ensure_rater(spec.rater_name, judge_name=spec.name, rubric_hash=spec.rubric_hash,
                                         checkpoint=None, model=spec.model, url=spec.url, multimodal=False)
    for t in store.judges.single_targets("all", None, rater_id, "own"):
        turns = [{**h, "reply": h["reply"] if h["reply"] is not None else NO_REPLY}
                 for h in store.judges.history(t["conversation_id"], t["idx"], t["side"])]
        prompt = single_prompt(spec, turns, t["text"], t["system_prompt"])
        bodies.append(backend.payload(prompt.messages, SamplingParams(temperature=0, max_tokens=spec.max_tokens,
                                                                      seed=0)))
    return bodies


async def direct(client: httpx.AsyncClient, url: str, bodies: list[dict], concurrency: int) -> float:
    queue = list(bodies)

    async def worker():
        while queue:
            body = queue.pop()
            async with client.stream("POST", f"{url}/chat/completions", json=body) as r:
                text = ""
                async for line in r.aiter_lines():
                    text += line
            assert "[DONE]" in text
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(bodies) / (time.perf_counter() - start)


async def through_app(store: Store, backend, spec, concurrency: int) -> tuple[float, int]:
    result = await run_job(store, backend, spec, scope="all", force=True, concurrency=concurrency)
    assert result.errors == 0 and result.unparsable == 0, result
    return result.judged / result.seconds, result.judged


async def interleaved(store: Store, spec, url: str, bodies: list[dict], args) -> tuple[list, list]:
    """Both sides in one event loop, each with one pooled client kept across rounds (as the app
    keeps its judge clients), warmed up once, then alternating rounds."""
    backend = judge_backend(spec, None, store.config.limits)
    d_rates, a_rates = [], []
    async with httpx.AsyncClient(timeout=60) as client:
        try:
            await direct(client, url, bodies[:args.concurrency], args.concurrency)  # warm-up: connections
            await through_app(store, backend, spec, args.concurrency)
            for n in range(args.rounds):
                d_rates.append(await direct(client, url, bodies, args.concurrency))
                rate, judged = await through_app(store, backend, spec, args.concurrency)
                a_rates.append(rate)
                print(f"round {n + 1}: direct {d_rates[-1]:.1f} turns/s, app judge path {rate:.1f} turns/s "
                      f"({judged} verdicts stored); load {os.getloadavg()[0]:.1f}")
        finally:
            await backend.aclose()
    return d_rates, a_rates


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--prefill-ms", type=float, default=200.0, help="stub judge: delay before its first token")
    parser.add_argument("--rate", type=float, default=200.0, help="stub judge: chunks per second per stream")
    parser.add_argument("--tokens", type=int, default=16, help="chunks of one verdict (>= 16)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating direct/app rounds")
    parser.add_argument("--port", type=int, default=8197)
    args = parser.parse_args(argv)
    words = pieces(VERDICT, args.tokens)
    stub = start_stub(args.port, words, args.rate, args.prefill_ms)
    url = f"http://127.0.0.1:{args.port}/v1"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Config(home=Path(tmp), checkpoints_dir=Path(tmp) / "ck"))
            build(store, args.replies)
            spec = make_spec("bench", {"url": url, "model": "stub", "max_tokens": max(16, len(words))})
            bodies = request_bodies(store, spec, OpenAIBackend("b", url, store.config.limits, model="stub"))
            print(f"{len(bodies)} replies; stub judge: {args.prefill_ms:g} ms prefill, {len(words)} chunks at "
                  f"{args.rate:g}/s; concurrency {args.concurrency}; load {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} cores")
            d_rates, a_rates = asyncio.run(interleaved(store, spec, url, bodies, args))
            d, a = statistics.median(d_rates), statistics.median(a_rates)
            paired = statistics.median(x / y for x, y in zip(a_rates, d_rates))  # neighbours share the load
            print(f"judged turns/s: app {a:.1f} vs direct {d:.1f} -> ratio {a / d:.3f}x, median of per-round "
                  f"ratios {paired:.3f}x (goal >= 0.95x); "
                  f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
            store.close()
    finally:
        stub.terminate()
        stub.wait(10)


if __name__ == "__main__":
    main()
