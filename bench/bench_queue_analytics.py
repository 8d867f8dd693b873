"""CPU per queued event of Gradio's queue analytics, before/after, in one run (CPU time of this
thread, so a busy machine slows both sides alike instead of skewing wall-clock figures).

    .venv/bin/python bench/bench_queue_analytics.py [--records 10000] [--events 200]

Builds the real app (``make_asgi_app``, both pages) twice from the frozen config: Gradio 6.31's
default (``gradio_monitoring_every=1``: after every event a pandas summary over all kept records)
and the app's default (0: off). Each queue is filled with ``--records`` event records (Gradio keeps
up to 10,000, i.e. a server that has been up a while), then each side runs what Gradio runs when
an event completes (``compute_analytics_summary(list(event_analytics.values()))``), interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main_queue(config):
    from starlette.routing import Mount

    from ift_chat.backends import Backends
    from ift_chat.server import make_asgi_app
    from ift_chat.store import Store

    store = Store(config)
    app = make_asgi_app(config, store, Backends([]))
    return [r.app.get_blocks()._queue for r in app.routes if isinstance(r, Mount)][-1]


def fill(queue, n: int) -> None:
    now = time.time()
    for i in range(n):
        queue.event_analytics[f"e{i}"] = {"time": now, "status": ("success", "failed")[i % 50 == 0],
                                          "process_time": 0.2 + (i % 13) / 10, "session_hash": f"s{i % 300}",
                                          "function": ("battle_send", "battle_vote", "battle_new")[i % 3]}
        queue.events_recorded += 1
        queue.events_recorded_per_fn[("battle_send", "battle_vote", "battle_new")[i % 3]] += 1
        while len(queue.event_analytics) > queue.ANALYTICS_MAX_EVENTS:
            queue.event_analytics.pop(next(iter(queue.event_analytics)))


def one_event(queue) -> float:
    """CPU seconds of the work Gradio does for analytics when one event is queued and completes."""
    start = time.thread_time()
    queue.event_analytics[f"new{queue.events_recorded}"] = {
        "time": time.time(), "status": "success", "process_time": 0.5, "function": "battle_send",
        "session_hash": "x"}
    queue.events_recorded += 1
    while len(queue.event_analytics) > queue.ANALYTICS_MAX_EVENTS:
        queue.event_analytics.pop(next(iter(queue.event_analytics)))
    queue.compute_analytics_summary(list(queue.event_analytics.values()))
    return time.thread_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    from ift_chat.config import Config

    work = Path(tempfile.mkdtemp(prefix="bench-qa-"))
    queues = {name: main_queue(Config(home=work / name, checkpoints_dir=work / "none", demo=False,
                                      gradio_monitoring_every=every))
              for name, every in (("before (Gradio default)", 1), ("after (app default)", 0))}
    for queue in queues.values():
        fill(queue, args.records)
    cpu: dict[str, list[float]] = {name: [] for name in queues}
    for _ in range(args.events):  # interleaved
        for name, queue in queues.items():
            cpu[name].append(one_event(queue))
    print(f"=== Gradio queue analytics per completed event: {args.records} records kept, {args.events} "
          f"events each, interleaved; CPU ms of this thread ===")
    for name, values in cpu.items():
        print(f"  {name:<26} p50 {1000 * statistics.median(values):8.3f} ms   mean {1000 * statistics.mean(values):8.3f} ms"
              f"   records kept {len(queues[name].event_analytics)}")
    before, after = (statistics.mean(v) for v in cpu.values())
    print(f"  ratio after/before: x{after / before:.4f}; per 1,000 tokens of a 2 x 64-token arena turn with 3 "
          f"queued events (send, its follow-up, the vote): {3 * before * 1000 / 128:.3f} vs "
          f"{3 * after * 1000 / 128:.5f} CPU-s")


if __name__ == "__main__":
    main()
