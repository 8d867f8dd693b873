"""Streaming reply text outside Gradio's per-update pipeline (``Config.live_replies = "sse"``).

Gradio 6.31 handles every streamed update of an output in full: the Chatbot's whole value
(every history message and image) goes through ``postprocess``, two walks of
``async_move_files_to_cache`` (each history image: ~20 ``realpath`` calls against the blocked
and allowed paths, then its cache check), the session config and a diff against the previous
value — per token batch, growing with the conversation (py-spy at 64 users: 47 % of the app's
CPU in ``Blocks.process_api``). Gradio has no way to send part of a value.

So a turn's text goes out on a small server-sent-events route of the same ASGI app instead:
the send handler yields to Gradio three times per turn (the panes with the user's message and a
placeholder reply, plus a per-turn stream token; the reply's first text; then the final panes, rendered and sanitised as
always), and in between publishes the runner's snapshots to ``LiveTurn``. The page (``LIVE_JS``)
opens ``<app root>/ift_live/<token>`` when the token arrives and shows the text with
``textContent`` only, in its own element in the reply's bubble, until the final message
replaces it. The route sits under each app's mount, so the login guard (server.Guard) answers
401 before login, like for every other route of that app; the token is random, issued only in
the output of the event that sent the turn, and lives as long as the turn. The stream carries
the reply text per side label ("A"/"B"), exactly what the pane shows, nothing else: no
checkpoint, no error (errors come with the final message, redacted as usual).
"""

from __future__ import annotations

import asyncio
import json
import secrets

import gradio as gr
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ..runner import Snapshot

ROUTE = "/ift_live/{token}"
# Sent when nothing happened for this long, so proxies and the browser keep the stream open.
KEEPALIVE_SECONDS = 15.0


class LiveTurn:
    """The text so far of one streaming turn, per side; subscribers wait for changes."""

    def __init__(self):
        self.texts: dict[str, str] = {}
        self.done = False
        self._changed = asyncio.Event()

    def publish(self, snapshot: Snapshot) -> None:
        self.texts = dict(snapshot.texts)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()  # subscribers took the old one: they all wake

    async def changes(self):
        """Per change: {side: text appended since the last change} (texts only grow)."""
        sent: dict[str, int] = {}
        while True:
            changed = self._changed
            deltas = {side: text[sent.get(side, 0):] for side, text in self.texts.items()
                      if len(text) > sent.get(side, 0)}
            if deltas:
                sent.update({side: len(self.texts[side]) for side in deltas})
                yield deltas
            if self.done:
                return
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
            except asyncio.TimeoutError:
                yield None


