"""Streaming cost of the app, before/after, side by side: bench/bench_arena_load.py (stub backend,
fixed token rate) per user count, each variant in its own fresh app, interleaved (A B, then B A).

    .venv/bin/python bench/bench_stream_cost.py                         # 8/32/64 users, 40 s each
    .venv/bin/python bench/bench_stream_cost.py --users 64 --rounds 2 --duration 60

Variants: ``before`` = Gradio 6.31's queue analytics (``--gradio-monitoring-every 1``, what the
app ran until the fix), ``after`` = the app as served; ``gradio`` / ``sse`` = reply text as Gradio
updates or over the app's SSE route (``--live-replies``; run ``--variants gradio sse``). Each run measures its own direct phase (the
same users straight to the backend), so every app figure is printed next to its direct figure and
as a ratio; CPU is the app process's own (user+system) per 1,000 delivered tokens.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = {"before": ["--gradio-monitoring-every", "1"], "after": [],
            # how reply text reaches the page (serve --live-replies): Gradio updates vs the SSE route
            "gradio": ["--live-replies", "gradio"], "sse": ["--live-replies", "sse"],
            # a proposed next step, not in the app: history images as Gradio static files
            "after+static-images": ["--what-if", "static-images"],
            "workers2": ["--workers", "2"]}  # the app as serve --workers 2 behind nginx


def run_one(users: int, variant: str, args, work: Path, n: int) -> dict:
    out = work / f"{variant}-{users}-{n}.json"
    cmd = [sys.executable, str(HERE / "bench_arena_load.py"), "--users", str(users),
           "--duration", str(args.duration), "--warmup", str(args.warmup),
           "--direct-seconds", str(args.direct_seconds), "--settle", "3", "--json", str(out),
           "--prefill-events", str(args.prefill_events), *args.extra, *VARIANTS[variant]]
    if args.py_spy:
        cmd += ["--py-spy", str(work / f"{variant}-{users}-{n}.prof")]
    done = subprocess.run(cmd, capture_output=True, text=True)
    log = work / f"{variant}-{users}-{n}.log"
    log.write_text(done.stdout + done.stderr)
    if not out.exists():
        return {"users": users, "variant": variant, "failed": str(log)}
    return {**json.loads(out.read_text()), "variant": variant, "log": str(log)}


def row(r: dict) -> str:
    if "failed" in r:
        return f"| {r['users']} | {r['variant']} | run failed, see {r['failed']} |"
    return (f"| {r['users']} | {r['variant']} | {r['direct_ttft_p50']:.0f} / {r['direct_ttft_p99']:.0f} | "
            f"{r['app_ttft_p50']:.0f} / {r['app_ttft_p99']:.0f} | "
            f"x{r['app_ttft_p50'] / r['direct_ttft_p50']:.2f} | {r['direct_tok_s']:.0f} | {r['app_tok_s']:.0f} | "
            f"x{r['app_tok_s'] / r['direct_tok_s']:.2f} | {r['app_cpu_per_1k']:.2f} | "
            f"{'ok' if r['ok'] else 'FAIL'} (err {r['errors']}, rows {'=' if r['rows_match'] else '≠'}) | "
            f"{r['loadavg']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["before", "after"])
    parser.add_argument("--rounds", type=int, default=1, help="each round runs every variant once")
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--direct-seconds", type=float, default=20.0)
    parser.add_argument("--prefill-events", type=int, default=10_000,
                        help="each app starts as a server that has run this many events (Gradio keeps 10,000); "
                             "0 = a fresh server")
    parser.add_argument("--py-spy", action="store_true", help="profile each app (bench/profile_top.py)")
    parser.add_argument("extra", nargs="*", help="more bench_arena_load.py arguments (after --)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    print(f"logs in {work}", flush=True)
    results = []
    for users in args.users:
        for n in range(args.rounds):
            order = args.variants if (n + len(results)) % 2 == 0 else args.variants[::-1]
            for variant in order:
                results.append(run_one(users, variant, args, work, n))
                print(row(results[-1]), flush=True)
    print("\n| users | variant | direct TTFT p50 / p99 ms | app TTFT p50 / p99 ms | app/direct p50 | "
          "direct tok/s | app tok/s | app/direct tok/s | app CPU-s per 1k tokens | result | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: (r["users"], r["variant"])):
        print(row(r))
    for users in args.users:
        mine = {v: [r for r in results if r["users"] == users and r["variant"] == v and "failed" not in r]
                for v in VARIANTS}
        mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
        for new, old in (("after", "before"), ("after+static-images", "after"), ("workers2", "after"),
                         ("sse", "gradio")):
            if mine[new] and mine[old]:
                print(f"{users} users, {new}/{old}: CPU per 1k tokens x"
                      f"{mean(mine[new], 'app_cpu_per_1k') / mean(mine[old], 'app_cpu_per_1k'):.2f}, "
                      f"tokens/s x{mean(mine[new], 'app_tok_s') / mean(mine[old], 'app_tok_s'):.2f}, "
                      f"TTFT p50 x{mean(mine[new], 'app_ttft_p50') / mean(mine[old], 'app_ttft_p50'):.2f}")
    if args.py_spy:
        sys.path.insert(0, str(HERE))
        from profile_top import top_costs
        for prof in sorted(work.glob("*.prof")):
            print(f"\n== py-spy {prof.stem} ==")
            print("\n".join(top_costs(prof, 20)))


if __name__ == "__main__":
    main()
