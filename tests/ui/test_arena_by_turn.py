"""Real browser on the app as `serve` builds it: the arena laid out by turn — each turn's
replies side by side in one row with its vote under them, earlier turns keeping their vote;
a 3-way named arena whose best pick the leaderboard counts; a regenerated arena reply that
stays visible and rateable, on the live turn and later on its row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ift_chat.leaderboard import VoteFilters, load_pairs
from ift_chat.leaderboard.votes import vote_counts
from tests.conftest import ARTIFACTS
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import running_app, scripted_backends
from tests.ui.test_browser import open_page, send_message, track_requests, wait_for, wait_for_quiet
from tests.ui.test_inline_rating import NAME_BOX, verdicts

pytestmark = pytest.mark.slow
DOCS = Path(__file__).resolve().parents[2] / "docs"


def top(page, selector: str) -> float:
    return page.locator(selector).bounding_box()["y"]


def open_arena(page, url: str, name: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    open_page(page, url + "/")
    page.locator(NAME_BOX).first.fill(name)
    page.get_by_role("tab", name="Arena (named)").click()


def vote(page, choice: str, reason: str, turn: int) -> None:
    page.locator("#arena-winner").get_by_text(choice).click()
    page.locator("#arena-winner").get_by_text(choice).wait_for()
    if reason:
        page.get_by_label("Why? (optional)").fill(reason)
    page.locator("#arena-vote").click()
    page.locator("#arena-reveal").get_by_text(f"Turn {turn}: you voted").wait_for()


def arena_turn(page, text: str, reply_a: str, reply_b: str) -> None:
    """Send a message in the named arena and wait for both replies in the live panes."""
    send_message(page, "arena", text)
    page.locator("#arena-chat-A").get_by_text(reply_a).wait_for()
    page.locator("#arena-chat-B").get_by_text(reply_b).wait_for()


def test_two_turns_line_up_by_row_and_turn_one_keeps_its_vote(config, store, page):
    alpha = ScriptedBackend("ckpt-alpha", reply="Alpha answers turn one.")
    beta = ScriptedBackend("ckpt-beta", reply="Beta answers turn one, at much greater length than alpha does.")
    with running_app(config, store, scripted_backends(store, alpha, beta)) as url:
        open_arena(page, url, "row-voter")
        arena_turn(page, "First question?", "Alpha answers turn one.", "Beta answers turn one")
        assert abs(top(page, "#arena-chat-A") - top(page, "#arena-chat-B")) <= 4
        vote(page, "A is better", "shorter and right", 1)

        alpha.reply, beta.reply = "Alpha on turn two.", "Beta on turn two."
        arena_turn(page, "Second question?", "Alpha on turn two.", "Beta on turn two.")
        # Turn 1 is now a row of its own above: its message once, A and B side by side, its vote.
        page.locator("#arena-turn-1-A").get_by_text("Alpha answers turn one.").wait_for()
        page.locator("#arena-turn-1-B").get_by_text("Beta answers turn one").wait_for()
        assert abs(top(page, "#arena-turn-1-A") - top(page, "#arena-turn-1-B")) <= 4
        assert abs(top(page, "#arena-chat-A") - top(page, "#arena-chat-B")) <= 4
        assert top(page, "#arena-turn-1-A") < top(page, "#arena-chat-A")
        assert page.locator("#arena-turn-1 .ift-turn-message").get_by_text("First question?").count() == 1
        assert page.locator("#arena-chat-A").get_by_text("First question?").count() == 0
        note = page.locator("#arena-turn-1-vote").inner_text()
        assert "Voted: 👈 A is better · shorter and right" in note
        assert page.locator("#arena-asked").get_by_text("Second question?").count() == 1
        vote(page, "B is better", "", 2)
        assert "Voted: 👈 A is better" in page.locator("#arena-turn-1-vote").inner_text()
        page.screenshot(path=str(ARTIFACTS / "arena-by-turn.png"), full_page=True)
        DOCS.mkdir(exist_ok=True)
        shutil.copy(ARTIFACTS / "arena-by-turn.png", DOCS / "arena-by-turn.png")
    votes = store.query("select t.idx, v.winner, v.reason from votes v join turns t on t.id = v.turn_id "
                        "order by t.idx")
    assert [(v["idx"], v["winner"], v["reason"]) for v in votes] == [(1, "A", "shorter and right"), (2, "B", None)]


def test_three_way_arena_best_pick_counts_as_two_wins(config, store, page):
    models = [ScriptedBackend(f"ckpt-{n}", reply=f"{n} says hello.") for n in ("alpha", "beta", "gamma")]
    with running_app(config, store, scripted_backends(store, *models)) as url:
        open_arena(page, url, "three-way")
        open_requests = track_requests(page)
        page.locator("#arena-more-models input").click()
        page.get_by_role("option", name="ckpt-gamma").click()
        page.keyboard.press("Escape")
        wait_for_quiet(page, open_requests)  # a changed model list starts a new conversation first
        send_message(page, "arena", "Say hello.")
        for side, n in zip("ABC", ("alpha", "beta", "gamma")):
            page.locator(f"#arena-chat-{side}").get_by_text(f"{n} says hello.").wait_for()
        tops = [top(page, f"#arena-chat-{side}") for side in "ABC"]
        assert max(tops) - min(tops) <= 4  # three replies in one row
        assert not page.locator("#arena-chat-D").is_visible()
        page.locator("#arena-winner").get_by_text("C is best").wait_for()
        vote(page, "C is best", "only one that greets properly", 1)
        page.screenshot(path=str(ARTIFACTS / "arena-three-way.png"), full_page=True)
    assert store.query("select winner from votes") == [{"winner": "C"}]
    counted = {(r["a"], r["b"], r["winner"]): r["n"] for r in vote_counts(store, VoteFilters(anonymous_only=False))}
    assert counted == {("ckpt-alpha", "ckpt-gamma", "B"): 1, ("ckpt-beta", "ckpt-gamma", "B"): 1}
    assert load_pairs(store, VoteFilters(anonymous_only=False)).n_votes == 2  # what the fit reads


def test_regenerated_arena_reply_stays_visible_and_rateable(config, store, page):
    alpha = ScriptedBackend("ckpt-alpha", reply="Alpha first try.")
    beta = ScriptedBackend("ckpt-beta", reply="Beta first try.")
    with running_app(config, store, scripted_backends(store, alpha, beta)) as url:
        open_arena(page, url, "brancher")
        arena_turn(page, "Give it a go.", "Alpha first try.", "Beta first try.")
        alpha.reply, beta.reply = "Alpha second try.", "Beta second try."
        page.wait_for_timeout(500)
        page.locator("#arena-regenerate").click()
        page.locator("#arena-chat-A").get_by_text("Alpha second try.").wait_for()
        page.locator("#arena-chat-A").get_by_text("Earlier reply 1 of 2").wait_for()
        wait_for(lambda: verdicts(page, "arena-chat-A").count() == 2)
        page.wait_for_timeout(500)
        verdicts(page, "arena-chat-A").nth(0).get_by_text("Not followed", exact=True).click()
        page.locator("#arena-rating-saved").get_by_text("earlier reply").wait_for()
        wait_for(lambda: _ratings(store) == [("Alpha first try.", 1, "no")])

        # After the next turn the regenerated turn is a row; its old reply is still rateable there.
        alpha.reply, beta.reply = "Alpha turn two.", "Beta turn two."
        arena_turn(page, "Next one.", "Alpha turn two.", "Beta turn two.")
        row = "arena-turn-1-A"
        page.locator(f"#{row}").get_by_text("Earlier reply 1 of 2").wait_for()
        wait_for(lambda: verdicts(page, row).count() == 2)
        verdicts(page, row).nth(0).get_by_text("Partially", exact=True).click()
        wait_for(lambda: _ratings(store) == [("Alpha first try.", 1, "partial")])
        verdicts(page, "arena-turn-1-B").nth(1).get_by_text("Followed", exact=True).click()
        wait_for(lambda: ("Beta second try.", 0, "yes") in _ratings(store))
        page.locator(f"#{row}").get_by_text("rated: 🟡 partly followed").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "arena-branches-by-turn.png"), full_page=True)


def _ratings(store) -> list[tuple]:
    return [(r["text"], r["superseded"], r["followed"]) for r in store.query(
        "select r.text, r.superseded, g.followed from ratings g join responses r on r.id = g.response_id "
        "order by g.id")]
