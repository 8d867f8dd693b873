"""``raters`` and ``tasks`` verbs against a real store directory."""

from __future__ import annotations

from typer.testing import CliRunner

from ift_chat.cli import app
from ift_chat.crowd.auth import make_auth_check


def run(config, *args):
    return CliRunner().invoke(app, [*args, "--home", str(config.home)])


def test_raters_and_tasks_verbs(config, store, responses):
    assert run(config, "tasks", "list").exit_code == 1  # no admin yet: clear error
    result = run(config, "raters", "add", "boss", "--role", "admin", "--password", "admin-password")
    assert result.exit_code == 0 and "boss: admin" in result.output
    assert run(config, "raters", "add", "ann", "--password", "short").exit_code == 1
    assert run(config, "raters", "add", "ann", "--password", "ann-password").exit_code == 0
    assert make_auth_check(store)("ann", "ann-password")
    invite = run(config, "raters", "invite", "--uses", "2")
    token = invite.stdout.strip().splitlines()[0]
    assert invite.exit_code == 0 and make_auth_check(store)("crowdie", token)
    created = run(config, "tasks", "create", "first", "--k", "3", "--checkpoint", "ckpt-alpha")
    assert created.exit_code == 0 and "10 items x 3 ratings" in created.output
    assert run(config, "tasks", "create", "none", "--from", "2999-01-01").exit_code == 1
    assert run(config, "tasks", "create", "x", "--admin", "ann").exit_code == 1  # not an admin
    assert run(config, "tasks", "gold", "1", "2", "--answer", "yes").exit_code == 0
    listing = run(config, "tasks", "list")
    assert "first" in listing.output and "0.0%" in listing.output
    assert "items rated 0" in run(config, "tasks", "agreement", "1").output
    assert run(config, "tasks", "close", "1").exit_code == 0
    assert "closed" in run(config, "tasks", "list").output
    assert run(config, "raters", "disable", "ann").exit_code == 0
    assert not make_auth_check(store)("ann", "ann-password")
    listing = run(config, "raters", "list").output
    assert "crowdie" in listing and "disabled" in listing
    assert store.query("select count(*) as n from task_items where gold_followed = 'yes'")[0]["n"] == 2
