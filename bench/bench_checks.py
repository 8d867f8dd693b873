"""Automatic instruction checks: throughput of `checks run` and the cost a live turn pays.

1. Writes N replies (default 100,000) in conversations of 1-6 turns into a real SQLite
   store (bulk inserts), user turns drawn from a pool of instructions with and without
   constraints (some persistent, some revoking), replies from a pool of plausible answers.
   Times `run_checks(--all)`: replies checked per second on one core (goal >= 5,000/s),
   then a second, idempotent run (everything skipped).
2. The live path: for each of --live replies stored like the runner stores one
   (add_turn + start_response + finish_response), times `record_for_response` (the extra
   work of a live turn, goal p50 < 2 ms) side by side with `finish_response` itself.

    .venv/bin/python bench/bench_checks.py [--replies 100000] [--live 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ift_chat.checks import record_for_response, run_checks  # noqa: E402
from ift_chat.checks.text import warm_up  # noqa: E402
from ift_chat.config import Config  # noqa: E402
from ift_chat.store import Store  # noqa: E402

GOAL_PER_S = 5000
GOAL_LIVE_P50_MS = 2.0
QUESTIONS = [
    "What is in this picture?", "Describe the image.", "Tell me more about it.", "Why is that?",
    "What happens next in the story?", "How many objects can you see?", "What color is the {x}?",
    "Where would you find a {x}?", "Explain how a {x} works.", "Compare the {x} and the {y}.",
    "Write a short note about the {x}.", "Is the {x} bigger than the {y}?", "Name something like a {x}.",
]
THINGS = ["cat", "dog", "ball", "tree", "car", "house", "river", "cloud", "apple", "chair", "boat",
          "lamp", "bird", "clock", "bridge", "flower", "train", "mountain", "cup", "book"]
CONSTRAINTS = [
    "Answer in one word.", "Explain it in under {n} words.", "Summarize in {w} sentences.",
    "From now on, answer in French.", "Reply only with JSON.", "Give {w} bullet points.",
    "Please answer in all lowercase letters.", "Don't use any commas.", "Answer yes or no.",
    "In all future responses, end every sentence with a question mark.", "Include the word '{x}'.",
    "Each sentence should have at most {n} words.", "From now on, answer in under {n} words and without commas.",
    "Start your answer with 'Sure'.", "You no longer need to answer in French.",
    "Wrap your entire response with double quotation marks.", "Use at least {n} words.",
    "Write a poem with a title wrapped in double angular brackets, such as <<poem of joy>>.",
    "Include an odd number in your answer.", "Begin every sentence with the letter {l}.",
    "The word {x} should appear at least {w} times.", "Do not include the word '{y}'.",
]
NUMBER_WORDS = ["two", "three", "four", "five", "2", "3", "4"]


def instruction(rng: random.Random) -> str:
    """A mostly unique user turn: a question, with a constraint about two times in three."""
    fill = {"x": rng.choice(THINGS), "y": rng.choice(THINGS), "n": rng.randint(5, 60),
            "w": rng.choice(NUMBER_WORDS), "l": rng.choice("ABCDST")}
    text = rng.choice(QUESTIONS).format(**fill)
    if rng.random() < 0.67:
        text += " " + rng.choice(CONSTRAINTS).format(**fill)
    return text


REPLIES = [
    "Blue.", "The sky is a color.", "A red ball lies on the green grass next to a small wooden bench.",
    "Cats are pets. They like naps. They purr when happy.", "* loyal\n* playful\n* smart",
    '{"name": "Tom", "age": 3}', "the sky is blue, and the grass is green.", "Yes.",
    "Une balle rouge est posée sur l'herbe verte.", "Is it a cat? Is it on a mat?",
    "Sure! Here is a longer answer that goes on for a while, mentioning a banana, 3 apples and more "
    "details than anyone asked for, because models like to talk.\n\nA second paragraph follows.",
    '"Hello world."', "<<Rain>>\nDrops fall on the roof.", "Birds fly. Bees buzz. Cats nap.",
]


def build(store: Store, n_replies: int, seed: int = 0) -> int:
    """Bulk-insert conversations until n_replies replies exist; returns conversations."""
    rng = random.Random(seed)
    store.checkpoints.register("bench-ckpt", backend="bench")
    convs, sides, turns, responses = [], [], [], []
    turn_id = 0
    while len(responses) < n_replies:
        cid = uuid.uuid4().hex
        convs.append((cid,))
        sides.append((cid,))
        for idx in range(1, rng.randint(1, 6) + 1):
            turn_id += 1
            turns.append((turn_id, cid, idx, instruction(rng)))
            responses.append((turn_id, rng.choice(REPLIES)))
            if len(responses) >= n_replies:
                break
    with store.write() as db:
        run = db.conn.executemany
        run("insert into conversations (id, mode, created) values (?, 'chat', '2026')", convs)
        run("insert into conversation_sides values (?, 'single', 'bench-ckpt')", sides)
        run("insert into turns (id, conversation_id, idx, user_text, superseded, created)"
            " values (?, ?, ?, ?, 0, '2026')", turns)
        run("insert into responses (turn_id, side, checkpoint, text, status, created)"
            " values (?, 'single', 'bench-ckpt', ?, 'ok', '2026')", responses)
    return len(convs)


def bench_run(store: Store) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    first = run_checks(store, force=False)
    t1, c1 = time.perf_counter(), time.process_time()
    again = run_checks(store, force=False)
    t2 = time.perf_counter()
    per_s, per_cpu_s = first.checked / (t1 - t0), first.checked / (c1 - c0)
    print(f"checks run --all: {first.checked:,} replies, {first.rows:,} verdicts written")
    print(f"  wall {t1 - t0:.2f} s = {per_s:,.0f} replies/s;  CPU of this process {c1 - c0:.2f} s = "
          f"{per_cpu_s:,.0f} replies per CPU-second (one core)   goal >= {GOAL_PER_S:,}/s: "
          f"{'met' if per_cpu_s >= GOAL_PER_S else 'NOT met'} (CPU), {'met' if per_s >= GOAL_PER_S else 'NOT met'} (wall)")
    print(f"second run (idempotent): {again.checked:,} checked, {again.skipped:,} skipped in {t2 - t1:.2f} s")


def _q(xs, p):
    return statistics.quantiles(xs, n=100)[p - 1]


def bench_live(store: Store, n: int, seed: int = 1) -> None:
    """Replies stored as the runner stores them; with and without the checks, side by side:
    A commits finish_response alone, B commits finish_response + record_for_response in one
    transaction (what the runner does). The extra of checking is B - A, and the time spent
    inside record_for_response."""
    rng = random.Random(seed)
    alone, combined, inner, inner_cpu, with_rows = [], [], [], [], 0
    conv = None
    for i in range(n):
        if i % 4 == 0:
            conv = store.conversations.create("chat", sides={"single": "bench-ckpt"})
        reply = rng.choice(REPLIES)
        turn = store.conversations.add_turn(conv.id, instruction(rng))
        a = store.conversations.start_response(turn.id, "single", "bench-ckpt")
        b = store.conversations.start_response(turn.id, "single", "bench-ckpt")
        def plain():
            t = time.perf_counter()
            store.conversations.finish_response(a, text=reply, status="ok")
            return (time.perf_counter() - t) * 1000

        def checked():
            t = time.perf_counter()
            with store.write():
                store.conversations.finish_response(b, text=reply, status="ok")
                t2, c2 = time.perf_counter(), time.thread_time()
                found = record_for_response(store, b)
                t3, c3 = time.perf_counter(), time.thread_time()
            return (time.perf_counter() - t) * 1000, (t3 - t2) * 1000, (c3 - c2) * 1000, found

        if rng.random() < 0.5:  # alternate which goes first, so neither gets a systematic edge
            a_ms, (b_ms, in_ms, in_cpu, verdicts) = plain(), checked()
        else:
            (b_ms, in_ms, in_cpu, verdicts), a_ms = checked(), plain()
        alone.append(a_ms)
        combined.append(b_ms)
        inner.append(in_ms)
        inner_cpu.append(in_cpu)
        with_rows += bool(verdicts)
    extra = statistics.median(b - a for a, b in zip(alone, combined))  # paired: same moment, same load
    p50 = statistics.median(inner)
    print(f"live turn, {n} replies ({with_rows} with active constraints), ms:      p50     p95")
    print(f"  A  finish_response, own commit                        {statistics.median(alone):6.2f}  {_q(alone, 95):6.2f}")
    print(f"  B  finish_response + record_for_response, one commit  {statistics.median(combined):6.2f}  {_q(combined, 95):6.2f}")
    print(f"     inside record_for_response                         {p50:6.2f}  {_q(inner, 95):6.2f}")
    print(f"     inside record_for_response, CPU time               {statistics.median(inner_cpu):6.2f}  {_q(inner_cpu, 95):6.2f}")
    def met(x):
        return "met" if x < GOAL_LIVE_P50_MS else "NOT met"

    print(f"  extra of checking, goal p50 < {GOAL_LIVE_P50_MS} ms: in-process (record_for_response) {p50:.2f} ms "
          f"{met(p50)}; with its share of the commit (median of paired B - A) {extra:.2f} ms {met(extra)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=100_000, help="stored replies to check")
    parser.add_argument("--live", type=int, default=300, help="live replies to time")
    parser.add_argument("--keep", type=Path, default=None, help="data dir to use and keep (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp)
        store = Store(Config(home=home, checkpoints_dir=home / "ck"))
        t0 = time.perf_counter()
        convs = build(store, args.replies)
        print(f"stored {args.replies:,} replies in {convs:,} conversations in {time.perf_counter() - t0:.1f} s "
              f"({store.config.db_path})")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times include waiting for a core)")
        t0 = time.perf_counter()
        warm_up()
        print(f"warm-up (language model, sentence splitter): {time.perf_counter() - t0:.2f} s, once per process")
        bench_run(store)
        bench_live(store, args.live)
        store.close()


if __name__ == "__main__":
    main()
