"""Real browser on the app as `serve` builds it: the verdict is one click on the reply itself,
the details form beside the chat follows the clicked reply (prefilled when editing), and a
regenerated reply stays visible, marked and rateable."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import running_app, scripted_backends
from tests.ui.test_browser import open_page, send_message, wait_for

pytestmark = pytest.mark.slow
NAME_BOX = "#rater-name textarea, #rater-name input"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def verdicts(page, pane: str):
    """The verdict buttons of each reply in a pane, one locator per reply (in order)."""
    return page.locator(f"#{pane} .extra-feedback-options")


def ratings(store) -> list[tuple]:
    return [(r["idx"], r["superseded"], r["followed"], r["score"], r["comment"]) for r in store.query(
        "select t.idx, r.superseded, g.followed, g.score, g.comment from ratings g "
        "join responses r on r.id = g.response_id join turns t on t.id = r.turn_id order by r.id")]


def test_one_click_rates_the_reply_and_the_details_follow_it(config, store, page):
    model = ScriptedBackend("ckpt-inline", reply="Red, green and blue.")
    with running_app(config, store, scripted_backends(store, model)) as url:
        page.set_viewport_size({"width": 1400, "height": 1000})
        open_page(page, url + "/")
        page.locator(NAME_BOX).first.fill("clicker")
        send_message(page, "chat", "List three colours.")
        page.locator("#chat-chat-single").get_by_text("Red, green and blue.").wait_for()
        model.reply = "Sky."
        send_message(page, "chat", "Now one word: what colour is the sky?")
        page.locator("#chat-chat-single").get_by_text("Sky.").wait_for()
        wait_for(lambda: verdicts(page, "chat-chat-single").count() == 2)
        page.wait_for_timeout(500)  # the turn's end resets the form: click after it

        # One click on turn 1's reply, without scrolling the page.
        scroll_before = page.evaluate("window.scrollY")
        verdicts(page, "chat-chat-single").nth(0).get_by_text("Partially", exact=True).click()
        page.locator("#chat-rating-saved").get_by_text("Saved Partially for turn 1").wait_for()
        assert page.evaluate("window.scrollY") == scroll_before
        wait_for(lambda: ratings(store) == [(1, 0, "partial", None, None)])
        page.locator("#chat-chat-single").get_by_text("rated: 🟡 partly followed").wait_for()

        # The details beside the chat now target turn 1: a score and a comment land on it.
        wait_for(lambda: "Turn 1" in page.locator("#chat-reply input").input_value())
        page.locator("#chat-score").get_by_text("4", exact=True).click()
        wait_for(lambda: ratings(store) == [(1, 0, "partial", 4, None)])
        page.locator("#chat-comment textarea").fill("lists four at first")
        page.locator("#chat-comment textarea").blur()
        wait_for(lambda: ratings(store) == [(1, 0, "partial", 4, "lists four at first")])

        # Turn 2 by one click; then editing turn 1 by another click keeps its details.
        verdicts(page, "chat-chat-single").nth(1).get_by_text("Not followed", exact=True).click()
        page.locator("#chat-rating-saved").get_by_text("Saved Not followed for turn 2").wait_for()
        verdicts(page, "chat-chat-single").nth(0).get_by_text("Followed", exact=True).click()
        page.locator("#chat-rating-saved").get_by_text("Saved Followed for turn 1").wait_for()
        wait_for(lambda: ratings(store) == [(1, 0, "yes", 4, "lists four at first"),
                                            (2, 0, "no", None, None)])
        # The form shows turn 1's saved details (prefilled), the panes both verdicts selected.
        wait_for(lambda: page.locator("#chat-comment textarea").input_value() == "lists four at first")
        assert page.locator("#chat-score input:checked").get_attribute("value") in ("4", 4)
        selected = page.locator("#chat-chat-single .extra-feedback-option[style*='bold']")
        wait_for(lambda: selected.all_inner_texts() == ["Followed", "Not followed"])
        page.locator("#chat-chat-single").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -120)")  # the pane and the form beside it, with the picker
        page.screenshot(path=str(ARTIFACTS / "chat-inline-rating.png"))

        # Reopened by its link, the page selects this rater's verdicts again.
        conversation_id = store.query("select id from conversations")[0]["id"]
        open_page(page, f"{url}/?c={conversation_id}")
        page.locator("#chat-chat-single").get_by_text("Sky.").wait_for()
        wait_for(lambda: selected.all_inner_texts() == ["Followed", "Not followed"])
    DOCS.mkdir(exist_ok=True)
    shutil.copy(ARTIFACTS / "chat-inline-rating.png", DOCS / "chat.png")


def test_a_click_without_a_rater_name_is_refused_and_saves_nothing(scripted_app, page, store):
    url, _ = scripted_app
    open_page(page, url + "/")
    send_message(page, "chat", "hello")
    page.locator("#chat-chat-single").get_by_text("Reply one from the first model.").wait_for()
    verdicts(page, "chat-chat-single").nth(0).get_by_text("Followed", exact=True).click()
    page.get_by_text("enter your rater name").first.wait_for()
    assert store.query("select count(*) n from ratings")[0]["n"] == 0
    selected = page.locator("#chat-chat-single .extra-feedback-option[style*='bold']")
    wait_for(lambda: selected.count() == 0)  # the pane shows what is stored: no verdict


def test_regenerate_keeps_both_replies_visible_and_rateable(config, store, page):
    model = ScriptedBackend("ckpt-branch", reply="First answer, far too long for one word.")
    chat = page.locator("#chat-chat-single")
    with running_app(config, store, scripted_backends(store, model)) as url:
        open_page(page, url + "/")
        page.locator(NAME_BOX).first.fill("brancher")
        send_message(page, "chat", "One word: the sky's colour?")
        chat.get_by_text("First answer, far too long").wait_for()
        model.reply = "Blue."
        page.locator("#chat-regenerate").click()
        chat.get_by_text("Blue.").wait_for()
        chat.get_by_text("Earlier reply 1 of 2").wait_for()
        chat.get_by_text("reply 2 of 2 (latest)").wait_for()
        wait_for(lambda: verdicts(page, "chat-chat-single").count() == 2)
        page.wait_for_timeout(500)
        verdicts(page, "chat-chat-single").nth(0).get_by_text("Not followed", exact=True).click()
        page.locator("#chat-rating-saved").get_by_text("Saved Not followed for turn 1, earlier reply").wait_for()
        verdicts(page, "chat-chat-single").nth(1).get_by_text("Followed", exact=True).click()
        page.locator("#chat-rating-saved").get_by_text("Saved Followed for turn 1 as").wait_for()
        chat.get_by_text("superseded (regenerated) · rated: ❌ not followed").wait_for()
        chat.get_by_text("Earlier reply 1 of 2").click()  # the collapsed block opens
        chat.get_by_text("First answer, far too long").wait_for()
        page.screenshot(path=str(ARTIFACTS / "chat-regenerated-branches.png"))

        # An edit of the message: the old reply stays too, with the text it answered.
        model.reply = "Azure."
        page.locator("#chat-edit").click()
        page.locator("#chat-input textarea").fill("One word, please: the sky's colour?")
        page.locator("#chat-input textarea").press("Enter")
        chat.get_by_text("Azure.").wait_for()
        chat.get_by_text("Earlier reply 2 of 3").wait_for()
        chat.get_by_text("superseded (its message was edited)").first.wait_for()
        wait_for(lambda: page.locator("#chat-reply input").input_value() == "Turn 1")  # the latest reply
        page.screenshot(path=str(ARTIFACTS / "chat-edited-branches.png"))
    assert ratings(store) == [(1, 1, "no", None, None), (1, 1, "yes", None, None)]
    assert store.query("select count(*) n from responses")[0]["n"] == 3


def test_arena_replies_rate_with_one_click_per_side(scripted_app, page, store):
    url, _ = scripted_app
    open_page(page, url + "/")
    page.locator(NAME_BOX).first.fill("arena-clicker")
    page.get_by_role("tab", name="Arena (named)").click()
    send_message(page, "arena", "compare yourselves")
    for side in "AB":
        page.locator(f"#arena-chat-{side}").get_by_text("Reply", exact=False).first.wait_for()
    wait_for(lambda: verdicts(page, "arena-chat-B").count() == 1)
    page.wait_for_timeout(500)
    verdicts(page, "arena-chat-B").nth(0).get_by_text("Partially", exact=True).click()
    page.locator("#arena-rating-saved").get_by_text("Saved Partially for turn 1, model B").wait_for()
    rows = store.query("select r.side, g.followed from ratings g join responses r on r.id = g.response_id")
    assert rows == [{"side": "B", "followed": "partial"}]
