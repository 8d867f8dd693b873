"""One user in a real browser: Enter -> first reply character visible, vs the same stub called directly.

A fixed-rate streaming stub (bench/rate_stub.py, its own process) is the model; the app
(app.py, its own process) serves it as a registry ``url`` entry, once per way reply text
reaches the page (``--live-replies sse``: the app's SSE route; ``gradio``: Gradio updates); with
--floor also a bare Gradio chat page (bench/ui_floor_app.py). Headless Debian chromium drives
each page's chat tab (bench/bench_ui_latency.py's ChatPage: the Enter keydown and the first
reply text in the pane's DOM, same clock). Each round runs every arm once, the order rotating,
so all see the same machine; direct is the request body the app sends, POSTed with httpx.

    .venv/bin/python bench/bench_browser_ttft.py --rounds 30
    .venv/bin/python bench/bench_browser_ttft.py --rounds 20 --arms sse --floor

Prints each round, then p50/p90 per arm and each arm minus direct (median of per-round
differences), against the goal of direct + 50 ms at p50.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
from bench_ui_latency import (  # noqa: E402
    CHROMIUM,
    GOAL_MS,
    NAME,
    ROOT,
    ChatPage,
    direct_round,
    free_port,
    load,
    pct,
    start_floor_app,
    wait_for_app,
)

from ift_chat.backends import SamplingParams  # noqa: E402
from ift_chat.backends.openai_client import OpenAIBackend  # noqa: E402
from ift_chat.config import Limits  # noqa: E402
from ift_chat.dialog import Round, build_messages  # noqa: E402

# The first reply text in a bubble newer than the ones before Enter (the conversation goes on
# from round to round: the app's New conversation button is not part of what is timed).
WATCH_NEW_BUBBLE = r"""
(() => {
  const pane = document.querySelector('#chat-chat-single');
  new MutationObserver(() => {
    const b = window.__bench;
    if (!b.armed || b.t0 === null || b.tDom !== null) return;
    const bots = pane.querySelectorAll('.bot-row');
    if (bots.length <= window.__benchBefore) return;
    const text = bots[bots.length - 1].textContent.replace('…', '').trim();
    if (text) {
      b.tDom = performance.now();
      b.text = text.slice(0, 40);
      requestAnimationFrame(() => { b.tFrame = performance.now(); });
    }
  }).observe(pane, {subtree: true, childList: true, characterData: true});
})()
"""


class StubChatPage(ChatPage):
    """bench_ui_latency's ChatPage, one conversation for all rounds, sampling params left as they
    are (the stub ignores them)."""

    def _set_params(self, params: SamplingParams) -> None:
        # ChatPage.__init__ calls this just before it installs its watch (the last bubble's
        # first text): install this bench's (a new bubble's) instead.
        self.page.evaluate("window.__benchWatch = () => {}")
        self.page.evaluate(WATCH_NEW_BUBBLE)

    def round(self, prompt: str) -> float:
        page = self.page
        box = page.locator("#chat-input textarea")
        page.wait_for_function("document.querySelector('#chat-input textarea').value === ''")
        page.evaluate("window.__benchBefore = document.querySelectorAll('#chat-chat-single .bot-row').length")
        box.fill(prompt)
        page.evaluate("Object.assign(window.__bench, {armed: true, t0: null, tDom: null, tFrame: null, "
                      "tDone: null, text: null, chunks: []})")
        box.press("Enter")
        page.wait_for_function("window.__bench.tFrame !== null && window.__bench.tDone !== null")
        page.wait_for_function("document.querySelectorAll('#chat-chat-single .ift-live').length === 0")
        page.wait_for_timeout(300)  # the turn's after-events finish
        b = page.evaluate("() => { window.__bench.armed = false; return Object.assign({}, window.__bench); }")
        return b["tDom"] - b["t0"]


def start_stub(tmp: Path, rate: float, prefill_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "rate_stub.py"), "--port", str(port), "--rate", str(rate),
                             "--prefill-ms", str(prefill_ms)], stdout=open(tmp / "stub.log", "w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url + "/v1"
        except httpx.HTTPError:
            pass
        proc.poll() is None or sys.exit((tmp / "stub.log").read_text())
        time.sleep(0.2)
    sys.exit("the stub did not start")


def start_app(tmp: Path, stub_url: str, live: str) -> tuple[subprocess.Popen, str]:
    """app.py in its own process with --live-replies `live`, serving the stub."""
    work = tmp / f"app-{live}"
    (work / "checkpoints").mkdir(parents=True)
    (work / "checkpoints" / "registry.toml").write_text(f'[checkpoints.{NAME}]\nurl = "{stub_url}"\nmodel = "stub"\n')
    port = free_port()
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--home", str(work / "home"),
               "--checkpoints", str(work / "checkpoints"), "--no-demo", "--live-replies", live]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=open(tmp / "app.log", "a"), stderr=subprocess.STDOUT)
    return wait_for_app(tmp, proc, port)


def run(args, tmp: Path) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    stub, stub_url = start_stub(tmp, args.rate, args.prefill_ms)
    params = SamplingParams(temperature=0, max_tokens=args.max_tokens, seed=0)
    body = OpenAIBackend(NAME, stub_url, Limits(), model="stub").payload(build_messages([Round(args.prompt)]), params)
    apps = {f"app ({live})": start_app(tmp, stub_url, live) for live in args.arms}
    if args.floor:
        apps["bare Gradio page"] = start_floor_app(tmp, stub_url, body)[0]
    rows: dict[str, list[float]] = {"direct": [], **{name: [] for name in apps}}
    try:
        with sync_playwright() as p, httpx.Client(timeout=120) as client:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            pages = {name: StubChatPage(browser, url, params, proc.pid) for name, (proc, url) in apps.items()}
            arms = {"direct": lambda: direct_round(client, stub_url, body)[0],
                    **{name: (lambda page=page: page.round(args.prompt)) for name, page in pages.items()}}
            for _ in range(args.warmup):
                for run_arm in arms.values():
                    run_arm()
            print(f"{os.cpu_count()} CPUs; load average before the rounds: {load()}")
            names = list(arms)
            print("round  " + "  ".join(f"{n:>18}" for n in names))
            for i in range(args.rounds):
                for k in range(len(names)):  # rotate who goes first
                    name = names[(i + k) % len(names)]
                    rows[name].append(arms[name]())
                print(f"{i + 1:>5}  " + "  ".join(f"{rows[n][-1]:18.1f}" for n in names), flush=True)
            browser.close()
    finally:
        for proc, _ in apps.values():
            proc.terminate()
            proc.wait(15)
        stub.terminate()
    print(f"(load average after: {load()})")
    return rows


def report(rows: dict[str, list[float]]) -> None:
    direct = rows["direct"]
    print(f"\nEnter -> first reply text visible, {len(direct)} rounds (ms)   p50      p90   minus direct p50 (p90)")
    for name, values in rows.items():
        diffs = [v - d for v, d in zip(values, direct)]
        extra = "" if name == "direct" else f"   {statistics.median(diffs):+8.1f} ({pct(diffs, 90):+.1f})"
        print(f"  {name:<44} {pct(values, 50):7.1f}  {pct(values, 90):7.1f}{extra}")
    for name, values in rows.items():
        if name.startswith("app"):
            added = statistics.median(v - d for v, d in zip(values, direct))
            print(f"{name}: direct {added:+.1f} ms at p50 -> goal <= +{GOAL_MS:.0f} ms: "
                  f"{'MET' if added <= GOAL_MS else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds of every arm first")
    parser.add_argument("--arms", nargs="+", choices=("sse", "gradio"), default=["sse", "gradio"],
                        help="the app's --live-replies settings to measure (one app each)")
    parser.add_argument("--floor", action="store_true", help="also a bare Gradio chat page (bench/ui_floor_app.py)")
    parser.add_argument("--rate", type=float, default=20.0, help="stub tokens/s")
    parser.add_argument("--prefill-ms", type=float, default=100.0, help="stub delay before the first token")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--prompt", default="Describe a red square in one sentence.")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("at least 5 rounds")
    with tempfile.TemporaryDirectory() as tmp:
        report(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
