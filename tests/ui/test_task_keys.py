"""Real browser on /manage as `serve` builds it: a rater works through Rating tasks by keyboard
(Y / P / N, 1-5, Enter = submit and next), sees "n of m left", and the hold's end in their
own time zone; keys typed into a text box stay text."""

from __future__ import annotations

import datetime

import pytest

from ift_chat.crowd.tasks import Tasks
from tests.conftest import ARTIFACTS
from tests.crowd.conftest import add_dialog
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import open_rating_tasks, running_app, scripted_backends
from tests.ui.test_browser import wait_for

pytestmark = pytest.mark.slow
KOLKATA = datetime.timezone(datetime.timedelta(hours=5, minutes=30))


def test_keyboard_rating_with_progress_and_local_lease_time(config, store, browser):
    admin = store.raters.create("boss", role="admin")
    store.checkpoints.register("ckpt-alpha")
    for n in range(3):
        add_dialog(store, "ckpt-alpha", [(f"question {n}: answer in one word", f"answer {n}")])
    Tasks(store).create_set(admin, "keyboard set", k=1)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id="Asia/Kolkata",
                                  locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    status = page.locator("#crowd-status")
    try:
        with running_app(config, store, scripted_backends(store, ScriptedBackend("m1", reply="r"))) as url:
            open_rating_tasks(page, url, "keyboarder")
            status.get_by_text("3 of 3 left").wait_for()

            expires = store.query("select expires_at from task_leases")[0]["expires_at"]
            local = datetime.datetime.fromisoformat(expires).astimezone(KOLKATA).strftime("%H:%M")
            page.locator("#crowd-lease").get_by_text(f"ends at {local} (your local time)").wait_for()
            page.screenshot(path=str(ARTIFACTS / "crowd-task-keys.png"))

            # Typing in the comment box is text, not a rating.
            comment = page.get_by_label("Comment")
            comment.fill("")
            comment.press_sequentially("yn4")
            comment.press("Enter")
            page.wait_for_timeout(800)
            assert comment.input_value().startswith("yn4")
            assert store.query("select count(*) n from ratings")[0]["n"] == 0
            assert page.locator("#crowd-followed input:checked").count() == 0
            comment.fill("")

            for n, (verdict, score, value) in enumerate([("p", "4", "partial"), ("n", "2", "no"),
                                                          ("y", "5", "yes")]):
                page.locator("#crowd-dialog").click()  # focus out of any text box
                page.keyboard.press(verdict)
                page.keyboard.press(score)
                wait_for(lambda v=value: page.locator(f"#crowd-followed input[value='{v}']").is_checked())
                assert page.locator(f"#crowd-score input[value='{score}']").is_checked()
                page.keyboard.press("Enter")
                wait_for(lambda n=n: store.query("select count(*) n from ratings")[0]["n"] == n + 1)
                if n < 2:
                    status.get_by_text(f"{2 - n} of 3 left").wait_for()
            page.get_by_text("Nothing left for you to rate here").wait_for()
        rows = store.query("select followed, score from ratings order by id")
        assert [(r["followed"], r["score"]) for r in rows] == [("partial", 4), ("no", 2), ("yes", 5)]
    finally:
        context.close()
