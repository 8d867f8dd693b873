"""The app as the arena load test runs it: ``python -m ift_chat serve`` in a child process, plus
opt-in what-if changes (to measure a proposed fix without editing the app) and tracemalloc.

    python bench/arena_app.py CHECKPOINTS_DIR PORT [--what-if vote-unlimited skip-noop-updates]

The data dir comes from IFT_CHAT_HOME; BENCH_TRACE_MEMORY=<dir> turns tracemalloc on (BENCH_TRACE_FRAMES deep, default 12) and makes
each SIGUSR1 write a heap snapshot there (compared by ``memory_growth``). BENCH_CENSUS=<dir> makes
each SIGUSR2 write a cheap census there instead (live objects per type, and the length of every
container attribute of Gradio's app, Blocks, queue and session holder; compared by ``census_growth``).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WHAT_IFS = ("vote-unlimited", "skip-noop-updates", "static-images")


def serve(checkpoints: Path, port: int, what_if: list[str], max_sessions: int | None = None,
          monitoring_every: int | None = None, prefill_events: int = 0, live_replies: str | None = None) -> None:
    """Child process: what ``python -m ift_chat serve`` runs, plus optional what-if changes
    (to measure a proposed fix without editing the app; never on by default)."""
    from ift_chat import server
    from ift_chat.app_factory import run_app
    from ift_chat.config import Config

    if "vote-unlimited" in what_if:  # battle_vote without Gradio's default concurrency limit of 1
        original = server.build_battle_app

        def build_battle_app(*a, **kw):
            blocks = original(*a, **kw)
            for fn in blocks.fns.values():
                if fn.api_name == "battle_vote":
                    fn.concurrency_limit, fn.concurrency_id = None, f"{fn._id}-what-if"
            return blocks
        server.build_battle_app = build_battle_app
    if prefill_events:
        prefill_queue_records(server, prefill_events)
    if "skip-noop-updates" in what_if:
        patch_skip_noop_updates()
    if "static-images" in what_if:
        # Every streamed update re-sends each pane's whole history; Gradio checks every image in it
        # against blocked/allowed paths (~20 realpath calls each) unless it is a static file.
        import gradio as gr
        gr.set_static_paths([Path(os.environ["IFT_CHAT_HOME"]) / "images"])
    if os.environ.get("BENCH_TRACE_MEMORY"):
        trace_memory(Path(os.environ["BENCH_TRACE_MEMORY"]))
    if os.environ.get("BENCH_CENSUS"):
        census_on_signal(Path(os.environ["BENCH_CENSUS"]))
    run_app(Config.from_env(host="127.0.0.1", port=port, checkpoints_dir=checkpoints, demo=False,
                            max_sessions=max_sessions, gradio_monitoring_every=monitoring_every,
                            live_replies=live_replies))


def prefill_queue_records(server, n: int) -> None:
    """--prefill-events N: start as a server that has run N queued events (Gradio's queue keeps
    up to GRADIO_ANALYTICS_MAX_EVENTS = 10,000 records, reached after ~15 min at 64 users; its
    per-event summary scans them all), so a short run measures the steady state, not a fresh start.
    The records go in through the queue's own cap: an app that keeps one drops them at once."""
    import time

    original = server.make_asgi_app

    def make_asgi_app(*a, **kw):
        app = original(*a, **kw)
        for route in app.routes:
            blocks = getattr(getattr(route, "app", None), "get_blocks", lambda: None)()
            if blocks is None:
                continue
            queue, now = blocks._queue, time.time()
            for i in range(n):
                queue.event_analytics[f"prefill-{i}"] = {
                    "time": now, "status": "success", "process_time": 0.5 + (i % 7) / 10,
                    "function": ("battle_send", "battle_vote", "battle_new")[i % 3], "session_hash": f"s{i}"}
                queue.events_recorded += 1
            while len(queue.event_analytics) > queue.ANALYTICS_MAX_EVENTS:
                queue.event_analytics.pop(next(iter(queue.event_analytics)))
        return app
    server.make_asgi_app = make_asgi_app


def trace_memory(out_dir: Path) -> None:
    """--trace-memory: tracemalloc in the app; each SIGUSR1 writes a snapshot the parent compares."""
    import tracemalloc

    tracemalloc.start(int(os.environ.get("BENCH_TRACE_FRAMES", "12")))
    count = iter(range(1000))

    def dump(*_):
        import gc
        gc.collect()
        tracemalloc.take_snapshot().dump(str(out_dir / f"tm-{next(count)}.snap"))
    signal.signal(signal.SIGUSR1, dump)


def memory_growth(out_dir: Path, top: int = 12) -> list[str]:
    """Where the app's Python heap grew between the first and the last snapshot."""
    import tracemalloc

    snaps = sorted(out_dir.glob("tm-*.snap"), key=lambda p: int(p.stem.split("-")[1]))
    if len(snaps) < 2:
        return ["(no tracemalloc snapshots)"]
    first, last = (tracemalloc.Snapshot.load(str(p)) for p in (snaps[0], snaps[-1]))
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = last.filter_traces(keep).compare_to(first.filter_traces(keep), "traceback")
    total = sum(st.size_diff for st in stats)
    lines = [f"traced Python heap grew {total / 2**20:+.1f} MB; top sites (innermost frames last):"]
    for st in stats[:top]:
        frames = [f"{Path(f.filename).name}:{f.lineno}" for f in st.traceback[-6:]]
        lines.append(f"  {st.size_diff / 2**20:+6.2f} MB {st.count_diff:+7d} blocks  "
                     f"{' < '.join(reversed(frames))}")
    return lines


