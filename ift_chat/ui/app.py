"""The Gradio apps: the main one (chat and named arena; leaderboard, rating tasks, data and
crowd admin on its /manage page) and the anonymous battle page, which must never ship a
checkpoint name before a vote."""

from __future__ import annotations

import gradio as gr

from ..backends import Backends
from ..config import Config
from ..runner import DialogRunner
from ..store import Store
from . import admin_tab, data_tab, leaderboard_tab, tasks_tab
from .arena_tab import ArenaTab
from .chat_tab import ChatTab
from .context import AppContext

TITLE = "ift-chat"
MANAGE_PAGE = "Leaderboard, tasks & data"
CSS = ".ift-pane .message-wrap { font-size: 0.95rem; }"
DEMO_BANNER = (
    "**Demo mode**: two checkpoints with the real weights of SmolLM2-135M-Instruct, a very small "
    "text model. `smollm2-135m-instruct` is text only and refuses images; `smolvlm-smollm2-randvision` "
    "puts the same weights in the SmolVLM architecture with a *random* vision tower: it accepts images "
    "but cannot see them. Both write fluent English, follow a simple first instruction and then often "
    "drop it in later rounds (\"answer in one word\" → a full sentence), which is what the automatic "
    "per-turn checks (the *auto* badge under each reply) show. They know little and make facts up. "
    "The built-in eval set `ifmr` is installed for replays. Put your own checkpoints in `checkpoints/` "
    "(see its README) and restart.")


def _header(ctx: AppContext, title: str) -> None:
    with gr.Row():
        gr.Markdown(f"## {title}")
        locked = ctx.config.auth_file is not None
        ctx.shared["rater_name"] = gr.Textbox(
            label="Your rater name", placeholder="required to rate or vote", max_lines=1,
            scale=0, min_width=220, elem_id="rater-name", interactive=not locked,
            info="you are logged in" if locked else "ratings and votes are saved under this name")
    if ctx.backends.demo:
        gr.Markdown(DEMO_BANNER, elem_id="demo-banner")
    # The typed name survives a reload (browser localStorage); a login always wins.
    ctx.shared["saved_name"] = saved = gr.BrowserState("", storage_key="ift-chat-rater-name")
    ctx.shared["rater_name"].change(_keep, ctx.shared["rater_name"], saved, api_name=False, queue=False,
                                    show_progress="hidden")


def _keep(value):
    return value


def _fill_name(saved, request: gr.Request):
    return getattr(request, "username", None) or saved or gr.Textbox()


def _load_name(blocks: gr.Blocks, ctx: AppContext) -> None:
    blocks.load(_fill_name, [ctx.shared["saved_name"]], [ctx.shared["rater_name"]], api_name=False,
                concurrency_limit=None)


def build_app(config: Config, store: Store, backends: Backends) -> gr.Blocks:
    ctx = AppContext(config, store, backends)
    runner = DialogRunner(store, backends, config.limits)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as blocks:
        _header(ctx, "ift-chat — talk to, compare and rate your checkpoints")
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"):
                chat = ChatTab(ctx, runner).render()
            with gr.Tab("Arena (named)", id="arena"):
                gr.Markdown("For blind comparisons use the [anonymous battle page](battle/).")
                arena = ArenaTab(ctx, runner, anonymous=False).render()
        name = ctx.shared["rater_name"]
        _load_name(blocks, ctx)
        _wire_url_resume(blocks, tabs, name, chat, arena)
    # A page of its own: the browser re-checks every component of a page on each streamed
    # token, and these tabs held half of them (bench/bench_ui_latency.py --floor: the chat page
    # took ~80 ms longer to show a first token with them).
    with blocks.route(MANAGE_PAGE, "/manage"):
        gr.Markdown("## ift-chat — leaderboard, rating tasks, data, crowd admin")
        with gr.Tabs():
            for label, render in _extra_tabs():
                with gr.Tab(label):
                    render(ctx)
    return blocks


def build_battle_app(config: Config, store: Store, backends: Backends) -> gr.Blocks:
    ctx = AppContext(config, store, backends)
    runner = DialogRunner(store, backends, config.limits)
    with gr.Blocks(title=f"{TITLE} — anonymous battle", analytics_enabled=False) as blocks:
        _header(ctx, "ift-chat — anonymous battle")
        battle = ArenaTab(ctx, runner, anonymous=True).render()
        name = ctx.shared["rater_name"]
        _load_name(blocks, ctx)

        def resume(n, request: gr.Request):
            return battle.on_load(request, n)

        blocks.load(resume, [name], battle.load_outputs, api_name=False, concurrency_limit=None)
    return blocks


def _wire_url_resume(blocks: gr.Blocks, tabs: gr.Tabs, name, chat: ChatTab, arena: ArenaTab) -> None:
    """`?c=<id>` reopens a conversation in the tab of its mode."""
    def resume(n, request: gr.Request):
        update = {**chat.on_load(request, n), **arena.on_load(request, n)}
        if update.get(arena.panes.conversation):
            update[tabs] = gr.Tabs(selected="arena")
        return update

    blocks.load(resume, [name], [*chat.load_outputs, *arena.load_outputs, tabs], api_name=False,
                concurrency_limit=None)


def _extra_tabs():
    """Analysis, data and crowd tabs, each a module with `render(ctx)`."""
    return [("Leaderboard", leaderboard_tab.render), ("Rating tasks", tasks_tab.render),
            ("Data", data_tab.render), ("Crowd admin", admin_tab.render)]
