"""The Judges tab of the real app (make_asgi_app on loopback), driven as the page drives it."""

from __future__ import annotations

import pytest
from gradio_client import Client

from ift_chat.crowd.auth import make_auth_check, set_account
from tests.judge.conftest import add_dialog
from tests.ui.conftest import running_app, scripted_backends
from tests.scripted_backend import ScriptedBackend

GOOD = '{"followed": "yes", "score": 5, "tags": [], "reason": "fine"}'


@pytest.fixture
def judged_world(config, store, judge_server):
    config.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    (config.checkpoints_dir / "registry.toml").write_text(
        f'[judges.stubby]\nurl = "{judge_server.url}"\nmodel = "judge"\n')
    config = config.replace(auth_file=config.home / "users.txt")
    backends = scripted_backends(store, ScriptedBackend("ckpt-a"))
    _, ids = add_dialog(store, "ckpt-a", [("One word please", "Blue"), ("Two words", "Red <img src=x onerror=alert(1)>")])
    set_account(store, "boss", "admin", "admin-password")
    set_account(store, "rita", "rater", "rater-password")
    store.feedback.rate(ids[0], store.raters.by_name("rita").id, "no")
    judge_server.default = GOOD
    return config, store, backends


def test_admin_runs_a_judge_and_sees_it_not_trusted(judged_world, judge_server):
    config, store, backends = judged_world
    with running_app(config, store, backends, auth=make_auth_check(store)) as url:
        boss = Client(url, auth=("boss", "admin-password"), verbose=False)
        message, table = boss.predict("stubby", "all", "", "own", False, False, api_name="/judge_run")
        assert "2 judged, 0 already judged, 0 unparsable, 0 errors" in message
        (row,) = table["data"]
        assert row[0].startswith("judge:stubby@") and row[1].startswith("not trusted")
        assert row[2] == 2 and row[5] == 1  # one reply rated by a person too
        again, _ = boss.predict("stubby", "all", "", "own", False, False, api_name="/judge_run")
        assert "0 judged, 2 already judged" in again
        detail, scores = boss.predict(row[0], api_name="/judge_detail")
        assert "not trusted" in detail and "| yes | 0 | 0 | 1 |" in detail
        assert "Pairwise vs people's votes: no arena turn" in detail
        assert scores["data"][0][5] == 5  # min over turns
        rita = Client(url, auth=("rita", "rater-password"), verbose=False)
        with pytest.raises(Exception, match="only an admin"):
            rita.predict("stubby", "all", "", "own", False, True, api_name="/judge_run")
    assert len(judge_server.requests) == 2


def test_unknown_judge_and_missing_target_are_clear_errors(judged_world):
    config, store, backends = judged_world
    with running_app(config, store, backends, auth=make_auth_check(store)) as url:
        boss = Client(url, auth=("boss", "admin-password"), verbose=False)
        with pytest.raises(Exception, match="no judge .*ghost"):
            boss.predict("ghost", "all", "", "own", False, False, api_name="/judge_run")
        with pytest.raises(Exception, match="type the name"):
            boss.predict("stubby", "eval_set", "", "own", False, False, api_name="/judge_run")
    assert store.query("select count(*) n from judge_verdicts")[0]["n"] == 0
