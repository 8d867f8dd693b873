"""Real browser (Debian chromium): the probe's script-from-content vectors through every route a
hostile text takes into the app as served (``make_asgi_app``: ``/``, ``/battle/``, ``/manage``):
user text, a model reply, a model server's HTTP error body, the Resume-a-conversation labels,
Rating tasks (stored system prompts and messages) and error toasts. Each page must stay inert:
no script ran (``window.__xss`` unset, no dialog), no request to the hostile host, and no
element in the DOM with a remote URL, a ``javascript:``/``data:`` link, a style ``url()``, or a
form."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from ift_chat.backends import Backends
from ift_chat.backends.openai_client import OpenAIBackend
from ift_chat.crowd.auth import make_auth_check, set_account
from ift_chat.crowd.tasks import Tasks
from tests.conftest import ARTIFACTS
from tests.scripted_backend import ScriptedBackend
from tests.security.xss_vectors import EVIL, JOINED, VECTORS
from tests.ui.conftest import free_port, log_in, running_app, scripted_backends

pytestmark = pytest.mark.slow

# Everything the page shows of content, checked together: an attribute that names the hostile
# host or the payload's flag anywhere (but in text-only attributes such as aria-label), a javascript:/data: URL in a URL attribute of a content
# area, any inline style with url(), any form or password field.
INERT_JS = """() => {
  const urlAttrs = /^(src|href|xlink:href|srcset|action|formaction|poster|data|background|cite|ping|srcdoc)$/;
  const textAttrs = /^(aria-.*|title|alt|placeholder|value)$/;
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const n = a.name.toLowerCase(), v = a.value.toLowerCase().replace(/[\\s\\x00-\\x1f]/g, '');
      if (textAttrs.test(n)) continue;  // shown or read as text, never fetched or run
      if (v.includes('EVIL') || v.includes('__xss')) bad.push(el.tagName + ' ' + n + '=' + a.value);
      else if (n === 'style' && v.includes('url(')) bad.push(el.tagName + ' style=' + a.value);
      else if (urlAttrs.test(n) && /^(javascript|vbscript|data:text)/.test(v)) bad.push(el.tagName + ' ' + n + '=' + a.value);
    }
  }
  for (const el of document.querySelectorAll('.ift-content *, .toast-wrap *')) {
    for (const a of el.attributes)
      if (/^(src|href|xlink:href|srcset|action|formaction)$/.test(a.name.toLowerCase())
          && /^\\s*data:/i.test(a.value)) bad.push(el.tagName + ' ' + a.name + '=' + a.value);
  }
  return {flag: window.__xss === undefined ? null : window.__xss, bad,
          forms: document.querySelectorAll('form').length,
          passwords: document.querySelectorAll('input[type=password]').length};
}""".replace("EVIL", EVIL)


class Watch:
    """Dialogs and requests to the hostile host, for the page's whole life."""

    def __init__(self, page):
        self.page, self.dialogs, self.remote = page, [], []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self.remote.append(r.url) if EVIL in r.url or r.url.startswith(
            ("javascript:", "data:text")) else None)

    def assert_inert(self, where: str, allow_password_field: bool = False):
        self.click_links()
        self.page.wait_for_timeout(300)
        state = self.page.evaluate(INERT_JS)
        self.page.screenshot(path=str(ARTIFACTS / f"xss-{where}.png"), full_page=True)
        assert state["flag"] is None, f"{where}: script ran (window.__xss={state['flag']})"
        assert state["bad"] == [], f"{where}: {state['bad']}"
        assert state["forms"] == 0, f"{where}: a form is in the page"
        assert allow_password_field or state["passwords"] == 0, f"{where}: a password field is in the page"
        assert self.dialogs == [] and self.remote == [], f"{where}: {self.dialogs} {self.remote}"

    def click_links(self):
        """A javascript: link runs on click: click every link inside the shown dialogs (not the
        page's own links, such as "log out")."""
        for link in self.page.locator(".ift-pane a, #crowd-dialog a").all():
            try:
                link.click(timeout=1000, force=True)
            except Exception:  # noqa: BLE001  (hidden or detached: nothing to click)
                pass


class EchoBackend(ScriptedBackend):
    """Replies with the user's last text: the same vector arrives as user text and as a reply."""

    async def stream(self, messages, params, cancel=None):
        self.reply = next(p["text"] for p in messages[-1]["content"] if p.get("type") == "text")
        async for piece in super().stream(messages, params, cancel):
            yield piece


def open_page(page, url: str):
    page.goto(url)
    page.locator("#rater-name textarea, #rater-name input").first.wait_for()
    page.wait_for_timeout(1500)


