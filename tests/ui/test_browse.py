"""The Conversations and Replay results tabs of /manage, on the app as `make run` serves it:
unit tests of the tab's parsing, then a real browser (Debian chromium): filters, the preview,
opening a conversation on the main page, hostile text staying text, an unrevealed battle's
names never reaching the page, and a replay run's results with links to vote there."""

from __future__ import annotations

import asyncio
import datetime
import re
import zoneinfo
from concurrent.futures import ThreadPoolExecutor

import pytest

from ift_chat.backends import SamplingParams
from ift_chat.dataloop.replay import replay_eval_set
from ift_chat.errors import ValidationError
from ift_chat.store.dates import DateRange
from ift_chat.ui import browse_tab
from tests.conftest import ARTIFACTS
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import running_app, scripted_backends

HIDDEN = ("secret-hidden-one", "secret-hidden-two")  # only ever in the unrevealed battle
XSS = "<img src=x onerror=\"window.__xss=1\"> tricky"


def test_dates_are_read_in_the_viewers_time_zone():
    tokyo = browse_tab.time_zone("Asia/Tokyo")
    day = DateRange.parse("2026-12-01", "2026-12-01", tokyo)
    assert day == DateRange("2026-11-30T15:00:00.000000+00:00", "2026-12-01T15:00:00.000000+00:00")
    assert DateRange.parse("", "2026-12-01 09:30", tokyo).until == "2026-12-01T00:30:00.000000+00:00"
    assert DateRange.parse("2026-12-01T09:30+01:00", "", tokyo).since == "2026-12-01T08:30:00.000000+00:00"
    filters = browse_tab.filters_from([], "", "", "", "", "", "", "", "2026-12-01", "2026-12-01", "", "Asia/Tokyo")
    assert filters.dates == day  # the page reads typed dates in the viewer's zone
    assert browse_tab.local_time("2026-11-30T15:00:00+00:00", tokyo) == "2026-12-01 00:00"
    with pytest.raises(ValidationError):
        browse_tab.time_zone("Mars/Olympus")
    with pytest.raises(ValidationError):
        DateRange.parse("yesterday", None, tokyo)
    with pytest.raises(ValidationError):
        browse_tab.filters_from([], "", "", "two", "", "", "", "", "", "", "", "UTC")


def test_links_only_carry_hex_ids():
    cid = "0123456789abcdef0123456789abcdef"
    assert browse_tab.open_link(cid, "chat") == f"[open](./?c={cid})"
    assert browse_tab.open_link(cid, "arena-anonymous") == f"[open](battle/?c={cid})"
    assert browse_tab.open_link("x) [evil](javascript:alert(1)", "chat") == ""


def dialog(store, mode, sides, texts, replies, rater=None):
    conv = store.conversations.create(mode, sides=sides, rater_id=rater)
    for text in texts:
        turn = store.conversations.add_turn(conv.id, text)
        for side, ckpt in sides.items():
            rid = store.conversations.start_response(turn.id, side, ckpt)
            store.conversations.finish_response(rid, text=replies[side], status="ok")
    return conv


@pytest.fixture
def world(config, store):
    backends = scripted_backends(store, *(ScriptedBackend(n) for n in ("ckpt-alpha", "ckpt-beta", *HIDDEN)))
    ann = store.raters.get_or_create("ann")
    chat = dialog(store, "chat", {"single": "ckpt-alpha"}, [f"Describe {XSS}", "Now one word"],
                  {"single": f"A kitten {XSS}"}, ann.id)
    arena = dialog(store, "arena-named", {"A": "ckpt-alpha", "B": "ckpt-beta"}, ["List colours"],
                   {"A": "red blue", "B": "red"}, ann.id)
    blind = dialog(store, "arena-anonymous", {"A": HIDDEN[0], "B": HIDDEN[1]}, ["Say hello", "Again"],
                   {"A": f"I am {HIDDEN[0]}, hello", "B": "hello from me"}, ann.id)
    turn = store.conversations.turns(chat.id)[1]
    store.feedback.rate(store.conversations.responses(turn.id)[0].id, ann.id, "no", tags=["ignored_instruction"])
    with running_app(config, store, backends) as url:
        yield {"url": url, "store": store, "chat": chat.id, "arena": arena.id, "blind": blind.id}


def _keep_bodies(page) -> list[str]:
    bodies: list[str] = []

    def keep(request):
        try:
            response = request.response()
            if response is not None:
                bodies.append(response.text())
        except Exception:  # binary or a closed page
            pass

    page.on("requestfinished", keep)
    return bodies


def _messages_about(bodies: list[str], marker: str) -> list[str]:
    """The queue messages (SSE `data:` lines) that carry ``marker``: what the browser received
    about that conversation (the page's other messages list every checkpoint, as the leaderboard does)."""
    lines = [line[5:] for body in bodies for line in body.splitlines() if line.startswith("data:")]
    return [line for line in lines if marker in line]


