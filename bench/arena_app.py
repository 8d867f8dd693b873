"""The app as the arena load test runs it: ``python -m ift_chat serve`` in a child process, plus
opt-in what-if changes (to measure a proposed fix without editing the app) and tracemalloc.

    python bench/arena_app.py CHECKPOINTS_DIR PORT [--what-if vote-unlimited skip-noop-updates]

The data dir comes from IFT_CHAT_HOME; BENCH_TRACE_MEMORY=<dir> turns tracemalloc on (BENCH_TRACE_FRAMES deep, default 12) and makes
each SIGUSR1 write a heap snapshot there (compared by ``memory_growth``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WHAT_IFS = ("vote-unlimited", "skip-noop-updates")


def serve(checkpoints: Path, port: int, what_if: list[str], max_sessions: int | None = None) -> None:
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
    if "skip-noop-updates" in what_if:
        patch_skip_noop_updates()
    if os.environ.get("BENCH_TRACE_MEMORY"):
        trace_memory(Path(os.environ["BENCH_TRACE_MEMORY"]))
    run_app(Config.from_env(host="127.0.0.1", port=port, checkpoints_dir=checkpoints, demo=False,
                            max_sessions=max_sessions))


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
    args = parser.parse_args()
    serve(args.checkpoints, args.port, args.what_if, args.max_sessions)


if __name__ == "__main__":
    main()
