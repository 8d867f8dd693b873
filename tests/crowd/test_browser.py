"""Real browser (Debian chromium via Playwright): log in, rate tasks, admin tab only for admins."""

from __future__ import annotations


import pytest

from tests.conftest import ARTIFACTS

from .conftest import CHECKPOINTS

pytestmark = pytest.mark.slow


def log_in(page, url, name, password):
    page.goto(url + "/manage")
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.get_by_role("tab", name="Rating tasks").click()
    page.get_by_role("button", name="Next task").wait_for()


def test_rater_logs_in_and_rates_blind(crowd_app, page, store, admin, raters, tasks):
    tasks.create_set(admin, "browser set", k=1)
    page.goto(crowd_app + "/manage")
    page.get_by_label("username").fill("rater0")
    page.get_by_label("password").fill("not the password")
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Incorrect").first.wait_for()  # wrong password: still on the login form

    log_in(page, crowd_app, "rater0", "password-0")
    page.get_by_role("button", name="Next task").click()
    page.get_by_text("rate the last reply").wait_for()
    page.screenshot(path=str(ARTIFACTS / "crowd-task.png"), full_page=True)
    body = page.locator("body").inner_text()
    assert "answer " in body and not any(c in body for c in CHECKPOINTS)
    page.get_by_label("Partially").check()
    page.get_by_label("repetition", exact=True).check()
    page.get_by_role("button", name="Submit and next").click()
    page.get_by_text("Saved.").wait_for()
    rows = store.query("select followed, tags from ratings")
    assert rows == [{"followed": "partial", "tags": '["repetition"]'}]
    # The admin tab shows nothing to a rater.
    page.get_by_role("tab", name="Crowd admin").click()
    assert page.get_by_text("Only for admins").is_visible()
    assert not page.get_by_role("button", name="Create task set").is_visible()


def test_admin_sees_progress_and_creates_a_set(crowd_app, page, store, admin, responses):
    log_in(page, crowd_app, "boss", "admin-password")
    page.get_by_role("tab", name="Crowd admin").click()
    page.get_by_text("New task set").click()
    page.get_by_label("Name", exact=True).fill("from the browser")
    page.get_by_role("button", name="Create task set").click()
    page.get_by_text("Created task set").wait_for()
    assert store.query("select name, k from task_sets") == [{"name": "from the browser", "k": 2}]
    assert page.get_by_text("from the browser").first.is_visible()
