"""Real browser (Debian chromium): 1,200 generated markdown/HTML mixes (tests/security/xss_vectors.py)
stored as user texts, replies and model-server error texts, shown by the app as served
(``/?c=<id>`` resumes a stored chat: the real renderer and the real Chatbot), in 4 page loads of
150 turns each. Every mix must be shown (its marker is in the page's text) and every page inert."""

from __future__ import annotations

import pytest

from tests.scripted_backend import ScriptedBackend
from tests.security.xss_vectors import corpus
from tests.ui.conftest import running_app, scripted_backends
from tests.ui.test_browser_xss import Watch, mark_content

pytestmark = pytest.mark.slow
PAGES, TURNS = 4, 150


def stored_chat(store, texts: list[str], first: int) -> tuple[str, list[str]]:
    """One chat of len(texts) // 2 turns: user text and reply (every third an error) from the mixes."""
    conv = store.conversations.create("chat", sides={"single": "fuzz"})
    markers = []
    for i in range(0, len(texts), 2):
        user, reply = (f"{t}\n\nFZ{first + i + j}x" for j, t in enumerate(texts[i:i + 2]))
        markers += [f"FZ{first + i}x", f"FZ{first + i + 1}x"]
        turn = store.conversations.add_turn(conv.id, user, [])
        rid = store.conversations.start_response(turn.id, "single", "fuzz")
        if (i // 2) % 3 == 2:
            store.conversations.finish_response(rid, text="", status="error", error=reply)
        else:
            store.conversations.finish_response(rid, text=reply, status="ok")
    return conv.id, markers


def test_fuzzed_mixes_render_inert_in_chromium(config, store, page):
    texts = corpus(PAGES * TURNS * 2, seed=2026)
    backends = scripted_backends(store, ScriptedBackend("fuzz"))
    chats = [stored_chat(store, texts[p * TURNS * 2:(p + 1) * TURNS * 2], p * TURNS * 2) for p in range(PAGES)]
    watch = Watch(page)
    shown = 0
    with running_app(config, store, backends) as url:
        for n, (conversation_id, markers) in enumerate(chats):
            page.goto(url + f"/?c={conversation_id}")
            page.locator("#chat-chat-single").get_by_text(markers[-1]).first.wait_for(timeout=120_000)
            page.wait_for_timeout(1000)
            text = page.locator("#chat-chat-single").inner_text()
            missing = [m for m in markers if m not in text]
            assert not missing, f"page {n}: {len(missing)} mixes not shown, e.g. {missing[:3]}"
            shown += len(markers)
            mark_content(page)
            watch.assert_inert(f"fuzz-{n}")
    assert shown == len(texts) >= 1000
