"""Real browser (Debian chromium via Playwright): an anonymous battle clicked through to its
reveal and reloaded, and model output that tries to run script or fetch a remote image."""

from __future__ import annotations

import re
import time

import pytest

from ift_chat.store import Store
from tests.conftest import ARTIFACTS
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import running_app, scripted_backends

pytestmark = pytest.mark.slow
SECRET = ("secret-ckpt-alpha", "secret-ckpt-beta")


def open_page(page, url: str):
    page.goto(url)
    page.locator("#rater-name textarea, #rater-name input").first.wait_for()
    page.wait_for_timeout(1500)  # let the page's load events finish before typing


def send_message(page, prefix: str, text: str, image=None):
    box = page.locator(f"#{prefix}-input")
    if image is not None:
        box.locator("input[type=file]").set_input_files(str(image))
        box.locator("img").first.wait_for()  # the upload finished and shows a thumbnail
    box.locator("textarea").fill(text)
    box.locator("textarea").press("Enter")


def _keep_bodies(page) -> list[str]:
    """Every response body the page receives (config, queue joins, SSE streams, files), as each
    finishes downloading."""
    bodies: list[str] = []

    def keep(request):
        try:
            response = request.response()
            if response is not None:
                bodies.append(request.url + "\n" + response.text())
        except Exception:  # a binary body or a closed page: not text the page could show
            pass

    page.on("requestfinished", keep)
    return bodies


def test_three_turn_blind_battle_then_reveal_and_reload(scripted_app, page, store, tmp_path, make_png):
    """No checkpoint name in the DOM or in any response until "Reveal & new battle"; votes on
    each turn stay blind; the reloaded battle shows the reveal and takes no more votes or turns."""
    url, _ = scripted_app
    image = tmp_path / "photo.png"
    image.write_bytes(make_png(size=(64, 48)))
    bodies = _keep_bodies(page)
    open_page(page, url + "/battle/")
    page.locator("#rater-name textarea, #rater-name input").first.fill("browser-rater")
    for turn, choice in enumerate(["A is better", "Both are bad", "Tie"], start=1):
        send_message(page, "battle", f"question number {turn}", image if turn == 1 else None)
        page.locator("#battle-asked").get_by_text(f"question number {turn}").wait_for()
        for side in "AB":  # sides are shuffled: either reply may be on either side
            page.locator(f"#battle-chat-{side}").get_by_text(
                re.compile(r"Reply (one|two) from the")).first.wait_for()
        if turn > 1:  # the turn's end resets the vote row (and clears the last vote's note): then vote
            page.locator("#battle-reveal").get_by_text(f"Turn {turn - 1}: you voted").wait_for(state="detached")
            # The earlier turn is a row of its own: both replies side by side, its blind vote under them.
            page.locator(f"#battle-turn-{turn - 1}-vote").get_by_text("Voted:").wait_for()
            for side in "AB":
                page.locator(f"#battle-turn-{turn - 1}-{side}").get_by_text(
                    re.compile(r"Reply (one|two) from the")).wait_for()
        page.locator("#battle-winner").get_by_text(choice).click()
        page.locator("#battle-vote").click()
        page.locator("#battle-reveal").get_by_text(f"Turn {turn}: you voted").wait_for()
        assert not any(s in page.content() for s in SECRET), f"a name reached the page on turn {turn}"
        page.screenshot(path=str(ARTIFACTS / f"battle-turn{turn}-after-vote.png"), full_page=True)
    # The capture sees the answers once the page's event streams close (seconds under load).
    wait_for(lambda: all(s in "\n".join(bodies) for s in ("Reply one from the", "Turn 3: you voted")), 60)
    received = "\n".join(bodies)
    assert not any(s in received for s in SECRET), "a checkpoint name was sent before the reveal"
    reveal_btn = page.locator("#battle-reveal-btn")
    page.wait_for_function("document.querySelector('#battle-reveal-btn') && "
                           "!document.querySelector('#battle-reveal-btn').disabled")
    reveal_btn.click()
    # Under load (CI on 2 busy cores) the reveal's round trip took longer than the default 30 s once.
    page.locator("#battle-reveal").get_by_text("revealed").wait_for(timeout=90_000)
    revealed = page.locator("#battle-reveal").inner_text()
    assert all(s in revealed for s in SECRET) and "turn 3: 🤝 Tie" in revealed
    page.screenshot(path=str(ARTIFACTS / "battle-revealed.png"), full_page=True)
    conversation_id = store.query("select id from conversations")[0]["id"]
    assert store.query("select revealed from conversations")[0]["revealed"]

    open_page(page, f"{url}/battle/?c={conversation_id}")  # the name comes back from localStorage
    page.locator("#battle-reveal").get_by_text("revealed").wait_for()
    assert all(s in page.locator("#battle-reveal").inner_text() for s in SECRET)
    labels = " ".join(page.locator("#battle-chat-A, #battle-chat-B").all_inner_texts())
    assert all(s in labels for s in SECRET)  # the panes are named now
    assert page.locator("#battle-vote").is_disabled() and page.locator("#battle-reveal-btn").is_disabled()
    page.screenshot(path=str(ARTIFACTS / "battle-reloaded-after-reveal.png"), full_page=True)
    send_message(page, "battle", "one more question")  # starts a new battle: blind again
    page.locator("#battle-chat-A").get_by_text("Reply", exact=False).first.wait_for()
    page.locator("#battle-reveal").get_by_text("revealed").wait_for(state="detached")
    assert page.locator("#battle-chat-A").get_by_text("question number 1").count() == 0
    assert page.locator("#battle-turn-1-A, #battle-turn-1-vote").count() == 0  # the old rows are gone
    assert not any(s in page.content() for s in SECRET)
    assert not any(s in page.locator("#battle-chat-A, #battle-chat-B").all_inner_texts()[0] for s in SECRET)
    assert store.query("select count(*) n from conversations")[0]["n"] == 2
    votes = store.query("select v.winner, v.anonymous from votes v join turns t on t.id = v.turn_id order by t.idx")
    assert [(v["winner"], v["anonymous"]) for v in votes] == [("A", 1), ("both_bad", 1), ("tie", 1)]
    turns = store.query("select count(*) n from turns where conversation_id = ?", [conversation_id])
    assert turns[0]["n"] == 3 and store.query("select count(*) n from turn_images")[0]["n"] == 1


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def track_requests(page) -> set:
    """The page's requests still open (queue joins and their event streams included; not
    Gradio's heartbeat, which stays open for the page's life)."""
    open_requests: set = set()
    page.on("request", lambda r: "/heartbeat/" not in r.url and open_requests.add(r))
    page.on("requestfinished", lambda r: open_requests.discard(r))
    page.on("requestfailed", lambda r: open_requests.discard(r))
    return open_requests