def open_tab(page, url: str, tab: str):
    page.goto(url + "/manage")
    page.get_by_role("tab", name=tab).click()


# Gradio 6's Dataframe draws its rows as grid cells (data-row, data-col); a hidden sizing table
# repeats the first rows.
ROWS_JS = """(id) => { const rows = {};
  for (const c of document.querySelectorAll(`#${id} [role=gridcell][data-row]`))
    (rows[c.dataset.row] = rows[c.dataset.row] || []).push(c.innerText.trim());
  return Object.keys(rows).sort((a, b) => a - b).map(k => rows[k].join(' | ')); }"""


def rows(page, table: str = "browse-results") -> list[str]:
    return page.evaluate(ROWS_JS, table)


def wait_rows(page, n: int, table: str = "browse-results"):
    page.wait_for_function(f"({ROWS_JS})('{table}').length === {n}", timeout=30_000)


def cell(page, row: int, col: int, table: str = "browse-results"):
    return page.locator(f"#{table} [role=gridcell][data-row='{row}'][data-col='{col}']")


def search(page, **boxes):
    for name, value in boxes.items():
        page.locator(f"#browse-{name} textarea, #browse-{name} input").first.fill(value)
    page.locator("#browse-search").click()


def pick(page, name: str, option: str):
    page.locator(f"#browse-{name} input").click()
    page.get_by_role("option", name=option, exact=True).click()


