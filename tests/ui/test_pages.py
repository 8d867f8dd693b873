"""Real browser on the app as `serve` builds it: each page (`/`, `/manage`, `/battle/`) stands
alone — its own identity header, its own load — and the small flows that broke in the browser."""

from __future__ import annotations

import json

import pytest

from ift_chat.crowd.tasks import Tasks
from tests.crowd.conftest import add_dialog
from tests.scripted_backend import ScriptedBackend
from tests.ui.conftest import open_rating_tasks, log_in, running_app, scripted_backends
from tests.ui.test_browser import open_page, send_message, wait_for

pytestmark = pytest.mark.slow
NAME_BOX = "#rater-name textarea, #rater-name input"


def test_each_page_has_its_own_name_box_and_keeps_the_typed_name(scripted_app, page):
    url, _ = scripted_app
    open_page(page, url + "/")
    page.locator(NAME_BOX).first.fill("walker")
    page.wait_for_timeout(500)
    for route in ("/manage", "/battle/"):
        open_page(page, url + route)
        assert page.locator(NAME_BOX).count() >= 1, f"{route} has no rater-name box"
        wait_for(lambda: page.locator(NAME_BOX).first.input_value() == "walker", 10)


def test_a_blank_seed_stays_random_after_opening_the_settings(scripted_app, page, store):
    url, _ = scripted_app
    open_page(page, url + "/")
    page.locator(NAME_BOX).first.fill("seeker")
    page.get_by_text("System prompt and sampling").first.click()
    seed = page.get_by_label("Seed (blank = random)")
    seed.wait_for()
    page.wait_for_timeout(500)
    assert seed.input_value() == ""
    send_message(page, "chat", "tell me something")
    page.locator("#chat-chat-single").get_by_text("Reply one from the first model").wait_for()
    wait_for(lambda: store.query("select status from responses") == [{"status": "ok"}])
    params = json.loads(store.query("select sampling_params from conversations")[0]["sampling_params"])
    assert params["seed"] is None, "a blank seed must not become 0 (every Regenerate would repeat itself)"


def test_rating_tasks_on_manage_without_auth_take_the_typed_name(config, store, page):
    admin = store.raters.create("boss", role="admin")
    store.checkpoints.register("ckpt-alpha")
    add_dialog(store, "ckpt-alpha", [("what is 2+2?", "four")])
    Tasks(store).create_set(admin, "open set", k=1)
    with running_app(config, store, scripted_backends(store, ScriptedBackend("m1", reply="r"))) as url:
        open_rating_tasks(page, url, "crowd-typist")
        page.get_by_text("rate the last reply").wait_for()
        assert page.get_by_text("top of the page").count() == 0
    leased = store.query("select r.name from task_leases l join raters r on r.id = l.rater_id")
    assert leased == [{"name": "crowd-typist"}]


def test_a_reopened_chat_shows_the_viewers_badges(scripted_app, page, store):
    url, _ = scripted_app
    open_page(page, url + "/")
    page.locator(NAME_BOX).first.fill("badger")
    send_message(page, "chat", "first question")
    page.locator("#chat-chat-single").get_by_text("Reply one from the first model").wait_for()
    wait_for(lambda: store.query("select status from responses") == [{"status": "ok"}])
    rater = store.raters.by_name("badger")
    response_id = store.query("select id from responses")[0]["id"]
    store.feedback.rate(response_id, rater.id, "partial", score=4)
    conversation_id = store.query("select id from conversations")[0]["id"]
    open_page(page, f"{url}/?c={conversation_id}")
    page.locator("#chat-chat-single").get_by_text("partly followed").wait_for()


def test_resume_moves_the_checkpoint_picker(scripted_app, page, store):
    url, _ = scripted_app
    add_dialog(store, "secret-ckpt-beta", [("a question for beta", "beta answers")])
    open_page(page, url + "/")
    picker = page.locator("#chat-checkpoint input")
    assert "secret-ckpt-alpha" in picker.input_value()
    page.locator("#chat-recent input").click()
    page.get_by_role("option", name="a question for beta").first.click()
    page.locator("#chat-chat-single").get_by_text("beta answers").wait_for()
    wait_for(lambda: "secret-ckpt-beta" in picker.input_value(), 10)


def test_a_replay_opens_by_its_link(scripted_app, page, store):
    url, _ = scripted_app
    conv = store.conversations.create("replay", sides={"A": "secret-ckpt-alpha", "B": "secret-ckpt-beta"})
    turn = store.conversations.add_turn(conv.id, "replayed question", [])
    for side, text in (("A", "alpha's replayed answer"), ("B", "beta's replayed answer")):
        rid = store.conversations.start_response(turn.id, side, f"secret-ckpt-{'alpha' if side == 'A' else 'beta'}")
        store.conversations.finish_response(rid, text=text, status="ok")
    open_page(page, f"{url}/?c={conv.id}")
    page.locator("#arena-chat-A").get_by_text("alpha's replayed answer").wait_for()
    page.locator("#arena-chat-B").get_by_text("beta's replayed answer").wait_for()


def test_an_export_with_the_forms_defaults_runs_from_manage(config, store, page):
    """Blank optional numbers stay blank in the browser (they arrived as 0: "min_score must be
    between 1 and 5, not 0.0")."""
    from ift_chat.crowd.auth import make_auth_check, set_account

    set_account(store, "boss", "admin", "admin-password")
    config = config.replace(auth_file=config.home / "users.txt")
    backends = scripted_backends(store, ScriptedBackend("m1", reply="r"))
    raters = [store.raters.get_or_create(f"rater{i}").id for i in range(2)]
    for n in range(6):  # followed by both raters: SFT samples under the default filters
        (response_id,) = add_dialog(store, "m1", [(f"question {n}", f"answer {n}")])
        for rater_id in raters:
            store.feedback.rate(response_id, rater_id, "yes")
    with running_app(config, store, backends, auth=make_auth_check(store)) as url:
        log_in(page, url, "boss", "admin-password")
        page.get_by_role("tab", name="Data").click()
        page.get_by_label("Export name (folder)").fill("from-defaults")
        page.get_by_role("button", name="Export", exact=True).click()
        page.get_by_text("Wrote").first.wait_for()
        assert page.get_by_text("min_score").count() == 0
    exports = store.query("select row_count from exports")
    assert len(exports) == 1 and exports[0]["row_count"] >= 1
