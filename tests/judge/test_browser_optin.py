"""Real browser on the real app: a judge's verdict appears beside a person's rating (only once the
person rated, with its trust label), and the leaderboard shows a judge's curve only on opt-in."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ift_chat.judge import judge_backend, run_job
from tests.conftest import ARTIFACTS
from tests.judge.conftest import spec_for
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import running_app, scripted_backends
from tests.ui.test_browser import open_page, send_message, wait_for

pytestmark = pytest.mark.slow
NAME_BOX = "#rater-name textarea, #rater-name input"
GOOD = '{"followed": "yes", "score": 5, "tags": [], "reason": "fine"}'


def judge_all(store, spec) -> None:
    """In a thread: Playwright's sync API holds the main thread's event loop."""
    done = []
    worker = threading.Thread(target=lambda: done.append(asyncio.run(run_job(
        store, judge_backend(spec, None, store.config.limits), spec, scope="all"))))
    worker.start()
    worker.join(60)
    assert done and done[0].judged == 1


def test_judge_badge_beside_the_rating_and_leaderboard_opt_in(config, store, page, judge_server):
    judge_server.default = GOOD
    spec = spec_for(judge_server)
    model = ScriptedBackend("ckpt-judged", reply="Red, green and blue.")
    with running_app(config, store, scripted_backends(store, model)) as url:
        open_page(page, url + "/")
        page.locator(NAME_BOX).first.fill("clicker")
        send_message(page, "chat", "List three colours.")
        pane = page.locator("#chat-chat-single")
        pane.get_by_text("Red, green and blue.").wait_for()
        judge_all(store, spec)
        page.wait_for_timeout(500)
        pane.locator(".extra-feedback-options").nth(0).get_by_text("Partially", exact=True).click()
        pane.get_by_text("rated: 🟡 partly followed").wait_for()
        # one reply rated by both, and they disagree: kappa 0, so not trusted
        pane.get_by_text("⚖ judge stub: ✅ followed · 5/5 (not trusted (kappa 0.00 < 0.6 vs people, n=1))").wait_for()
        page.screenshot(path=str(ARTIFACTS / "judge-badge.png"), full_page=True)

        page.goto(url + "/manage")
        page.get_by_role("button", name="Refresh leaderboard").click()
        page.get_by_text("No votes match").wait_for()
        assert "Judge beside people" not in page.content()  # people only by default
        box = page.get_by_label("Include judge (opt-in; none: people only) beside the per-round curve")
        box.fill("stub")
        box.press("Enter")
        page.get_by_role("button", name="Refresh leaderboard").click()
        page.get_by_text("Judge beside people (opt-in)").wait_for()
        wait_for(lambda: "judge_followed" in page.content())
        html = page.content()
        assert "not trusted (kappa 0.00 &lt; 0.6 vs people, n=1)" in html or \
            "not trusted (kappa 0.00 < 0.6 vs people, n=1)" in html
        page.screenshot(path=str(ARTIFACTS / "leaderboard-judge-opt-in.png"), full_page=True)
