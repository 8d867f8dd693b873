"""Clicks and scroll distance to rate one turn, in a real browser on a 1400x1000 window.

The app as `serve` builds it (scripted models, a temp data dir), Debian chromium through
Playwright. For the chat and the named arena, after a 3-turn dialog, it rates the latest turn
and then turn 1 twice: with the verdict buttons on the reply (inline) and with the form
(the old way: scroll to it, pick the reply in its dropdown, click the verdict; beside the chat, below the arena). It scrolls only
when the next target is off screen, counts every click, sums every scroll (page and panes)
and checks that each rating was stored. Goal: 1 click, no scroll.

    python bench/bench_rating_clicks.py
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from ift_chat.config import Config  # noqa: E402
from ift_chat.store import Store  # noqa: E402
from tests.scripted_backend import ScriptedBackend  # noqa: E402
from tests.ui.conftest import running_app, scripted_backends  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Every scroll position on the page, by element: the distance is the sum of their changes.
POSITIONS = """() => { const out = {'window': window.scrollY}; let n = 0;
  for (const e of document.querySelectorAll('*')) { n++; if (e.scrollHeight > e.clientHeight + 1)
    out[n] = e.scrollTop; } return out; }"""


class Meter:
    def __init__(self, page):
        self.page, self.clicks, self.scroll = page, 0, 0.0
        self.last = page.evaluate(POSITIONS)

    def _moved(self):
        now = self.page.evaluate(POSITIONS)
        self.scroll += sum(abs(now.get(k, 0) - self.last.get(k, 0)) for k in set(now) | set(self.last))
        self.last = now

    def click(self, locator):
        """A person's click: scroll first only if the target is not fully on screen."""
        self._moved()  # whatever the app scrolled by itself is not the person's doing
        self.last = self.page.evaluate(POSITIONS)
        if not self._visible(locator):
            locator.scroll_into_view_if_needed()
            self._moved()
        locator.click()
        self.clicks += 1
        self.page.wait_for_timeout(200)
        self.last = self.page.evaluate(POSITIONS)

    def _visible(self, locator) -> bool:
        return locator.evaluate("""e => { const r = e.getBoundingClientRect();
          if (r.top < 0 || r.bottom > window.innerHeight || r.height === 0) return false;
          for (let p = e.parentElement; p; p = p.parentElement) { const q = p.getBoundingClientRect();
            if (p.scrollHeight > p.clientHeight + 1 && (r.top < q.top || r.bottom > q.bottom)) return false; }
          return true; }""")


def wait_rated(store: Store, count: int, page) -> None:
    for _ in range(150):
        if store.query("select count(*) n from ratings")[0]["n"] >= count:
            return
        page.wait_for_timeout(100)
    raise RuntimeError("the rating was not stored")


def reply_verdicts(page, prefix: str, pane: str, sides: int, turn: int | None):
    """The verdict buttons under side A's reply to `turn` (None: the latest turn). The chat has
    one pane with every turn; the arena shows the latest turn in its panes and earlier turns as
    rows (#arena-turn-N-A)."""
    if sides == 1:
        replies = page.locator(f"#{pane} .extra-feedback-options")
        return replies.nth(replies.count() - 1 if turn is None else turn - 1)
    where = f"#{pane}" if turn is None else f"#{prefix}-turn-{turn}-A"
    return page.locator(f"{where} .extra-feedback-options").last


def dialog(page, prefix: str, pane: str, sides: int, turns: int = 3) -> None:
    for n in range(1, turns + 1):
        box = page.locator(f"#{prefix}-input textarea")
        box.fill(f"Question {n}: answer in one word.")
        box.press("Enter")
        if sides == 1:
            page.locator(f"#{pane} .extra-feedback-options").nth(n - 1).wait_for()
        elif n > 1:  # the previous turn has moved into its row
            reply_verdicts(page, prefix, pane, sides, n - 1).wait_for()
        reply_verdicts(page, prefix, pane, sides, None).wait_for()
        page.wait_for_timeout(700)  # the turn's end resets the form


def measure(page, store: Store, prefix: str, pane: str, sides: int) -> list[tuple[str, int, float]]:
    rows, done = [], 0
    for label, turn in (("inline, latest turn", None), ("inline, turn 1 of 3", 1)):
        meter = Meter(page)
        target = reply_verdicts(page, prefix, pane, sides, turn)
        meter.click(target.get_by_text("Partially" if turn else "Followed", exact=True))
        done += 1
        wait_rated(store, done, page)
        rows.append((label, meter.clicks, meter.scroll))
    meter = Meter(page)  # the form: choose turn 1's reply in the dropdown, then the verdict
    meter.click(page.locator(f"#{prefix}-reply input"))
    first = re.compile(r"^Turn 1 · Model A" if sides > 1 else r"^Turn 1$")  # named arena: "Model A: <name>"
    meter.click(page.get_by_role("option", name=first))
    meter.click(page.locator(f"#{prefix}-followed").get_by_text("No", exact=True))
    page.wait_for_timeout(1000)
    rows.append(("form (pick + verdict), turn 1", meter.clicks, meter.scroll))
    return rows


def main() -> None:
    argparse.ArgumentParser(description="Clicks and scroll distance to rate one turn in chat and in the "
                                        "arena, in Chromium on a 1400x1000 window (the real app, scripted "
                                        "checkpoints).").parse_args()
    home = Path(tempfile.mkdtemp(prefix="ift-bench-clicks-"))
    config = Config(home=home / "data", checkpoints_dir=home / "checkpoints")
    store = Store(config)
    backends = scripted_backends(store, ScriptedBackend("ckpt-a", reply="A short reply in a few words."),
                                 ScriptedBackend("ckpt-b", reply="Another short reply."))
    results = {}
    with running_app(config, store, backends) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(url + "/")
        page.locator("#rater-name textarea, #rater-name input").first.fill("bench-rater")
        page.wait_for_timeout(1500)
        dialog(page, "chat", "chat-chat-single", 1)
        results["chat"] = measure(page, store, "chat", "chat-chat-single", 1)
        page.get_by_role("tab", name="Arena (named)").click()
        page.wait_for_timeout(500)
        dialog(page, "arena", "arena-chat-A", 2)
        results["arena"] = measure(page, store, "arena", "arena-chat-A", 2)
        browser.close()
    store.db.close()
    shutil.rmtree(home, ignore_errors=True)
    print("Rating one turn on a 1400x1000 window (goal: 1 click, no scroll):")
    for where, rows in results.items():
        for label, clicks, scroll in rows:
            print(f"  {where:5}  {label:30} {clicks} click{'s' if clicks > 1 else ' '}  scroll {scroll:6.0f} px")


if __name__ == "__main__":
    main()