@pytest.mark.slow
def test_browser_filters_preview_and_open(world, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(30_000)
    bodies = _keep_bodies(page)
    url, store = world["url"], world["store"]
    try:
        open_tab(page, url, "Conversations")
        wait_rows(page, 3)
        assert page.locator("#browse-tz textarea, #browse-tz input").first.input_value() == "Asia/Tokyo"
        created = store.conversations.get(world["chat"]).created
        local = browse_tab.local_time(created, zoneinfo.ZoneInfo("Asia/Tokyo"))
        assert any(local in r for r in rows(page)), (local, rows(page))  # shown in the viewer's time
        table = page.locator("#browse-results").inner_text()
        assert "[hidden until the reveal]" in table and "ckpt-alpha" in table
        assert "<img src=x" in table  # hostile text shows as text ...
        assert page.evaluate("window.__xss") is None  # ... and ran nothing
        assert page.locator("#browse-results img").count() == 0
        page.screenshot(path=str(ARTIFACTS / "browse-all.png"), full_page=True)

        search(page, text="kitten")  # a reply's text
        wait_rows(page, 1)
        assert "Now one word" not in rows(page)[0] and "Describe" in rows(page)[0]
        search(page, text="", **{"min-rounds": "2"})  # the chat and the battle have 2 rounds
        wait_rows(page, 2)
        search(page, **{"min-rounds": ""})
        pick(page, "verdict", "no")
        page.locator("#browse-search").click()
        wait_rows(page, 1)
        assert "chat" in rows(page)[0]
        pick(page, "verdict", "unrated")
        page.locator("#browse-search").click()
        wait_rows(page, 2)
        pick(page, "verdict", "")
        pick(page, "checkpoint", HIDDEN[0])  # the battle has it, but matching would unblind it
        page.locator("#browse-search").click()
        page.locator("#browse-summary").get_by_text("0 conversations").wait_for()
        pick(page, "checkpoint", "ckpt-beta")
        page.locator("#browse-search").click()
        wait_rows(page, 1)
        assert "arena-named" in rows(page)[0]
        pick(page, "checkpoint", "")
        search(page, text=HIDDEN[0])  # the battle's reply says its name: no match either
        page.locator("#browse-summary").get_by_text("0 conversations").wait_for()
        tomorrow = (datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo")) + datetime.timedelta(days=1)).date()
        search(page, text="", since=tomorrow.isoformat())
        page.locator("#browse-summary").get_by_text("0 conversations").wait_for()
        search(page, since="", until=tomorrow.isoformat())
        wait_rows(page, 3)
        page.screenshot(path=str(ARTIFACTS / "browse-filtered.png"), full_page=True)

        # The blind battle's preview: its replies, every name redacted
        search(page, text="Say hello")
        wait_rows(page, 1)
        cell(page, 0, 2).click()
        page.locator("#browse-preview").get_by_text("hello from me").first.wait_for()
        preview = page.locator("#browse-preview").inner_html() + page.locator("#browse-preview-header").inner_html()
        assert "Model A" in page.locator("#browse-preview").inner_text()
        assert not any(name in preview for name in HIDDEN) and "[hidden until the reveal]" in preview
        assert not any(n in page.locator("#browse-results").inner_html() for n in HIDDEN)
        page.screenshot(path=str(ARTIFACTS / "browse-blind-preview.png"), full_page=True)
        assert cell(page, 0, 0).locator("a").get_attribute("href") == f"battle/?c={world['blind']}"
        page.wait_for_timeout(1000)
        about = _messages_about(bodies, "Say hello")
        assert about and not any(name in m for m in about for name in HIDDEN), "a name was sent with the battle"

        # Open the chat conversation on the main page
        search(page, text="Describe")
        wait_rows(page, 1)
        cell(page, 0, 2).click()
        page.locator("#browse-preview").get_by_text("Now one word").first.wait_for()
        assert page.evaluate("window.__xss") is None
        link = page.locator("#browse-preview-header a")  # the preview's link (the table's is alike)
        assert link.get_attribute("href") == f"./?c={world['chat']}"
        assert cell(page, 0, 0).locator("a").get_attribute("href") == f"./?c={world['chat']}"
        if link.get_attribute("target") == "_blank":
            with context.expect_page() as opened:
                link.click()
            chat = opened.value
        else:
            link.click()
            chat = page
        chat.wait_for_url(re.compile(rf"/\?c={world['chat']}$"))
        chat.locator("#chat-chat-single").get_by_text("Now one word").first.wait_for()
        chat.screenshot(path=str(ARTIFACTS / "browse-opened-chat.png"), full_page=True)
        assert chat.evaluate("window.__xss") is None
    finally:
        page.screenshot(path=str(ARTIFACTS / "end-test_browser_filters_preview_and_open.png"), full_page=True)
        context.close()


@pytest.fixture
def replay_app(config, store):
    backends = scripted_backends(store, ScriptedBackend("ckpt-short", reply="Blue"),
                                 ScriptedBackend("ckpt-long", reply=f"The sky is blue {XSS}"))
    es = store.eval_sets.create("words")
    store.eval_sets.add_items(es.id, [
        ("w1", [{"text": "Answer in one word: sky colour?", "images": [], "reference": "Blue"},
                {"text": "And the grass?", "images": [], "reference": "Green"}]),
        ("w2", [{"text": "Answer in one word: snow colour?", "images": [], "reference": "White"}])])
    replay = replay_eval_set(store, backends, "words", ["ckpt-short", "ckpt-long"], SamplingParams(temperature=0.0))
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API keeps a loop running in this thread
        result = pool.submit(asyncio.run, replay).result()
    with running_app(config, store, backends) as url:
        yield url, store, result


@pytest.mark.slow
def test_replay_results_view_and_vote_there(replay_app, page):
    url, store, result = replay_app
    open_tab(page, url, "Replay results")
    page.locator("#replay-run input").click()
    page.get_by_role("option", name=re.compile("words · ckpt-long vs ckpt-short")).click()
    page.locator("#replay-show").click()
    table = page.locator("#replay-results")
    table.get_by_text("And the grass?").wait_for()
    text = table.inner_text()
    for expected in ("ckpt-short reply", "ckpt-long reply", "Green", "White", "0/1 passed", "1/1 passed"):
        assert expected in text, expected
    assert "<img src=x" in text and page.evaluate("window.__xss") is None
    assert page.locator("#replay-results img").count() == 0
    wait_rows(page, 3, "replay-results")
    assert "ckpt-short" in page.locator("#replay-summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "replay-results.png"), full_page=True)

    # Vote on the first round there, then the results show it by checkpoint name
    conversation_id = cell(page, 0, 0, "replay-results").locator("a").get_attribute("href").split("?c=")[1]
    assert conversation_id in result.conversations
    cell(page, 0, 3, "replay-results").click()  # a row: its item's link, one click away
    link = page.locator("#replay-open a")
    assert link.get_attribute("href") == f"./?c={conversation_id}" and "item #1" in link.inner_text()
    if link.get_attribute("target") == "_blank":
        with page.context.expect_page() as opened:
            link.click()
        page = opened.value
    else:
        link.click()
    page.locator("#rater-name textarea, #rater-name input").first.fill("voter")
    page.locator("#arena-chat-A").get_by_text(re.compile("Blue|The sky")).first.wait_for()
    page.locator("#arena-winner").get_by_text("A is better").click()
    page.locator("#arena-vote").click()
    wait = 0
    while not store.query("select 1 from votes") and wait < 100:
        page.wait_for_timeout(200)
        wait += 1
    on_a = store.conversations.sides(conversation_id)["A"]
    open_tab(page, url, "Replay results")
    page.locator("#replay-run input").click()
    page.get_by_role("option", name=re.compile("words · ckpt-long vs ckpt-short")).click()
    page.locator("#replay-show").click()
    page.wait_for_function(f"({ROWS_JS})('replay-results').join(' ').includes('voter: ' + {on_a!r})")
    votes = [r.split(" | ")[-1] for r in rows(page, "replay-results")]
    assert votes == ["", f"voter: {on_a}", ""]  # the arena votes on the item's last round
    page.screenshot(path=str(ARTIFACTS / "replay-results-voted.png"), full_page=True)
