"""Reply text over the app's SSE route (ui/live.py, ``Config.live_replies = "sse"``), in a real
browser against the real app: the text streams through ``…/ift_live/<token>`` as plain text, the
final message is Gradio's sanitised one, a battle's stream carries side labels and reply text
only, and the route answers 401 before login. The Gradio fallback still streams."""

from __future__ import annotations

import json

import httpx
import pytest

from ift_chat.crowd.auth import make_auth_check, set_account
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import running_app, scripted_backends
from tests.ui.test_browser import open_page, send_message

XSS = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> **bold** tail'
REPLY = XSS + " " + " ".join(f"w{i}" for i in range(12))

# Every message of every EventSource the page opens, kept for the test to read.
RECORD_SSE = """() => {
  const Original = window.EventSource;
  window.__live = [];
  window.EventSource = function (url, options) {
    const source = new Original(url, options);
    window.__live.push({url, messages: []});
    const mine = window.__live[window.__live.length - 1];
    source.addEventListener("message", (event) => mine.messages.push(event.data));
    return source;
  };
  window.EventSource.prototype = Original.prototype;
}"""


def slow(name: str, reply: str = REPLY) -> ScriptedBackend:
    return ScriptedBackend(name, reply=reply, token_delay=0.15)


@pytest.mark.slow
def test_reply_streams_over_sse_and_ends_sanitised(config, store, page):
    backends = scripted_backends(store, slow("secret-ckpt-live"))
    page.add_init_script(f"({RECORD_SSE})()")
    with running_app(config, store, backends) as url:
        open_page(page, url + "/")
        send_message(page, "chat", "stream to me")
        live = page.locator("#chat-chat-single .ift-live")
        live.get_by_text("w3", exact=False).wait_for()  # mid-reply: the text is in our live node
        partial = live.inner_text()
        assert "w11" not in partial and "<img" in partial  # shown as text, not parsed
        assert page.locator("#chat-chat-single .ift-live img, #chat-chat-single .ift-live script").count() == 0
        page.locator("#chat-chat-single").get_by_text("w11").wait_for()
        page.wait_for_function("document.querySelectorAll('.ift-live').length === 0")
        bubble = page.locator("#chat-chat-single .message.bot").last
        assert bubble.locator("strong").inner_text() == "bold"  # the final message: markdown, sanitised
        assert bubble.locator("img, script").count() == 0
        assert page.evaluate("window.__xss") is None
        streams = page.evaluate("window.__live")
        assert len(streams) == 1 and "/ift_live/" in streams[0]["url"] and streams[0]["messages"]
        # The events carried the reply, in pieces, and nothing else.
        assert "".join("".join(json.loads(m).values()) for m in streams[0]["messages"]) == REPLY


@pytest.mark.slow
def test_battle_stream_has_only_side_labels_and_reply_text(config, store, page):
    backends = scripted_backends(store, slow("secret-ckpt-alpha", "alpha says w1 w2 w3 w4 w5"),
                                 slow("secret-ckpt-beta", "beta says w1 w2 w3 w4 w5"))
    page.add_init_script(f"({RECORD_SSE})()")
    with running_app(config, store, backends) as url:
        open_page(page, url + "/battle/")
        page.locator("#rater-name textarea, #rater-name input").first.fill("live-rater")
        send_message(page, "battle", "who are you")
        for side in ("A", "B"):
            page.locator(f"#battle-chat-{side}").get_by_text("w5").wait_for()
        page.wait_for_function("document.querySelectorAll('.ift-live').length === 0")
        streams = page.evaluate("window.__live")
    assert len(streams) == 1 and "/battle/ift_live/" in streams[0]["url"]
    raw = "".join(streams[0]["messages"])
    assert "secret" not in raw and "ckpt" not in raw
    assert {key for m in streams[0]["messages"] for key in json.loads(m)} == {"A", "B"}


@pytest.mark.slow
def test_gradio_fallback_still_streams(config, store, page):
    backends = scripted_backends(store, slow("fallback-ckpt"))
    page.add_init_script(f"({RECORD_SSE})()")
    with running_app(config.replace(live_replies="gradio"), store, backends) as url:
        open_page(page, url + "/")
        send_message(page, "chat", "stream to me")
        page.locator("#chat-chat-single").get_by_text("w3", exact=False).wait_for()
        assert "w11" not in page.locator("#chat-chat-single").inner_text()  # streaming, not done
        page.locator("#chat-chat-single").get_by_text("w11").wait_for()
        assert page.evaluate("window.__live") == [] and page.locator(".ift-live").count() == 0
        assert page.locator("#chat-chat-single .message.bot").last.locator("img, script").count() == 0


def test_live_route_needs_a_login_and_a_live_token(config, store):
    set_account(store, "boss", "admin", "admin-password")
    backends = scripted_backends(store, ScriptedBackend("ckpt"))
    with running_app(config, store, backends, auth=make_auth_check(store)) as url:
        for path in ("/ift_live/anything", "/battle/ift_live/anything"):
            assert httpx.get(url + path, timeout=10).status_code == 401
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.post("/login", data={"username": "boss", "password": "admin-password"}).status_code == 200
            # Logged in: an unknown (or finished) token is just not there.
            assert client.get("/ift_live/not-a-token").status_code == 404
            assert client.get("/battle/ift_live/not-a-token").status_code == 401  # the battle page's own login