def send(page, prefix: str, text: str):
    """Type and send, once the input was cleared after the previous turn (a late clear would
    empty the new text)."""
    box = page.locator(f"#{prefix}-input textarea")
    page.wait_for_function("(s) => document.querySelector(s).value === ''", arg=f"#{prefix}-input textarea",
                           timeout=15_000)
    page.wait_for_timeout(300)
    box.fill(text)
    assert box.input_value() == text
    box.press("Enter")


def marker(text: str) -> str:
    return text.split()[0]


def mark_content(page):
    """Tag the content areas (chat panes, task dialog, markdown boxes) for the JS check."""
    page.evaluate("""() => document.querySelectorAll('.ift-pane, #crowd-dialog, .prose, [data-testid=markdown]')
                     .forEach(e => e.classList.add('ift-content'))""")


def test_chat_user_text_and_model_reply(config, store, page):
    backends = scripted_backends(store, EchoBackend("echo"))
    watch = Watch(page)
    with running_app(config, store, backends) as url:
        open_page(page, url + "/")
        page.locator("#rater-name textarea, #rater-name input").first.fill("rater-x")
        for n, text in enumerate(VECTORS.values(), start=1):
            send(page, "chat", text)
            # shown twice: the user's message and the echoed reply
            pane = page.locator("#chat-chat-single")
            pane.get_by_text(marker(text), exact=False).nth(1).wait_for()
            page.wait_for_function("() => !document.querySelector('#chat-chat-single .generating')",
                                   timeout=20_000)
        mark_content(page)
        watch.assert_inert("chat")
        shown = page.locator("#chat-chat-single").inner_text()
        assert "<b>bold?</b>" in shown and "![tracker](http://evil.example/v9.png)" in shown  # as text
        # The stored conversation reopened from its link renders the same way.
        conversation_id = store.query("select id from conversations")[0]["id"]
        open_page(page, url + f"/?c={conversation_id}")
        page.locator("#chat-chat-single").get_by_text("V12").nth(1).wait_for()
        mark_content(page)
        watch.assert_inert("chat-resumed")


def test_resume_labels_and_error_toasts(config, store, page):
    """Everybody's chats are listed in "Resume a conversation" by their first text; a typed id and a
    typed rater name are quoted back in error toasts."""
    backends = scripted_backends(store, ScriptedBackend("plain", reply="ok"))
    for text in VECTORS.values():
        conv = store.conversations.create("chat", sides={"single": "plain"})
        store.conversations.add_turn(conv.id, text.replace("V", "R", 1), [])
    watch = Watch(page)
    with running_app(config, store, backends) as url:
        open_page(page, url + "/")
        recent = page.locator("#chat-recent input")
        recent.click()
        page.get_by_role("option").first.wait_for()
        labels = page.get_by_role("option").all_inner_texts()
        assert len(labels) == len(VECTORS) and any("<img" in label for label in labels)  # shown as text
        watch.assert_inert("resume-labels")
        # A typed conversation id comes back in a "not found" toast.
        recent.fill("<img src=x onerror=\"window.__xss=31\"><svg><a href=\"javascript:window.__xss=32\">"
                    "<text y=20>toast</text></a></svg>")
        recent.press("Enter")
        toast = page.locator(".toast-body").first
        toast.wait_for()
        assert "<img src=x" in toast.inner_text()  # the text, not an image
        page.evaluate("() => document.querySelectorAll('.toast-wrap').forEach(e => e.classList.add('ift-content'))")
        watch.assert_inert("toast-resume")
        # A rater name that is refused is quoted in its toast too (saving a rating checks it).
        name = page.locator("#rater-name textarea, #rater-name input").first
        name.fill("rater-z")
        send(page, "chat", "hello")
        page.locator("#chat-chat-single").get_by_text("ok").wait_for()
        name.fill("<img src=\"http://evil.example/t.png\" onerror=\"window.__xss=33\">")
        page.locator("#chat-followed").get_by_text("Yes").click()
        page.locator("#chat-save-rating").click()
        page.get_by_text("is not allowed").first.wait_for()
        watch.assert_inert("toast-name")


def _send_and_watch(page, watch: Watch, prefix: str, rater: str, label: str) -> None:
    """Name the rater, send the joined vectors, wait for both panes, check nothing ran."""
    page.locator("#rater-name textarea, #rater-name input").first.fill(rater)
    send(page, prefix, JOINED)
    page.locator(f"#{prefix}-asked").get_by_text("V12").first.wait_for()  # the message, once
    for side in "AB":
        page.locator(f"#{prefix}-chat-{side}").get_by_text("V12").first.wait_for()
    page.wait_for_timeout(1000)
    mark_content(page)
    watch.assert_inert(label)
    # Voted with a hostile reason, then a second turn: turn 1 becomes a row with its vote note.
    page.locator(f"#{prefix}-winner").get_by_text("A is better").click()
    page.get_by_label("Why? (optional)").fill(JOINED[:2000])
    page.locator(f"#{prefix}-vote").click()
    page.locator(f"#{prefix}-reveal").get_by_text("Turn 1: you voted").wait_for()
    send(page, prefix, JOINED)
    for side in "AB":
        page.locator(f"#{prefix}-turn-1-{side}").get_by_text("V12").first.wait_for()
    page.locator(f"#{prefix}-turn-1-vote").get_by_text("Voted:").wait_for()
    page.wait_for_timeout(1000)
    mark_content(page)
    watch.assert_inert(label + " by turn")