def census_on_signal(out_dir: Path) -> None:
    """--census: each SIGUSR2 writes census-N.json (fast enough to run under full load)."""
    count = iter(range(1000))

    def dump(*_):
        (out_dir / f"census-{next(count)}.json").write_text(json.dumps(census()))
    signal.signal(signal.SIGUSR2, dump)


def census() -> dict:
    """Live objects per type, and container sizes inside Gradio's long-lived objects."""
    import gc
    from collections import Counter

    gc.collect()
    objects = gc.get_objects()
    types = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in objects)
    holders = ("App", "Blocks", "Queue", "StateHolder", "SessionState", "Runner", "ConversationStore")
    containers: Counter = Counter()
    for o in objects:
        name = type(o).__name__
        if name not in holders or not hasattr(o, "__dict__"):
            continue
        for attr, value in vars(o).items():
            if isinstance(value, (dict, list, set, tuple)) or hasattr(value, "__len__"):
                try:
                    containers[f"{name}.{attr}"] += len(value)
                except TypeError:
                    pass
    rss, pymalloc = rss_mb(), pymalloc_mb()
    trimmed = ctypes.CDLL("libc.so.6").malloc_trim(0) if sys.platform == "linux" else 0
    return {"allocated_blocks": sys.getallocatedblocks(), "types": dict(types), "containers": dict(containers),
            "rss_mb": rss, "rss_after_malloc_trim_mb": rss_mb(), "trimmed": trimmed,
            **pymalloc}


def pymalloc_mb() -> dict:
    """Python's small-object allocator: MB in its arenas vs MB in live blocks (the rest is
    fragmentation: an arena returns to the OS only when all its blocks are free)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        stats: dict[str, str] = {}
        for line in out.read().splitlines():  # the first "Total" is the arenas'
            if "=" in line:
                stats.setdefault(line.split("=")[0].strip(), line.split("=")[1].strip().replace(",", ""))
    number = lambda key: int(stats.get(key, "0").split()[0]) / 2**20  # noqa: E731
    return {"pymalloc_arenas_mb": number("Total"), "pymalloc_used_mb": number("# bytes in allocated blocks")}


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), MB."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no RSS")


def census_growth(out_dir: Path, top: int = 25) -> list[str]:
    """What grew between the first and the last census."""
    files = sorted(out_dir.glob("census-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    if len(files) < 2:
        return ["(no census)"]
    first, last = (json.loads(p.read_text()) for p in (files[0], files[-1]))
    lines = [f"allocated blocks {first['allocated_blocks']:,} -> {last['allocated_blocks']:,}"]
    lines += [f"RSS at census {n}: {c['rss_mb']:.0f} MB, after malloc_trim(0) {c['rss_after_malloc_trim_mb']:.0f} MB; "
              f"pymalloc arenas {c.get('pymalloc_arenas_mb', 0):.0f} MB holding {c.get('pymalloc_used_mb', 0):.0f} MB "
              "of live small objects" for n, c in (("first", first), ("last", last))]
    for key in ("types", "containers"):
        grew = {k: v - first[key].get(k, 0) for k, v in last[key].items()}
        lines.append(f"{key} that grew most:")
        lines += [f"  {d:+9,d}  {k} ({last[key][k]:,})"
                  for k, d in sorted(grew.items(), key=lambda kv: -kv[1])[:top] if d > 0]
    return lines


def patch_skip_noop_updates() -> None:
    """What-if: outputs a handler leaves out of its returned dict (Gradio fills in skip()) are not
    re-created. Gradio 6.31 treats each such skip as a property update: it builds the component
    again and recomputes its config (pydantic JSON schemas) twice, on the event loop, for every
    output of every streamed yield."""
    import copy

    import gradio as gr
    from gradio import blocks as gr_blocks

    original = gr_blocks.Blocks.postprocess_data
    noop = gr.skip()

    async def postprocess_data(self, block_fn, predictions, state):
        if isinstance(predictions, dict) and predictions and all(isinstance(k, gr_blocks.Block)
                                                                  for k in predictions):
            predictions = gr_blocks.convert_component_dict_to_list(list(block_fn.outputs), predictions)
        if not isinstance(predictions, (list, tuple)) or len(block_fn.outputs) < 2:
            return await original(self, block_fn, predictions, state)
        keep = [i for i, (block, value) in enumerate(zip(block_fn.outputs, predictions))
                if block.stateful or not (isinstance(value, dict) and value == noop)]
        if len(keep) == len(block_fn.outputs):
            return await original(self, block_fn, predictions, state)
        reduced = copy.copy(block_fn)
        reduced.outputs = [block_fn.outputs[i] for i in keep]
        out = [dict(noop) for _ in block_fn.outputs]
        if not keep:
            return out
        kept = [predictions[i] for i in keep]
        done = await original(self, reduced, kept[0] if len(keep) == 1 else kept, state)
        for i, value in zip(keep, done):
            out[i] = value
        return out
    gr_blocks.Blocks.postprocess_data = postprocess_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--what-if", nargs="*", choices=WHAT_IFS, default=[])
    parser.add_argument("--max-sessions", type=int, default=None)
    parser.add_argument("--gradio-monitoring-every", type=int, default=None,
                        help="serve --gradio-monitoring-every (1 = Gradio 6.31's default: after every event)")
    parser.add_argument("--prefill-events", type=int, default=0)
    parser.add_argument("--live-replies", choices=("sse", "gradio"), default=None)
    args = parser.parse_args()
    serve(args.checkpoints, args.port, args.what_if, args.max_sessions, args.gradio_monitoring_every,
          args.prefill_events, args.live_replies)


if __name__ == "__main__":
    main()
