"""Admin-only actions are refused on the server, whatever the page shows, in the full app:
without login (no --auth-file: a typed name is no identity) and logged in as a plain rater.
(tests/crowd/test_ui_api.py and tests/dataloop/test_ui_api.py cover the tabs alone, with login.)"""

from __future__ import annotations

import httpx
import pytest
from gradio_client import Client

from ift_chat.backends import Backends
from ift_chat.crowd.auth import make_auth_check, set_account, set_disabled
from ift_chat.crowd.tasks import Tasks
from ift_chat.server import make_asgi_app
from tests.dataloop.conftest import EchoBackend, build_world

from .conftest import serve
from .gradio_http import PageSession

FILTERS = [[], "", "", "", None, None, 2, None, 1, True, False, True, "all", 0.1]
ADMIN_CALLS = {
    "/data_export": ("llava", "sneaky", False, "", *FILTERS),
    "/data_exports": (),
    "/data_import": (None, [], "sneaky-set", "/etc"),
    "/data_replay": ("x", ["ckpt-a"], "reference", 0, 16, 0),
    "/crowd_admin_refresh": (),
    "/crowd_admin_create": ("mine", 2, [], "", "", "", False, None, 15, True),
    "/crowd_admin_agreement": (1,),
    "/crowd_admin_close": (1,),
    "/crowd_admin_gold": ("1", "yes"),
    "/crowd_admin_invite": ("admin", 24, 1),
    "/crowd_admin_disable": ("boss",),
    "/crowd_admin_enable": ("rater9",),
    "/judge_run": ("j", "all", "", "own", False, False),
    "/judge_refresh": (),
    "/judge_detail": ("judge:j@0",),
}


def snapshot(store) -> dict:
    """Everything an admin action could change."""
    q = store.query
    return {"exports": q("select count(*) n from exports")[0]["n"],
            "eval_sets": q("select count(*) n from eval_sets")[0]["n"],
            "task_sets": [(r["name"], r["status"]) for r in q("select name, status from task_sets")],
            "gold": q("select count(*) n from task_items where gold_followed is not null")[0]["n"],
            "invites": q("select count(*) n from invites")[0]["n"],
            "raters": [(r["name"], r["role"], r["disabled"]) for r in q("select * from raters order by id")],
            "conversations": q("select count(*) n from conversations")[0]["n"],
            "files": sorted(str(p) for p in (store.config.home / "exports").rglob("*"))}


@pytest.fixture
def admin_world(store):
    build_world(store)
    boss = set_account(store, "boss", "admin", "admin-password")
    set_account(store, "rater9", "rater", "rater-password")
    set_account(store, "rater8", "rater", "rater-password")
    with store.write() as db:
        db["raters"].update(store.raters.by_name("rater9").id, {"disabled": 1})
    Tasks(store).create_set(boss, "open-set", k=2)
    return store


def full_app(config, store, auth):
    backends = Backends([EchoBackend("ckpt-a"), EchoBackend("ckpt-b")])
    return serve(make_asgi_app(config, store, backends, auth=auth))


def test_without_login_no_admin_action_runs(config, admin_world):
    store = admin_world
    before = snapshot(store)
    with full_app(config, store, auth=None) as url:
        client = Client(url, verbose=False)
        for endpoint, args in ADMIN_CALLS.items():
            with pytest.raises(Exception, match="need an admin login|need a login"):
                client.predict(*args, api_name=endpoint)
        # Typing an admin's name into the name box is no login either.
        with httpx.Client(timeout=30) as http:
            page = PageSession(http, url)
            _, error, _ = page.call("crowd_admin_invite", "admin", 24, 1)
            assert "need a login" in error
    assert snapshot(store) == before


def test_logged_in_rater_gets_no_admin_action(config, admin_world):
    store = admin_world
    config = config.replace(auth_file=config.home / "users.txt")
    before = snapshot(store)
    with full_app(config, store, auth=make_auth_check(store)) as url:
        with pytest.raises(ValueError, match="credentials were not provided"):
            Client(url, verbose=False)
        rater = Client(url, auth=("rater8", "rater-password"), verbose=False)
        for endpoint, args in ADMIN_CALLS.items():
            with pytest.raises(Exception, match="only an admin"):
                rater.predict(*args, api_name=endpoint)
        with pytest.raises(ValueError, match="Could not login"):  # rater9 is disabled
            Client(url, auth=("rater9", "rater-password"), verbose=False)
        # The page's unnamed events (called by fn_index, as the page does) change nothing either.
        with httpx.Client(timeout=30) as http:
            assert http.post(url + "/login", data={"username": "rater8", "password": "rater-password"}
                             ).status_code == 200
            page = PageSession(http, url)
            errors = page.call_all(private_only=True)
            assert len(errors) >= 15 and sum(not e for e in errors.values()) >= 10  # most of them ran
            assert "admin-password" not in page.everything()
        # The admin still can (the refusals above are about the caller, not a broken endpoint).
        boss = Client(url, auth=("boss", "admin-password"), verbose=False)
        token, _ = boss.predict("rater", 1, 1, api_name="/crowd_admin_invite")
        assert len(token) > 20
    after = snapshot(store)
    assert after.pop("invites") == 1 and before.pop("invites") == 0
    assert after == before


def test_disabled_account_cannot_keep_voting_with_its_open_session(config, store):
    """Gradio keeps a login valid until restart or logout; disabling must still stop the rater."""
    set_account(store, "rita", "rater", "rita-password")
    config = config.replace(auth_file=config.home / "users.txt")
    backends = Backends([EchoBackend("ckpt-a"), EchoBackend("ckpt-b")])
    for b in backends.names():
        store.checkpoints.register(b)
    with serve(make_asgi_app(config, store, backends, auth=make_auth_check(store))) as url:
        rita = Client(url + "/battle/", auth=("rita", "rita-password"), verbose=False)
        rita.predict({"text": "hi", "files": []}, "", "", 0.7, 1.0, 16, None, "own", api_name="/battle_send")
        set_disabled(store, "rita", True)
        with pytest.raises(Exception, match="disabled"):
            rita.predict("", "A", "", api_name="/battle_vote")
    assert store.query("select count(*) n from votes")[0]["n"] == 0
