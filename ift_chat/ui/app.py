"""The Gradio apps: the main one (chat and named arena; leaderboard, rating tasks, data and
crowd admin on its /manage page) and the anonymous battle page, which must never ship a
checkpoint name before a vote."""

from __future__ import annotations

import gradio as gr

from ..backends import Backends
from ..config import Config
from ..runner import DialogRunner
from ..store import Store
from . import admin_tab, browse_tab, data_tab, judge_tab, leaderboard_tab, replay_results_tab, tasks_tab
from .arena_tab import ArenaTab
from .chat_tab import ChatTab
from .context import AppContext
from .identity import Identity, render_identity, wire_identity
from .live import LiveReplies
from .rating import RATE_CSS
from .turn_rows import ROWS_CSS

TITLE = "ift-chat"
MANAGE_PAGE = "Leaderboard, tasks & data"
CSS = ".ift-pane .message-wrap { font-size: 0.95rem; }" + RATE_CSS + ROWS_CSS
DEMO_BANNER = (
    "**Demo mode**: two checkpoints with the real weights of SmolLM2-135M-Instruct, a very small "
    "text model. `smollm2-135m-instruct` is text only and refuses images; `smolvlm-smollm2-randvision` "
    "puts the same weights in the SmolVLM architecture with a *random* vision tower: it accepts images "
    "but cannot see them. Both write fluent English, follow a simple first instruction and then often "
    "drop it in later rounds (\"answer in one word\" → a full sentence), which is what the automatic "
    "per-turn checks (the *auto* badge under each reply) show. They know little and make facts up. "
    "The built-in eval set `ifmr` is installed for replays. Put your own checkpoints in `checkpoints/` "
    "(see its README) and restart.")


def build_app(config: Config, store: Store, backends: Backends, live: LiveReplies | None = None) -> gr.Blocks:
    ctx = AppContext(config, store, backends, live)
    runner = DialogRunner(store, backends, config.limits)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as blocks:
        who = render_identity(config, "ift-chat — talk to, compare and rate your checkpoints")
        _demo_banner(ctx)
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"):
                chat = ChatTab(ctx, runner, who.name).render()
            with gr.Tab("Arena (named)", id="arena"):
                gr.Markdown("For blind comparisons use the [anonymous battle page](battle/).")
                arena = ArenaTab(ctx, runner, anonymous=False, rater_name=who.name).render()
        wire_identity(blocks, who)
        _wire_url_resume(blocks, tabs, who.saved, chat, arena)
    # A page of its own: the browser re-checks every component of a page on each streamed
    # token, and these tabs held half of them (bench/bench_ui_latency.py --floor: the chat page
    # took ~80 ms longer to show a first token with them).
    with blocks.route(MANAGE_PAGE, "/manage"):
        manage_who = render_identity(config, "ift-chat — leaderboard, rating tasks, data, crowd admin")
        with gr.Tabs():
            for label, render in _manage_tabs(ctx, manage_who):
                with gr.Tab(label):
                    render()
        wire_identity(blocks, manage_who)
    return blocks


def build_battle_app(config: Config, store: Store, backends: Backends,
                     live: LiveReplies | None = None) -> gr.Blocks:
    ctx = AppContext(config, store, backends, live)
    runner = DialogRunner(store, backends, config.limits)
    with gr.Blocks(title=f"{TITLE} — anonymous battle", analytics_enabled=False) as blocks:
        who = render_identity(config, "ift-chat — anonymous battle")
        _demo_banner(ctx)
        battle = ArenaTab(ctx, runner, anonymous=True, rater_name=who.name).render()
        wire_identity(blocks, who)

        def resume(saved, request: gr.Request):
            return battle.on_load(request, saved)

        # The saved name, not the box: both load events run at once on page load.
        blocks.load(resume, [who.saved], battle.load_outputs, api_name=False, concurrency_limit=None)
    return blocks


def _demo_banner(ctx: AppContext) -> None:
    if ctx.backends.demo:
        gr.Markdown(DEMO_BANNER, elem_id="demo-banner")


def _wire_url_resume(blocks: gr.Blocks, tabs: gr.Tabs, saved, chat: ChatTab, arena: ArenaTab) -> None:
    """`?c=<id>` reopens a conversation in the tab of its mode, with the viewer's badges: it reads
    the saved name (the name box is filled by another load event running at the same time)."""
    def resume(n, request: gr.Request):
        update = {**chat.on_load(request, n), **arena.on_load(request, n)}
        if update.get(arena.panes.conversation):
            update[tabs] = gr.Tabs(selected="arena")
        return update

    blocks.load(resume, [saved], [*chat.load_outputs, *arena.load_outputs, tabs], api_name=False,
                concurrency_limit=None)


def _manage_tabs(ctx: AppContext, who: Identity):
    """Analysis, data and crowd tabs of /manage, each a module with a `render`."""
    return [("Leaderboard", lambda: leaderboard_tab.render(ctx)),
            ("Rating tasks", lambda: tasks_tab.render(ctx, who.name)),
            ("Conversations", lambda: browse_tab.render(ctx)),
            ("Replay results", lambda: replay_results_tab.render(ctx)),
            ("Data", lambda: data_tab.render(ctx)),
            ("Crowd admin", lambda: admin_tab.render(ctx, who.name)),
            ("Judges", lambda: judge_tab.render(ctx))]
