"""Passwords, the users file, invites, roles, rate limit and session expiry."""

from __future__ import annotations


import pytest

from ift_chat.crowd.auth import (authenticate, create_invite, hash_password, load_users_file,
                                 make_auth_check, require_admin, set_account, set_disabled,
                                 verify_password)
from ift_chat.crowd.limits import RateLimiter, Sessions
from ift_chat.crowd.tasks import Tasks
from ift_chat.errors import AuthError, PermissionDenied, ValidationError


def test_scrypt_hash_is_salted_and_carries_its_parameters():
    first, second = hash_password("open sesame"), hash_password("open sesame")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("open sesame", first) and verify_password("open sesame", second)
    assert not verify_password("open sesamE", first)
    cheap = hash_password("open sesame", n=2**10)
    assert cheap.startswith("scrypt$1024$") and verify_password("open sesame", cheap)
    assert not verify_password("open sesame", "garbage") and not verify_password("x", None)
    with pytest.raises(ValidationError, match="8 to"):
        hash_password("short")


def test_users_file_creates_updates_and_rejects_bad_lines_whole(tmp_path, store):
    users = tmp_path / "users.txt"
    prehashed = hash_password("bob's password")
    users.write_text(f"# comment\nalice:admin:pass:with:colons\n\nbob:rater:{prehashed}\n")
    assert load_users_file(users, store) == 2
    check = make_auth_check(store)
    assert check("alice", "pass:with:colons") and check("bob", "bob's password")
    assert not check("alice", "pass") and not check("carol", "pass:with:colons")
    assert store.raters.by_name("alice").is_admin
    row = store.query("select password_hash from raters where name = 'alice'")[0]
    assert "pass:with" not in row["password_hash"]  # never stored in plain text
    users.write_text("alice:rater:new password 1\ncarol:boss:whatever123\n")
    with pytest.raises(ValidationError, match="users.txt:2: role must be"):
        load_users_file(users, store)
    assert store.raters.by_name("alice").is_admin and check("alice", "pass:with:colons")
    assert [r.name for r in store.raters.all()] == ["alice", "bob"]
    users.write_text("alice:rater:new password 1\n")
    load_users_file(users, store)
    assert not store.raters.by_name("alice").is_admin and check("alice", "new password 1")


def test_disabled_account_cannot_log_in(store):
    set_account(store, "dora", "rater", "dora-password")
    assert make_auth_check(store)("dora", "dora-password")
    set_disabled(store, "dora", True)
    assert not make_auth_check(store)("dora", "dora-password")
    with pytest.raises(AuthError, match="disabled"):
        authenticate(store, "dora", "dora-password")


def test_invites_expire_and_are_one_time(store, admin, raters, clock):
    with pytest.raises(PermissionDenied):
        create_invite(store, raters[0])
    token, invite = create_invite(store, admin, hours=1, max_uses=2, clock=clock)
    check = make_auth_check(store, clock)
    assert check("crowd-a", token) and check("crowd-b", token)
    assert not check("crowd-c", token)  # both uses spent
    assert store.raters.by_name("crowd-a").role == "rater"
    late, _ = create_invite(store, admin, hours=1, clock=clock)
    clock.advance(3601)
    assert not check("crowd-d", late)
    with pytest.raises(AuthError, match="expired"):
        authenticate(store, "crowd-d", late, clock)
    assert not check("crowd-e", "not-a-token-at-all")


def test_require_admin_and_admin_functions_refuse_raters(store, admin, raters, responses):
    assert require_admin(admin) == admin
    for who in (raters[0], None, set_disabled(store, "boss", True)):
        with pytest.raises(PermissionDenied):
            require_admin(who)
    tasks = Tasks(store)
    with pytest.raises(PermissionDenied):
        tasks.create_set(raters[0], "nope")
    set_disabled(store, "boss", False)
    task_set = tasks.create_set(admin, "ok")
    for call in (lambda: tasks.close_set(raters[0], task_set.id),
                 lambda: tasks.progress(raters[0], task_set.id),
                 lambda: tasks.mark_gold(raters[0], [1], "yes")):
        with pytest.raises(PermissionDenied):
            call()


class Ticker:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_rate_limiter_is_per_rater_token_bucket():
    tick = Ticker()
    limiter = RateLimiter(per_second=0.5, burst=3, clock=tick)
    for _ in range(3):
        limiter.take("ann")
    with pytest.raises(ValidationError, match=r"wait 2.0 s"):
        limiter.take("ann")
    limiter.take("bob")  # others are not slowed down by ann
    tick.now = 2.0
    limiter.take("ann")
    with pytest.raises(ValidationError):
        limiter.take("ann")


def test_sessions_expire_when_idle_or_too_old():
    tick = Ticker()
    sessions = Sessions(idle_s=60, max_age_s=300, clock=tick)
    sessions.touch("s1", 1)
    tick.now = 59
    sessions.touch("s1", 1)
    tick.now = 120
    with pytest.raises(AuthError, match="expired"):
        sessions.touch("s1", 1)
    with pytest.raises(AuthError):
        sessions.touch("s1", 1)  # stays expired; a reload gives a new session
    sessions.touch("s2", 1)
    for t in range(150, 421, 50):
        tick.now = t
        sessions.touch("s2", 1)
    tick.now = 430
    with pytest.raises(AuthError):
        sessions.touch("s2", 1)  # active all along but older than max_age
    sessions.touch(None, 1)  # API calls without a browser session are not tracked


def test_admin_needs_a_login_not_a_typed_name(store, admin, raters):
    from types import SimpleNamespace

    from ift_chat.crowd.auth import admin_for_request

    with pytest.raises(PermissionDenied, match="login"):
        admin_for_request(store, SimpleNamespace(username=None))  # e.g. typed "boss", no auth
    with pytest.raises(PermissionDenied, match="login"):
        admin_for_request(store, None)
    assert admin_for_request(store, SimpleNamespace(username="boss")) == admin
    with pytest.raises(PermissionDenied, match="not an admin"):
        admin_for_request(store, SimpleNamespace(username="rater0"))