class LiveReplies:
    """The running turns of one Gradio app, by stream token (each lives as long as its turn)."""

    def __init__(self):
        self._turns: dict[str, LiveTurn] = {}

    def open(self) -> tuple[str, LiveTurn]:
        token = secrets.token_urlsafe(24)
        self._turns[token] = turn = LiveTurn()
        return token, turn

    def close(self, token: str) -> None:
        turn = self._turns.pop(token, None)
        if turn is not None:
            turn.finish()

    def __len__(self) -> int:
        return len(self._turns)

    async def endpoint(self, request: Request) -> Response:
        """GET …/ift_live/<token>: the turn's text as server-sent events (`data: {side: delta}`),
        then `event: done`. An unknown or finished token: 404, nothing said about why."""
        turn = self._turns.get(request.path_params["token"])
        if turn is None:
            return PlainTextResponse("no such stream", status_code=404)

        async def events():
            async for deltas in turn.changes():
                yield ": keepalive\n\n" if deltas is None else f"data: {json.dumps(deltas)}\n\n"
            yield "event: done\ndata: {}\n\n"
        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class LivePanes:
    """The side channel of one ConversationPanes: a hidden token box the page watches, and the
    streaming loop that yields to Gradio only at the start and the end of a turn."""

    def __init__(self, panes, replies: LiveReplies | None):
        self.panes, self.replies = panes, replies
        self.token_box = None

    @property
    def enabled(self) -> bool:
        return self.replies is not None

    @property
    def outputs(self) -> list:
        return [self.token_box] if self.enabled else []

    def render(self) -> "LivePanes":
        if self.enabled:
            self.token_box = gr.Textbox(visible="hidden", show_label=False, container=False,
                                        elem_id=f"{self.panes.p}-live")
        return self

    def wire(self) -> None:
        if self.enabled:  # runs in the browser only: no request to the server
            self.token_box.change(None, [self.token_box], None,
                                  js=f"(token) => {{ window.iftLive?.({json.dumps(self.panes.p)}, token); }}")

    async def stream(self, conversation_id: str, stream, rater):
        panes, token, turn = self.panes, *self.replies.open()
        try:
            shown = 0  # Gradio updates: the turn's start (placeholder), then its first text
            async for snapshot in stream:
                turn.publish(snapshot)
                # The first text also goes with a (small) Gradio update, on the stream the page
                # already has open: sent by SSE only, it waited for the page to open its stream
                # (+120 ms p50 in bench/bench_browser_ttft.py). The rest goes by SSE only.
                if shown < 2 and (not shown or any(snapshot.texts.values()) or snapshot.finished):
                    shown += 1
                    first = Snapshot(snapshot.turn_id, snapshot.texts, frozenset())
                    update = panes._live(conversation_id, first, rater, {})
                    update.update({panes.conversation: conversation_id, panes.editing: False,
                                   panes.info: panes._link(conversation_id), self.token_box: token})
                    yield update
            update = panes._panes_update(conversation_id, rater, panes._dialog(conversation_id, rater))
            update[self.token_box] = ""
            yield update
        finally:
            self.replies.close(token)


# The page's side of it (mount_gradio_app(js=…)): window.iftLive(prefix, token) follows one
# turn's stream into the last reply bubble of each `#<prefix>-chat-<side>` pane; an empty token
# (the turn's final update) closes it and leaves the bubble to Gradio's sanitised message.
LIVE_JS = r"""
() => {
  const streams = {};
  const root = () => ((window.gradio_config && window.gradio_config.root) || "").replace(/\/$/, "");
  function clear(prefix) {
    document.querySelectorAll(`[id^="${prefix}-chat-"] .ift-live`).forEach((node) => {
      node.parentElement && node.parentElement.classList.remove("ift-live-on");
      node.remove();
    });
  }
  function show(prefix, side, text) {
    const pane = document.getElementById(`${prefix}-chat-${side}`);
    const bubbles = pane ? pane.querySelectorAll(".message.bot") : [];
    const bubble = bubbles[bubbles.length - 1];
    if (!bubble) return;
    const host = bubble.querySelector(".message-content") || bubble;
    let node = host.querySelector(":scope > .ift-live");
    if (!node) {
      node = document.createElement("div");
      node.className = "ift-live";
      host.appendChild(node);
      host.classList.add("ift-live-on");
    }
    node.textContent = text;  // text only: never parsed as HTML
  }
  window.iftLive = (prefix, token) => {
    if (streams[prefix]) streams[prefix].close();
    delete streams[prefix];
    clear(prefix);
    if (!token) return;
    const source = new EventSource(`${root()}/ift_live/${encodeURIComponent(token)}`);
    const texts = {};
    streams[prefix] = source;
    source.onmessage = (event) => {
      for (const [side, delta] of Object.entries(JSON.parse(event.data))) {
        texts[side] = (texts[side] || "") + delta;
        show(prefix, side, texts[side]);
      }
    };
    source.addEventListener("done", () => source.close());
    source.onerror = () => source.close();  // the final message still comes from Gradio
  };
}
"""

LIVE_CSS = (".ift-live { white-space: pre-wrap; }"
            " .ift-live-on > :not(.ift-live) { display: none !important; }")
