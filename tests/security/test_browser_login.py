"""Real browser against the full app with --auth-file: the login page carries nothing of the
app, logging in works on both mounts, and an image upload + battle turn pass the guards."""

from __future__ import annotations

import pytest

from ift_chat.crowd.auth import make_auth_check, set_account
from ift_chat.server import make_asgi_app
from tests.scripted_backend import ScriptedBackend

from .conftest import SECRETS, register, serve

pytestmark = pytest.mark.slow


def test_login_then_battle_with_an_image(config, store, page, tmp_path, make_png):
    set_account(store, "rita", "rater", "rita-password")
    config = config.replace(auth_file=config.home / "users.txt")
    backends = register(store, ScriptedBackend(SECRETS[0], reply="Reply one."),
                        ScriptedBackend(SECRETS[1], reply="Reply two."))
    image = tmp_path / "photo.png"
    image.write_bytes(make_png(size=(64, 48)))
    with serve(make_asgi_app(config, store, backends, auth=make_auth_check(store))) as url:
        for mount in ("/battle/", "/"):
            page.goto(url + mount)
            assert not any(s in page.content() for s in SECRETS)
            page.get_by_label("username").fill("rita")
            page.get_by_label("password").fill("rita-password")
            page.get_by_role("button", name="Login").click()
            page.locator("#rater-name textarea, #rater-name input").first.wait_for()
        page.goto(url + "/battle/")
        page.locator("#rater-name textarea, #rater-name input").first.wait_for()
        page.wait_for_timeout(1500)
        box = page.locator("#battle-input")
        box.locator("input[type=file]").set_input_files(str(image))
        box.locator("img").first.wait_for()
        box.locator("textarea").fill("what is in the picture?")
        box.locator("textarea").press("Enter")
        page.get_by_text("Reply one.").wait_for()
        page.get_by_text("Reply two.").wait_for()
        assert not any(s in page.content() for s in SECRETS)
    turns = store.query("select t.user_text, count(ti.turn_id) n from turns t "
                        "left join turn_images ti on ti.turn_id = t.id group by t.id")
    assert turns == [{"user_text": "what is in the picture?", "n": 1}]
