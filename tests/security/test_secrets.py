"""Secrets never reach logs or the data dir: passwords from the users file and typed at login,
invite tokens. The app runs through app_factory.run_app (as `serve --auth-file` does), with
every logger at DEBUG and uvicorn's access log on."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
import uvicorn
from gradio_client import Client

from ift_chat import app_factory
from ift_chat.config import Config
from ift_chat.crowd.auth import hash_password
from tests.ui.conftest import free_port

PASSWORDS = {"boss": "Boss-Plain-Password-123", "rita": "Rita-Plain-Password-456",
             "hank": "Hank-Plain-Password-789"}
WRONG = "Wrong-Typed-Password-000"


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "private" / "users.txt"
    path.parent.mkdir()
    path.write_text("# name:role:password\n"
                    f"boss:admin:{PASSWORDS['boss']}\n"
                    f"rita:rater:{PASSWORDS['rita']}\n"
                    f"hank:rater:{hash_password(PASSWORDS['hank'])}\n")
    return path


def scenario(url: str, users: str) -> list[str]:
    """Logins (good, bad, by invite), an invite, and attempts to fetch the users file; returns tokens."""
    with httpx.Client(timeout=30) as http:
        assert http.post(url + "/login", data={"username": "boss", "password": PASSWORDS["boss"]}
                         ).status_code == 200
        assert http.post(url + "/login", data={"username": "rita", "password": WRONG}).status_code != 200
        assert http.post(url + "/battle/login", data={"username": "rita", "password": PASSWORDS["rita"]}
                         ).status_code == 200
        for mount in ("", "/battle"):
            r = http.get(f"{url}{mount}/gradio_api/file={users}")
            assert r.status_code in (403, 404) and b"Plain-Password" not in r.content
    boss = Client(url, auth=("boss", PASSWORDS["boss"]), verbose=False)
    token, _ = boss.predict("rater", 24, 1, api_name="/crowd_admin_invite")
    newbie = Client(url, auth=("newbie", token), verbose=False)  # the invite creates the account
    newbie.predict(api_name="/crowd_task_sets")
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=("second", token), verbose=False)  # used up
    Client(url, auth=("hank", PASSWORDS["hank"]), verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=("hank", WRONG), verbose=False)
    return [token]


def test_no_password_or_token_in_logs_or_data_dir(tmp_path, users_file, monkeypatch, caplog, capfd):
    config = Config(home=tmp_path / "data", checkpoints_dir=tmp_path / "checkpoints", demo=False,
                    auth_file=users_file, port=free_port())
    tokens: list[str] = []

    def fake_uvicorn_run(app, host, port, log_level):
        """Serve as run_app asked, but in a thread, at DEBUG, and run the scenario against it."""
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="debug",
                                               access_log=True, timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.05)
        try:
            tokens.extend(scenario(f"http://{host}:{port}", str(users_file)))
        finally:
            server.should_exit = True
            thread.join(10)

    monkeypatch.setattr(app_factory.uvicorn, "run", fake_uvicorn_run)
    caplog.set_level(logging.DEBUG)
    for name in ("ift_chat", "gradio", "gradio_client", "uvicorn", "uvicorn.error", "uvicorn.access",
                 "httpx", "httpcore", "fastapi", "starlette"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    failures: list[BaseException] = []

    def run():  # own thread: run_app calls asyncio.run, and pytest's thread may hold a loop
        try:
            app_factory.run_app(config)
        except BaseException as exc:  # noqa: BLE001 — re-raised below, in the test's thread
            failures.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    runner.join(120)
    if failures:
        raise failures[0]

    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "ift-chat on http" in logged and "/login" in logged  # the capture did see the run
    secrets = [*PASSWORDS.values(), WRONG, *tokens]
    assert len(tokens) == 1 and len(tokens[0]) >= 20
    for secret in secrets:
        assert secret not in logged, f"{secret!r} was logged"
    files = [p for p in config.home.rglob("*") if p.is_file()]
    assert any(p.name == "ift_chat.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} is in {path}"


@pytest.mark.parametrize("line,secret", [("bob:rater:Pw1!", "Pw1!"),
                                         ("bob:superuser:Bob-Secret-Pw-1", "Bob-Secret-Pw-1"),
                                         ("b/o/b:rater:Bob-Secret-Pw-2", "Bob-Secret-Pw-2")])
def test_users_file_errors_do_not_quote_the_password(tmp_path, store, line, secret):
    """A bad line stops start-up with a message (printed, logged): it names the line, not the password."""
    from ift_chat.crowd.auth import load_users_file
    from ift_chat.errors import ValidationError

    path = tmp_path / "users.txt"
    path.write_text(f"alice:admin:Alice-Secret-Pw-0\n{line}\n")
    with pytest.raises(ValidationError) as caught:
        load_users_file(path, store)
    assert ":2:" in str(caught.value)
    assert secret not in str(caught.value) and "Alice-Secret-Pw-0" not in str(caught.value)
    assert store.query("select count(*) n from raters")[0]["n"] == 0  # all or nothing
