"""Real browser (Debian chromium via Playwright): the Leaderboard tab draws its plots and tables."""

from __future__ import annotations

import gradio as gr
import pytest

from ift_chat.backends import Backends
from ift_chat.ui import leaderboard_tab
from ift_chat.ui.context import AppContext
from tests.conftest import ARTIFACTS
from tests.ui.conftest import free_port

pytestmark = pytest.mark.slow


def test_leaderboard_tab_in_a_browser(config, store, arena, browser):
    for name in ("ck-good", "ck-bad"):
        arena.checkpoint(name)
    arena.battle("ck-good", "ck-bad", ["A"] * 8 + ["B"] * 2)
    arena.dialog("ck-bad", [["yes"], ["yes"], ["no"]])
    with gr.Blocks() as blocks:
        with gr.Tab("Leaderboard"):
            leaderboard_tab.render(AppContext(config, store, Backends()))
    blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(30_000)
        page.goto(blocks.local_url)
        page.get_by_role("button", name="Refresh leaderboard").click()
        page.get_by_text("10 votes").wait_for()
        page.locator(".js-plotly-plot").nth(3).wait_for()  # all four plotly figures drawn
        assert page.locator(".js-plotly-plot").count() == 4
        html = page.content()
        assert "ck-good" in html and "Instruction following by round" in html
        page.screenshot(path=str(ARTIFACTS / "leaderboard-tab.png"), full_page=True)
        page.close()
    finally:
        blocks.close()
