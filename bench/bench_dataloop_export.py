"""Export throughput and memory for large rating databases (streaming exports).

Builds a synthetic database of N rated turns (dialogs of 2 turns, 1,000 shared
images, 2 raters per reply, bulk-inserted; every 4th dialog is a winner-continued
arena with a vote on each turn and both sides rated, so preference pairs exist),
then exports it in a child process per size and format (``split="all"`` so every
format sees the same dialogs in any version), printing rows/s and the child's peak RSS. Memory should
stay nearly flat from the small to the large size: rows are streamed in
batches; only small per-row indexes (dedup digests, split ids) grow.

    .venv/bin/python bench/bench_dataloop_export.py                 # 20k and 200k turns, every format
    .venv/bin/python bench/bench_dataloop_export.py --sizes 5000 --formats llava
    .venv/bin/python bench/bench_dataloop_export.py --sizes 200000 --baseline /tmp/main-checkout

With ``--baseline DIR`` (a checkout of other code, e.g. ``git worktree add /tmp/main-checkout
main``) each format is exported by both versions at once, from the same database, in two
child processes: both see the same machine load, so the ratio is fair on a busy machine.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from ift_chat.config import Config  # noqa: E402
from ift_chat.store import Store  # noqa: E402
from ift_chat.store.db import now  # noqa: E402

N_IMAGES = 1000


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (i % 256, (i // 256) % 256, 7)).save(buf, format="PNG")
    return buf.getvalue()


def build(home: Path, turns: int) -> None:
    store = Store(Config(home=home))
    store.checkpoints.register("bench-a")
    raters = [store.raters.create(f"r{i}").id for i in range(2)]
    shas = [store.images.save(png(i)).sha256 for i in range(N_IMAGES)]
    stamp = now()
    store.checkpoints.register("bench-b")
    tables: dict[str, list] = {t: [] for t in ("conversations", "conversation_sides", "turns", "turn_images",
                                               "responses", "ratings", "votes")}
    turn_id = response_id = 0
    for c in range(turns // 2):
        conv = f"conv{c:08d}"
        arena = c % 4 == 3
        sides = {"A": "bench-a", "B": "bench-b"} if arena else {"single": "bench-a"}
        tables["conversations"].append({"id": conv, "mode": "arena-named" if arena else "chat", "created": stamp,
                                        "sampling_params": "{}", "system_prompt": "Be brief." if c % 2 else "",
                                        "history_mode": "winner" if arena else None})
        tables["conversation_sides"] += [{"conversation_id": conv, "side": s, "checkpoint": k}
                                         for s, k in sides.items()]
        for idx in (1, 2):
            turn_id += 1
            tables["turns"].append({"id": turn_id, "conversation_id": conv, "idx": idx, "created": stamp,
                                    "user_text": f"Question {c} part {idx}: describe detail {c % 977}."})
            if idx == 1:
                tables["turn_images"].append({"turn_id": turn_id, "position": 0,
                                              "image_sha256": shas[c % N_IMAGES]})
            for side, checkpoint in sides.items():
                response_id += 1
                tables["responses"].append({"id": response_id, "turn_id": turn_id, "side": side,
                                            "checkpoint": checkpoint, "status": "ok", "created": stamp,
                                            "text": f"Answer {c}/{idx}{side}: " + "lorem ipsum " * 20})
                followed = "yes" if side != "B" else "no"
                tables["ratings"] += [{"response_id": response_id, "rater_id": r, "followed": followed,
                                       "score": 5, "tags": "[]", "created": stamp} for r in raters]
            if arena:
                tables["votes"].append({"turn_id": turn_id, "rater_id": raters[0], "winner": "A",
                                        "anonymous": 0, "created": stamp})
    with store.write() as db:
        for name, rows in tables.items():
            db[name].insert_all(rows, batch_size=5000)
    # Fold the bulk insert's WAL into the DB file, as SQLite's autocheckpoint would
    # over time: otherwise the export child maps a huge WAL index and RSS measures that.
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def peak_rss_mb() -> float:
    """This process's own high-water RSS. (ru_maxrss would include the parent's:
    Linux carries it across fork+exec, and the parent just built the database.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_child(home: str, fmt: str, out: str) -> None:
    from ift_chat.dataloop.exports import run_export
    from ift_chat.dataloop.select import Filters

    store = Store(Config(home=Path(home)))
    start = time.perf_counter()
    result = run_export(store, fmt, Path(out), Filters(split="all"))
    seconds = time.perf_counter() - start
    peak_mb = peak_rss_mb()
    print(json.dumps({"rows": result.row_count, "seconds": seconds, "peak_rss_mb": peak_mb}))


