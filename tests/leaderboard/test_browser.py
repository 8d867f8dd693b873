"""Real browser (Debian chromium via Playwright) on the real app's /manage page: the
Leaderboard tab draws the per-round board, style control, categories and automatic checks."""

from __future__ import annotations

import pytest

from ift_chat.backends import Backends
from tests.conftest import ARTIFACTS
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow

TITLES = ("Who still wins in round 3+", "Rating by round", "automatic checks (solid) vs human ratings",
          "Raw vs style-controlled", "Style coefficients", "Leaderboards by category", "PIF (share of active",
          "Cohen's kappa per constraint kind", "Instruction following by round")


def test_leaderboard_tab_in_a_browser(config, store, arena, browser):
    for name in ("ck-good", "ck-bad"):
        arena.checkpoint(name)
    for n in range(2):
        turns = arena.battle("ck-good", "ck-bad", ["A", "A", "B", "A", "B"],
                             texts=[("**Sure.**\n- a\n- b", "ok")] * 5, image_turns=[0], reveal=n == 0)
    arena.checks(arena.reply_ids(turns[2])["A"], [("one_word", False, False)])
    # A battle is rated by its owner before its end; the rating counts from the reveal on.
    arena.store.feedback.rate(arena.reply_ids(turns[2])["A"], arena.rater("r1"), "no")
    arena.store.conversations.reveal(arena.store.conversations.turn(turns[0]).conversation_id,
                                     arena.rater("r1"))
    arena.dialog("ck-bad", [["yes"], ["yes"], ["no"]])
    with running_app(config, store, Backends()) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(url + "/manage")
        page.get_by_role("button", name="Refresh leaderboard").click()
        page.get_by_text("10 votes").first.wait_for()
        page.locator(".js-plotly-plot").nth(11).wait_for()  # every plotly figure drawn
        assert page.locator(".js-plotly-plot").count() == 12
        html = page.content()
        for title in TITLES:
            assert title in html.replace("&#39;", "'"), title
        assert "ck-good" in html
        page.screenshot(path=str(ARTIFACTS / "leaderboard-tab.png"), full_page=True)
        page.close()