def test_battle_and_named_arena(config, store, page):
    backends = scripted_backends(store, EchoBackend("echo-a"), EchoBackend("echo-b"))
    watch = Watch(page)
    with running_app(config, store, backends) as url:
        open_page(page, url + "/battle/")
        _send_and_watch(page, watch, "battle", "battle-rater", "battle")
        # The named arena on the main page: the same panes, names shown.
        open_page(page, url + "/")
        page.get_by_role("tab", name="Arena (named)").click()
        _send_and_watch(page, watch, "arena", "arena-rater", "named-arena")


class HostileServer:
    """An OpenAI-compatible server that answers each request with the next vector: as an HTTP 500
    error body on odd requests, as a streamed reply on even ones."""

    def __init__(self):
        self.count, self.port = 0, free_port()
        app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def chat(self, request):
        await request.json()
        self.count += 1
        text = list(VECTORS.values())[(self.count - 1) // 2 % len(VECTORS)]
        if self.count % 2:
            return JSONResponse({"error": {"message": text}}, status_code=500)
        from starlette.responses import StreamingResponse

        def events():
            body = {"object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(body)}\n\ndata: [DONE]\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(5)


def test_hostile_model_server(config, store, page):
    """Its HTTP error bodies (shown as the turn's error) and its replies."""
    watch = Watch(page)
    with HostileServer() as hostile:
        store.checkpoints.register("hostile", backend="url")
        backends = Backends([OpenAIBackend("hostile", f"http://127.0.0.1:{hostile.port}/v1", config.limits,
                                           timeout_s=10)])
        with running_app(config, store, backends) as url:
            open_page(page, url + "/")
            page.locator("#rater-name textarea, #rater-name input").first.fill("rater-y")
            for n, text in enumerate(VECTORS.values(), start=1):
                for attempt in ("error", "reply"):
                    send(page, "chat", f"turn {n} {attempt}")
                    page.locator("#chat-chat-single").get_by_text(f"turn {n} {attempt}").wait_for()
                    page.wait_for_function(
                        "() => !document.querySelector('#chat-chat-single .generating')", timeout=20_000)
                    page.wait_for_timeout(200)
            page.wait_for_timeout(1000)
            mark_content(page)
            watch.assert_inert("hostile-server")
            errors = store.query("select error from responses where status = 'error'")
            assert len(errors) == len(VECTORS) and any("<img" in (e["error"] or "") for e in errors)
            assert "V12 <img" in page.locator("#chat-chat-single").inner_text()  # the body, as text


def test_rating_tasks(config, store, page):
    """Stored system prompts, messages and replies on the Rating tasks page (/manage), logged in."""
    config = config.replace(auth_file=config.home / "users.txt")
    admin = set_account(store, "boss", "admin", "admin-password")
    store.checkpoints.register("ckpt", backend="scripted")
    for text in (JOINED, *VECTORS.values()):
        conv = store.conversations.create("chat", sides={"single": "ckpt"}, system_prompt=text)
        turn = store.conversations.add_turn(conv.id, text, [])
        rid = store.conversations.start_response(turn.id, "single", "ckpt")
        store.conversations.finish_response(rid, text=text, status="ok")
    Tasks(store).create_set(admin, "hostile set", k=1)
    backends = scripted_backends(store, ScriptedBackend("ckpt-served"))
    watch = Watch(page)
    with running_app(config, store, backends, auth=make_auth_check(store)) as url:
        log_in(page, url, "boss", "admin-password")
        page.get_by_role("tab", name="Rating tasks").click()
        page.get_by_role("button", name="Next task").wait_for()
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="Next task").click()
        seen, status = set(), page.get_by_text("rate the last reply").first
        for n in range(len(VECTORS) + 1):  # every item: the joined vectors and each one alone
            if n:
                previous = status.inner_text()
                page.get_by_label("Partially").check()
                page.get_by_role("button", name="Submit and next").click()
                page.wait_for_function("(p) => !document.body.innerText.includes(p)", arg=previous)
            status.wait_for()
            page.locator("#crowd-dialog").get_by_text(re.compile(r"^V\d+")).first.wait_for()
            page.wait_for_timeout(500)
            seen.add(page.locator("#crowd-system textarea").input_value())
            mark_content(page)
            watch.assert_inert(f"tasks-{n}")
        assert seen == {JOINED, *VECTORS.values()}  # each stored system prompt shown, as text