def child(script: str, home: Path, fmt: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, script, "--child", str(home), fmt, str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_of(proc: subprocess.Popen) -> dict:
    stdout, stderr = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"export child failed:\n{stderr[-2000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def line(label: str, fmt: str, size: int, r: dict) -> str:
    return (f"{label}{fmt:8} {size:>8,} turns → {r['rows']:>7,} rows in {r['seconds']:6.1f} s "
            f"({r['rows'] / r['seconds']:,.0f} rows/s), peak RSS {r['peak_rss_mb']:.0f} MB")


def compare(args, tmp: str) -> None:
    """Baseline and this code side by side, per format, at the same time."""
    baseline = str(Path(args.baseline).resolve() / "bench" / Path(__file__).name)
    if not Path(baseline).exists():
        raise SystemExit(f"{baseline} missing: copy this script into the baseline checkout's bench/")
    for size in args.sizes:
        home = Path(tmp) / f"db{size}"
        t0 = time.perf_counter()
        build(home, size)
        print(f"built {size:,} rated turns in {time.perf_counter() - t0:.1f} s", flush=True)
        for fmt in args.formats:
            old = child(baseline, home, fmt, Path(tmp) / f"old-{size}-{fmt}")
            new = child(__file__, home, fmt, Path(tmp) / f"new-{size}-{fmt}")
            a, b = result_of(old), result_of(new)
            print(line("before ", fmt, size, a), flush=True)
            print(line("after  ", fmt, size, b), flush=True)
            print(f"         {fmt}: after/before rows/s {(b['rows'] / b['seconds']) / (a['rows'] / a['seconds']):.2f}x, "
                  f"peak RSS {b['peak_rss_mb'] / a['peak_rss_mb']:.2f}x", flush=True)
            for out in ("old", "new"):
                shutil.rmtree(Path(tmp) / f"{out}-{size}-{fmt}", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000], help="rated turns")
    parser.add_argument("--baseline", help="checkout of other code to compare with, side by side")
    parser.add_argument("--formats", nargs="+", default=["llava", "sharegpt", "openai", "hf", "dpo", "kto",
                                                          "evalset"])
    args = parser.parse_args()
    results = {}
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp:
            compare(args, tmp)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            home = Path(tmp) / f"db{size}"
            t0 = time.perf_counter()
            build(home, size)
            print(f"built {size:,} rated turns in {time.perf_counter() - t0:.1f} s", flush=True)
            for fmt in args.formats:
                out = subprocess.run([sys.executable, __file__, "--child", str(home), fmt,
                                      str(Path(tmp) / f"out-{size}-{fmt}")],
                                     capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results[(size, fmt)] = r
                print(f"{fmt:8} {size:>8,} turns → {r['rows']:>7,} rows in {r['seconds']:6.1f} s "
                      f"({r['rows'] / r['seconds']:,.0f} rows/s), peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    if len(args.sizes) >= 2:
        small, large = min(args.sizes), max(args.sizes)
        for fmt in args.formats:
            a, b = results[(small, fmt)], results[(large, fmt)]
            print(f"{fmt}: {large / small:.0f}x the turns → {b['peak_rss_mb'] / a['peak_rss_mb']:.2f}x peak RSS")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        export_child(*sys.argv[2:])
    else:
        main()
