"""Load test of crowd rating through the app's API (loopback only, bounded in time).

Starts a Gradio app with the tasks tab in a child process on 127.0.0.1, then N
simulated raters (threads, one HTTP client each, Gradio's REST API) take items and submit
ratings concurrently for --seconds. Afterwards it checks the database:
every acknowledged submission is stored exactly once (none lost, none
duplicated), no item has more than k completed raters, and it reports
p50/p99 submit latency.

    .venv/bin/python bench/bench_crowd_load.py            # 50 raters, 60 s
    .venv/bin/python bench/bench_crowd_load.py --seconds 10 --raters 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from ift_chat.config import Config  # noqa: E402
from ift_chat.store import Store  # noqa: E402

CHECKPOINT = "bench-ckpt-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_items(home: Path, items: int, k: int) -> None:
    """Logged two-turn dialogs and a task set over their replies, in one transaction."""
    from ift_chat.crowd.auth import set_account
    from ift_chat.crowd.tasks import TaskFilters, Tasks

    store = Store(Config(home=home))
    admin = set_account(store, "bench-admin", "admin", "bench-admin-password")
    store.checkpoints.register(CHECKPOINT)
    with store.write():  # the API calls below nest as savepoints: one commit
        for n in range(items // 2 + 1):
            conv = store.conversations.create("chat", sides={"single": CHECKPOINT})
            for turn_text in (f"Describe scene {n} in one line.", "Now in three words."):
                turn = store.conversations.add_turn(conv.id, turn_text)
                rid = store.conversations.start_response(turn.id, "single", CHECKPOINT)
                store.conversations.finish_response(rid, text=f"Reply to {turn_text}", status="ok")
    Tasks(store).create_set(admin, "load", k=k, filters=TaskFilters(limit=items), lease_seconds=600)
    store.close()


def serve(home: Path, port: int) -> None:
    """Child process: the whole app as `serve` runs it (the tasks tab is on /manage)."""
    import uvicorn

    from ift_chat.backends import Backends
    from ift_chat.server import make_asgi_app

    config = Config(home=home)
    uvicorn.run(make_asgi_app(config, Store(config), Backends()), host="127.0.0.1", port=port,
                log_level="warning")


@contextlib.contextmanager
def app_process(home: Path, port: int):
    log = home / "server.log"  # a file, not a pipe: a full pipe would stall the server
    with log.open("w") as sink:
        child = subprocess.Popen([sys.executable, __file__, "--serve", str(home), "--port", str(port)],
                                 stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2).status_code == 200:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked: list[tuple[int, str]] = []  # (item id, rater name) the server confirmed
        self.latencies: list[float] = []
        self.refused: list[str] = []  # error answers, e.g. rate limited (not lost: never acked)
        self.failed: list[str] = []  # transport errors: outcome unknown to the client

    def add(self, **kw):
        with self.lock:
            for key, value in kw.items():
                getattr(self, key).append(value)


class ApiError(Exception):
    """The app answered with an error event (a refusal, not a transport failure)."""


def call(http, api_name: str, data: list) -> list:
    """One call of a named event through Gradio's REST API: POST, then read the result stream."""
    event_id = http.post(f"gradio_api/call/{api_name}", json={"data": data}).raise_for_status().json()["event_id"]
    stream = http.get(f"gradio_api/call/{api_name}/{event_id}").raise_for_status().text
    event, payload = None, None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            payload = json.loads(line[5:])
    if event == "complete":
        return payload
    raise ApiError(payload.get("error") if isinstance(payload, dict) else str(payload))


def simulated_rater(url: str, name: str, stop_at: float, think_s: float, results: Results) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        item_id = call(http, "crowd_next", ["", name])[0]
        n = 0
        while item_id and time.monotonic() < stop_at:
            time.sleep(think_s)
            followed = ("yes", "partial", "no")[(len(name) + n) % 3]
            started = time.perf_counter()
            try:
                out = call(http, "crowd_submit",
                           [item_id, "", name, followed, 1 + n % 5, [], f"{name} #{n}", ""])
            except ApiError as exc:
                results.add(refused=str(exc))
                continue
            except httpx.HTTPError as exc:
                results.add(failed=f"{type(exc).__name__}: {exc}")
                continue
            results.add(latencies=time.perf_counter() - started, acked=(int(item_id), name))
            item_id, n = out[0], n + 1


def check(home: Path, results: Results, k: int) -> dict:
    store = Store(Config(home=home))
    rows = store.query("""select i.id as item_id, x.name from task_items i
        join ratings g on g.response_id = i.response_id join raters x on x.id = g.rater_id""")
    stored = [(r["item_id"], r["name"]) for r in rows]
    over_k = store.query("""select count(*) as n from (select task_item_id from task_leases
        where completed_at is not null group by task_item_id having count(*) > ?)""", [k])[0]["n"]
    store.close()
    acked = set(results.acked)
    return {"acked": len(results.acked), "stored": len(stored),
            "lost": len(acked - set(stored)),
            "duplicated": (len(results.acked) - len(acked)) + (len(stored) - len(set(stored))),
            "stored_not_acked": len(set(stored) - acked), "items_over_k": over_k}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0,
                        help="seconds a simulated rater waits before each submit (the default "
                             "rate limit allows 1 per second after a burst of 5)")
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the data dir (always kept on failure)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.port)

    home = Path(tempfile.mkdtemp(prefix="bench-crowd-"))
    items = int(args.raters * args.seconds / max(args.think, 0.05) / args.k * 1.5) + 10
    started = time.perf_counter()
    make_items(home, items, args.k)
    print(f"set-up: {items} items (k={args.k}) in {time.perf_counter() - started:.1f} s; data in {home}")
    results = Results()
    with app_process(home, free_port()) as url:
        stop_at = time.monotonic() + args.seconds
        threads = [threading.Thread(target=simulated_rater, args=(url, f"sim{i:03d}", stop_at, args.think, results))
                   for i in range(args.raters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = check(home, results, args.k)
    lat = sorted(results.latencies)
    print(f"{args.raters} raters for {args.seconds:.0f} s through /crowd_submit on loopback:")
    print(f"  acknowledged {report['acked']} ratings ({report['acked'] / args.seconds:.1f}/s), "
          f"stored {report['stored']}")
    print(f"  lost {report['lost']}, duplicated {report['duplicated']}, items over k {report['items_over_k']}, "
          f"stored but unacknowledged {report['stored_not_acked']}")
    limited = sum("too many" in r for r in results.refused)
    print(f"  refused: rate limit {limited}, other {len(results.refused) - limited}; "
          f"transport errors {len(results.failed)}")
    if lat:
        print(f"  submit latency p50 {1000 * percentile(lat, 50):.0f} ms, "
              f"p99 {1000 * percentile(lat, 99):.0f} ms, max {1000 * lat[-1]:.0f} ms")
    cpu_s = server_cpu.ru_utime + server_cpu.ru_stime
    print(f"  app process CPU {cpu_s:.1f} s ({1000 * cpu_s / max(1, report['acked']):.0f} ms per rating, "
          f"start-up included); machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for err in [*results.failed[:3], *[r for r in results.refused if "too many" not in r][:3]]:
        print(f"  e.g. {err[:200]}")
    ok = report["lost"] == 0 and report["duplicated"] == 0 and report["items_over_k"] == 0
    print("RESULT:", "OK" if ok else "FAILED")
    if ok and not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