def wait_for_quiet(page, open_requests: set, quiet_s: float = 0.7, timeout: float = 60.0):
    """Until no request has been open for `quiet_s`: every queued event and its follow-ups ran."""
    deadline, quiet_since = time.monotonic() + timeout, None
    while True:
        now = time.monotonic()
        quiet_since = (quiet_since or now) if not open_requests else None
        if quiet_since is not None and now - quiet_since >= quiet_s:
            return
        assert now < deadline, f"requests still open: {[r.url for r in open_requests]}"
        page.wait_for_timeout(100)  # Playwright delivers the page's events while it waits


def test_app_restart_during_an_arena_turn(config, store, page):
    """Turn 1 voted; the app dies while turn 2 streams; after a restart the battle reopens by
    URL with the partial replies marked, the vote of turn 1 kept, and turn 2 can still be voted."""
    slow = [ScriptedBackend(n, reply=f"{n.split('-')[-1]} says " + "word " * 30) for n in SECRET]
    with running_app(config, store, scripted_backends(store, *slow)) as url:
        open_page(page, url + "/battle/")
        page.locator("#rater-name textarea, #rater-name input").first.fill("restart-rater")
        send_message(page, "battle", "question one")
        for side in "AB":
            page.locator(f"#battle-chat-{side}").get_by_text(re.compile(r"says word")).first.wait_for()
        wait_for(lambda: store.query("select count(*) n from responses where status = 'ok'")[0]["n"] == 2)
        page.locator("#battle-winner").get_by_text("A is better").click()
        page.locator("#battle-vote").click()
        page.locator("#battle-reveal").get_by_text("Turn 1: you voted").wait_for()
        for backend in slow:
            backend.token_delay = 0.5  # turn 2 streams for ~15 s
        send_message(page, "battle", "question two")
        wait_for(lambda: store.query("select count(*) n from responses where status = 'pending' "
                                     "and length(text) > 0")[0]["n"] == 2)  # partial text saved
    # The server is gone mid-turn. Restart: a new store on the same files, as the app starts.
    restarted = Store(config)
    assert restarted.conversations.fail_pending() == 2
    conv_id = restarted.query("select id from conversations")[0]["id"]
    fresh = [ScriptedBackend(n, reply=f"{n.split('-')[-1]} again") for n in SECRET]
    with running_app(config, restarted, scripted_backends(restarted, *fresh)) as url:
        open_page(page, f"{url}/battle/?c={conv_id}")
        page.locator("#rater-name textarea, #rater-name input").first.fill("restart-rater")
        page.locator("#battle-asked").get_by_text("question two").wait_for()
        page.locator("#battle-chat-A").get_by_text(re.compile("app stopped")).wait_for()
        assert not any(s in page.content() for s in SECRET), "turn 2 is not voted yet: names stay hidden"
        page.screenshot(path=str(ARTIFACTS / "battle-after-restart.png"), full_page=True)
        page.locator("#battle-winner").get_by_text("Both are bad").click()
        page.locator("#battle-vote").click()
        page.locator("#battle-reveal").get_by_text("Turn 2: you voted").wait_for()
        # (the page opened on a new port: no saved name, so the rater's votes show from here on)
        page.locator("#battle-turn-1-vote").get_by_text("Voted: 👈 A is better").wait_for()  # kept
        assert not any(s in page.content() for s in SECRET), "votes stay blind"
        send_message(page, "battle", "question three")
        page.locator("#battle-chat-B").get_by_text(re.compile("again")).wait_for()
    votes = restarted.query("select t.idx, v.winner from votes v join turns t on t.id = v.turn_id order by t.idx")
    assert [(v["idx"], v["winner"]) for v in votes] == [(1, "A"), (2, "both_bad")]
    turn2 = restarted.query("select r.status, r.text from responses r join turns t on t.id = r.turn_id "
                            "where t.idx = 2")
    assert all(r["status"] == "error" and "says word" in r["text"] for r in turn2)
    wait_for(lambda: restarted.query("select count(*) n from responses where status = 'ok'")[0]["n"] == 4)
    restarted.close()


