"""The crowd tabs through the Gradio API with login: roles are enforced on the server."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client

from .conftest import CHECKPOINTS

ADMIN_CALLS = [
    ("/crowd_admin_refresh", ()),
    ("/crowd_admin_create", ("mine", 2, [], "", "", "", False, None, 15, True)),
    ("/crowd_admin_agreement", (1,)),
    ("/crowd_admin_close", (1,)),
    ("/crowd_admin_gold", ("1", "yes")),
    ("/crowd_admin_invite", ("admin", 24, 1)),
    ("/crowd_admin_disable", ("boss",)),
]


def login(url, name, password):
    return Client(url, auth=(name, password), verbose=False)


def test_wrong_password_is_rejected(crowd_app):
    with pytest.raises(ValueError, match="Could not login"):
        login(crowd_app, "rater0", "wrong-password")
    with pytest.raises(ValueError, match="Could not login"):
        login(crowd_app, "nobody", "password-0")
    with pytest.raises(ValueError, match="credentials were not provided"):
        Client(crowd_app, verbose=False)  # no login, no API
    assert login(crowd_app, "rater0", "password-0") is not None


@pytest.mark.parametrize("endpoint,args", ADMIN_CALLS, ids=[e for e, _ in ADMIN_CALLS])
def test_rater_cannot_call_admin_endpoints(crowd_app, store, endpoint, args):
    rater = login(crowd_app, "rater0", "password-0")
    with pytest.raises(Exception, match="only an admin"):
        rater.predict(*args, api_name=endpoint)
    assert store.query("select count(*) as n from task_sets")[0]["n"] == 0
    assert store.query("select count(*) as n from invites")[0]["n"] == 0
    assert store.query("select disabled from raters where name = 'boss'")[0]["disabled"] == 0


def test_admin_creates_rater_rates_blind_admin_sees_progress(crowd_app, store):
    boss = login(crowd_app, "boss", "admin-password")
    message, progress, _ = boss.predict("batch", 2, [], "", "", "", False, 4, 15, True,
                                        api_name="/crowd_admin_create")
    assert "4 items × 2 ratings" in message
    rater = login(crowd_app, "rater0", "password-0")
    item_id, chat, status, *_ = rater.predict("", "", api_name="/crowd_next")
    shown = json.dumps([chat, status])
    assert item_id > 0 and "answer" in shown
    assert not any(c in shown for c in CHECKPOINTS)  # never the checkpoint name
    assert "followed" not in shown  # nor anyone's rating
    # Typing another rater's name changes nothing: the login decides who rates.
    next_id, *_ = rater.predict(item_id, "", "boss", "partial", 3, ["repetition"], "hm", "",
                                api_name="/crowd_submit")
    assert next_id not in (0, item_id)
    rows = store.query("select r.followed, x.name from ratings r join raters x on x.id = r.rater_id")
    assert rows == [{"followed": "partial", "name": "rater0"}]
    # Another rater cannot submit an item leased to rater0.
    other = login(crowd_app, "rater1", "password-1")
    with pytest.raises(Exception, match="not given to you"):
        other.predict(next_id, "", "", "yes", None, [], "", "", api_name="/crowd_submit")
    progress, _ = boss.predict(api_name="/crowd_admin_refresh")
    row = progress["data"][0]
    assert row[1] == "batch" and row[6] == 1 and row[8] == 1  # 1 rating done, 1 item leased now
    text, items = boss.predict(row[0], api_name="/crowd_admin_agreement")
    assert "batch" in text and "1 items rated" in text
    assert len(items["data"]) == 4 and {r[2] for r in items["data"]} <= set(CHECKPOINTS)
    assert [r[4] for r in items["data"] if r[0] == item_id] == [1]


def test_invite_token_creates_a_rater_once(crowd_app, store):
    boss = login(crowd_app, "boss", "admin-password")
    token, note = boss.predict("rater", 24, 1, api_name="/crowd_admin_invite")
    assert len(token) >= 20 and "1 use" in note
    assert store.query("select count(*) as n from invites where token_sha256 = ?", [token])[0]["n"] == 0
    newbie = login(crowd_app, "newbie", token)
    assert store.raters.by_name("newbie").role == "rater"
    with pytest.raises(ValueError, match="Could not login"):
        login(crowd_app, "second", token)  # one-time
    assert login(crowd_app, "newbie", token) is not None  # the token stays newbie's password
    with pytest.raises(Exception, match="only an admin"):
        newbie.predict(api_name="/crowd_admin_refresh")