def test_chat_session_clicked_through(config, store, page, tmp_path, make_png):
    """What a person does in the Chat tab: 2 images in round 1, Stop in round 2, Regenerate
    in round 3, and a rating on each reply by clicking; then the rows."""
    model = ScriptedBackend("my-sft-v3", reply="Two squares, one red and one blue.")
    images = [tmp_path / "red.png", tmp_path / "blue.png"]
    images[0].write_bytes(make_png(color=(220, 10, 10)))
    images[1].write_bytes(make_png(size=(40, 40), color=(10, 10, 220)))
    chat = page.locator("#chat-chat-single")

    in_flight = track_requests(page)

    def rate(choice: str, round_: int):
        # The form targets the latest reply once the turn's after-step has run: under load that
        # came seconds after the text showed, and a click before it rated the superseded reply.
        wait_for_quiet(page, in_flight)
        page.locator("#chat-followed").get_by_text(choice, exact=True).click()
        page.locator("#chat-rating-saved").get_by_text(f"Turn {round_}").wait_for()

    with running_app(config, store, scripted_backends(store, model)) as url:
        open_page(page, url + "/")
        page.locator("#rater-name textarea, #rater-name input").first.fill("clicker")
        box = page.locator("#chat-input")
        box.locator("input[type=file]").set_input_files([str(p) for p in images])
        expect_thumbnails = box.locator("img")
        wait_for(lambda: expect_thumbnails.count() >= 2)
        send_message(page, "chat", "What colours are these?")
        chat.get_by_text("one red and one blue").wait_for()
        rate("Yes", 1)

        model.reply, model.token_delay = "Once upon a time " + "there was a square " * 40, 0.2
        send_message(page, "chat", "Tell me a long story about them.")
        chat.get_by_text(re.compile("Once upon a time")).wait_for()
        # While tokens stream the chat autoscrolls; a pointer click can keep missing a moving
        # target under load, so the click event goes straight to the button.
        page.locator("#chat-stop").dispatch_event("click")
        chat.get_by_text(re.compile("stopped")).wait_for()
        rate("Partially", 2)

        model.reply, model.token_delay = "red blue squares", 0.0
        send_message(page, "chat", "Answer in exactly three words.")
        chat.get_by_text("red blue squares").wait_for()
        model.reply = "Red and blue."
        page.locator("#chat-regenerate").click()
        chat.get_by_text("Red and blue.").wait_for()
        rate("No", 3)
        page.screenshot(path=str(ARTIFACTS / "chat-session.png"), full_page=True)

    rows = store.query("select t.idx, r.status, r.superseded, g.followed from responses r "
                       "join turns t on t.id = r.turn_id left join ratings g on g.response_id = r.id "
                       "order by r.id")
    assert [(r["idx"], r["status"], r["superseded"], r["followed"]) for r in rows] == [
        (1, "ok", 0, "yes"), (2, "stopped", 0, "partial"), (3, "ok", 1, None), (3, "ok", 0, "no")]
    assert store.query("select count(*) n from turn_images")[0]["n"] == 2
    assert {r["name"] for r in store.query("select name from raters")} == {"clicker"}


def test_input_clears_on_send_and_a_refused_message_stays(scripted_app, page, store):
    """The input empties as the turn starts (a parallel event, not the stream's first update);
    the rating form offers the new reply once the turn is done; a message the app refuses stays
    in the input, with the error shown, and nothing is stored."""
    url, _ = scripted_app
    open_page(page, url + "/")
    textarea = page.locator("#chat-input textarea")
    send_message(page, "chat", "first question")
    page.locator("#chat-chat-single").get_by_text(re.compile(r"Reply one from the")).wait_for()
    wait_for(lambda: textarea.input_value() == "")
    wait_for(lambda: "Turn 1" in page.locator("#chat-reply").inner_text()
             or page.locator("#chat-reply input").input_value() == "Turn 1")
    too_long = "x" * (store.config.limits.max_text_chars + 1)
    textarea.fill(too_long)
    textarea.press("Enter")
    page.get_by_text(re.compile(r"limit|too long", re.I)).first.wait_for()
    wait_for(lambda: textarea.input_value() == too_long)
    page.screenshot(path=str(ARTIFACTS / "chat-refused-message.png"), full_page=True)
    assert store.query("select count(*) n from turns")[0]["n"] == 1
